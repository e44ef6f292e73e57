"""The hourly path's quality gates read the batch, and keep write-audit-publish whole.

With `--vars '{gate_scope: batch}'` (the DAG's test step, dbt/macros/gate_scope.sql) a test
reads what changed since its layer last published; with the default (`full`) it reads
everything. Each test corrupts a private copy of the built warehouse and runs the layer
steps the DAG runs, reading run_results.json for the test that must pass or fail.
"""

from __future__ import annotations

import pytest

from tests.dbt.dbt_support import (
    DbtResult,
    Scratch,
    append_into,
    checksums,
    execute,
    loaded_now,
    query,
    run_hourly_step,
    scalar,
    touched,
)

pytestmark = pytest.mark.e2e


def _failed(result: DbtResult) -> dict[str, int]:
    return {
        name: r["failures"]
        for name, r in result.results().items()
        if r["unique_id"].startswith("test.") and r["status"] in ("fail", "error")
    }


def _step(scratch: Scratch, layer: str, step: str) -> DbtResult:
    result = run_hourly_step(scratch.warehouse, scratch.work_dir, layer, step)
    assert result is not None, f"{layer} {step} runs nothing"
    return result


def test_the_batch_gate_reads_the_batch_and_the_full_check_reads_the_history(
    scratch: Scratch,
) -> None:
    # a row corrupted long after its batch was tested and published: only a full check sees it
    execute(
        scratch.warehouse,
        "update silver_audit.order_line_checks set line_reasons = null "
        "where sales_order_detail_id = (select min(sales_order_detail_id) "
        "from silver_audit.order_line_checks)",
    )
    select = ("test", "--select", "slv_order_line_checks")
    batch = scratch.dbt(*select, "--vars", "{gate_scope: batch}")
    assert batch.returncode == 0, batch.describe()
    assert batch.results()["not_null_slv_order_line_checks_line_reasons"]["status"] == "pass"
    full = scratch.dbt(*select)
    assert full.returncode != 0, full.describe()
    assert _failed(full) == {"not_null_slv_order_line_checks_line_reasons": 1}


def test_batch_keys_are_checked_for_uniqueness_against_the_whole_relation(
    scratch: Scratch,
) -> None:
    """A newly loaded row reusing an old key: unique within the batch, not in the table."""
    execute(
        scratch.warehouse,
        f"insert into sales.SalesOrderDetail select * replace ({loaded_now()} as _loaded_at) "
        "from sales.SalesOrderDetail order by SalesOrderDetailID limit 1",
    )
    result = _step(scratch, "bronze", "test")
    assert result.returncode != 0, result.describe()
    assert _failed(result) == {"unique_brz_sales__sales_order_detail_sales_order_detail_id": 1}
    # found by a lookup of the batch's keys, not by reading the history
    sql = (scratch.work_dir / "tests" / "target" / "run" / "medallion").rglob(
        "unique_brz_sales__sales_order_detail_sales_order_detail_id.sql"
    )
    assert "_loaded_at >" in next(sql).read_text()


def test_a_batch_that_failed_its_gate_is_not_published_and_is_checked_again(
    scratch: Scratch,
) -> None:
    home = scratch.work_dir / "home"
    warehouse = scratch.warehouse
    append_into(warehouse, home)
    bad = scalar(warehouse, "select max(SalesOrderID) from sales.SalesOrderHeader")
    execute(
        warehouse,  # not a quarantine rule: the gate must stop it
        f"update sales.SalesOrderHeader set Status = 9, {touched()} where SalesOrderID = {bad}",
    )
    published = checksums(warehouse, ["silver"], exclude=())
    for step in ("run", "test"):  # bronze publishes nothing: views over raw
        assert _step(scratch, "bronze", step).returncode == 0
    assert _step(scratch, "silver", "run").returncode == 0
    failed = _step(scratch, "silver", "test")
    assert failed.returncode != 0, failed.describe()
    status_test = "accepted_values_slv_orders_status__False__1__2__3__4__5__6"
    assert _failed(failed) == {status_test: 1}
    assert checksums(warehouse, ["silver"], exclude=()) == published  # nothing published

    # the next hour is clean, but the failed order is still unpublished: still in the batch
    append_into(warehouse, home)
    assert _step(scratch, "silver", "run").returncode == 0
    again = _step(scratch, "silver", "test")
    assert _failed(again) == {status_test: 1}

    # corrected upstream, it passes and is published with the rest
    execute(
        warehouse,
        f"update sales.SalesOrderHeader set Status = 5, {touched()} where SalesOrderID = {bad}",
    )
    assert _step(scratch, "silver", "run").returncode == 0
    passed = _step(scratch, "silver", "test")
    assert passed.returncode == 0, passed.describe()
    assert _step(scratch, "silver", "publish").returncode == 0
    assert query(warehouse, f"select status from silver.orders where sales_order_id = {bad}") == [
        (5,)
    ]
