"""Operational faults: a lock held, a task process killed mid-layer, the same interval run
twice, two pipelines at once, and secrets that must stay secret. All through the real DAG."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import pytest

from medallion.airflow_env import last_run_pk
from medallion.devtools.pipeline import read_dag_run
from medallion.errors import EXIT_TRANSIENT
from medallion.lock import lock_path
from medallion.names import DAG_ID
from tests.dags.dag_support import REPO, mail_text
from tests.reliability.faults import BASELINE_DATE, GOLD, SECRETS, World
from tests.reliability.scenarios import (
    describe_alerts,
    describe_published,
    describe_quarantine,
    describe_tasks,
    files_under,
    leaks,
    read_all,
)
from tests.reliability.support import gold_and_silver, run_scenario

pytestmark = pytest.mark.e2e

# The grain of every gold relation and of the silver entities: no key may appear twice.
GRAINS = {
    "gold.fct_sales_daily": "order_date, territory_id",
    "gold.fct_product_sales": "product_id",
    "gold.dim_customer_value": "customer_id",
    "silver.orders": "sales_order_id",
    "silver.order_lines": "sales_order_detail_id",
}
KILL_DATE = "2024-06-02T00:00:00+00:00"


def _duplicates(world: World) -> dict[str, int]:
    return {
        relation: world.query(
            f"select count(*) - (select count(*) from (select distinct {key} from {relation}))"
            f" from {relation}"
        )[0][0]
        for relation, key in GRAINS.items()
    }


def _runs_of(world: World, logical_date: str) -> list[str]:
    """Run ids recorded for a logical date: re-running an interval replaces its run."""
    when = datetime.fromisoformat(logical_date).strftime("%Y-%m-%d %H:%M:%S")
    with sqlite3.connect(world.settings.airflow_home / "airflow.db") as con:
        rows = con.execute(
            "select run_id from dag_run where dag_id = 'dbt_transform' and logical_date like ?",
            (when + "%",),
        ).fetchall()
    return [r[0] for r in rows]


def _leftovers(world: World) -> list[str]:
    """Relations a killed dbt materialization could leave behind."""
    return [
        f"{s}.{t}"
        for s, t in world.query(
            "select table_schema, table_name from information_schema.tables "
            "where table_name like '%\\_\\_dbt\\_%' escape '\\'"
        )
    ]


def test_transient_lock_is_retried_and_recovers(
    clean_world: World, http_receiver, smtp_receiver, recorder
) -> None:
    locker = subprocess.Popen(
        [
            sys.executable, "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('locked', flush=True); "
            "sys.stdin.read()",
            str(clean_world.warehouse),
        ],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert locker.stdout.readline().strip() == "locked"

    def release(path: str, payload: Any) -> None:
        if isinstance(payload, dict) and payload.get("kind") == "retry":
            locker.stdin.close()
            # Answer the retry alert only once the lock is gone: the next try never races
            # the locker's exit.
            locker.wait(timeout=60)

    http_receiver.on_post = release
    try:
        seen = run_scenario(clean_world, http_receiver, smtp_receiver)
    finally:
        locker.kill()
        locker.wait()

    assert seen.outcome.state == "success", seen.outcome.log_file.read_text()[-5000:]
    assert seen.state("bronze.dbt_run_bronze") == ("success", 2)
    kinds = [(p["kind"], p["task_id"], p.get("error_type")) for p in seen.webhook]
    assert ("retry", "bronze.dbt_run_bronze", "WarehouseBusyError") in kinds
    assert ("recovered", "bronze.dbt_run_bronze", None) in kinds
    assert not seen.alerts("failure")
    silver, gold = gold_and_silver(clean_world)
    assert gold == clean_world.baseline["gold"]
    recorder.record(
        "transient warehouse lock",
        injected="another process holds the DuckDB file until the first retry alert",
        tasks=describe_tasks(seen.outcome),
        published=describe_published(silver, clean_world.baseline["silver"], layer="silver")
        + " (rebuilt: same data, new build times); "
        + describe_published(gold, clean_world.baseline["gold"], layer="gold"),
        quarantine=describe_quarantine(clean_world.quarantine()),
        alert=describe_alerts(seen.webhook),
    )


# A silver model (in a copy of the project, for the killed run only) that runs after
# slv_orders, says so in a file, then waits to be killed: the kill lands mid-layer, with
# silver's dbt unfinished, however loaded the machine is.
BLOCKER = """
import os
import time
from pathlib import Path


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("slv_orders")
    Path(os.environ["MEDALLION_TEST_BLOCKED"]).write_text("blocked")
    time.sleep(600)
    return session.sql("select 1 as never")
"""


def _project_with_blocker(root: Path) -> Path:
    project = Path(shutil.copytree(REPO / "dbt", root / "dbt-with-blocker", dirs_exist_ok=True))
    for generated in ("target", "logs", "dbt_packages"):
        shutil.rmtree(project / generated, ignore_errors=True)
    (project / "models" / "silver" / "slv_zz_blocker.py").write_text(BLOCKER)
    return project


def _wait_dead(procs: list[psutil.Process], timeout: float = 30) -> None:
    """Wait until each killed process is a zombie or gone, without reaping it: reaping
    `dags test` here (as psutil.wait_procs does) would leave its Popen an exit code of 0."""
    deadline = time.monotonic() + timeout
    for proc in procs:
        while time.monotonic() < deadline:
            try:
                if proc.status() == psutil.STATUS_ZOMBIE:
                    break
            except psutil.NoSuchProcess:
                break
            time.sleep(0.05)


def _kill_when_silver_blocks(world: World, blocked: Path, stop: threading.Event) -> dict[str, Any]:
    """SIGKILL the `airflow dags test` process tree (the task runs in it) once the blocking
    silver model runs; report what the killed try had written."""
    seen: dict[str, Any] = {}
    me = psutil.Process()
    pattern = "dbt_transform/*/silver.dbt_run_silver/try_1/dbt.log"
    earlier = set(world.settings.artifacts_dir.glob(pattern))
    while not stop.is_set():
        if blocked.exists():
            procs = [p for p in me.children(recursive=True) if "dags" in " ".join(p.cmdline())]
            for proc in procs:
                for child in proc.children(recursive=True):
                    child.kill()
                proc.kill()
            _wait_dead(procs)
            logs = [log for log in world.settings.artifacts_dir.glob(pattern) if log not in earlier]
            seen["killed"] = len(procs)
            seen["results_written"] = bool(logs) and (logs[0].parent / "run_results.json").exists()
            seen["log"] = logs[0].read_text(errors="replace") if logs else ""
            return seen
        time.sleep(0.05)
    return seen


def test_sigkill_during_silver_then_rerun_is_consistent(
    clean_world: World, http_receiver, smtp_receiver, recorder
) -> None:
    stop = threading.Event()
    killed: dict[str, Any] = {}
    blocked = clean_world.root / "silver-blocked"
    blocked.unlink(missing_ok=True)
    project = _project_with_blocker(clean_world.root)
    watcher = threading.Thread(
        target=lambda: killed.update(_kill_when_silver_blocks(clean_world, blocked, stop))
    )
    watcher.start()
    try:
        first = clean_world.run(
            {"MEDALLION_DBT_PROJECT_DIR": str(project), "MEDALLION_TEST_BLOCKED": str(blocked)},
            logical_date=KILL_DATE,
        )
    finally:
        stop.set()
        watcher.join()

    assert killed.get("killed"), "silver never started"
    assert not killed["results_written"], "killed mid-layer: silver's dbt never finished"
    assert first.state != "success" and first.returncode != 0
    assert first.tasks["silver.dbt_run_silver"].state in ("running", None)
    assert lock_path(clean_world.settings).read_text() != ""  # the holder died holding it
    models_done = killed["log"].count("OK created")

    seen = run_scenario(clean_world, http_receiver, smtp_receiver, logical_date=KILL_DATE)

    assert seen.outcome.state == "success", seen.outcome.log_file.read_text()[-5000:]
    assert _runs_of(clean_world, KILL_DATE) == [seen.outcome.run_id], "the same interval re-ran"
    assert _duplicates(clean_world) == dict.fromkeys(GRAINS, 0)
    assert _leftovers(clean_world) == []
    _silver, gold = gold_and_silver(clean_world)
    assert gold == clean_world.baseline["gold"], "gold as a clean run of the same data"
    recorder.record(
        "SIGKILL during silver, then re-run",
        injected=f"`airflow dags test` (the task process) SIGKILLed after {models_done} silver "
        "model(s) were built, before silver's dbt finished",
        tasks=f"killed run left {first.state}; re-run of the same interval: "
        + describe_tasks(seen.outcome),
        published="gold identical to a clean run (checksums); no duplicate keys in "
        + ", ".join(GRAINS)
        + "; no __dbt_tmp/backup relations left",
        quarantine=describe_quarantine(clean_world.quarantine()),
        alert=describe_alerts(seen.webhook),
    )


def test_same_interval_twice_leaves_gold_identical(
    clean_world: World, http_receiver, smtp_receiver, recorder
) -> None:
    seen = run_scenario(clean_world, http_receiver, smtp_receiver, logical_date=BASELINE_DATE)

    assert seen.outcome.state == "success"
    assert _runs_of(clean_world, BASELINE_DATE) == [seen.outcome.run_id], "the run was replaced"
    _silver, gold = gold_and_silver(clean_world)
    assert gold == clean_world.baseline["gold"]
    assert _duplicates(clean_world) == dict.fromkeys(GRAINS, 0)
    recorder.record(
        "same interval run twice",
        injected=f"the baseline's interval ({BASELINE_DATE}) run again on the same data",
        tasks=describe_tasks(seen.outcome),
        published="gold identical (checksums of " + ", ".join(GRAINS_GOLD) + "); no duplicates",
        quarantine=describe_quarantine(clean_world.quarantine()),
        alert=describe_alerts(seen.webhook),
    )


GRAINS_GOLD = [g.split(".")[1] for g in GOLD]


def test_second_pipeline_on_the_same_warehouse_fails_clearly(clean_world: World, recorder) -> None:
    cli = [sys.executable, "-m", "medallion.cli", "run", "--source", str(clean_world.source)]
    runs_before = last_run_pk(clean_world.settings.airflow_home, DAG_ID)
    first = subprocess.Popen(cli, env=clean_world.env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)  # fmt: skip
    lock = lock_path(clean_world.settings)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and str(first.pid) not in (
        lock.read_text() if lock.exists() else ""
    ):
        time.sleep(0.05)
    holder = json.loads(lock.read_text())
    assert holder["pid"] == first.pid and holder["owner"] == "medallion run"

    second = subprocess.run(cli, env=clean_world.env, capture_output=True, text=True, timeout=120)
    load = subprocess.run(
        [sys.executable, "-m", "medallion.cli", "load", "--source", str(clean_world.source)],
        env=clean_world.env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    out, _ = first.communicate(timeout=600)

    assert first.returncode == 0, out[-3000:]
    for refused in (second, load):
        assert refused.returncode == EXIT_TRANSIENT
        message = refused.stderr.strip().splitlines()[-1]
        assert "is in use by another pipeline run" in message, message
        assert f"held by medallion run (pid {first.pid}" in message
        assert "This run changed nothing" in message
    assert last_run_pk(clean_world.settings.airflow_home, DAG_ID) == runs_before + 1, (
        "only the first ran the DAG"
    )
    assert read_dag_run(clean_world.settings, runs_before).state == "success"
    _silver, gold = gold_and_silver(clean_world)
    assert gold == clean_world.baseline["gold"]
    recorder.record(
        "two pipelines at once",
        injected="`medallion run`, then a second `medallion run` and a `medallion load` on the "
        "same warehouse while the first runs",
        tasks="first: run success; second and load: exit 75 (transient) at once, nothing started",
        published="gold identical to the baseline (the first run's data); one DAG run",
        quarantine="empty",
        # the clauses asserted above (pid, host and paths vary from run to run)
        alert="none (no DAG run); the second's stderr: warehouse ... is in use by another "
        "pipeline run: lock <warehouse>.pipeline.lock held by medallion run (pid ...); ... This "
        "run changed nothing.",
    )


def test_sentinel_secrets_appear_nowhere(
    clean_world: World, http_receiver, smtp_receiver, recorder
) -> None:
    """A failing run alerts on every channel; the sentinel secrets reach only the channel that
    needs them (SMTP login, Slack's URL path), never a log, artifact, XCom or alert body."""
    from medallion.airflow_env import airflow_env, ensure_admin_password

    export = clean_world.export("bad_status")
    header = export.records("sales.SalesOrderHeader")[0]
    export.update("sales.SalesOrderHeader", "SalesOrderID", header["SalesOrderID"], {"Status": "9"})
    clean_world.load(export)

    seen = run_scenario(clean_world, http_receiver, smtp_receiver)  # asserts no leak in this run

    assert seen.outcome.state == "failed" and seen.alerts("failure")
    assert seen.slack and seen.mails, "every channel was exercised"
    assert ("alerts", SECRETS["smtp"]) in smtp_receiver.logins
    assert any(SECRETS["slack"] in path for path, _ in http_receiver.posts)
    # and nothing anywhere the session wrote: every run's logs, artifacts, state, caches
    settings = clean_world.settings
    everything = read_all(files_under(settings.home, settings.airflow_home / "logs"))
    everything["emails"] = "\n".join(mail_text(m) for m in seen.mails)
    assert leaks(SECRETS, everything) == []
    # the local Airflow's login is generated, never admin/admin
    env = airflow_env(settings)
    _user, password = ensure_admin_password(settings)
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"].split(":")[0] != "admin"
    assert password != "admin" and len(password) >= 12
    recorder.record(
        "sentinel secrets",
        injected="MEDALLION_MSSQL_PASSWORD, Slack webhook token (AIRFLOW_CONN_SLACK_DEFAULT), "
        "SMTP password (AIRFLOW_CONN_SMTP_DEFAULT), token in MEDALLION_ALERT_WEBHOOK_URL; a "
        "silver test fails so every channel alerts",
        tasks=describe_tasks(seen.outcome),
        published=f"found in none of {len(everything)} files/logs/artifacts (every run of "
        "the suite), XComs or alert bodies; only in the SMTP login and Slack's URL path",
        quarantine=describe_quarantine(clean_world.quarantine()),
        alert=describe_alerts(seen.webhook),
    )
