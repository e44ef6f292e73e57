"""The dbt runner against a real (small) dbt project and a real DuckDB file, no Airflow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from medallion import dbt
from medallion.config import Settings
from medallion.errors import EXIT_TRANSIENT, DataQualityError, WarehouseBusyError

REPO = Path(__file__).resolve().parents[2]
MINI = REPO / "tests" / "fixtures" / "mini_dbt"


@pytest.fixture
def world(tmp_path: Path) -> tuple[Settings, dict[str, str]]:
    project = tmp_path / "dbt"
    shutil.copytree(MINI, project)
    env = {
        "MEDALLION_HOME": str(tmp_path / "home"),
        "MEDALLION_WAREHOUSE": str(tmp_path / "wh.duckdb"),
        "MEDALLION_DBT_PROJECT_DIR": str(project),
        "MEDALLION_DUCKDB_THREADS": "1",
    }
    with duckdb.connect(env["MEDALLION_WAREHOUSE"]) as con:
        con.execute(
            "create schema sales; create table sales.orders as select i as order_id, "
            "1 + i % 6 as status, 10.0 * i as amount, now() as _loaded_at from range(1, 20) t(i)"
        )
    return Settings.from_env(env), env


def test_argv_is_built_in_one_place(world) -> None:
    settings, _ = world
    argv = dbt.dbt_argv(
        "test",
        settings,
        layer="silver",
        target_path=Path("/a"),
        log_path=Path("/b"),
        indirect_selection="buildable",
        full_refresh=True,  # ignored: test has no --full-refresh
    )
    assert argv[:1] == ["test"]
    assert argv[argv.index("--select") + 1] == "tag:silver"
    assert argv[argv.index("--target") + 1] == "duckdb"
    assert argv[argv.index("--project-dir") + 1] == str(settings.dbt_project_dir)
    assert "--full-refresh" not in argv
    run = dbt.dbt_argv(
        "run",
        settings,
        layer="gold",
        target_path=Path("/a"),
        log_path=Path("/a"),
        full_refresh=True,
    )
    assert run[-1] == "--full-refresh"
    bronze_test = dbt.layer_commands(
        settings, "test", "bronze", target_path=Path("/a"), log_path=Path("/a")
    )
    assert [c[:2] for c in bronze_test] == [["test", "--project-dir"], ["source", "freshness"]]


def test_artifact_dirs_are_per_run_task_and_try(world) -> None:
    settings, _ = world
    path = dbt.task_artifacts_dir(
        settings, "dbt_transform", "manual__2024-01-01T00:00:00+00:00", "silver.dbt_test_silver", 2
    )
    assert path.relative_to(settings.artifacts_dir).parts == (
        "dbt_transform",
        "manual__2024-01-01T00_00_00_00_00",
        "silver.dbt_test_silver",
        "try_2",
    )


def test_layers_build_and_results_are_typed(world) -> None:
    settings, _ = world
    results = {}
    for layer in ("bronze", "silver", "gold"):
        for step in ("run", "test"):
            results[(layer, step)] = dbt.run_step(
                settings, step, layer, artifacts=settings.artifacts_dir / f"{layer}_{step}"
            )
    bronze_test = results[("bronze", "test")]
    assert {n.resource_type for n in bronze_test.nodes} == {"test", "source"}
    summary = dbt.read_run_results(settings.artifacts_dir / "silver_run" / "run_results.json")
    [node] = summary.nodes
    assert (node.unique_id, node.name, node.resource_type, node.status) == (
        "model.medallion.slv_orders",
        "slv_orders",
        "model",
        "success",
    )
    assert summary.command == "run" and summary.elapsed_s is not None
    # the XCom summary is JSON and round-trips
    data = json.loads(json.dumps(results[("gold", "run")].to_dict()))
    assert dbt.StepResult.from_dict(data).nodes[0].name == "fct_sales_daily"
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        assert con.execute("select order_count from gold.fct_sales_daily").fetchone()[0] > 0
    # partial parsing is shared across task directories
    assert (
        settings.artifacts_dir / ".partial_parse" / "duckdb" / "partial_parse.msgpack"
    ).is_file()


def test_failing_test_is_a_data_quality_error_with_counts(world) -> None:
    settings, _ = world
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("insert into sales.orders values (998, 9, 1.0, now()), (999, 0, 1.0, now())")
    for layer in ("bronze", "silver"):
        dbt.run_step(settings, "run", layer, artifacts=settings.artifacts_dir / f"r_{layer}")
    with pytest.raises(DataQualityError, match="accepted_values_slv_orders_status") as info:
        dbt.run_step(settings, "test", "silver", artifacts=settings.artifacts_dir / "t")
    [failed] = info.value.result.failed_nodes
    assert failed.failures == 2 and failed.status == "fail"
    # one look tells why: the failing values, and the SQL that lists every failing row
    assert "failing rows: " in failed.message and "value_field=9" in failed.message
    assert "value_field=0" in failed.message
    sql = Path(failed.message.split("all failing rows: run ", 1)[1].split(";")[0])
    assert sql.is_file() and "accepted_values" in sql.name
    assert "value_field=9" in str(info.value)


def test_locked_warehouse_is_a_retriable_busy_error(world) -> None:
    settings, _ = world
    locker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb,sys; c=duckdb.connect(sys.argv[1]); print('ok', flush=True); sys.stdin.read()",
            str(settings.warehouse),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert locker.stdout.readline().strip() == "ok"
        with pytest.raises(WarehouseBusyError, match="lock"):
            dbt.run_step(settings, "run", "bronze", artifacts=settings.artifacts_dir / "locked")
    finally:
        locker.kill()
        locker.wait()
    # and the runner released the file: another process can open it now
    with duckdb.connect(str(settings.warehouse)) as con:
        assert con.execute("select count(*) from sales.orders").fetchone()[0] == 19


def test_cli_layer_exit_codes(world) -> None:
    settings, env = world
    run_env = {**{k: v for k, v in os.environ.items() if not k.startswith("MEDALLION_")}, **env}
    medallion = [sys.executable, "-m", "medallion.cli"]

    def layer(step: str, name: str) -> int:
        return subprocess.run(
            [*medallion, "layer", step, name], env=run_env, capture_output=True, text=True
        ).returncode

    assert layer("run", "bronze") == 0
    assert layer("run", "silver") == 0
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("update silver.slv_orders set status = 9 where order_id = 1")
    assert layer("test", "silver") == 1  # data
    locker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb,sys; c=duckdb.connect(sys.argv[1]); print('ok', flush=True); sys.stdin.read()",
            str(settings.warehouse),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        locker.stdout.readline()
        assert layer("run", "gold") == EXIT_TRANSIENT  # warehouse busy: worth a retry
    finally:
        locker.kill()
        locker.wait()


def test_build_all_reports_success(world) -> None:
    settings, _ = world
    result = dbt.build_all(settings)
    assert result.success
    assert {n.resource_type for n in result.result.nodes} >= {"model", "test"}
