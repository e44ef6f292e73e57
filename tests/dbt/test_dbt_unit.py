"""dbt unit tests (`unit_tests:` in the models' YAML) of the business rules: each runs on
DuckDB and passes; a rule changed in a copy of the project makes its unit test fail; they
parse for the sqlserver target; the pipeline's own test steps leave them out."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.dbt.dbt_support import DBT_DIR, SQLSERVER_ENV, DbtResult, Scratch, dag_step, run_dbt

UNIT_TESTS = {
    "each_line_rule_names_its_reason",
    "each_order_rule_names_its_reason_and_a_bad_line_quarantines_its_order",
    "a_quarantined_order_takes_all_its_lines_with_it",
    "only_valid_lines_of_valid_orders_are_published",
    "order_sales_ledger_holds_each_counted_order",
    "order_sales_ledger_appends_what_changed_orders_changed",
    "daily_sales_sum_the_ledger",
    "daily_sales_add_the_ledger_rows_of_the_batch",
    "product_sales_ledger_holds_each_counted_order_per_product",
    "product_sales_ledger_appends_what_changed_orders_changed",
    "product_sales_sum_the_ledger",
    "product_sales_add_the_ledger_rows_of_the_batch",
    "product_sales_take_a_rebuilt_ledger_as_totals",
    "customer_value_sums_the_ledger",
    "customer_value_adds_the_ledger_rows_of_the_batch",
}


def _statuses(result: DbtResult) -> dict[str, str]:
    """Unit test name -> status (a unit test's unique_id is unit_test.<project>.<model>.<name>)."""
    assert result.run_results is not None, result.describe()
    return {r["unique_id"].split(".")[-1]: r["status"] for r in result.run_results["results"]}


def test_every_unit_test_passes_on_duckdb(scratch: Scratch) -> None:
    result = scratch.dbt("test", "--select", "test_type:unit")
    assert result.returncode == 0, result.describe()
    assert _statuses(result) == dict.fromkeys(UNIT_TESTS, "pass")


def test_a_changed_rule_fails_its_unit_test(scratch: Scratch, tmp_path: Path) -> None:
    """The discount rule loosened to (0, 1]: the line with discount 1.0 passes as valid."""
    project = Path(
        shutil.copytree(DBT_DIR, tmp_path / "dbt", ignore=shutil.ignore_patterns("target", "logs"))
    )
    model = project / "models" / "silver" / "sales" / "slv_order_line_checks.sql"
    rule = "order_lines.unit_price_discount >= 1"
    assert rule in model.read_text()
    model.write_text(model.read_text().replace(rule, "order_lines.unit_price_discount > 1"))
    result = scratch.dbt(
        "test", "--select", "test_type:unit",
        env={"DBT_PROJECT_DIR": str(project), "DBT_PROFILES_DIR": str(project)},
    )  # fmt: skip
    assert result.returncode == 1
    failed = {name for name, status in _statuses(result).items() if status == "fail"}
    assert failed == {"each_line_rule_names_its_reason"}
    assert "discount_out_of_range" in result.output


def test_unit_tests_parse_for_sqlserver(tmp_path: Path) -> None:
    """Without a server, `dbt parse --target sqlserver` takes every unit test (their models
    compile to T-SQL: test_dbt_tsql.py). Their fixture SQL is generated at run time from the
    server's column types, so only CI's SQL Server job runs them there."""
    parsed = run_dbt(
        ["parse", "--target", "sqlserver"],
        warehouse=tmp_path / "unused.duckdb", work_dir=tmp_path, env=SQLSERVER_ENV,
    )  # fmt: skip
    assert parsed.returncode == 0, parsed.describe()
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    assert {u["name"] for u in manifest["unit_tests"].values()} == UNIT_TESTS


def test_the_pipeline_steps_leave_unit_tests_out() -> None:
    for layer in ("bronze", "silver", "gold"):
        [test, *_] = dag_step(layer, "test")
        assert test[test.index("--exclude-resource-type") + 1] == "unit_test"
