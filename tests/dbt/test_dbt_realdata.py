"""On the real AdventureWorks export every layer builds with every test passing, nothing is
quarantined, and the gold totals equal the raw totals (orders with status 4 or 6 excluded)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from dbt_support import (
    SHARED_ADVENTUREWORKS,
    WAREHOUSE_FILE,
    build_and_publish,
    load_into,
    query,
    scalar,
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


@pytest.fixture(scope="module")
def real_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dbt_realdata")
    warehouse = root / "db" / WAREHOUSE_FILE
    warehouse.parent.mkdir()
    load_into(warehouse, root / "home", source=SHARED_ADVENTUREWORKS)
    build = build_and_publish(warehouse, root)
    assert build.returncode == 0, build.describe()
    statuses = {name: r["status"] for name, r in build.results().items()}
    assert {s for s in statuses.values()} <= {"success", "pass"}, {
        n: s for n, s in statuses.items() if s not in ("success", "pass")
    }
    return warehouse


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
