"""The project compiles for SQL Server without a server, and what it compiles is T-SQL.

`dbt parse` and `dbt compile --no-populate-cache` with the sqlserver target open no
connection (the host below is unroutable, so one would fail). Every compiled model and test
then goes through three checks: sqlglot's T-SQL reader, sqlfluff's T-SQL parser (stricter:
it rejects LIMIT, QUALIFY, `||`, `* EXCLUDE`) and an AST scan for DuckDB-only constructs both
parsers accept (`::` casts, boolean literals, ILIKE, predicates in a select list).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import sqlfluff
import sqlglot
from sqlfluff.api.simple import APIParsingError
from sqlglot import exp

from tests.dbt.dbt_support import SQLSERVER_ENV, DbtResult, run_dbt


def tsql_problems(sql: str) -> list[str]:
    """Why ``sql`` is not valid T-SQL, as far as a parser can tell without a server."""
    try:
        statements = sqlglot.parse(sql, read="tsql")
    except sqlglot.errors.ParseError as exc:
        return [f"sqlglot: {exc}"]
    problems = []
    try:
        sqlfluff.parse(sql, dialect="tsql")
    except APIParsingError as exc:
        problems.append(f"sqlfluff: {exc}")
    if "::" in sql:
        problems.append("'::' cast (use cast(x as t))")
    for statement in statements:
        if statement is None:
            continue
        for node in statement.walk():
            if isinstance(node, exp.Boolean):
                problems.append(f"boolean literal {node.sql()} (T-SQL has none)")
            elif isinstance(node, exp.ILike):
                problems.append("ILIKE")
            elif isinstance(node, exp.Select):
                for projection in node.expressions:
                    inner = projection.this if isinstance(projection, exp.Alias) else projection
                    if isinstance(inner, exp.Predicate | exp.Connector | exp.Not):
                        problems.append(f"predicate in a select list: {projection.sql()}")
    return problems


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        ("select a from t limit 5", "sqlfluff"),
        ("select a::int as b from t", "'::' cast"),
        ("select true as b from t", "boolean literal"),
        ("select a from t where a ilike 'x%'", "ILIKE"),
        ("select a > 1 as b from t", "predicate in a select list"),
        ("select a || b as c from t", "sqlfluff"),
    ],
)
def test_the_tsql_check_rejects_duckdb_only_sql(sql: str, problem: str) -> None:
    assert any(problem in p for p in tsql_problems(sql)), tsql_problems(sql)


def test_the_tsql_check_accepts_tsql() -> None:
    sql = (
        "with x as (select top 5 a, concat_ws(';', b, c) as d, "
        "case when a > 1 then 1 else 0 end as e from [s].[t]) select * from x"
    )
    assert tsql_problems(sql) == []


def _compile(work: Path, *args: str) -> DbtResult:
    """`dbt compile` for the sqlserver target without a connection. dbt's is_incremental()
    would ask the server whether the table exists: var assume_incremental answers instead
    (dbt/macros/incremental.sql)."""
    warehouse = work / "unused.duckdb"  # the duckdb output is not rendered for this target
    compiled = run_dbt(
        ["compile", "--target", "sqlserver", "--no-populate-cache", *args],
        warehouse=warehouse,
        work_dir=work,
        env=SQLSERVER_ENV,
    )
    assert compiled.returncode == 0, compiled.describe()
    assert not warehouse.exists()
    return compiled


@pytest.fixture(scope="module")
def compiled_sqlserver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """target/ of `dbt parse` + `dbt compile --no-populate-cache` for the sqlserver target:
    every model as on its first build (incremental models create their table)."""
    work = tmp_path_factory.mktemp("dbt_sqlserver")
    parsed = run_dbt(
        ["parse", "--target", "sqlserver"],
        warehouse=work / "unused.duckdb",
        work_dir=work,
        env=SQLSERVER_ENV,
    )
    assert parsed.returncode == 0, parsed.describe()
    _compile(work, "--vars", "{assume_incremental: false}")
    return work / "target"


def test_incremental_runs_compile_to_tsql(tmp_path: Path) -> None:
    """The incremental branch of every incremental model (what an hourly run executes)."""
    _compile(
        tmp_path,
        "--vars", "{assume_incremental: true}",
        "--select", "config.materialized:incremental",
    )  # fmt: skip
    models = tmp_path / "target" / "compiled" / "medallion" / "models"
    files = sorted(f for f in models.rglob("*.sql") if not f.parent.name.endswith(".yml"))
    assert {f.stem for f in files} == {
        "slv_order_checks", "slv_order_line_checks", "slv_customer_checks", "fct_sales_daily_state",
        "fct_product_sales_state", "dim_customer_value_state", "order_sales_ledger",
        "product_sales_ledger",
    }  # fmt: skip
    for f in files:
        sql = f.read_text()
        if f.stem.endswith("_state"):  # adds the ledger rows since its batch, exactly
            assert "ledger._batch_at > (select last_batch.batch_at from last_batch)" in sql
        else:
            assert "> watermark.changed_after" in sql, f.stem  # reads only what changed
            assert re.search(r"dateadd\(\s*minute,\s*-?\d+,", sql), f.stem  # the lookback
        assert tsql_problems(sql) == [], f.stem


def test_batch_scoped_tests_compile_to_tsql(tmp_path: Path) -> None:
    """The hourly path's quality gates (gate_scope batch: dbt/macros/gate_scope.sql)."""
    _compile(
        tmp_path,
        "--vars", "{assume_incremental: true, gate_scope: batch}",
        "--select", "resource_type:test",
    )  # fmt: skip
    files = sorted((tmp_path / "target" / "compiled" / "medallion").rglob("*.sql"))
    sql = {f.stem: f.read_text() for f in files}
    scoped = {name for name, text in sql.items() if "_batch_at >" in text or "_loaded_at >" in text}
    assert len(sql) >= 200 and len(scoped) >= len(sql) // 2, (len(sql), len(scoped))
    # every kind of gate the issue names is scoped: row rules, key lookups, relationships,
    # conservation per key, reconciliation per touched group
    for name in (
        "not_null_slv_order_line_checks_line_reasons",
        "unique_slv_order_lines_sales_order_detail_id",
        "unique_brz_sales__sales_order_detail_sales_order_detail_id",
        "assert_fct_sales_daily_reconciles_with_silver",
        "assert_dim_customer_value_reconciles_with_silver",
        "assert_order_subtotals_match_lines",
    ):
        assert name in scoped, name
    assert any(n.startswith("row_conservation_slv_orders") for n in scoped)
    assert any(n.startswith("relationships_slv_orders_") for n in scoped)
    assert "unique_slv_customers_customer_id" in scoped  # customers are checked by batch too
    # order lines (a view over the line and order checks) look up the batch's orders first
    assert (
        "sales_order_id in (select sales_order_id from" in sql["not_null_slv_order_lines__batch_at"]
    )
    # the small dimensions, rebuilt whole each run, are tested whole
    assert "unique_slv_products_product_id" in sql
    assert "unique_slv_products_product_id" not in scoped
    problems = {name: tsql_problems(text) for name, text in sql.items()}
    assert {n: p for n, p in problems.items() if p} == {}


@pytest.mark.parametrize("layer", ["silver", "gold"])
@pytest.mark.parametrize("mode", ["full", "incremental"])
def test_publish_scripts_are_tsql(tmp_path: Path, layer: str, mode: str) -> None:
    """What `dbt run-operation publish_layer` runs on SQL Server, rendered without a server:
    one explicit transaction, aborted as a whole on any error."""
    compiled = _compile(
        tmp_path, "--quiet", "--output", "json",
        "--inline", f"{{{{ medallion.publish_layer_sql('{layer}', '{mode}') }}}}",
    )  # fmt: skip
    sql = json.loads(compiled.output[compiled.output.index("{") :])["compiled"]
    assert tsql_problems(sql) == []
    body = sql[sql.index("set xact_abort on") :]
    assert body.count("begin transaction") == 1 and body.rstrip().endswith("commit transaction;")
    assert f'"{layer}_audit"."publish_log"' in sql
    if mode == "incremental" and layer == "gold":
        assert "delete published" in body and "select * into" not in body
        assert 'into "AdventureWorks"."gold"."fct_sales_daily" (order_date, territory_id' in body
    if mode == "full":
        assert f'into "AdventureWorks"."{layer}".' in body and "delete published" not in body


def test_every_node_compiles_for_sqlserver(compiled_sqlserver: Path) -> None:
    manifest = json.loads((compiled_sqlserver / "manifest.json").read_text())
    assert manifest["metadata"]["adapter_type"] == "sqlserver"
    nodes = [n for n in manifest["nodes"].values() if n["resource_type"] in ("model", "test")]
    assert len([n for n in nodes if n["resource_type"] == "model"]) >= 27
    missing = [n["unique_id"] for n in nodes if not n.get("compiled_code")]
    assert missing == []
    # the schemas and relation names are the same as on DuckDB: silver and gold are built in
    # their audit schemas and published (publish_layer) under the folder's +schema
    models = {n["name"]: n for n in nodes if n["resource_type"] == "model"}
    assert (models["brz_sales__sales_order_header"]["schema"], models["brz_sales__sales_order_header"]["alias"]) == ("bronze", "sales_order_header")  # fmt: skip
    assert (models["slv_order_lines_quarantine"]["schema"], models["slv_order_lines_quarantine"]["alias"]) == ("silver_audit", "order_lines_quarantine")  # fmt: skip
    assert (models["fct_sales_daily"]["schema"], models["fct_sales_daily"]["alias"]) == ("gold_audit", "fct_sales_daily")  # fmt: skip
    assert models["fct_sales_daily"]["config"]["schema"] == "gold"


def test_every_compiled_model_and_test_is_tsql(compiled_sqlserver: Path) -> None:
    files = sorted((compiled_sqlserver / "compiled" / "medallion").rglob("*.sql"))
    assert len(files) >= 200
    problems = {str(f.relative_to(compiled_sqlserver)): tsql_problems(f.read_text()) for f in files}
    assert {f: p for f, p in problems.items() if p} == {}
    # the dispatch macros emitted their sqlserver__ versions
    checks = (compiled_sqlserver / "compiled" / "medallion" / "models" / "silver" / "sales"
              / "slv_order_checks.sql").read_text()  # fmt: skip
    assert "sysutcdatetime()" in checks and "nvarchar(4000)" in checks
    # a layer reads its own candidate in the audit schema, and the layer below published
    assert '"silver_audit"."order_line_checks"' in checks
    gold = (compiled_sqlserver / "compiled" / "medallion" / "models" / "gold" / "_internal"
            / "order_sales_ledger.sql").read_text()  # fmt: skip
    assert '"AdventureWorks"."silver"."orders"' in gold and "silver_audit" not in gold


def test_profile_holds_no_credentials() -> None:
    from tests.dbt.dbt_support import DBT_DIR

    profile = (DBT_DIR / "profiles.yml").read_text()
    for key in ("password", "user", "host"):
        (line,) = [ln for ln in profile.splitlines() if ln.strip().startswith(f"{key}:")]
        assert "env_var('MEDALLION_MSSQL_" in line, line
    assert "env_var('MEDALLION_MSSQL_PASSWORD', '')" in profile
