"""Incremental runs give exactly what a full refresh gives.

The session warehouse (built and published) gets three appended hours of orders (new
customers, earlier orders shipped or corrected) plus hand-made changes an incremental model
gets wrong most easily: a cancelled order that was alone in its day and territory, an order
moved to another day, a late-arriving order dated months ago, a line moved to another
product, a quarantined order that comes back, a product cost and a customer name changed
upstream of the orders, a store renamed, a customer whose store arrives an hour late. Each hour runs incrementally, as the DAG does (run, test, publish per
layer) or as `medallion build`; then a copy is rebuilt with --full-refresh. Every published
silver and gold relation must be identical (row count and checksum over the ordered rows,
leaving out only the columns saying when a run wrote the row).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.dbt.dbt_support import (
    WAREHOUSE_FILE,
    BuiltWarehouse,
    append_into,
    build_and_publish,
    checksums,
    copy_warehouse,
    execute,
    loaded_now,
    query,
    run_like_the_dag,
    scalar,
    touched,
)

pytestmark = pytest.mark.e2e


def _lone_order(warehouse: Path) -> tuple[int, object, int]:
    """A shipped order alone in its (day, territory) group of counted orders."""
    return query(
        warehouse,
        """
        select o.sales_order_id, o.order_date, o.territory_id
        from silver.orders as o
        where o.status = 5 and (
            select count(*) from silver.orders as g
            where g.order_date = o.order_date and g.territory_id = o.territory_id
                and g.status not in (4, 6)
        ) = 1
        order by o.sales_order_id limit 1
        """,
    )[0]


@pytest.fixture(scope="module")
def hours(built_warehouse: BuiltWarehouse, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("incremental")
    warehouse = copy_warehouse(built_warehouse.path, root / "incremental")
    work = root / "work"
    seen: dict = {}

    # hour 1, run task by task like the DAG
    append_into(warehouse, root / "home")
    lone, lone_date, lone_territory = _lone_order(warehouse)
    moved, late_source, bad_order = (
        r[0]
        for r in query(
            warehouse,
            "select SalesOrderID from sales.SalesOrderHeader where Status = 5 "
            f"and SalesOrderID <> {lone} order by SalesOrderID limit 3",
        )
    )
    bad_line = scalar(
        warehouse,
        f"select min(SalesOrderDetailID) from sales.SalesOrderDetail where SalesOrderID = {bad_order}",
    )
    late = scalar(warehouse, "select max(SalesOrderID) + 1000 from sales.SalesOrderHeader")
    line_max = scalar(warehouse, "select max(SalesOrderDetailID) from sales.SalesOrderDetail")
    late_customer = scalar(warehouse, "select max(CustomerID) + 1 from sales.Customer")
    late_store = scalar(warehouse, "select max(BusinessEntityID) + 1000 from sales.Store")
    execute(
        warehouse,
        f"update sales.SalesOrderHeader set Status = 6, {touched()} where SalesOrderID = {lone}",
        f"update sales.SalesOrderHeader set OrderDate = OrderDate + interval 3 day, "
        f"DueDate = DueDate + interval 3 day, ShipDate = ShipDate + interval 3 day, {touched()} "
        f"where SalesOrderID = {moved}",
        # a copy of an old order, loaded only now
        f"insert into sales.SalesOrderHeader select * replace ({late} as SalesOrderID, "
        f"'SO{late}' as SalesOrderNumber, {loaded_now()} as _loaded_at) "
        f"from sales.SalesOrderHeader where SalesOrderID = {late_source}",
        f"insert into sales.SalesOrderDetail select * replace ({late} as SalesOrderID, "
        f"SalesOrderDetailID + {line_max} as SalesOrderDetailID, "
        f"{loaded_now()} as _loaded_at) "
        f"from sales.SalesOrderDetail where SalesOrderID = {late_source}",
        f"update sales.SalesOrderDetail set OrderQty = 0, {touched()} "
        f"where SalesOrderDetailID = {bad_line}",
        # a store customer whose store is not loaded yet: quarantined (orphan_store)
        f"insert into sales.Customer select * replace ({late_customer} as CustomerID, "
        f"{late_store} as StoreID, {loaded_now()} as _loaded_at) "
        "from sales.Customer where StoreID is not null and PersonID is null limit 1",
    )
    run_like_the_dag(warehouse, work)
    seen["lone"] = (lone, lone_date, lone_territory)
    seen["quarantined_after_hour_1"] = scalar(
        warehouse,
        f"select count(*) from silver.orders_quarantine where sales_order_id = {bad_order}",
    )
    seen["late_customer"] = late_customer
    seen["late_customer_after_hour_1"] = scalar(
        warehouse,
        f"select quarantine_reasons from silver.customers_quarantine "
        f"where customer_id = {late_customer}",
    )

    # hour 2, as `medallion build`: attribute changes upstream of the orders
    append_into(warehouse, root / "home")
    execute(
        warehouse,
        f"update production.Product set StandardCost = StandardCost + 1, {touched()} "
        "where ProductID = (select min(ProductID) from sales.SalesOrderDetail)",
        f"update person.Person set LastName = LastName || '-Renamed', {touched()} "
        "where BusinessEntityID = (select min(c.PersonID) from sales.Customer as c "
        "inner join sales.SalesOrderHeader as h on h.CustomerID = c.CustomerID "
        "where c.StoreID is null)",
        f"update sales.SalesOrderDetail set ProductID = ("
        "select max(ProductID) from sales.SalesOrderDetail), "
        f"LineTotal = UnitPrice * (1 - UnitPriceDiscount) * OrderQty, {touched()} "
        "where SalesOrderDetailID = (select max(SalesOrderDetailID) - 7 from sales.SalesOrderDetail)",
        f"update sales.Store set Name = Name || '-Renamed', {touched()} "
        "where BusinessEntityID = (select min(StoreID) from sales.Customer where PersonID is null)",
    )
    build = build_and_publish(warehouse, work)
    assert build.returncode == 0, build.describe()

    # hour 3: the bad line is corrected, its order comes back from quarantine
    append_into(warehouse, root / "home")
    execute(
        warehouse,
        f"update sales.SalesOrderDetail set OrderQty = 1, "
        f"LineTotal = UnitPrice * (1 - UnitPriceDiscount), {touched()} "
        f"where SalesOrderDetailID = {bad_line}",
        # the late customer's store arrives
        f"insert into sales.Store select * replace ({late_store} as BusinessEntityID, "
        f"{loaded_now()} as _loaded_at) from sales.Store limit 1",
    )
    run_like_the_dag(warehouse, work)

    refreshed = root / "full_refresh" / WAREHOUSE_FILE
    refreshed.parent.mkdir()
    shutil.copyfile(warehouse, refreshed)
    full = build_and_publish(refreshed, root / "full_work", "--full-refresh")
    assert full.returncode == 0, full.describe()
    return {"incremental": warehouse, "full": refreshed, **seen}


def test_incremental_runs_equal_a_full_refresh(hours: dict) -> None:
    incremental, full = checksums(hours["incremental"]), checksums(hours["full"])
    assert set(incremental) == {
        *(f"silver.{t}" for t in ("orders", "orders_quarantine", "order_lines",
                                  "order_lines_quarantine", "customers", "customers_quarantine",
                                  "products", "products_quarantine", "territories")),
        *(f"gold.{t}" for t in ("fct_sales_daily", "fct_product_sales", "dim_customer_value")),
    }  # fmt: skip
    assert incremental == full
    # the runs were incremental: the orders were published by batch, not copied whole
    modes = query(
        hours["incremental"],
        "select relation_name, list(publish_mode order by published_at) from "
        "(select * from silver_audit.publish_log union all select * from gold_audit.publish_log) "
        "where relation_name in ('orders', 'order_lines', 'customers', 'fct_sales_daily', "
        "'fct_product_sales', 'dim_customer_value') group by 1",
    )
    assert {name: m[-3:] for name, m in modes} == {
        name: ["incremental"] * 3
        for name in ("orders", "order_lines", "customers", "fct_sales_daily",
                     "fct_product_sales", "dim_customer_value")
    }  # fmt: skip


def test_a_group_whose_only_order_was_cancelled_disappears(hours: dict) -> None:
    lone, order_date, territory = hours["lone"]
    for warehouse in (hours["incremental"], hours["full"]):
        assert (
            scalar(warehouse, f"select status from silver.orders where sales_order_id = {lone}")
            == 6
        )
        assert (
            query(
                warehouse,
                "select count(*) from gold.fct_sales_daily where order_date = ? and territory_id = ?",
                [order_date, territory],
            )[0][0]
            == 0
        )
    # the candidate keeps the emptied group as a zero row, which publish deleted
    assert query(
        hours["incremental"],
        "select order_count from gold_audit.fct_sales_daily_state "
        "where order_date = ? and territory_id = ?",
        [order_date, territory],
    ) == [(0,)]


def test_a_quarantined_order_came_and_went(hours: dict) -> None:
    assert hours["quarantined_after_hour_1"] == 1
    warehouse = hours["incremental"]
    assert scalar(warehouse, "select count(*) from silver.orders_quarantine") == scalar(
        hours["full"], "select count(*) from silver.orders_quarantine"
    )
    for bronze, entity in (("sales_order_header", "orders"), ("sales_order_detail", "order_lines")):
        total, kept, quarantined = query(
            warehouse,
            f"select (select count(*) from bronze.{bronze}), (select count(*) from silver.{entity}), "
            f"(select count(*) from silver.{entity}_quarantine)",
        )[0]
        assert total == kept + quarantined, entity


def test_a_customer_whose_store_arrived_late_leaves_quarantine(hours: dict) -> None:
    """Quarantined while its store was missing; checked again when the store arrived."""
    assert hours["late_customer_after_hour_1"] == "orphan_store"
    customer = hours["late_customer"]
    for warehouse in (hours["incremental"], hours["full"]):
        assert (
            scalar(
                warehouse, f"select count(*) from silver.customers where customer_id = {customer}"
            )
            == 1
        )
        assert (
            scalar(
                warehouse,
                f"select count(*) from silver.customers_quarantine where customer_id = {customer}",
            )
            == 0
        )
