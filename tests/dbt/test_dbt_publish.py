"""Write-audit-publish: consumers read silver.* and gold.*, which change only to data that
passed its tests, by the increment, atomically.

Each test works on a private copy of the built and published session warehouse and runs the
layers as the DAG does: `dbt run` and `dbt test` of a layer in its audit schema, then
`dbt run-operation publish_layer` only when the tests passed.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.dbt.dbt_support import (
    LAYERS,
    PUBLISHED_LAYERS,
    Scratch,
    append_into,
    checksums,
    dag_step,
    execute,
    query,
    run_commands,
    scalar,
    touched,
)

pytestmark = pytest.mark.e2e


def _run_layers(scratch: Scratch) -> list[str]:
    """The DAG's tasks in order until one fails; returns the tasks that succeeded."""
    done = []
    for layer in LAYERS:
        for step in ("run", "test", "publish"):
            commands = dag_step(layer, step)
            if not commands:  # bronze: nothing to publish
                continue
            if run_commands(scratch.dbt, commands).returncode != 0:
                return done
            done.append(f"{step}_{layer}")
    return done


def _log(scratch: Scratch, layer: str) -> dict[str, tuple]:
    """The latest publish_log row of each relation of ``layer``: (mode, deleted, inserted)."""
    return {
        name: (mode, deleted, inserted)
        for name, mode, deleted, inserted in query(
            scratch.warehouse,
            "select relation_name, arg_max(publish_mode, published_at), "
            "arg_max(rows_deleted, published_at), arg_max(rows_inserted, published_at) "
            f"from {layer}_audit.publish_log group by 1",
        )
    }


def test_a_failed_silver_test_publishes_nothing(scratch: Scratch) -> None:
    published = checksums(scratch.warehouse, exclude=())  # every byte, build stamps included
    line = scalar(scratch.warehouse, "select min(SalesOrderDetailID) from sales.SalesOrderDetail")
    good_total = scalar(
        scratch.warehouse,
        f"select line_total from silver.order_lines where sales_order_detail_id = {line}",
    )
    # new orders arrive, and one line total is wrong: not a quarantine rule, silver's gate fails
    append_into(scratch.warehouse, scratch.work_dir / "home")
    execute(
        scratch.warehouse,
        f"update sales.SalesOrderDetail set LineTotal = LineTotal + 0.5, {touched()} "
        f"where SalesOrderDetailID = {line}",
    )

    assert _run_layers(scratch) == ["run_bronze", "test_bronze", "run_silver"]

    # consumers see exactly what the last good run left, in silver and gold
    assert checksums(scratch.warehouse, exclude=()) == published
    # the failed candidate stays inspectable in the audit schema, new orders included
    assert scalar(
        scratch.warehouse,
        f"select line_total from silver_audit.order_lines where sales_order_detail_id = {line}",
    ) == good_total + Decimal("0.5")
    assert scalar(scratch.warehouse, "select count(*) from silver_audit.orders") > scalar(
        scratch.warehouse, "select count(*) from silver.orders"
    )

    # corrected upstream, the next run publishes everything the failed one held back
    execute(
        scratch.warehouse,
        f"update sales.SalesOrderDetail set LineTotal = LineTotal - 0.5, {touched()} "
        f"where SalesOrderDetailID = {line}",
    )
    assert _run_layers(scratch)[-1] == "publish_gold"
    for relation in ("orders", "order_lines"):
        assert scalar(scratch.warehouse, f"select count(*) from silver.{relation}") == scalar(
            scratch.warehouse, f"select count(*) from silver_audit.{relation}"
        )
    current = checksums(scratch.warehouse)
    assert current["gold.fct_sales_daily"] != published["gold.fct_sales_daily"]


def test_publish_rewrites_only_the_increment(scratch: Scratch) -> None:
    before = {
        relation: scalar(scratch.warehouse, f"select count(*) from {relation}")
        for relation in ("silver.orders", "silver.order_lines", "gold.fct_sales_daily")
    }
    watermark = scalar(
        scratch.warehouse,
        "select max(watermark) from silver_audit.publish_log where relation_name = 'orders'",
    )
    append_into(scratch.warehouse, scratch.work_dir / "home")
    assert _run_layers(scratch)[-1] == "publish_gold"

    silver, gold = _log(scratch, "silver"), _log(scratch, "gold")
    # orders and lines: the batch (new orders, and earlier ones the hour shipped or corrected)
    changed_orders = scalar(
        scratch.warehouse,
        f"select count(*) from silver.orders where _batch_at > timestamp '{watermark}'",
    )
    new_orders = (
        scalar(scratch.warehouse, "select count(*) from silver.orders") - before["silver.orders"]
    )
    assert silver["orders"] == ("incremental", changed_orders - new_orders, changed_orders)
    assert 0 < changed_orders < before["silver.orders"] / 20
    assert silver["order_lines"][0] == "incremental"
    assert silver["order_lines"][2] < before["silver.order_lines"] / 20
    # every other published order kept its row as it was
    assert (
        scalar(
            scratch.warehouse,
            f"select count(*) from silver.orders where _batch_at <= timestamp '{watermark}'",
        )
        == scalar(scratch.warehouse, "select count(*) from silver.orders") - changed_orders
    )
    # customers (they grow with the history) by batch too; the small dimensions copied whole
    customers = scalar(scratch.warehouse, "select count(*) from silver.customers")
    assert silver["customers"][0] == "incremental" and 0 < silver["customers"][2] < customers / 10
    assert silver["products"][0] == silver["territories"][0] == "full"
    # gold: only the groups the batch touched
    assert gold["fct_sales_daily"][0] == "incremental"
    assert 0 < gold["fct_sales_daily"][2] < before["gold.fct_sales_daily"] / 10
    assert set(gold) == {"fct_sales_daily", "fct_product_sales", "dim_customer_value"}

    # publishing again finds nothing new and changes nothing
    published = checksums(scratch.warehouse, exclude=())
    [publish_silver] = dag_step("silver", "publish")
    again = scratch.dbt(*publish_silver)
    assert again.returncode == 0, again.describe()
    assert _log(scratch, "silver")["orders"] == ("incremental", 0, 0)
    assert checksums(scratch.warehouse, exclude=()) == published


def test_publish_is_all_or_nothing(scratch: Scratch) -> None:
    """A relation that cannot take the new rows fails the whole layer's publish: what the same
    transaction already replaced (customers, with this hour's new customers) rolls back too."""
    append_into(scratch.warehouse, scratch.work_dir / "home")
    for step in [dag_step(layer, s) for layer in ("bronze", "silver") for s in ("run", "test")]:
        assert run_commands(scratch.dbt, step).returncode == 0
    # the same published order lines, in a table that rejects every line newer than them
    newest = scalar(scratch.warehouse, "select max(sales_order_detail_id) from silver.order_lines")
    columns = ", ".join(
        f"{name} {kind}"
        for name, kind in query(
            scratch.warehouse,
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'silver' and table_name = 'order_lines' order by ordinal_position",
        )
    )
    execute(
        scratch.warehouse,
        f"create table silver.guarded ({columns}, check (sales_order_detail_id <= {newest}))",
        "insert into silver.guarded select * from silver.order_lines",
        "drop table silver.order_lines",
        "alter table silver.guarded rename to order_lines",
    )
    published = checksums(scratch.warehouse, exclude=())
    log_rows = scalar(scratch.warehouse, "select count(*) from silver_audit.publish_log")

    failed = scratch.dbt(*dag_step("silver", "publish")[0])

    assert failed.returncode != 0
    assert "constraint" in failed.output.lower(), failed.describe()
    assert checksums(scratch.warehouse, exclude=()) == published
    assert scalar(scratch.warehouse, "select count(*) from silver_audit.publish_log") == log_rows
    assert scalar(scratch.warehouse, "select count(*) from silver_audit.customers") > scalar(
        scratch.warehouse, "select count(*) from silver.customers"
    )


def test_a_full_refresh_republishes_whole(scratch: Scratch) -> None:
    published = checksums(scratch.warehouse)
    for layer in PUBLISHED_LAYERS:
        result = scratch.dbt(*dag_step(layer, "publish", full_refresh=True)[0])
        assert result.returncode == 0, result.describe()
    assert {mode for mode, _, _ in _log(scratch, "gold").values()} == {"full"}
    orders = scalar(scratch.warehouse, "select count(*) from silver.orders")
    assert _log(scratch, "silver")["orders"] == ("full", orders, orders)
    assert checksums(scratch.warehouse) == published
