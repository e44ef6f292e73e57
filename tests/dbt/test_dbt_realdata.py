"""On the real AdventureWorks export every layer builds with every test passing, nothing is
quarantined, and the gold totals equal the raw totals (orders with status 4 or 6 excluded);
the quarantine ratio gate counts the lines that broke a rule, not the lines quarantined with
their order."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tests.dbt.dbt_support import (
    REPO,
    SHARED_ADVENTUREWORKS,
    copy_warehouse,
    dbt_env,
    execute,
    query,
    scalar,
    touched,
)

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.e2e,
    pytest.mark.skipif(
        not (SHARED_ADVENTUREWORKS / "sales" / "SalesOrderHeader.csv").is_file(),
        reason=f"the real AdventureWorks export is not at {SHARED_ADVENTUREWORKS}",
    ),
]

COUNTED = "Status not in (4, 6)"


def test_nothing_is_quarantined_on_clean_real_data(real_warehouse: Path) -> None:
    for entity in ("orders", "order_lines", "customers", "products"):
        assert scalar(real_warehouse, f"select count(*) from silver.{entity}_quarantine") == 0
    assert scalar(real_warehouse, "select count(*) from silver.orders") == 31_465
    assert scalar(real_warehouse, "select count(*) from silver.order_lines") == 121_317
    assert scalar(real_warehouse, "select count(*) from silver.customers") == 19_820
    assert scalar(real_warehouse, "select count(*) from silver.products") == 504


def test_fct_sales_daily_totals_equal_raw_totals(real_warehouse: Path) -> None:
    gold = query(
        real_warehouse,
        "select sum(total_due), sum(subtotal), sum(tax_amt), sum(freight), sum(order_count), "
        "sum(units) from gold.fct_sales_daily",
    )[0]
    raw = query(
        real_warehouse,
        f"select sum(TotalDue), sum(SubTotal), sum(TaxAmt), sum(Freight), count(*), "
        f"(select sum(d.OrderQty) from sales.SalesOrderDetail as d "
        f" inner join sales.SalesOrderHeader as h on d.SalesOrderID = h.SalesOrderID "
        f" where h.{COUNTED}) "
        f"from sales.SalesOrderHeader where {COUNTED}",
    )[0]
    assert gold == raw
    assert gold[0] == Decimal("123216786.1159")


def test_fct_product_sales_totals_equal_raw_totals(real_warehouse: Path) -> None:
    gold = query(
        real_warehouse,
        "select sum(revenue), sum(units_sold), sum(standard_cost_total), count(*) "
        "from gold.fct_product_sales",
    )[0]
    raw = query(
        real_warehouse,
        f"""
        select sum(d.LineTotal), sum(d.OrderQty), sum(d.OrderQty * p.StandardCost),
            count(distinct d.ProductID)
        from sales.SalesOrderDetail as d
        inner join sales.SalesOrderHeader as h on d.SalesOrderID = h.SalesOrderID
        inner join production.Product as p on d.ProductID = p.ProductID
        where h.{COUNTED}
        """,
    )[0]
    assert gold == raw
    assert gold[0] == Decimal("109846381.399888")
    assert gold[3] == 266


def test_dim_customer_value_totals_equal_raw_totals(real_warehouse: Path) -> None:
    gold = query(
        real_warehouse,
        "select sum(lifetime_value), sum(order_count), count(*) from gold.dim_customer_value",
    )[0]
    raw = query(
        real_warehouse,
        f"select sum(TotalDue), count(*), count(distinct CustomerID) from sales.SalesOrderHeader "
        f"where {COUNTED}",
    )[0]
    assert gold == raw
    types = dict(
        query(
            real_warehouse,
            "select customer_type, count(*) from gold.dim_customer_value group by 1",
        )
    )
    assert set(types) == {"individual", "store"}


def _layer(warehouse: Path, work: Path, step: str, layer: str) -> subprocess.CompletedProcess:
    """`medallion layer <step> <layer>`: the DAG task's runner, with its terminal output."""
    env = dbt_env(warehouse, work, {"MEDALLION_PROJECT_ROOT": str(REPO)})
    return subprocess.run(
        [sys.executable, "-m", "medallion.cli", "layer", step, layer],
        env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip


def _zero_one_line_of_the_largest_orders(warehouse: Path, orders: int) -> set[int]:
    """OrderQty 0 on one line of each of the ``orders`` orders with the most lines (bad lines
    concentrated in large orders, where the whole-order rule quarantines the most); returns
    the orders hit."""
    hit = [
        r[0]
        for r in query(
            warehouse,
            "select SalesOrderID from sales.SalesOrderDetail group by SalesOrderID "
            f"order by count(*) desc, SalesOrderID limit {orders}",
        )
    ]
    execute(
        warehouse,
        f"update sales.SalesOrderDetail set OrderQty = 0, {touched()} "
        "where SalesOrderDetailID in (select min(SalesOrderDetailID) from sales.SalesOrderDetail "
        f"where SalesOrderID in ({', '.join(map(str, hit))}) group by SalesOrderID)",
    )
    return set(hit)


def test_the_ratio_gate_counts_bad_lines_not_their_quarantined_orders(
    real_warehouse: Path, tmp_path: Path
) -> None:
    warehouse = copy_warehouse(real_warehouse, tmp_path / "db")
    work = tmp_path / "work"
    lines = scalar(warehouse, "select count(*) from sales.SalesOrderDetail")

    # 0.6 % of the lines are bad, one in each of the largest orders: under the 1 % limit,
    # although the whole-order rule quarantines far more than 1 % of the lines
    hit = _zero_one_line_of_the_largest_orders(warehouse, int(lines * 0.006))
    for step in ("run", "test", "publish"):
        done = _layer(warehouse, work, step, "silver")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    quarantined = dict(
        query(
            warehouse,
            "select sales_order_id, count(*) from silver.order_lines_quarantine group by 1",
        )
    )
    lines_of_hit = dict(
        query(
            warehouse,
            f"select SalesOrderID, count(*) from sales.SalesOrderDetail "
            f"where SalesOrderID in ({', '.join(map(str, hit))}) group by 1",
        )
    )
    assert quarantined == lines_of_hit, "every line of every order with a bad line"
    assert sum(quarantined.values()) > 0.05 * lines, "collateral lines far above the limit"
    bad = scalar(
        warehouse,
        "select count(*) from silver.order_lines_quarantine "
        "where quarantine_reasons = 'non_positive_quantity'",
    )
    assert bad == len(hit)
    orders = {r[0] for r in query(warehouse, "select sales_order_id from silver.orders_quarantine")}
    assert orders == hit

    # 1.5 % bad lines: over the limit; silver fails and says by how much
    hit |= _zero_one_line_of_the_largest_orders(warehouse, int(lines * 0.015))
    assert _layer(warehouse, work, "run", "silver").returncode == 0
    tested = _layer(warehouse, work, "test", "silver")
    assert tested.returncode == 1, tested.stdout[-3000:] + tested.stderr[-3000:]
    said = tested.stdout + tested.stderr
    expected_over = len(hit) - int(0.01 * lines)
    assert f"violating_rows={len(hit)}" in said
    assert f"source_rows={lines}" in said
    assert "max_ratio=0.01" in said
    assert f"rows_over_limit={expected_over}" in said
    assert "quarantine_ratio_order_lines" in said
