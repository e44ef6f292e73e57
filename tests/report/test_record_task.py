"""The record task inside a real DAG run (`airflow dags test`, the way `medallion run` runs it).

The DAG under test is the project's own `dbt_transform` (over a mini dbt project): its `ops`
record task is a teardown after every other task, and the gold Assets are outlets of the last
gold task (gold is published only once its tests passed). Proves that the record
task fills `ops` on success and on failure, that it does not turn a failed run green, and
that asset events come with a green run only.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from medallion.assets import GOLD_RELATIONS
from medallion.config import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "mini_dbt"
DAG_FILE = textwrap.dedent(
    """
    # airflow dag: the real dbt_transform, against the mini dbt project of this test
    from medallion.dag import build_dag

    dag = build_dag()
    """
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict[str, str]]:
    from medallion.pipeline import dags_test_env

    tmp = tmp_path_factory.mktemp("record_task")
    shutil.copytree(FIXTURE, tmp / "dbt")
    (tmp / "dags").mkdir()
    (tmp / "dags" / "dbt_dag_recorded.py").write_text(DAG_FILE, encoding="utf-8")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MEDALLION_", "AIRFLOW"))}
    base.update(
        {
            "MEDALLION_HOME": str(tmp / "home"),
            "MEDALLION_DBT_PROJECT_DIR": str(tmp / "dbt"),
            "MEDALLION_DBT_PROFILES_DIR": str(tmp / "dbt"),
            "MEDALLION_DUCKDB_THREADS": "1",
            "MEDALLION_RETRY_DELAY_SECONDS": "1",
        }
    )
    settings = Settings.from_env(base)
    env = dags_test_env(settings, base=base)
    env["AIRFLOW__CORE__DAGS_FOLDER"] = str(tmp / "dags")
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return settings, env


def _dags_test(settings: Settings, env: dict[str, str], *, bad: bool) -> str:
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute(
            "create schema if not exists sales; create or replace table sales.orders as "
            "select i as order_id, 1 + i % 6 as status, 10.0 * i as amount, "
            "now() as _loaded_at from range(1, 50) t(i)"
        )
        if bad:
            con.execute("insert into sales.orders values (999, 9, 1.0, now())")
    proc = subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "test", "dbt_transform"],
        env=env,
        cwd=settings.airflow_home,
        capture_output=True,
        text=True,
        timeout=600,
    )
    with sqlite3.connect(settings.airflow_home / "airflow.db") as db:
        run_id, state = db.execute(
            "select run_id, state from dag_run order by id desc limit 1"
        ).fetchone()
    assert state in ("success", "failed"), proc.stdout[-3000:] + proc.stderr[-3000:]
    return run_id


def _asset_events(settings: Settings, run_id: str) -> list[str]:
    with sqlite3.connect(settings.airflow_home / "airflow.db") as db:
        rows = db.execute(
            "select a.name from asset_event e join asset a on a.id = e.asset_id "
            "where e.source_run_id = ? order by a.name",
            [run_id],
        ).fetchall()
    return [r[0] for r in rows]


def _ops(settings: Settings, sql: str, *params: object) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def _dag_run_state(settings: Settings, run_id: str) -> str:
    with sqlite3.connect(settings.airflow_home / "airflow.db") as db:
        return db.execute("select state from dag_run where run_id = ?", [run_id]).fetchone()[0]


def test_green_run_is_recorded_and_emits_gold_asset_events(world) -> None:
    settings, env = world
    run_id = _dags_test(settings, env, bad=False)
    assert _dag_run_state(settings, run_id) == "success"
    assert _ops(settings, "select status from ops.pipeline_runs where run_id = ?", run_id) == [
        ("success",)
    ]
    layers = dict(
        _ops(
            settings,
            "select layer, count(*) from ops.node_runs where run_id = ? group by layer",
            run_id,
        )
    )
    assert set(layers) == {"bronze", "silver", "gold"}
    assert _asset_events(settings, run_id) == sorted(GOLD_RELATIONS)


def test_failed_run_is_recorded_stays_failed_and_emits_no_asset_event(world) -> None:
    settings, env = world
    run_id = _dags_test(settings, env, bad=True)
    # the record task succeeded, yet the run is failed: it is a teardown
    assert _dag_run_state(settings, run_id) == "failed"
    assert _ops(settings, "select status from ops.pipeline_runs where run_id = ?", run_id) == [
        ("failed",)
    ]
    states = dict(
        _ops(settings, "select task_id, state from ops.task_runs where run_id = ?", run_id)
    )
    assert states["silver.dbt_test_silver"] == "failed"
    assert states["gold.dbt_test_gold"] == "upstream_failed"
    failing = _ops(
        settings,
        "select name, failures from ops.node_runs where run_id = ? and status = 'fail'",
        run_id,
    )
    assert [f[0].split("__")[0] for f in failing] == ["accepted_values_slv_orders_status"]
    assert _asset_events(settings, run_id) == []
