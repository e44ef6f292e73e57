"""Row-level violations: quarantined exactly, with their reasons; the pipeline stays green.

Each scenario corrupts a copy of the source export, loads it and runs the real DAG. Silver
must keep every valid row and route exactly the injected rows (whole orders, by the project's
rule) to quarantine; the run succeeds with warnings; gold drops exactly the quarantined
orders. Above the quarantine limit (1 %), silver's gate fails instead and gold keeps what the
last good run published.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from rich.console import Console

from medallion import report
from tests.reliability.faults import Export, World, clean_orders, lines_of, merge, whole_order
from tests.reliability.scenarios import (
    describe_alerts,
    describe_published,
    describe_quarantine,
    describe_tasks,
)
from tests.reliability.support import gold_and_silver, run_scenario

pytestmark = pytest.mark.e2e

TS = "%Y-%m-%d %H:%M:%S.%f"
Injection = tuple[str, dict[str, dict[int, str]], list[str]]


def _ts(value: datetime) -> str:
    return value.strftime(TS)[:-3]


def null_required_field(export: Export) -> Injection:
    [order] = clean_orders(export, 1)
    line = lines_of(export, order)[0]
    export.update("sales.SalesOrderDetail", "SalesOrderDetailID", line, {"ProductID": ""})
    return (
        f"SalesOrderDetail {line}: ProductID empty (NULL)",
        whole_order(export, order, {line: "null_product_id"}),
        [order],
    )


def non_positive_quantity_or_price(export: Export) -> Injection:
    first, second = clean_orders(export, 2)
    qty_line, price_line = lines_of(export, first)[0], lines_of(export, second)[-1]
    export.update("sales.SalesOrderDetail", "SalesOrderDetailID", qty_line, {"OrderQty": "0"})
    export.update(
        "sales.SalesOrderDetail", "SalesOrderDetailID", price_line, {"UnitPrice": "-12.5000"}
    )
    return (
        f"SalesOrderDetail {qty_line}: OrderQty 0; {price_line}: UnitPrice -12.50",
        merge(
            whole_order(export, first, {qty_line: "non_positive_quantity"}),
            whole_order(export, second, {price_line: "non_positive_price"}),
        ),
        [first, second],
    )


def discount_out_of_range(export: Export) -> Injection:
    [order] = clean_orders(export, 1)
    line = lines_of(export, order)[-1]
    export.update(
        "sales.SalesOrderDetail", "SalesOrderDetailID", line, {"UnitPriceDiscount": "1.5000"}
    )
    return (
        f"SalesOrderDetail {line}: UnitPriceDiscount 1.5",
        whole_order(export, order, {line: "discount_out_of_range"}),
        [order],
    )


def ship_before_order(export: Export) -> Injection:
    [order] = clean_orders(export, 1)
    header = next(h for h in export.records("sales.SalesOrderHeader") if h["SalesOrderID"] == order)
    ordered = datetime.strptime(header["OrderDate"], TS)
    export.update(
        "sales.SalesOrderHeader", "SalesOrderID", order,
        {"ShipDate": _ts(ordered - timedelta(days=1))},
    )  # fmt: skip
    return (
        f"SalesOrderHeader {order}: ShipDate a day before OrderDate",
        whole_order(export, order, header="ship_before_order"),
        [order],
    )


def order_in_the_future(export: Export) -> Injection:
    [order] = clean_orders(export, 1)
    today = datetime.now(UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    export.update(
        "sales.SalesOrderHeader", "SalesOrderID", order,
        {
            "OrderDate": _ts(today + timedelta(days=30)),
            "DueDate": _ts(today + timedelta(days=42)),
            "ShipDate": _ts(today + timedelta(days=37)),
        },
    )  # fmt: skip
    return (
        f"SalesOrderHeader {order}: OrderDate 30 days ahead",
        whole_order(export, order, header="future_order_date"),
        [order],
    )


def orphan_foreign_key(export: Export) -> Injection:
    [order] = clean_orders(export, 1)
    line = lines_of(export, order)[0]
    export.update("sales.SalesOrderDetail", "SalesOrderDetailID", line, {"ProductID": "999999"})
    return (
        f"SalesOrderDetail {line}: ProductID 999999 (no such product)",
        whole_order(export, order, {line: "orphan_product"}),
        [order],
    )


def duplicate_business_key(export: Export) -> Injection:
    keeper, duplicate = sorted(clean_orders(export, 2), key=int)
    number = next(
        h["SalesOrderNumber"]
        for h in export.records("sales.SalesOrderHeader")
        if h["SalesOrderID"] == keeper
    )
    export.update("sales.SalesOrderHeader", "SalesOrderID", duplicate, {"SalesOrderNumber": number})
    return (
        f"SalesOrderHeader {duplicate}: SalesOrderNumber of order {keeper} ({number})",
        whole_order(export, duplicate, header="duplicate_sales_order_number"),
        [duplicate],
    )


ROW_LEVEL: dict[str, Callable[[Export], Injection]] = {
    "null required field": null_required_field,
    "non-positive quantity or price": non_positive_quantity_or_price,
    "discount out of range": discount_out_of_range,
    "ship date before order date": ship_before_order,
    "order dated in the future": order_in_the_future,
    "orphan foreign key": orphan_foreign_key,
    "duplicate business key": duplicate_business_key,
}


def _total_due(export: Export, orders: list[str]) -> Decimal:
    wanted = set(orders)
    return sum(
        (
            Decimal(h["TotalDue"])
            for h in export.records("sales.SalesOrderHeader")
            if h["SalesOrderID"] in wanted
        ),
        Decimal(0),
    )


def _warned(summary: dict[str, Any]) -> dict[str, int]:
    return {
        n["name"]: n["failures"]
        for inv in summary["invocations"]
        for n in inv["nodes"]
        if n["status"] == "warn"
    }


@pytest.mark.parametrize("scenario", list(ROW_LEVEL))
def test_row_level_violation_is_quarantined(
    scenario: str, clean_world: World, http_receiver, smtp_receiver, recorder
) -> None:
    export = clean_world.export(scenario.replace(" ", "_"))
    injected, expected, orders = ROW_LEVEL[scenario](export)
    clean_world.load(export)

    seen = run_scenario(clean_world, http_receiver, smtp_receiver)

    assert seen.outcome.state == "success", seen.outcome.log_file.read_text()[-5000:]
    assert seen.state("silver.dbt_test_silver") == ("success", 1)
    quarantine = clean_world.quarantine()
    assert {r: rows for r, rows in quarantine.items() if rows} == expected
    warned = _warned(clean_world.summaries(seen.outcome.run_id)["silver.dbt_test_silver"])
    assert warned["has_no_rows_slv_orders_quarantine_"] == len(expected["orders_quarantine"])
    assert warned["has_no_rows_slv_order_lines_quarantine_"] == len(
        expected["order_lines_quarantine"]
    )
    # gold lost exactly the quarantined orders
    (gold_total,) = clean_world.query("select sum(total_due) from gold.fct_sales_daily")[0]
    assert gold_total == clean_world.baseline["gold_total_due"] - _total_due(export, orders)
    assert seen.alerts("failure") == [] and seen.alerts("retry") == []
    silver, gold = gold_and_silver(clean_world)
    recorder.record(
        scenario,
        injected=injected,
        tasks=describe_tasks(seen.outcome)
        + "; silver warns: "
        + ", ".join(f"{k} ({v})" for k, v in sorted(warned.items())),
        published=describe_published(silver, clean_world.baseline["silver"], layer="silver")
        + "; "
        + describe_published(gold, clean_world.baseline["gold"], layer="gold")
        + f" (total_due -{_total_due(export, orders)})",
        quarantine=describe_quarantine(quarantine),
        alert=describe_alerts(seen.webhook),
    )


def test_more_than_one_percent_bad_rows_fails_silver(
    clean_world: World, http_receiver, smtp_receiver, recorder
) -> None:
    export = clean_world.export("over_limit")
    lines = export.records("sales.SalesOrderDetail")
    bad = {line["SalesOrderDetailID"] for line in lines[::25]}  # 4 % of the lines
    export.update_many(
        "sales.SalesOrderDetail", lambda r: r["SalesOrderDetailID"] in bad, {"OrderQty": "-1"}
    )
    clean_world.load(export)

    seen = run_scenario(clean_world, http_receiver, smtp_receiver)

    assert seen.outcome.state == "failed"
    assert seen.state("silver.dbt_test_silver") == ("failed", 1)  # data: no retry
    assert seen.outcome.tasks["gold.dbt_run_gold"].state == "upstream_failed"
    silver, gold = gold_and_silver(clean_world)
    assert gold == clean_world.baseline["gold"], "gold keeps the last good run's data"
    assert silver == clean_world.baseline["silver"], "silver keeps the last good run's data"
    [failure] = seen.alerts("failure")
    assert failure["task_id"] == "silver.dbt_test_silver"
    assert failure["error_type"] == "DataQualityError"
    assert any(n["name"] == "quarantine_ratio_order_lines" for n in failure["failed_nodes"])
    assert seen.alerts("retry") == []
    # what the failed gate saw is recorded and reported as the candidate, not published
    run_id = seen.outcome.run_id
    candidate = dict(
        clean_world.query(
            "select reason, row_count from ops.quarantine_reasons where run_id = ? "
            "and relation = 'silver_audit.order_lines_quarantine'",
            [run_id],
        )
    )
    assert candidate["non_positive_quantity"] == len(bad)
    console = Console(record=True, width=300)
    report_path = report.report_run(clean_world.settings, run_id, console=console)
    said = console.export_text()
    assert "not published, silver's gate failed: silver_audit.order_lines_quarantine" in said
    assert f"non_positive_quantity: {len(bad):,}" in said
    html = report_path.read_text(encoding="utf-8")
    assert "Candidate quarantine: not published" in html
    assert f"non_positive_quantity: {len(bad):,}" in html
    recorder.record(
        "more than 1 % bad rows",
        injected=f"{len(bad)} of {len(lines)} order lines with OrderQty -1 (4 %)",
        tasks=describe_tasks(seen.outcome),
        published=describe_published(silver, clean_world.baseline["silver"], layer="silver")
        + "; "
        + describe_published(gold, clean_world.baseline["gold"], layer="gold"),
        quarantine=describe_quarantine(clean_world.quarantine()),
        alert=describe_alerts(seen.webhook),
    )
