"""Fixtures of the reliability suite.

The DAG tests' helpers (one migrated AIRFLOW_HOME per session, local Slack/webhook/SMTP
receivers), one :class:`faults.World` per session with a baseline run on clean data, and the
recorder that turns what each scenario observed into the table of docs/RELIABILITY.md.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dags"))

from dag_support import (
    REPO,
    airflow_home,
    clean_env,
    http_receiver,
    pipeline,
    smtp_receiver,
)
from faults import (
    BASELINE_DATE,
    GOLD,
    MSSQL_PASSWORD,
    QUARANTINES,
    World,
    write_synthetic_export,
)
from scenarios import Recorder

__all__ = ["airflow_home", "http_receiver", "pipeline", "smtp_receiver"]


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory, airflow_home: Path) -> World:
    """Clean data loaded and run through the DAG once; every scenario starts from here."""
    root = tmp_path_factory.mktemp("reliability")
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
    world = World(root=root, env=env, source=write_synthetic_export(root / "source"))
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
        if not _RECORDER.complete():
            print(f"\nreliability: not every scenario ran; {target} left as it was")
            return
    else:
        base = getattr(session.config, "_tmp_path_factory", None)
        target = (base.getbasetemp() if base else Path("/tmp")) / "RELIABILITY.md"
    target.write_text(_RECORDER.markdown(), encoding="utf-8")
    print(f"\nreliability: scenario table written to {target}")
