"""Silver quarantines row-level violations instead of dropping them or stopping the pipeline.

Bad rows are injected into the raw tables of a copy of the built warehouse; the three layers
then run exactly as the DAG runs them. Orders are quarantined whole: a bad line takes its
header and sibling lines along, and a bad header takes its lines.
"""

from __future__ import annotations

import pytest

from tests.dbt.dbt_support import (
    LAYERS,
    DbtResult,
    Scratch,
    dag_step,
    execute,
    query,
    run_commands,
    scalar,
    touched,
)

pytestmark = pytest.mark.e2e


def _run_layers(scratch: Scratch, env: dict[str, str] | None = None) -> dict[str, DbtResult]:
    """Run, test and publish every layer like the DAG; return each layer's test result."""
    tested: dict[str, DbtResult] = {}
    for layer in LAYERS:

        def call(*argv: str) -> DbtResult:
            return scratch.dbt(*argv, env=env)

        run = run_commands(call, dag_step(layer, "run"))
        assert run.returncode == 0, run.describe()
        test = run_commands(call, dag_step(layer, "test"))
        tested[layer] = test
        if test.returncode != 0:
            break
        for argv in dag_step(layer, "publish"):
            published = call(*argv)
            assert published.returncode == 0, published.describe()
    return tested


def _pick_orders(scratch: Scratch, n: int) -> list[int]:
    """Shipped online orders with 2 or 3 lines, none rejected or cancelled, distinct customers."""
    rows = query(
        scratch.warehouse,
        """
        select h.SalesOrderID
        from sales.SalesOrderHeader as h
        inner join sales.SalesOrderDetail as d on d.SalesOrderID = h.SalesOrderID
        where h.OnlineOrderFlag and h.Status = 5 and h.ShipDate is not null
        group by h.SalesOrderID, h.CustomerID
        having count(*) between 2 and 3
        qualify row_number() over (partition by h.CustomerID order by h.SalesOrderID) = 1
        order by h.SalesOrderID
        limit ?
        """,
        [n],
    )
    assert len(rows) == n
    return [r[0] for r in rows]


def _reasons(scratch: Scratch, relation: str, key: str) -> dict[int, str]:
    return dict(
        query(scratch.warehouse, f"select {key}, quarantine_reasons from silver.{relation}")
    )


def _conserved(scratch: Scratch, bronze: str, silver: str) -> tuple[int, int, int]:
    total, kept, quarantined = query(
        scratch.warehouse,
        f"select (select count(*) from bronze.{bronze}), (select count(*) from silver.{silver}), "
        f"(select count(*) from silver.{silver}_quarantine)",
    )[0]
    return total, kept, quarantined


def _lines_of(scratch: Scratch, orders: list[int]) -> dict[int, list[int]]:
    marks = ", ".join("?" for _ in orders)
    return dict(
        query(
            scratch.warehouse,
            "select SalesOrderID, list(SalesOrderDetailID order by SalesOrderDetailID) "
            f"from sales.SalesOrderDetail where SalesOrderID in ({marks}) group by SalesOrderID",
            orders,
        )
    )


def test_bad_rows_are_quarantined_with_their_reasons(scratch: Scratch) -> None:
    picked = _pick_orders(scratch, 5)
    bad_lines_order, orphan_order, early_ship_order, duplicate_order, future_order = picked
    # the order whose number duplicate_order copies: lower id, so it keeps the number
    kept_order, kept_number = query(
        scratch.warehouse,
        "select SalesOrderID, SalesOrderNumber from sales.SalesOrderHeader "
        f"where SalesOrderID < {duplicate_order} and SalesOrderID not in {tuple(picked)} "
        "order by SalesOrderID limit 1",
    )[0]
    # a customer of its own whose territory does not exist: quarantined, with its order
    customer, customer_order = query(
        scratch.warehouse,
        "select CustomerID, min(SalesOrderID) from sales.SalesOrderHeader group by CustomerID "
        f"having count(*) = 1 and min(SalesOrderID) not in {(*picked, kept_order)} "
        "order by CustomerID limit 1",
    )[0]
    # products that never sold: one keeps its number, one loses its subcategory, one
    # takes the first one's number (the lowest id keeps a number)
    (kept_product, taken_number), (orphan_product, _), (duplicate_product, _) = query(
        scratch.warehouse,
        "select ProductID, ProductNumber from production.Product where ProductID not in "
        "(select ProductID from sales.SalesOrderDetail) order by ProductID limit 3",
    )
    lines = _lines_of(scratch, [*picked, customer_order])
    negative_line = lines[bad_lines_order][0]
    orphan_line = lines[orphan_order][-1]
    execute(
        scratch.warehouse,
        f"update sales.SalesOrderDetail set {touched()}, OrderQty = -2, ProductID = 999999 "
        f"where SalesOrderDetailID = {negative_line}",
        f"update sales.SalesOrderDetail set {touched()}, ProductID = 888888 "
        f"where SalesOrderDetailID = {orphan_line}",
        f"update sales.SalesOrderHeader set {touched()}, ShipDate = OrderDate - interval 1 day "
        f"where SalesOrderID = {early_ship_order}",
        f"update sales.SalesOrderHeader set {touched()}, SalesOrderNumber = '{kept_number}' "
        f"where SalesOrderID = {duplicate_order}",
        f"update sales.SalesOrderHeader set {touched()}, OrderDate = date_trunc('day', now()::timestamp) "
        "+ interval 30 day, ShipDate = date_trunc('day', now()::timestamp) + interval 37 day "
        f"where SalesOrderID = {future_order}",
        f"update sales.Customer set {touched()}, TerritoryID = 99 where CustomerID = {customer}",
        f"update production.Product set {touched()}, ProductSubcategoryID = 999 "
        f"where ProductID = {orphan_product}",
        f"update production.Product set {touched()}, ProductNumber = '{taken_number}' "
        f"where ProductID = {duplicate_product}",
    )

    tested = _run_layers(scratch)

    assert [t.returncode for t in tested.values()] == [0, 0, 0], {
        layer: t.describe() for layer, t in tested.items() if t.returncode
    }
    bronze_warned = {n for n, r in tested["bronze"].results().items() if r["status"] == "warn"}
    assert "not_in_future_brz_sales__sales_order_header_ordered_at" in bronze_warned
    silver = tested["silver"].results()
    assert _reasons(scratch, "orders_quarantine", "sales_order_id") == {
        bad_lines_order: "order_has_quarantined_lines",
        orphan_order: "order_has_quarantined_lines",
        early_ship_order: "ship_before_order",
        duplicate_order: "duplicate_sales_order_number",
        future_order: "future_order_date",
        customer_order: "orphan_customer",
    }
    siblings = [
        line
        for line in lines[bad_lines_order] + lines[orphan_order]
        if line not in (negative_line, orphan_line)
    ]
    whole_orders = [duplicate_order, early_ship_order, future_order, customer_order]
    expected_lines = {
        negative_line: "non_positive_quantity;orphan_product",
        orphan_line: "orphan_product",
        **{line: "order_has_quarantined_lines" for line in siblings},
        **{line: "order_quarantined" for order in whole_orders for line in lines[order]},
    }
    assert _reasons(scratch, "order_lines_quarantine", "sales_order_detail_id") == expected_lines
    assert _reasons(scratch, "customers_quarantine", "customer_id") == {
        customer: "orphan_territory"
    }
    assert _reasons(scratch, "products_quarantine", "product_id") == {
        orphan_product: "orphan_subcategory",
        duplicate_product: "duplicate_product_number",
    }
    # any quarantined row is a warning (with its row count), never an error
    warned = {name: r["failures"] for name, r in silver.items() if r["status"] == "warn"}
    assert warned == {
        "has_no_rows_slv_orders_quarantine_": 6,
        "has_no_rows_slv_order_lines_quarantine_": len(expected_lines),
        "has_no_rows_slv_customers_quarantine_": 1,
        "has_no_rows_slv_products_quarantine_": 2,
        # quarantined only with a related row: counted and warned, not gated
        "quarantine_collateral_orders": 2,
        "quarantine_collateral_order_lines": len(expected_lines) - 2,
    }
    for relation, key, kept in (("orders", "sales_order_id", kept_order),
                                ("products", "product_id", kept_product)):  # fmt: skip
        assert (
            scalar(
                scratch.warehouse, f"select count(*) from silver.{relation} where {key} = {kept}"
            )
            == 1
        ), f"{relation} {kept} keeps its business key and is published"

    # nothing quarantined is published, nothing is lost, and every row says when
    quarantined_orders = (*picked, customer_order)
    published = scalar(
        scratch.warehouse,
        "select count(*) from silver.orders where sales_order_id in "
        f"{quarantined_orders} or customer_id = {customer}",
    )
    assert published == 0
    assert (
        scalar(
            scratch.warehouse,
            f"select count(*) from silver.order_lines where sales_order_id in {quarantined_orders}",
        )
        == 0
    )
    for bronze, entity in (
        ("sales_order_header", "orders"),
        ("sales_order_detail", "order_lines"),
        ("customer", "customers"),
        ("product", "products"),
    ):
        total, kept, quarantined = _conserved(scratch, bronze, entity)
        assert total == kept + quarantined, entity
        assert (
            scalar(
                scratch.warehouse,
                f"select count(*) from silver.{entity}_quarantine where quarantined_at is null",
            )
            == 0
        )
    conservation = {n: r["status"] for n, r in silver.items() if n.startswith("row_conservation")}
    assert len(conservation) == 4 and set(conservation.values()) == {"pass"}
    gold = tested["gold"].statuses()
    assert gold["assert_fct_sales_daily_reconciles_with_silver"] == "pass"


def test_quarantine_ratio_above_the_limit_fails_silver(scratch: Scratch) -> None:
    """2.5 % of lines with a zero quantity is an upstream outage, not a few bad rows."""
    execute(
        scratch.warehouse,
        f"update sales.SalesOrderDetail set {touched()}, OrderQty = 0 where SalesOrderDetailID % 40 = 0",
    )
    bad_lines = scalar(
        scratch.warehouse, "select count(*) from sales.SalesOrderDetail where OrderQty = 0"
    )
    total_lines = scalar(scratch.warehouse, "select count(*) from sales.SalesOrderDetail")
    assert bad_lines / total_lines > 0.02

    tested = _run_layers(scratch)

    assert list(tested) == ["bronze", "silver"], "gold must not run after a failed silver gate"
    silver = tested["silver"]
    assert silver.returncode != 0
    failed = {n for n, r in silver.results().items() if r["status"] == "fail"}
    # the lines broke the rule; their orders are quarantined only with them (collateral)
    assert failed == {"quarantine_ratio_order_lines"}
    statuses = silver.statuses()
    assert statuses["quarantine_ratio_orders"] == "pass"
    assert statuses["quarantine_collateral_orders"] == "warn"
    [conservation] = [n for n in statuses if n.startswith("row_conservation_slv_order_lines")]
    assert statuses[conservation] == "pass"
    assert statuses["has_no_rows_slv_order_lines_quarantine_"] == "warn"

    # the limit is MEDALLION_QUARANTINE_MAX_RATIO: raised, the same data passes the gate
    relaxed = scratch.dbt(
        "test", "--select", "tag:silver", "--indirect-selection", "buildable",
        env={"MEDALLION_QUARANTINE_MAX_RATIO": "0.5"},
    )  # fmt: skip
    assert relaxed.returncode == 0, relaxed.describe()
