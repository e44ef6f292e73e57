"""The dbt project's files keep their conventions: sources match the loader's catalog, every
folder and model is documented, singular tests carry their layer tag, models never branch on
the adapter."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from medallion.loading.catalog import LOAD_METADATA_COLUMNS, SCHEMAS, TABLES
from tests.dbt.dbt_support import DBT_DIR, LAYERS, BuiltWarehouse, query

MODELS = DBT_DIR / "models"


def _yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_sources_match_the_loader_catalog() -> None:
    for schema in SCHEMAS:
        (source,) = _yaml(MODELS / "bronze" / schema / f"_{schema}__sources.yml")["sources"]
        assert source["schema"] == schema
        assert source["config"]["loaded_at_field"] == "_loaded_at"
        tables = {t["name"]: [c["name"] for c in t["columns"]] for t in source["tables"]}
        expected = {
            t.name: [*t.column_names, *LOAD_METADATA_COLUMNS] for t in TABLES if t.schema == schema
        }
        assert tables == expected, schema


def test_one_bronze_model_per_raw_table() -> None:
    models = {p.stem for p in (MODELS / "bronze").rglob("brz_*.sql")}
    sources = {
        (m.group(1), m.group(2))
        for p in (MODELS / "bronze").rglob("brz_*.sql")
        for m in [re.search(r"source\('(\w+)', '(\w+)'\)", p.read_text())]
        if m
    }
    assert len(models) == len(TABLES)
    assert sources == {(t.schema, t.name) for t in TABLES}
    for path in (MODELS / "bronze").rglob("brz_*.sql"):
        assert path.stem.startswith(f"brz_{path.parent.name}__"), path


def test_every_model_folder_has_its_yaml_and_every_model_is_described() -> None:
    for sql in MODELS.rglob("*.sql"):
        folder = sql.parent
        yml = folder / f"_{folder.name.lstrip('_')}__models.yml"  # _internal/: _internal__models
        assert yml.is_file(), f"{sql} has no {yml.name} next to it"
        models = {m["name"]: m for m in _yaml(yml)["models"]}
        assert sql.stem in models, f"{sql.stem} is not documented in {yml}"
        model = models[sql.stem]
        assert model.get("description", "").strip(), f"{sql.stem} has no description"
        assert model.get("columns"), f"{sql.stem} documents no columns"
        for column in model["columns"]:
            assert column.get("description", "").strip(), f"{sql.stem}.{column['name']}"


def test_every_built_column_is_documented(built_warehouse: BuiltWarehouse) -> None:
    """Each layer's models are built, with exactly their documented columns, where the layer
    is built (bronze; silver_audit, gold_audit), and every model not marked internal
    (meta.publish: false) is published, with the same columns, in silver / gold."""
    documented, published = {}, {}
    audit_schemas = _yaml(DBT_DIR / "dbt_project.yml")["vars"]["audit_schemas"]
    for yml in MODELS.rglob("_*__models.yml"):
        layer = yml.relative_to(MODELS).parts[0]
        for model in _yaml(yml)["models"]:
            name = model["name"]
            relation = name.split("__", 1)[1] if layer == "bronze" else name.removeprefix("slv_")
            columns = [c["name"] for c in model["columns"]]
            documented[(audit_schemas.get(layer, layer), relation)] = columns
            meta = (model.get("config") or {}).get("meta") or {}
            internal = "_internal" in yml.parts  # dbt_project.yml: never published
            if layer in audit_schemas and meta.get("publish", True) and not internal:
                published[(layer, relation)] = columns
    schemas = ["bronze", *audit_schemas, *audit_schemas.values()]
    built: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in query(
        built_warehouse.path,
        "select table_schema, table_name, column_name from information_schema.columns "
        f"where table_schema in {tuple(schemas)} and table_name <> 'publish_log' "
        "order by table_schema, table_name, ordinal_position",
    ):
        built.setdefault((schema, table), []).append(column)
    assert {k: v for k, v in built.items() if k[0] not in audit_schemas} == documented
    assert {k: v for k, v in built.items() if k[0] in audit_schemas} == published
    assert set(audit_schemas.values()) == {"silver_audit", "gold_audit"}


def test_singular_tests_carry_their_layer_tag() -> None:
    tests = sorted((DBT_DIR / "tests").glob("*.sql"))
    assert tests
    for path in tests:
        assert path.stem.startswith("assert_"), path
        tags = re.findall(r"config\(tags=\['(\w+)'\]\)", path.read_text())
        assert len(tags) == 1 and tags[0] in LAYERS, path


@pytest.mark.parametrize("layer", LAYERS)
def test_layer_config_is_set_once_per_folder(layer: str) -> None:
    config = _yaml(DBT_DIR / "dbt_project.yml")["models"]["medallion"][layer]
    assert config["+schema"] == layer  # the published schema; silver and gold build in *_audit
    assert config["+tags"] == [layer]
    assert config["+materialized"] in ("view", "table")
    for sql in (MODELS / layer).rglob("*.sql"):
        text = sql.read_text()
        assert "target.type" not in text, f"{sql}: use adapter.dispatch, not target.type"
        assert "materialized=" not in text and "schema=" not in text, sql


def test_the_gold_contract_is_what_the_dag_publishes_as_assets() -> None:
    """Every model of models/gold/<domain>/ (the contract; internal state is in _internal/)
    is one of the DAG's gold Assets (names.GOLD_RELATIONS), and every Asset is a model."""
    from medallion.names import GOLD_RELATIONS

    contract = {
        f"gold.{sql.stem}"
        for sql in (MODELS / "gold").glob("*/*.sql")
        if sql.parent.name != "_internal"
    }
    assert contract == set(GOLD_RELATIONS)
    assert {sql.stem for sql in (MODELS / "gold" / "_internal").glob("*.sql")} == {
        "fct_sales_daily_state",
        "fct_product_sales_state",
        "dim_customer_value_state",
        "order_sales_ledger",
        "product_sales_ledger",
    }
