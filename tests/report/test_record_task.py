"""The record task inside a real DAG run (`airflow dags test`, the way `medallion run` runs it).

The DAG under test is the project's own `dbt_transform` over the mini dbt project (the
package's `recorded` runs): its `ops` record task is a teardown after every other task, and
the gold Assets are outlets of `publish_gold` (gold is published only once its tests
passed). Proves that the record task fills `ops` on success and on failure, that it does not
turn a failed run green, and that asset events come with a green run only.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

import duckdb
import pytest

from medallion.config import Settings
from medallion.names import GOLD_RELATIONS

if TYPE_CHECKING:
    from tests.report.conftest import RecordedRuns

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


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


def test_green_run_is_recorded_and_emits_gold_asset_events(recorded: RecordedRuns) -> None:
    settings, outcome = recorded.settings, recorded.outcomes["good"]
    assert outcome.state == "success"
    assert outcome.tasks["record_run"].state == "success"
    assert _ops(
        settings, "select status from ops.pipeline_runs where run_id = ?", outcome.run_id
    ) == [("success",)]
    layers = dict(
        _ops(
            settings,
            "select layer, count(*) from ops.node_runs where run_id = ? group by layer",
            outcome.run_id,
        )
    )
    assert set(layers) == {"bronze", "silver", "gold"}
    assert _asset_events(settings, outcome.run_id) == sorted(GOLD_RELATIONS)


def test_failed_run_is_recorded_stays_failed_and_emits_no_asset_event(
    recorded: RecordedRuns,
) -> None:
    settings, outcome = recorded.settings, recorded.outcomes["bad"]
    # the record task succeeded, yet the run is failed: it is a teardown
    assert outcome.state == "failed"
    assert outcome.tasks["record_run"].state == "success"
    assert _ops(
        settings, "select status from ops.pipeline_runs where run_id = ?", outcome.run_id
    ) == [("failed",)]
    states = dict(
        _ops(settings, "select task_id, state from ops.task_runs where run_id = ?", outcome.run_id)
    )
    assert states["silver.dbt_test_silver"] == "failed"
    assert states["gold.dbt_test_gold"] == "upstream_failed"
    failing = _ops(
        settings,
        "select name, failures from ops.node_runs where run_id = ? and status = 'fail'",
        outcome.run_id,
    )
    assert [f[0].split("__")[0] for f in failing] == ["accepted_values_slv_orders_status"]
    assert _asset_events(settings, outcome.run_id) == []
