"""`medallion bench` end to end at SF 0.05, one repetition: the harness runs and writes valid
results. Real dbt, Airflow (`airflow dags test`) and DuckDB; no timing is asserted (timings
belong in the benchmark). Everything is written under tmp: results, docs page, scratch
warehouses, and a copy of the dbt project (dbt may write into its project folder).

The cosmos cases are not run here: they need astronomer-cosmos in an environment of its
own, which only `make bench` builds, and `medallion bench` fails (exit 1) when any run of any
case fails, so the harness is their check. Nor are the Celery cases: tests/deploy starts that
deployment (and runs this DAG on it) already; here the real scheduler is the LocalExecutor,
with and without the dbt preload.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

from medallion.bench.cases import (
    CASES,
    COSMOS_CASES,
    PROFILE_SEGMENTS,
    SCHED_STACKS,
    results_schema,
    validate_results,
)
from medallion.bench.report import render_performance

# The module's first test pays for the harness run (its subprocess may take 1,500 s).
pytestmark = pytest.mark.timeout(1800)

REPO = Path(__file__).resolve().parents[2]
MEDALLION = Path(sys.executable).with_name("medallion")
SCALE = "0.05"
TARGET_IDS = {
    "dag_vs_dbt_build",
    "dag_faster_than_cosmos",
    "parse",
    "incremental_vs_full_refresh",
    "sf30_memory",
    "sched_vs_dbt_build",
    "sched_vs_cosmos_local",
    "sched_faster_than_cosmos_watcher",
    "task_fixed_cost",
    "hour_vs_full_refresh_sf100",
    "hour_growth",
    "sf100_memory",
}
RUN_CASES = [c for c in CASES if c not in COSMOS_CASES and c not in SCHED_STACKS["celery"]]


@dataclass(frozen=True)
class BenchRun:
    out: Path
    docs: Path
    results: dict
    stdout: str


def _bench(tmp: Path, *extra: str) -> BenchRun:
    project = tmp / "dbt"
    shutil.copytree(
        REPO / "dbt", project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages")
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MEDALLION_", "AIRFLOW_", "AIRFLOW__"))
    }
    env.update(
        {
            "MEDALLION_HOME": str(tmp / "home"),
            "MEDALLION_DBT_PROJECT_DIR": str(project),
            "MEDALLION_DBT_PROFILES_DIR": str(project),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    out, docs = tmp / "out", tmp / "docs" / "PERFORMANCE.md"
    argv = [
        str(MEDALLION),
        "bench",
        "--scales",
        SCALE,
        "--repeat",
        "1",
        "--out",
        str(out),
        "--docs",
        str(docs),
        "--work",
        str(tmp / "work"),
        *extra,
    ]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    results = json.loads((out / "results.json").read_text())
    return BenchRun(out, docs, results, proc.stdout)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> BenchRun:
    return _bench(tmp_path_factory.mktemp("bench"), "--cases", ",".join(RUN_CASES))


def test_results_validate_against_the_schema(smoke: BenchRun) -> None:
    validate_results(smoke.results)
    schema = results_schema()
    jsonschema.validate(smoke.results, schema)
    # the schema names exactly the harness's cases: one list, in cases.py and the file
    assert schema["properties"]["options"]["properties"]["cases"]["items"]["enum"] == list(CASES)
    assert not (smoke.out / "results.schema.json").exists(), "one schema file, in the package"


def test_every_case_ran_and_succeeded(smoke: BenchRun) -> None:
    cases = smoke.results["scales"][SCALE]["cases"]
    assert set(cases) == set(RUN_CASES)
    for name, case in cases.items():
        untraced = [r for r in case["runs"] if not r["detail"].get("traced")]
        assert len(untraced) == 1, name
        assert case["ok"], (name, [r["error"] for r in case["runs"]])
        assert case["median_s"] is not None and case["peak_rss_mb"] > 0, name
    assert smoke.results["ok"] is True
    # progress went to the console while it ran, one line per run
    for name in cases:
        assert f"SF {SCALE}  {name}" in smoke.stdout


def test_machine_load_and_versions_are_recorded(smoke: BenchRun) -> None:
    machine, versions = smoke.results["machine"], smoke.results["versions"]
    assert machine["cpu_count"] >= 1 and machine["memory_gb"] > 0
    assert len(machine["load_avg_before"]) == 3 and len(machine["load_avg_after"]) == 3
    for name in ("apache-airflow", "dbt-core", "dbt-duckdb", "duckdb"):
        assert versions[name], name


def test_our_dag_run_is_profiled_from_recorded_timestamps(smoke: BenchRun) -> None:
    run = smoke.results["scales"][SCALE]["cases"]["our_dag"]["runs"][0]
    assert run["detail"]["state"] == "success"
    profile = run["detail"]["profile"]
    assert set(profile["segments"]) == set(PROFILE_SEGMENTS)
    assert profile["dbt_invocations"] >= 6  # run + test per layer, plus the runner's parse
    assert {"bronze.dbt_run_bronze", "gold.dbt_test_gold", "record_run"} <= set(profile["tasks"])
    build = smoke.results["scales"][SCALE]["cases"]["dbt_build"]["runs"][0]["detail"]
    assert build["returncode"] == 0 and build["nodes"]["pass"] > 0


def test_parse_of_our_dag_invokes_no_dbt(smoke: BenchRun) -> None:
    runs = smoke.results["scales"][SCALE]["cases"]["parse_ours"]["runs"]
    traced = [r["detail"] for r in runs if r["detail"].get("traced")]
    assert len(traced) == 1
    seen = traced[0]
    assert seen["dags"] == ["dbt_transform"] and seen["tasks"] >= 7
    assert seen["dbt_invocations"] == [] and seen["dbt_subprocesses"] == []
    assert seen["project_files_opened"] == 0
    assert seen["dbt_modules_imported"] is False


def test_hourly_pair_appends_one_hour_before_each_run(smoke: BenchRun) -> None:
    cases = smoke.results["scales"][SCALE]["cases"]
    for name in ("incremental_hour", "full_refresh"):
        detail = cases[name]["runs"][0]["detail"]
        assert detail["state"] == "success", name
        assert detail["append"]["details"] and "orders" in detail["append"]["details"][0]
    # what each run recomputed, counted in the warehouse: a full refresh rewrites every row
    # of every incremental model, the incremental run only the appended hour's share
    full = cases["full_refresh"]["runs"][0]["detail"]["batch_rows"]
    incremental = cases["incremental_hour"]["runs"][0]["detail"]["batch_rows"]
    assert set(full) == set(incremental) and len(full) >= 4
    assert all(t["this_batch"] == t["rows"] > 0 for t in full.values()), full
    recomputed = sum(t["this_batch"] for t in incremental.values())
    assert 0 < recomputed < sum(t["rows"] for t in incremental.values()) / 2, incremental


def test_airflow_floor_runs_a_dag_of_our_shape_doing_nothing(smoke: BenchRun) -> None:
    ours = smoke.results["scales"][SCALE]["cases"]["our_dag"]["runs"][0]["detail"]
    floor = smoke.results["scales"][SCALE]["cases"]["airflow_floor"]["runs"][0]["detail"]
    assert floor["state"] == "success" and floor["returncode"] == 0
    assert floor["tasks"] == len(ours["task_seconds"]) == floor["task_states"]["success"]


def test_targets_are_evaluated_with_status(smoke: BenchRun) -> None:
    targets = {t["id"]: t for t in smoke.results["targets"]}
    assert set(targets) == TARGET_IDS
    # SF 1, 10, 30 and 100 were not part of this run: those targets say so instead of guessing
    for tid in (
        "dag_vs_dbt_build",
        "incremental_vs_full_refresh",
        "sf30_memory",
        "hour_vs_full_refresh_sf100",
        "hour_growth",
        "sf100_memory",
        "sched_vs_dbt_build",
        "sched_vs_cosmos_local",
        "sched_faster_than_cosmos_watcher",
    ):
        assert targets[tid]["status"] == "not_run", targets[tid]
    # the fixed cost does not depend on the data: judged at the scale the scheduler ran
    fixed = targets["task_fixed_cost"]
    assert fixed["status"] in ("pass", "fail") and fixed["scale"] == float(SCALE), fixed
    assert "stock LocalExecutor" in fixed["detail"]
    assert targets["parse"]["status"] in ("pass", "fail")
    assert targets["parse"]["value"] is not None and targets["parse"]["margin"]


def test_markdown_outputs_are_rendered_from_results(smoke: BenchRun, tmp_path: Path) -> None:
    page = smoke.docs.read_text()
    results_file = (smoke.out / "results.json").resolve().as_posix()
    assert page == render_performance(smoke.results, results_file, str(smoke.docs.parent))
    assert f"]({os.path.relpath(results_file, smoke.docs.parent)})" in page  # links its data
    assert "Do not edit" in page and "## Targets" in page and "## Where the time goes" in page
    for name in RUN_CASES:
        assert f"`{name}`" in page, name
    table = (smoke.out / "results.md").read_text()
    assert "| SF 0.05 | `our_dag` |" in table
    # --render-only reproduces both files from results.json alone
    shutil.copy(smoke.out / "results.json", tmp_path / "results.json")
    proc = subprocess.run(
        [
            str(MEDALLION),
            "bench",
            "--render-only",
            "--out",
            str(tmp_path),
            "--docs",
            str(tmp_path / "PERFORMANCE.md"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    # the same page; only its header's links point from where it now is to its results
    rendered = (tmp_path / "PERFORMANCE.md").read_text()
    here = (tmp_path / "results.json").resolve().as_posix()
    assert rendered == render_performance(smoke.results, here, str(tmp_path.resolve()))
    body = page.index("## Targets")
    assert rendered[rendered.index("## Targets") :] == page[body:]


def test_real_scheduler_cases_run_the_dags_in_a_running_airflow(smoke: BenchRun) -> None:
    cases = smoke.results["scales"][SCALE]["cases"]
    floor = cases["sched_floor"]["runs"][0]["detail"]
    ours = cases["sched_our_dag"]["runs"][0]["detail"]
    stock = cases["sched_our_dag_stock"]["runs"][0]["detail"]
    for detail in (floor, ours, stock):
        assert detail["state"] == "success" and detail["tasks"] == len(detail["profile"]["tasks"])
        profile = detail["profile"]
        # the run's own record: queued, then tasks, then the end, in that order
        assert profile["queued_to_first_task_s"] >= 0 and profile["last_task_to_run_end_s"] >= 0
    assert floor["tasks"] == ours["tasks"] == stock["tasks"]
    dbt_tasks = {k: t for k, t in ours["profile"]["tasks"].items() if "fixed_cost_s" in t}
    assert {"bronze.dbt_run_bronze", "silver.dbt_test_silver", "gold.dbt_run_gold"} <= set(
        dbt_tasks
    )
    # the preloading executor hands each task the manifest its worker parsed: no task parses
    # the project itself, while under the stock executor every dbt task does, once
    for task_id, task in dbt_tasks.items():
        assert stock["profile"]["tasks"][task_id]["dbt_invocations"] == (
            task["dbt_invocations"] + 1
        ), task_id
