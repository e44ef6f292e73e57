"""`medallion run` and the DAG on the project's real dbt models and synthetic AdventureWorks."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from medallion.config import Settings
from tests.dags.dag_support import REPO, clean_env, webhook_posts

pytestmark = pytest.mark.e2e
GOLD = ("gold.dim_customer_value", "gold.fct_product_sales", "gold.fct_sales_daily")


def _env(tmp_path: Path, airflow_home: Path) -> dict[str, str]:
    return {
        **clean_env(),
        "MEDALLION_PROJECT_ROOT": str(REPO),
        "MEDALLION_HOME": str(tmp_path / "home"),
        "MEDALLION_AIRFLOW_HOME": str(airflow_home),
        "MEDALLION_DUCKDB_THREADS": "2",
        "MEDALLION_DUCKDB_MEMORY_LIMIT": "1GB",
        "MEDALLION_RETRY_DELAY_SECONDS": "1",
    }


def test_medallion_run_end_to_end(tmp_path: Path, airflow_home: Path) -> None:
    env = _env(tmp_path, airflow_home)
    proc = subprocess.run(
        [sys.executable, "-m", "medallion.cli", "run", "--scale", "0.02", "--seed", "7"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # the summary table: one row per layer (cells separated by rich's box characters)
    for layer in ("bronze", "silver", "gold"):
        cells = [line.replace("│", " ").split() for line in proc.stdout.splitlines()]
        assert any(row[:2] == [layer, "success"] for row in cells), proc.stdout[-3000:]
    report = re.search(r"^report: (\S+\.html)$", proc.stdout, re.MULTILINE)
    assert report and Path(report.group(1)).stat().st_size > 10_000
    # progress from the first seconds: what `medallion run` is doing before the first task
    assert "starting Airflow and parsing the DAG" in proc.stdout
    assert re.search(r"^ +\d+\.\ds  started  bronze\.dbt_run_bronze$", proc.stdout, re.M)
    settings = Settings.from_env(env)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        counts = {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in GOLD}
    assert all(n > 0 for n in counts.values()), counts
    for table, n in counts.items():
        assert f"{table}" in proc.stdout and f"{n:,}" in proc.stdout


def test_line_total_mismatch_fails_silver_and_names_the_test(
    tmp_path: Path, airflow_home: Path, http_receiver
) -> None:
    """A line whose total disagrees with price x qty is not a quarantine rule: silver fails."""
    from medallion.devtools.pipeline import dags_test_env, run_dag
    from medallion.loading.api import load

    env = _env(tmp_path, airflow_home)
    env["MEDALLION_ALERT_WEBHOOK_URL"] = http_receiver.url("/hook/x")
    settings = Settings.from_env(env)
    load(settings, source=None, scale=0.02, seed=7)
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute(
            'update sales."SalesOrderDetail" set "LineTotal" = "LineTotal" + 5 '
            'where "SalesOrderDetailID" = (select min("SalesOrderDetailID") '
            'from sales."SalesOrderDetail")'
        )
    outcome = run_dag(settings, env=dags_test_env(settings, base=env), echo=False)

    assert outcome.state == "failed"
    states = {t: (o.state, o.try_number) for t, o in outcome.tasks.items()}
    assert states["bronze.dbt_test_bronze"] == ("success", 1)
    assert states["silver.dbt_test_silver"] == ("failed", 1)
    assert states["gold.dbt_run_gold"][0] == "upstream_failed"
    assert states["gold.dbt_test_gold"][0] == "upstream_failed"
    [alert] = [p for p in webhook_posts(http_receiver) if p["kind"] == "failure"]
    assert alert["task_id"] == "silver.dbt_test_silver"
    line_total = [
        n
        for n in alert["failed_nodes"]
        if "line_total" in n["name"] or "slv_order_lines" in n["name"]
    ]
    assert line_total and line_total[0]["failures"] == 1, alert["failed_nodes"]
