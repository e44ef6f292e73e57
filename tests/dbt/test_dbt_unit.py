"""dbt unit tests (`unit_tests:` in the models' YAML) of the business rules: each runs on
DuckDB and passes; a rule changed in a copy of the project makes its unit test fail; they
compile for the sqlserver target; the pipeline's own test steps leave them out."""

from __future__ import annotations

import shutil
from pathlib import Path

from dbt_support import DBT_DIR, Scratch, dag_step
from test_dbt_tsql import SQLSERVER_ENV, tsql_problems

UNIT_TESTS = {
    "each_line_rule_names_its_reason",
    "each_order_rule_names_its_reason_and_a_bad_line_quarantines_its_order",
    "a_quarantined_order_takes_all_its_lines_with_it",
    "only_valid_lines_of_valid_orders_are_published",
    "daily_sales_sum_counted_orders_per_day_and_territory",
    "product_sales_sum_the_lines_of_counted_orders",
    "customer_value_sums_counted_orders_per_customer",
}


def test_every_unit_test_passes_on_duckdb(scratch: Scratch) -> None:
    result = scratch.dbt("test", "--select", "test_type:unit")
    assert result.returncode == 0, result.describe()
    assert result.statuses() == dict.fromkeys(UNIT_TESTS, "pass")


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
    failed = {name for name, status in result.statuses().items() if status == "fail"}
    assert failed == {"each_line_rule_names_its_reason"}
    assert "discount_out_of_range" in result.output


def test_unit_tests_compile_for_sqlserver(tmp_path: Path, scratch: Scratch) -> None:
    compiled = scratch.dbt(
        "compile", "--target", "sqlserver", "--no-populate-cache", "--select", "test_type:unit",
        env=SQLSERVER_ENV,
    )  # fmt: skip
    assert compiled.returncode == 0, compiled.describe()
    names = {r["unique_id"].split(".")[-1]: r for r in compiled.run_results["results"]}
    assert set(names) == UNIT_TESTS
    for name, result in names.items():
        assert tsql_problems(result["compiled_code"]) == [], name


def test_the_pipeline_steps_leave_unit_tests_out() -> None:
    for layer in ("bronze", "silver", "gold"):
        [test, *_] = dag_step(layer, "test")
        assert test[test.index("--exclude-resource-type") + 1] == "unit_test"
