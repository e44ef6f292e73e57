"""Session fixtures for the dbt project tests.

One synthetic warehouse is loaded through the loader API and built with ``dbt build`` once
per session; destructive tests corrupt a copy of it (``scratch``), never the original.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dbt_support import (
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
