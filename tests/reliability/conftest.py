"""Fixtures of the reliability suite.

The DAG tests' helpers (one migrated AIRFLOW_HOME per session, local Slack/webhook/SMTP
receivers), one :class:`faults.World` per session with a baseline run on clean data, and the
recorder that turns what each scenario observed into the table of docs/RELIABILITY.md.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from medallion.config import Settings
from tests.dags.dag_support import (
    REPO,
    Pipeline,
    clean_env,
    http_receiver,
    mini_pipeline,
    smtp_receiver,
)
from tests.reliability.faults import (
    BASELINE_DATE,
    GOLD,
    MSSQL_PASSWORD,
    QUARANTINES,
    World,
    write_source_export,
)
from tests.reliability.scenarios import Recorder

__all__ = ["http_receiver", "smtp_receiver"]


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The suite's own migrated Airflow home. Every run in it uses one warehouse path: the
    DAG's gold Assets are named by relation and their URI holds the warehouse path, so runs
    against two paths in one metadata DB would leave one set of Assets inactive."""
    from medallion.devtools.pipeline import dags_test_env, ensure_airflow_db

    home = tmp_path_factory.mktemp("reliability_airflow_home")
    env = {**clean_env(), "MEDALLION_HOME": str(home / "x"), "MEDALLION_AIRFLOW_HOME": str(home)}
    settings = Settings.from_env(env)
    ensure_airflow_db(settings, dags_test_env(settings, base=env))
    return home


@pytest.fixture(scope="session")
def suite_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reliability")


@pytest.fixture
def pipeline(tmp_path: Path, suite_root: Path, airflow_home: Path) -> Pipeline:
    """tests/dags' mini-project pipeline, on the suite's one warehouse path (emptied)."""
    warehouse = suite_root / "home" / "warehouse.duckdb"
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    for leftover in warehouse.parent.glob("warehouse.duckdb*"):
        if not leftover.name.endswith(".pipeline.lock"):
            leftover.unlink()
    return mini_pipeline(tmp_path, airflow_home, warehouse)


@pytest.fixture(scope="session")
def world(suite_root: Path, airflow_home: Path) -> World:
    """Clean data loaded and run through the DAG once; every scenario starts from here."""
    root = suite_root
    env = {
        **clean_env(),
        "MEDALLION_PROJECT_ROOT": str(REPO),
        "MEDALLION_HOME": str(root / "home"),
        "MEDALLION_AIRFLOW_HOME": str(airflow_home),
        "MEDALLION_DUCKDB_THREADS": "2",
        "MEDALLION_DUCKDB_MEMORY_LIMIT": "1GB",
        "MEDALLION_RETRIES": "2",
        "MEDALLION_RETRY_DELAY_SECONDS": "1",
        "MEDALLION_MAX_RETRY_DELAY_SECONDS": "2",
        "MEDALLION_EXECUTION_TIMEOUT_SECONDS": "600",
        # present in every run, never needed by DuckDB: it must not leak anywhere
        "MEDALLION_MSSQL_PASSWORD": MSSQL_PASSWORD,
    }
    if os.environ.get("MEDALLION_RELIABILITY_DBT_DIR"):  # another checkout's dbt/, to bisect
        env["MEDALLION_DBT_PROJECT_DIR"] = os.environ["MEDALLION_RELIABILITY_DBT_DIR"]
    world = World(root=root, env=env, source=write_source_export(root / "source"))
    world.load(world.source)
    outcome = world.run(logical_date=BASELINE_DATE)
    assert outcome.state == "success", outcome.log_file.read_text()[-5000:]
    world.pristine.parent.mkdir(parents=True)
    shutil.copy2(world.warehouse, world.pristine)
    silver = [
        f"silver.{name}"
        for (name,) in world.query(
            "select table_name from information_schema.tables where table_schema = 'silver' "
            "order by 1"
        )
    ]
    world.baseline = {
        "run_id": outcome.run_id,
        "gold": world.checksums(GOLD),
        "silver": world.checksums(silver),
        "quarantine": world.quarantine(),
        "gold_total_due": world.query("select sum(total_due) from gold.fct_sales_daily")[0][0],
    }
    assert all(not rows for rows in world.baseline["quarantine"].values()), "clean data"
    assert set(QUARANTINES) <= set(silver)
    return world


@pytest.fixture
def clean_world(world: World) -> World:
    """The world reset to the baseline warehouse."""
    world.reset()
    return world


_RECORDER = Recorder()


@pytest.fixture(scope="session")
def recorder() -> Recorder:
    return _RECORDER


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the scenario table: to docs/ with MEDALLION_UPDATE_DOCS=1, else next to the
    session's tmp files (tests never change the repository otherwise)."""
    if not _RECORDER.rows:
        return
    if os.environ.get("MEDALLION_UPDATE_DOCS") == "1":
        target = REPO / "docs" / "RELIABILITY.md"
    else:
        base = getattr(session.config, "_tmp_path_factory", None)
        target = (base.getbasetemp() if base else Path("/tmp")) / "RELIABILITY.md"
    target.write_text(_RECORDER.markdown(), encoding="utf-8")
    print(f"\nreliability: scenario table written to {target}")
