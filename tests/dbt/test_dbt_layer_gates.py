"""Each layer's quality gate catches a deliberately broken row, under the DAG's exact selectors.

Every test corrupts a private copy of the built warehouse, runs that layer's steps as the
DAG does (`dbt run --select tag:<layer>` then `dbt test --select tag:<layer>
--indirect-selection buildable`) and reads run_results.json for the test that must fail.
"""

from __future__ import annotations

import pytest

from tests.dbt.dbt_support import DbtResult, Scratch, execute, touched

pytestmark = pytest.mark.e2e


def _test_layer(scratch: Scratch, layer: str, env: dict[str, str] | None = None) -> DbtResult:
    return scratch.dbt(
        "test", "--select", f"tag:{layer}", "--indirect-selection", "buildable", env=env
    )


def _failed(result: DbtResult) -> dict[str, int]:
    """Failed tests by name, with their failure counts."""
    return {
        name: r["failures"]
        for name, r in result.results().items()
        if r["unique_id"].startswith("test.") and r["status"] in ("fail", "error")
    }


def test_bronze_fails_fast_on_a_duplicate_primary_key(scratch: Scratch) -> None:
    execute(
        scratch.warehouse,
        "insert into sales.SalesOrderHeader "
        "select * from sales.SalesOrderHeader order by SalesOrderID limit 1",
    )
    result = _test_layer(scratch, "bronze")
    assert result.returncode != 0, result.describe()
    failed = _failed(result)
    assert failed == {"unique_brz_sales__sales_order_header_sales_order_id": 1}, failed
    assert all("brz_" in name for name in result.results()), "bronze ran a non-bronze test"


def test_bronze_orphans_and_future_orders_only_warn(scratch: Scratch) -> None:
    """Row-level problems are silver's to quarantine: bronze warns, it does not stop."""
    execute(
        scratch.warehouse,
        "update sales.SalesOrderDetail set ProductID = 999999 "
        "where SalesOrderDetailID = (select min(SalesOrderDetailID) from sales.SalesOrderDetail)",
        "update sales.SalesOrderHeader set OrderDate = now()::timestamp + interval 30 day "
        "where SalesOrderID = (select max(SalesOrderID) from sales.SalesOrderHeader)",
    )
    result = _test_layer(scratch, "bronze")
    assert result.returncode == 0, result.describe()
    warned = {n for n, r in result.results().items() if r["status"] == "warn"}
    assert warned == {
        "relationships_brz_sales__sales_order_detail_product_id__product_id__ref_brz_production__product_",
        "not_in_future_brz_sales__sales_order_header_ordered_at",
    }


def test_silver_fails_on_a_line_total_mismatch_and_an_unknown_status(scratch: Scratch) -> None:
    execute(
        scratch.warehouse,
        # Neither is a quarantine rule: the rows are published and the gate must stop them.
        f"update sales.SalesOrderDetail set LineTotal = LineTotal + 0.5, {touched()} "
        "where SalesOrderDetailID = (select min(SalesOrderDetailID) from sales.SalesOrderDetail)",
        f"update sales.SalesOrderHeader set Status = 9, {touched()} "
        "where SalesOrderID = (select max(SalesOrderID) from sales.SalesOrderHeader)",
    )
    run = scratch.dbt("run", "--select", "tag:silver")
    assert run.returncode == 0, run.describe()
    result = _test_layer(scratch, "silver")
    assert result.returncode != 0, result.describe()
    failed = _failed(result)
    line_total = [
        n for n in failed if n.startswith("expression_is_true_slv_order_lines_abs_line_total")
    ]
    assert len(line_total) == 1 and failed[line_total[0]] == 1, failed
    assert failed["accepted_values_slv_orders_status__False__1__2__3__4__5__6"] == 1
    # the header's subtotal no longer matches its lines either
    assert failed["assert_order_subtotals_match_lines"] == 1
    assert set(failed) == {*line_total, "accepted_values_slv_orders_status__False__1__2__3__4__5__6",
                           "assert_order_subtotals_match_lines"}  # fmt: skip
    gold_tests = [n for n in result.results() if "fct_" in n or "dim_" in n]
    assert gold_tests == [], "silver ran gold tests"


def test_gold_reconciliation_catches_a_corrupted_measure(scratch: Scratch) -> None:
    """One cent off in one row of the gold candidate (the audit state the gold views read)
    fails that relation's reconciliation with published silver."""
    execute(
        scratch.warehouse,
        "update gold_audit.fct_sales_daily_state set total_due = total_due + 0.01 "
        "where rowid = (select min(rowid) from gold_audit.fct_sales_daily_state)",
        "update gold_audit.fct_product_sales_state set units_sold = units_sold + 1 "
        "where product_id = (select min(product_id) from gold_audit.fct_product_sales_state)",
        "update gold_audit.dim_customer_value_state set lifetime_value = lifetime_value - 0.01 "
        "where customer_id = (select max(customer_id) from gold_audit.dim_customer_value_state)",
    )
    result = _test_layer(scratch, "gold")
    assert result.returncode != 0, result.describe()
    # each test returns one row per measure that differs
    assert _failed(result) == {
        "assert_fct_sales_daily_reconciles_with_silver": 1,
        "assert_fct_product_sales_reconciles_with_silver": 1,
        "assert_dim_customer_value_reconciles_with_silver": 1,
    }
    assert not [n for n in result.results() if n.startswith("assert_order")]


def test_gold_type_check_catches_a_contract_type_change(scratch: Scratch) -> None:
    execute(
        scratch.warehouse,
        "alter table gold_audit.fct_sales_daily_state alter column total_due type double",
        # a view keeps the types it was created with: re-create it, as the next run would
        "create or replace view gold_audit.fct_sales_daily as "
        "select * exclude (_batch_at) from gold_audit.fct_sales_daily_state where order_count > 0",
    )
    result = _test_layer(scratch, "gold")
    assert result.returncode != 0, result.describe()
    assert _failed(result) == {"column_types_match_fct_sales_daily_": 1}
