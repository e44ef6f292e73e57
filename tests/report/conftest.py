"""Two real DAG runs, recorded by the DAG's own record task: what every report test reads.

The project's `dbt_transform` runs under `airflow dags test` (as `medallion run` runs it) over
the mini dbt project, copied to tmp with one more silver model, a rule-based quarantine
(`slv_orders_quarantine`), so ops records real quarantine reasons. The green run reads 50
good orders and 3 that break rules; the failed run adds two orders with an unknown status,
which silver's accepted_values test rejects. Task states, node results, relation rows and
quarantine counts in `ops` are all what the record task wrote: nothing is made up here.
"""

from __future__ import annotations

import os
import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from medallion import ops
from medallion.config import Settings
from medallion.devtools.pipeline import DagRunOutcome, dags_test_env, run_dag

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "mini_dbt"
GOOD_DATE = "2024-01-01T00:00:00+00:00"
BAD_DATE = "2024-01-01T01:00:00+00:00"
DAG_FILE = textwrap.dedent(
    """
    # airflow dag: the real dbt_transform, against the mini dbt project of these tests
    from medallion.dag import build_dag

    dag = build_dag()
    """
)
# Every rule an order breaks, ';'-separated, like the real project's quarantine models.
QUARANTINE_MODEL = textwrap.dedent(
    """
    with orders as (
        select * from {{ ref('brz_orders') }}
    ),

    checked as (
        select
            order_id,
            concat_ws(
                ';',
                case when amount < 0 then 'amount_negative' end,
                case when order_id > 100 then 'id_out_of_range' end
            ) as quarantine_reasons
        from orders
    )

    select * from checked where quarantine_reasons <> ''
    """
)


@dataclass(frozen=True)
class RecordedRuns:
    settings: Settings
    env: dict[str, str]
    good: ops.RunRecord
    bad: ops.RunRecord
    outcomes: dict[str, DagRunOutcome]


def seed_orders(settings: Settings, *, bad_status: bool) -> None:
    """50 good orders, 3 that break quarantine rules; with bad_status, 2 of unknown status."""
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("create schema if not exists sales")
        con.execute(
            "create or replace table sales.orders as select range + 1 as order_id, "
            "1 + range % 6 as status, (range + 1) * 10.0 as amount, now() as _loaded_at "
            "from range(50)"
        )
        con.execute(
            "insert into sales.orders values (101, 1, -1.0, now()), (102, 2, -2.0, now()), "
            "(103, 3, 7.0, now())"
        )
        if bad_status:
            con.execute("insert into sales.orders values (51, 9, 1.0, now()), (52, 9, 2.0, now())")


def _record_of(settings: Settings, run_id: str) -> ops.RunRecord:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        row = con.execute(
            "select run_id, logical_date, target, status, started_at, ended_at "
            "from ops.pipeline_runs where run_id = ?",
            [run_id],
        ).fetchone()
    assert row, f"the record task did not record {run_id}"
    return ops.RunRecord(*row)


@pytest.fixture(scope="package")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> RecordedRuns:
    tmp = tmp_path_factory.mktemp("recorded")
    project = Path(shutil.copytree(FIXTURE, tmp / "dbt"))
    (project / "models" / "silver" / "slv_orders_quarantine.sql").write_text(QUARANTINE_MODEL)
    (tmp / "dags").mkdir()
    (tmp / "dags" / "dbt_dag_recorded.py").write_text(DAG_FILE, encoding="utf-8")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MEDALLION_", "AIRFLOW"))}
    base.update(
        {
            "MEDALLION_HOME": str(tmp / "home"),
            "MEDALLION_DBT_PROJECT_DIR": str(project),
            "MEDALLION_DBT_PROFILES_DIR": str(project),
            "MEDALLION_DUCKDB_THREADS": "1",
            "MEDALLION_RETRY_DELAY_SECONDS": "1",
        }
    )
    settings = Settings.from_env(base)
    env = dags_test_env(settings, base=base)
    env["AIRFLOW__CORE__DAGS_FOLDER"] = str(tmp / "dags")
    outcomes = {}
    for name, date, bad in (("good", GOOD_DATE, False), ("bad", BAD_DATE, True)):
        seed_orders(settings, bad_status=bad)
        outcome = run_dag(settings, env=env, echo=False, logical_date=date)
        assert outcome.state == ("failed" if bad else "success"), outcome.log_file.read_text()[
            -3000:
        ]
        outcomes[name] = outcome
    return RecordedRuns(
        settings=settings,
        env=env,
        good=_record_of(settings, outcomes["good"].run_id),
        bad=_record_of(settings, outcomes["bad"].run_id),
        outcomes=outcomes,
    )
