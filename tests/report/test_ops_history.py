"""The `ops` run history fills from real dbt artifacts, for a green and a failed run."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
import sqlglot
from sqlglot import exp

from medallion import ops
from medallion.connections import connect
from medallion.dbt import StepResult, read_run_results, task_artifacts_dir
from medallion.names import DAG_ID

if TYPE_CHECKING:
    from tests.report.conftest import RecordedRuns


def _rows(recorded: RecordedRuns, sql: str, *params: object) -> list[tuple]:
    with connect(recorded.settings, read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def test_pipeline_runs_has_one_row_per_run_with_its_status(recorded: RecordedRuns) -> None:
    rows = _rows(
        recorded,
        "select run_id, status, target, duration_s from ops.pipeline_runs order by started_at",
    )
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (recorded.good.run_id, "success", "duckdb"),
        (recorded.bad.run_id, "failed", "duckdb"),
    ]
    assert all(r[3] is not None and r[3] > 0 for r in rows)


def test_node_runs_of_the_green_run_cover_every_layer(recorded: RecordedRuns) -> None:
    rows = _rows(
        recorded,
        "select layer, node_type, count(*), count(*) filter (where status in ('success', 'pass')) "
        "from ops.node_runs where run_id = ? group by all order by all",
        recorded.good.run_id,
    )
    by_key = {(layer, kind): (n, ok) for layer, kind, n, ok in rows}
    for layer in ("bronze", "silver", "gold"):
        n, ok = by_key[(layer, "model")]
        assert n >= 1 and ok == n, (layer, rows)
        n, ok = by_key[(layer, "test")]
        assert n >= 1 and ok == n, (layer, rows)
    # source freshness is recorded with bronze's test task
    assert by_key[("bronze", "source")][0] == 1


def test_node_runs_of_the_failed_run_name_the_failing_test(recorded: RecordedRuns) -> None:
    failed = _rows(
        recorded,
        "select layer, task_id, name, status, failures, message from ops.node_runs "
        "where run_id = ? and status in ('fail', 'error')",
        recorded.bad.run_id,
    )
    assert len(failed) == 1
    layer, task_id, name, status, failures, message = failed[0]
    assert (layer, task_id, status) == ("silver", "silver.dbt_test_silver", "fail")
    assert name.startswith("accepted_values_slv_orders_status")
    assert failures == 1  # one distinct bad status value (9)
    assert message and "1" in message
    # gold never ran: no node rows, and its tasks are recorded as upstream_failed
    assert not _rows(
        recorded,
        "select * from ops.node_runs where run_id = ? and layer = 'gold'",
        recorded.bad.run_id,
    )
    states = dict(
        _rows(
            recorded,
            "select task_id, state from ops.task_runs where run_id = ?",
            recorded.bad.run_id,
        )
    )
    assert states["silver.dbt_test_silver"] == "failed"
    assert states["gold.dbt_run_gold"] == states["gold.dbt_test_gold"] == "upstream_failed"


def test_relation_rows_and_quarantine_reasons(recorded: RecordedRuns) -> None:
    counts = dict(
        _rows(
            recorded,
            "select relation, row_count from ops.relation_rows where run_id = ?",
            recorded.good.run_id,
        )
    )
    assert counts["gold.fct_sales_daily"] == 1
    assert counts["bronze.brz_orders"] == 53
    assert counts["silver.slv_orders_quarantine"] == 3
    reasons = dict(
        _rows(
            recorded,
            "select reason, row_count from ops.quarantine_reasons where run_id = ?",
            recorded.good.run_id,
        )
    )
    assert reasons == {"amount_negative": 2, "id_out_of_range": 3}
    bad_counts = dict(
        _rows(
            recorded,
            "select relation, row_count from ops.relation_rows where run_id = ?",
            recorded.bad.run_id,
        )
    )
    assert bad_counts["bronze.brz_orders"] == 55


def test_recording_a_run_again_replaces_its_rows(recorded: RecordedRuns) -> None:
    before = _rows(recorded, "select count(*) from ops.node_runs")[0][0]
    summaries = ops.summaries_from_artifacts(recorded.settings, DAG_ID, recorded.good.run_id)
    good = recorded.good
    ops.record_run(
        recorded.settings,
        run_id=recorded.good.run_id,
        logical_date=good.logical_date,
        status="success",
        started_at=good.started_at,
        ended_at=good.ended_at,
        task_summaries=summaries,
    )
    assert _rows(recorded, "select count(*) from ops.node_runs")[0][0] == before
    assert _rows(
        recorded, "select count(*) from ops.pipeline_runs where run_id = ?", recorded.good.run_id
    ) == [(1,)]


def test_xcom_summary_dicts_are_accepted(recorded: RecordedRuns) -> None:
    """The DAG may hand over the StepResult dicts it pushed to XCom instead of artifacts."""
    task_id = ops.layer_task_id("gold", "run")
    artifacts = task_artifacts_dir(recorded.settings, DAG_ID, recorded.good.run_id, task_id, 1)
    step = StepResult(layer="gold", step="run", artifacts=artifacts)
    step.invocations.append(read_run_results(artifacts / "run_results.json"))
    summary = ops.coerce_summary(step.to_dict())
    assert summary.task_id == task_id
    assert summary.state == "success"
    assert [n.name for n in summary.nodes] == ["fct_sales_daily"]


def test_run_status_from_task_states() -> None:
    assert ops.run_status({"a": "success", "b": "skipped"}) == "success"
    assert ops.run_status({"a": "success", "b": "upstream_failed"}) == "failed"
    assert ops.run_status({"a": "failed", "b": None}) == "failed"


@pytest.mark.parametrize(
    "statement",
    [
        *ops.ddl("tsql"),
        *ops.delete_run_sql("tsql"),
        *(ops.insert_sql(table, "tsql") for table in ops.TABLES),
        ops.relations_sql(),
        ops.reason_column_sql(),
        ops.count_sql("silver.slv_orders_quarantine"),
        ops.quarantine_reasons_sql("silver.slv_orders_quarantine", "tsql", is_list=False),
    ],
)
def test_ops_sql_parses_as_tsql(statement: str) -> None:
    parsed = sqlglot.parse(statement, read="tsql", error_level=sqlglot.ErrorLevel.RAISE)
    assert parsed and all(p is not None for p in parsed)
    # Command is sqlglot's "could not understand, kept as text" fallback
    assert not any(isinstance(p, exp.Command) for p in parsed), statement


def test_tsql_ddl_uses_sql_server_types() -> None:
    text = "\n".join(ops.ddl("tsql"))
    assert "datetime2" in text and "nvarchar(max)" in text
    assert "timestamp" not in text and "varchar " not in text.replace("nvarchar", "")
    for table in ops.TABLES:
        assert f"object_id('ops.{table}', 'U') is null" in text


def test_tsql_timestamps_are_naive_utc() -> None:
    run = ops.RunRecord(
        run_id="r",
        logical_date=datetime(2024, 1, 1, 2, tzinfo=UTC),
        target="sqlserver",
        status="success",
        started_at=datetime(2024, 1, 1, 2, tzinfo=UTC),
        ended_at=datetime(2024, 1, 1, 2, 0, 30, tzinfo=UTC),
    )
    row = ops.pipeline_row(run, "tsql", datetime(2024, 1, 1, 3, tzinfo=UTC))
    assert row[1] == datetime(2024, 1, 1, 2) and row[1].tzinfo is None
    assert row[6] == 30.0
