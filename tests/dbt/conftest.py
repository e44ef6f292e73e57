"""Session fixtures for the dbt project tests.

One synthetic warehouse is loaded through the loader API and built with ``dbt build`` once
per session; destructive tests corrupt a copy of it (``scratch``), never the original. The
real export, when present, is built once too (``real_warehouse``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dbt.dbt_support import (
    SHARED_ADVENTUREWORKS,
    WAREHOUSE_FILE,
    BuiltWarehouse,
    Scratch,
    build_and_publish,
    copy_warehouse,
    load_into,
)


@pytest.fixture(scope="session")
def dbt_session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dbt_project")


@pytest.fixture(scope="session")
def built_warehouse(dbt_session_dir: Path) -> BuiltWarehouse:
    """Synthetic data loaded by the loader, built by one ``dbt build`` of every layer and
    published (silver, then gold), as `medallion build` does."""
    warehouse = dbt_session_dir / "pristine" / WAREHOUSE_FILE
    warehouse.parent.mkdir(parents=True)
    load_into(warehouse, dbt_session_dir / "home")
    build = build_and_publish(warehouse, dbt_session_dir / "build")
    assert build.returncode == 0, build.describe()
    return BuiltWarehouse(warehouse, build)


@pytest.fixture
def scratch(built_warehouse: BuiltWarehouse, dbt_session_dir: Path) -> Iterator[Scratch]:
    """A fresh copy of the built warehouse. The path is the same for every test so dbt's
    partial parsing (keyed on the profile) carries over from one test to the next."""
    work_dir = dbt_session_dir / "scratch"
    warehouse = copy_warehouse(built_warehouse.path, work_dir / "db")
    yield Scratch(warehouse, work_dir)


@pytest.fixture(scope="session")
def real_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real AdventureWorks export loaded and built from scratch, every test passing."""
    if not (SHARED_ADVENTUREWORKS / "sales" / "SalesOrderHeader.csv").is_file():
        pytest.skip(f"the real AdventureWorks export is not at {SHARED_ADVENTUREWORKS}")
    root = tmp_path_factory.mktemp("dbt_realdata")
    warehouse = root / "db" / WAREHOUSE_FILE
    warehouse.parent.mkdir()
    load_into(warehouse, root / "home", source=SHARED_ADVENTUREWORKS)
    build = build_and_publish(warehouse, root)
    assert build.returncode == 0, build.describe()
    statuses = {name: r["status"] for name, r in build.results().items()}
    assert {s for s in statuses.values()} <= {"success", "pass"}, {
        n: s for n, s in statuses.items() if s not in ("success", "pass")
    }
    return warehouse
