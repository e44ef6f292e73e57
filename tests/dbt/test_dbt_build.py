"""The dbt project builds every layer on synthetic data, under the names and selectors others rely on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.dbt.dbt_support import LAYERS, BuiltWarehouse, Scratch, execute, query, run_dbt

pytestmark = pytest.mark.e2e

GOLD_CONTRACT = {
    "fct_sales_daily": [
        "order_date", "territory_id", "territory_name", "country_region_code", "order_count",
        "customer_count", "units", "subtotal", "tax_amt", "freight", "total_due",
    ],
    "fct_product_sales": [
        "product_id", "product_number", "product_name", "subcategory_name", "category_name",
        "order_count", "units_sold", "revenue", "standard_cost_total", "gross_margin",
    ],
    "dim_customer_value": [
        "customer_id", "customer_type", "customer_name", "territory_id", "first_order_date",
        "last_order_date", "order_count", "lifetime_value",
    ],
}  # fmt: skip
SILVER_RELATIONS = {
    "orders", "orders_quarantine", "order_lines", "order_lines_quarantine", "customers",
    "customers_quarantine", "products", "products_quarantine", "territories",
}  # fmt: skip


def _relations(warehouse: Path) -> dict[str, dict[str, str]]:
    """schema -> {relation name: table type} for the layer schemas."""
    out: dict[str, dict[str, str]] = {layer: {} for layer in LAYERS}
    for schema, name, kind in query(
        warehouse,
        "select table_schema, table_name, table_type from information_schema.tables "
        "where table_schema in ('bronze', 'silver', 'gold')",
    ):
        out[schema][name] = kind
    return out


def test_build_passes_every_test_without_warnings(built_warehouse: BuiltWarehouse) -> None:
    results = built_warehouse.build.results()
    statuses = {r["status"] for r in results.values()}
    tests = [name for name, r in results.items() if r["unique_id"].startswith("test.")]
    models = [name for name, r in results.items() if r["unique_id"].startswith("model.")]
    assert statuses <= {"success", "pass"}, {n: r["status"] for n, r in results.items()}
    assert len(models) >= 15 + 9 + 3
    assert len(tests) >= 200


def test_relations_are_named_by_layer_without_prefix(built_warehouse: BuiltWarehouse) -> None:
    relations = _relations(built_warehouse.path)
    assert len(relations["bronze"]) == 15
    assert {"sales_order_header", "sales_order_detail", "customer", "product"} <= set(
        relations["bronze"]
    )
    assert set(relations["bronze"].values()) == {"VIEW"}
    assert SILVER_RELATIONS <= set(relations["silver"])
    assert set(relations["silver"].values()) == {"BASE TABLE"}
    assert set(relations["gold"]) == set(GOLD_CONTRACT)
    # dbt-duckdb's default would have written main_bronze etc.
    leftovers = query(
        built_warehouse.path,
        "select distinct schema_name from information_schema.schemata "
        "where schema_name like 'main_%'",
    )
    assert leftovers == []


def test_gold_relations_match_the_contract(built_warehouse: BuiltWarehouse) -> None:
    for relation, columns in GOLD_CONTRACT.items():
        actual = [
            row[0]
            for row in query(
                built_warehouse.path,
                "select column_name from information_schema.columns where table_schema = 'gold' "
                "and table_name = ? order by ordinal_position",
                [relation],
            )
        ]
        assert actual == columns, relation
        assert query(built_warehouse.path, f"select count(*) from gold.{relation}")[0][0] > 0


def test_gold_excludes_rejected_and_cancelled_orders(built_warehouse: BuiltWarehouse) -> None:
    ((excluded, total_excluded),) = query(
        built_warehouse.path,
        "select count(*), sum(total_due) from silver.orders where status in (4, 6)",
    )
    assert excluded > 0, "the synthetic data should hold rejected/cancelled orders"
    ((gold_orders, gold_total),) = query(
        built_warehouse.path, "select sum(order_count), sum(total_due) from gold.fct_sales_daily"
    )
    ((all_orders, all_total),) = query(
        built_warehouse.path, "select count(*), sum(total_due) from silver.orders"
    )
    assert gold_orders == all_orders - excluded
    assert gold_total == all_total - total_excluded


def test_layer_selectors_pick_exactly_their_layer_tests(
    built_warehouse: BuiltWarehouse, dbt_session_dir: Path, tmp_path: Path
) -> None:
    """`--select tag:<layer> --indirect-selection buildable` (the DAG's test step) selects each
    test in exactly one layer, the layer of its latest parent."""

    def ls(*args: str) -> list[dict]:
        result = run_dbt(
            ["ls", "--quiet", "--output", "json", "--output-keys", "unique_id", "depends_on",
             "tags", *args],
            warehouse=built_warehouse.path,
            work_dir=tmp_path,
        )  # fmt: skip
        assert result.returncode == 0, result.describe()
        return [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]

    manifest = json.loads((dbt_session_dir / "build" / "target" / "manifest.json").read_text())
    layer_of = {}
    for unique_id, node in manifest["nodes"].items():
        if node["resource_type"] == "model":
            (layer,) = [t for t in node["tags"] if t in LAYERS]
            layer_of[unique_id] = LAYERS.index(layer)
    all_tests = {u for u, n in manifest["nodes"].items() if n["resource_type"] == "test"}
    selected: dict[str, set[str]] = {}
    for index, layer in enumerate(LAYERS):
        nodes = ls(
            "--resource-type", "test", "--select", f"tag:{layer}",
            "--indirect-selection", "buildable",
        )  # fmt: skip
        selected[layer] = {node["unique_id"] for node in nodes}
        for node in nodes:
            parents = [layer_of[p] for p in node["depends_on"]["nodes"] if p in layer_of]
            assert max(parents) == index, (layer, node["unique_id"])
    assert set.union(*selected.values()) == all_tests
    assert sum(len(s) for s in selected.values()) == len(all_tests)


def test_source_freshness_thresholds_come_from_the_environment(scratch: Scratch) -> None:
    fresh = scratch.dbt("source", "freshness")
    assert fresh.returncode == 0, fresh.describe()
    assert set(fresh.freshness().values()) == {"pass"}
    assert len(fresh.freshness()) == 15

    execute(
        scratch.warehouse,
        "update sales.SalesOrderHeader set _loaded_at = _loaded_at - interval 3 day",
    )
    stale = scratch.dbt("source", "freshness")
    assert stale.freshness()["sales.SalesOrderHeader"] == "warn"
    assert stale.freshness()["sales.Customer"] == "pass"

    too_stale = scratch.dbt("source", "freshness", env={"MEDALLION_FRESHNESS_ERROR_HOURS": "48"})
    assert too_stale.returncode != 0
    assert too_stale.freshness()["sales.SalesOrderHeader"] == "error"
