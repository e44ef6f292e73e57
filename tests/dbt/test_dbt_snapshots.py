"""A snapshot load (a full export that replaces the raw tables) propagates deletions.

The session warehouse (synthetic, built and published) takes a sequence of snapshot loads,
each followed by an ordinary run (`dbt build` and publish, no --full-refresh): the
real export when it is present, then the synthetic data again, then the same source with 1 %
of its orders and their lines deleted upstream. After each, every published silver and gold
relation must equal a full refresh from that snapshot (row count and checksum over the
ordered rows): the incremental models rebuild themselves after a snapshot load
(macros/incremental.sql, snapshot_reloaded), so no row the snapshot no longer has survives.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.dbt.dbt_support import (
    BUILD_TIME_COLUMNS,
    SHARED_ADVENTUREWORKS,
    WAREHOUSE_FILE,
    BuiltWarehouse,
    build_and_publish,
    checksums,
    copy_warehouse,
    load_export,
    load_into,
    scalar,
    write_export,
)

pytestmark = pytest.mark.e2e

# Columns that say when a row was loaded or written: a reload of the same data differs there.
LOAD_TIME_COLUMNS = (*BUILD_TIME_COLUMNS, "_loaded_at")


def _real_export() -> Path | None:
    return SHARED_ADVENTUREWORKS if (SHARED_ADVENTUREWORKS / "sales").is_dir() else None


def _full_refresh_of(warehouse: Path, root: Path) -> dict[str, tuple]:
    copy = root / WAREHOUSE_FILE
    copy.parent.mkdir(parents=True)
    shutil.copyfile(warehouse, copy)
    build = build_and_publish(copy, root / "work", "--full-refresh")
    assert build.returncode == 0, build.describe()
    return checksums(copy)


def _run(warehouse: Path, work: Path) -> None:
    """An ordinary run, as `medallion build` does it: incremental models stay incremental
    unless the snapshot rule rebuilds them (no --full-refresh)."""
    build = build_and_publish(warehouse, work)
    assert build.returncode == 0, build.describe()


def _differences(got: dict[str, tuple], expected: dict[str, tuple]) -> dict[str, tuple]:
    return {
        name: (got.get(name), expected.get(name))
        for name in sorted(set(got) | set(expected))
        if got.get(name) != expected.get(name)
    }


@pytest.fixture(scope="module")
def snapshots(
    built_warehouse: BuiltWarehouse,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> dict:
    root = tmp_path_factory.mktemp("snapshots")
    warehouse = copy_warehouse(built_warehouse.path, root / "incremental")
    home, work = root / "home", root / "work"
    source = _real_export()
    seen: dict = {}

    if source is not None:
        # real -> synthetic -> real: each snapshot replaces a different data set; the real
        # and the synthetic data built from scratch are the session's other warehouses
        load_export(warehouse, home, source)
        _run(warehouse, work)
        seen["real"] = (
            checksums(warehouse, exclude=LOAD_TIME_COLUMNS),
            checksums(request.getfixturevalue("real_warehouse"), exclude=LOAD_TIME_COLUMNS),
        )
        load_into(warehouse, home)
        _run(warehouse, work)
        seen["synthetic_again"] = (
            checksums(warehouse, exclude=LOAD_TIME_COLUMNS),
            checksums(built_warehouse.path, exclude=LOAD_TIME_COLUMNS),
        )

    export = write_export(root / "export", source=source, drop_every=100)
    load_export(warehouse, home, export)
    seen["orders_in_snapshot"] = scalar(warehouse, "select count(*) from sales.SalesOrderHeader")
    _run(warehouse, work)
    seen["deleted"] = (checksums(warehouse), _full_refresh_of(warehouse, root / "full_deleted"))
    seen["warehouse"] = warehouse
    seen["source"] = "real" if source is not None else "synthetic"
    return seen


def test_a_snapshot_with_deleted_orders_equals_a_full_refresh(snapshots: dict) -> None:
    got, expected = snapshots["deleted"]
    assert _differences(got, expected) == {}


def test_deleted_orders_and_lines_are_gone_from_silver_and_gold(snapshots: dict) -> None:
    warehouse = snapshots["warehouse"]
    published_orders = scalar(
        warehouse, "select count(*) from silver.orders where sales_order_id % 100 = 0"
    )
    quarantined = scalar(
        warehouse, "select count(*) from silver.orders_quarantine where sales_order_id % 100 = 0"
    )
    lines = scalar(
        warehouse, "select count(*) from silver.order_lines where sales_order_id % 100 = 0"
    )
    assert (published_orders, quarantined, lines) == (0, 0, 0)
    silver = scalar(warehouse, "select count(*) from silver.orders") + scalar(
        warehouse, "select count(*) from silver.orders_quarantine"
    )
    assert silver == snapshots["orders_in_snapshot"]
    gold_orders = scalar(warehouse, "select sum(order_count) from gold.fct_sales_daily")
    counted = scalar(warehouse, "select count(*) from silver.orders where status not in (4, 6)")
    assert gold_orders == counted


@pytest.mark.realdata
def test_real_then_synthetic_then_real_each_equal_a_full_refresh(snapshots: dict) -> None:
    if snapshots["source"] != "real":
        pytest.skip("needs the real AdventureWorks export (MEDALLION_REAL_DATA)")
    got, expected = snapshots["real"]
    assert _differences(got, expected) == {}
    got, expected = snapshots["synthetic_again"]
    assert _differences(got, expected) == {}
