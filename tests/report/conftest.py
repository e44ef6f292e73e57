"""Two real dbt "DAG runs" (one green, one with a failing silver test) recorded into `ops`.

The layers run exactly as the DAG's tasks do (`medallion.dbt.run_step`, artifacts under
`<artifacts>/<dag_id>/<run_id>/<task_id>/try_<n>/`) against the mini dbt project in a tmp
DuckDB warehouse; the run history is then read back from dbt's own artifacts.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from medallion import ops
from medallion.config import LAYERS, Settings
from medallion.dbt import STEPS, run_step, task_artifacts_dir
from medallion.errors import MedallionError

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "mini_dbt"
DAG_ID = "dbt_transform"
GOOD_RUN = "scheduled__2024-01-01T00:00:00+00:00"
BAD_RUN = "manual__2024-01-01T01:00:00+00:00"


@dataclass(frozen=True)
class RecordedRuns:
    settings: Settings
    good: ops.RunRecord
    bad: ops.RunRecord


def make_settings(tmp: Path) -> Settings:
    project = tmp / "dbt"
    shutil.copytree(FIXTURE, project)  # dbt may write into its project dir: keep the repo clean
    home = tmp / "home"
    return Settings.from_env(
        {
            "MEDALLION_HOME": str(home),
            "MEDALLION_WAREHOUSE": str(home / "warehouse.duckdb"),
            "MEDALLION_DBT_PROJECT_DIR": str(project),
            "MEDALLION_DBT_PROFILES_DIR": str(project),
            "MEDALLION_ARTIFACTS_DIR": str(home / "artifacts"),
            "MEDALLION_DUCKDB_THREADS": "1",
        }
    )


def seed_warehouse(settings: Settings, *, bad_status: bool = False) -> None:
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("create schema if not exists sales")
        con.execute(
            "create or replace table sales.orders as select range + 1 as order_id, "
            "1 + range % 6 as status, (range + 1) * 10.0 as amount, now() as _loaded_at "
            "from range(50)"
        )
        if bad_status:
            con.execute("insert into sales.orders values (51, 9, 1.0, now()), (52, 9, 2.0, now())")
        # Quarantine is dbt's job in the real project; here its output is stood in for.
        con.execute("create schema if not exists silver")
        con.execute(
            "create or replace table silver.slv_orders_quarantine as "
            "select * from (values (101, 'amount_negative'), "
            "(102, 'amount_negative;ship_before_order'), (103, 'ship_before_order')) "
            "as t(order_id, quarantine_reasons)"
        )


def run_like_the_dag(settings: Settings, run_id: str) -> tuple[dict[str, str], datetime]:
    """bronze >> silver >> gold, run then test per layer; a failure stops later tasks."""
    started = datetime.now(UTC)
    states: dict[str, str] = {}
    failed = False
    for layer in LAYERS:
        for step in STEPS:
            task_id = ops.layer_task_id(layer, step)
            if failed:
                states[task_id] = "upstream_failed"
                continue
            artifacts = task_artifacts_dir(settings, DAG_ID, run_id, task_id, 1)
            try:
                run_step(settings, step, layer, artifacts=artifacts)
                states[task_id] = "success"
            except MedallionError:
                states[task_id] = "failed"
                failed = True
    return states, started


def record(settings: Settings, run_id: str, *, bad: bool) -> ops.RunRecord:
    seed_warehouse(settings, bad_status=bad)
    states, started = run_like_the_dag(settings, run_id)
    return ops.record_run(
        settings,
        run_id=run_id,
        logical_date=started,
        status=ops.run_status(states),
        started_at=started,
        ended_at=datetime.now(UTC),
        task_summaries=ops.summaries_from_artifacts(settings, DAG_ID, run_id, states),
    )


@pytest.fixture(scope="package")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> RecordedRuns:
    settings = make_settings(tmp_path_factory.mktemp("report"))
    good = record(settings, GOOD_RUN, bad=False)
    bad = record(settings, BAD_RUN, bad=True)
    return RecordedRuns(settings=settings, good=good, bad=bad)
