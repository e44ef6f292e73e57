"""One failure, one class, everywhere: what `medallion.dbt.raise_for_result` decides is what
the DAG retries (only TransientError) and what every `medallion` command exits with."""

from __future__ import annotations

from pathlib import Path

import pytest

from medallion import dbt
from medallion.errors import (
    EXIT_DATA,
    EXIT_ERROR,
    EXIT_TRANSIENT,
    ConfigError,
    DataQualityError,
    DbtInvocationError,
    DbtProjectError,
    SourceStructureError,
    TransientError,
    WarehouseBusyError,
    exit_code,
)

MISSING_SILVER = (
    'Catalog Error: Table with name "silver.orders" does not exist because schema "silver" '
    "does not exist."
)


def _failed(layer: str, step: str, *nodes: dbt.NodeResult, error: str | None = None):
    result = dbt.StepResult(
        layer=layer,
        step=step,
        artifacts=Path("/nowhere"),
        invocations=[dbt.RunSummary(command=step, nodes=tuple(nodes))],
        error=error,
    )
    with pytest.raises(Exception) as info:
        dbt.raise_for_result(result)
    return info.value


def _model(name: str, message: str) -> dbt.NodeResult:
    return dbt.NodeResult(f"model.medallion.{name}", name, "model", "error", 0.1, message=message)


@pytest.mark.parametrize(
    ("layer", "step", "node", "error", "expected", "code"),
    [
        pytest.param(
            "gold", "run", _model("fct_sales_daily", MISSING_SILVER), None,
            DbtProjectError, EXIT_ERROR, id="gold reads unpublished silver",
        ),
        pytest.param(
            "silver", "run", _model("slv_orders", "Compilation Error in model slv_orders"),
            None, DbtProjectError, EXIT_ERROR, id="compile error",
        ),
        pytest.param(
            "silver", "run", _model("slv_orders", 'Binder Error: Referenced column "x" not found'),
            None, DbtProjectError, EXIT_ERROR, id="model reads a missing column",
        ),
        pytest.param(
            "bronze", "run", _model("brz_sales__customer", MISSING_SILVER.replace("silver", "sales")),
            None, SourceStructureError, EXIT_DATA, id="source table gone",
        ),
        pytest.param(
            "silver", "run",
            _model("slv_orders", "IO Error: Could not set lock on file warehouse.duckdb"),
            None, WarehouseBusyError, EXIT_TRANSIENT, id="warehouse file locked",
        ),
        pytest.param(
            "silver", "run",
            _model("slv_fragile", "RuntimeError: the warehouse connection dropped"),
            None, DbtInvocationError, EXIT_TRANSIENT, id="connection dropped",
        ),
        pytest.param(
            "silver", "test",
            dbt.NodeResult("test.medallion.t", "t", "test", "fail", 0.1, failures=3),
            None, DataQualityError, EXIT_DATA, id="failing test",
        ),
        pytest.param(
            "gold", "run", None, f"dbt run could not run: {MISSING_SILVER}",
            DbtProjectError, EXIT_ERROR, id="invocation error text: missing relation",
        ),
        pytest.param(
            "gold", "run", None, "dbt run could not run: Connection refused",
            DbtInvocationError, EXIT_TRANSIENT, id="invocation error text: connection refused",
        ),
    ],
)  # fmt: skip
def test_failure_class_and_exit_code(layer, step, node, error, expected, code) -> None:
    exc = _failed(layer, step, *([node] if node else []), error=error)
    assert type(exc) is expected, exc
    assert exit_code(exc) == code
    # The DAG's retry decision is the same test: only transient failures are retried.
    assert isinstance(exc, TransientError) == (code == EXIT_TRANSIENT)
    if expected is DbtProjectError:
        assert "Retrying cannot help" in str(exc) or "could not run" in str(exc)


def test_configuration_errors_are_permanent() -> None:
    assert exit_code(ConfigError("MEDALLION_TARGET='x' is not one of duckdb, sqlserver")) == 2
