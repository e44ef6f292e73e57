"""Structural faults fail fast: no retry, nothing downstream runs, published data unchanged.

A structural fault in an export file (missing table, renamed or extra column) stops
`medallion run` at the load, before any DAG run, with the file, line and column. The same
fault in the warehouse's raw tables (a source database whose schema changed) fails the
first bronze task on its first try; a duplicate primary key fails bronze's gate.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import duckdb
import pytest

from medallion.airflow_env import last_run_pk
from medallion.names import DAG_ID
from tests.reliability.faults import Export, World, lines_of
from tests.reliability.scenarios import describe_alerts, describe_published, describe_tasks
from tests.reliability.support import gold_and_silver, run_scenario

pytestmark = pytest.mark.e2e

RAW = (
    "sales.SalesOrderHeader",
    "sales.SalesOrderDetail",
    "sales.Customer",
    "sales.SpecialOfferProduct",
)


def _medallion_run(world: World, export: Export) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "medallion.cli", "run", "--source", str(export.root)],
        env=world.env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _raw(world: World) -> dict[str, Any]:
    return world.checksums(f'sales."{t.split(".")[1]}"' for t in RAW)


@pytest.mark.parametrize(
    ("scenario", "edit", "where"),
    [
        (
            "missing source table (export)",
            lambda e: e.drop_table("sales.SpecialOfferProduct"),
            ("sales/SpecialOfferProduct.csv", "missing file for table sales.SpecialOfferProduct"),
        ),
        (
            "schema change: renamed column (export)",
            lambda e: e.rename_column("sales.Customer", "StoreID", "StoreKey"),
            ("sales/Customer.csv", "line 1, column StoreID"),
        ),
        (
            "schema change: extra column (export)",
            lambda e: e.add_column("production.ProductCategory", "Colour", "red"),
            ("production/ProductCategory.csv", "line 1, column Colour"),
        ),
    ],
)
def test_structural_fault_in_the_export_stops_the_run_at_load(
    scenario: str, edit: Any, where: tuple[str, str], clean_world: World, recorder
) -> None:
    export = clean_world.export(scenario.split(":")[-1].strip().replace(" ", "_"))
    edit(export)
    raw_before, runs_before = (
        _raw(clean_world),
        last_run_pk(clean_world.settings.airflow_home, DAG_ID),
    )

    proc = _medallion_run(clean_world, export)

    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    message = proc.stderr.strip().splitlines()[-1]
    assert str(export.root / where[0]) in message and where[1] in message, message
    assert last_run_pk(clean_world.settings.airflow_home, DAG_ID) == runs_before, (
        "no DAG run was started"
    )
    assert _raw(clean_world) == raw_before
    silver, gold = gold_and_silver(clean_world)
    assert silver == clean_world.baseline["silver"] and gold == clean_world.baseline["gold"]
    recorder.record(
        scenario,
        injected=f"{where[0]}: "
        + {
            "missing source table (export)": "file deleted",
            "schema change: renamed column (export)": "header StoreID renamed StoreKey",
            "schema change: extra column (export)": "column Colour added",
        }[scenario],
        tasks="`medallion run` exit 2 at load, no DAG run: "
        + message.replace(str(export.root) + "/", "").removeprefix("error: ")[:160],
        published="raw, silver, gold unchanged",
        quarantine="unchanged (empty)",
        alert="none (the CLI reports it; no DAG run to alert)",
    )


def _structural_dag_scenario(
    world: World, http: Any, smtp: Any, recorder: Any, scenario: str, injected: str,
    task: str, error_type: str,
) -> Any:  # fmt: skip
    seen = run_scenario(world, http, smtp)

    assert seen.outcome.state == "failed"
    assert seen.state(task) == ("failed", 1), "structural faults are not retried"
    for later in ("silver.dbt_run_silver", "gold.dbt_run_gold"):
        assert seen.outcome.tasks[later].state == "upstream_failed"
    silver, gold = gold_and_silver(world)
    assert silver == world.baseline["silver"] and gold == world.baseline["gold"]
    [failure] = seen.alerts("failure")
    assert (failure["task_id"], failure["error_type"]) == (task, error_type)
    assert seen.alerts("retry") == []
    recorder.record(
        scenario,
        injected=injected,
        tasks=describe_tasks(seen.outcome),
        published=describe_published(silver, world.baseline["silver"], layer="silver")
        + "; "
        + describe_published(gold, world.baseline["gold"], layer="gold"),
        quarantine="unchanged (silver did not run)",
        alert=describe_alerts(seen.webhook),
    )
    return failure


def test_missing_source_table_in_the_warehouse_fails_bronze_fast(
    clean_world: World, http_receiver, smtp_receiver, recorder
) -> None:
    with duckdb.connect(str(clean_world.warehouse)) as con:
        con.execute('drop table sales."SpecialOfferProduct"')

    failure = _structural_dag_scenario(
        clean_world, http_receiver, smtp_receiver, recorder,
        "missing source table (warehouse)", "raw table sales.SpecialOfferProduct dropped",
        "bronze.dbt_run_bronze", "SourceStructureError",
    )  # fmt: skip
    assert [n["name"] for n in failure["failed_nodes"]] == ["brz_sales__special_offer_product"]


def test_renamed_column_in_the_warehouse_fails_bronze_fast(
    clean_world: World, http_receiver, smtp_receiver, recorder
) -> None:
    with duckdb.connect(str(clean_world.warehouse)) as con:
        con.execute('alter table sales."Customer" rename column "StoreID" to "StoreKey"')

    failure = _structural_dag_scenario(
        clean_world, http_receiver, smtp_receiver, recorder,
        "schema change: renamed column (warehouse)",
        "raw column sales.Customer.StoreID renamed StoreKey",
        "bronze.dbt_run_bronze", "SourceStructureError",
    )  # fmt: skip
    [node] = failure["failed_nodes"]
    assert node["name"] == "brz_sales__customer" and "StoreID" in node["message"]


def test_duplicate_primary_key_fails_the_bronze_gate(
    clean_world: World, http_receiver, smtp_receiver, recorder
) -> None:
    export = clean_world.export("duplicate_pk")
    line = lines_of(export, export.records("sales.SalesOrderHeader")[0]["SalesOrderID"])[0]
    export.append_copy("sales.SalesOrderDetail", "SalesOrderDetailID", line)
    clean_world.load(export)

    failure = _structural_dag_scenario(
        clean_world, http_receiver, smtp_receiver, recorder,
        "duplicate primary key in bronze",
        f"SalesOrderDetail {line} appears twice in the export",
        "bronze.dbt_test_bronze", "DataQualityError",
    )  # fmt: skip
    assert [(n["name"], n["failures"]) for n in failure["failed_nodes"]] == [
        ("unique_brz_sales__sales_order_detail_sales_order_detail_id", 1)
    ]
