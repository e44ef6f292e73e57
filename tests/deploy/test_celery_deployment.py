"""The DAG on a distributed Airflow, as docs/DEPLOYMENT.md sets it up: PostgreSQL metadata
database, Redis broker, CeleryExecutor, two worker hosts that share no local disk.

One deployment serves the module (`medallion.devtools.deployment` says what stands in for
what: each worker is a host of its own at 127.0.0.2 / 127.0.0.3 with its own MEDALLION_HOME;
the warehouse file and the `file://` try-state folder stand in for the shared warehouse and
object store). Two runs, triggered through the REST API v2:

1. a clean run, whose gold is the reference;
2. a full refresh during which the worker running `silver.dbt_run_silver` is killed with
   SIGKILL once the task has finished some of its models: the scheduler notices the missed
   heartbeats, the retry lands on the surviving worker and re-runs only what the dead try left
   unfinished, and the run ends green with the reference gold.

Every run outlives its DAG-run deadline (10 s), so the triggerer must alert on each.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import psutil
import pytest

from medallion.config import Settings
from medallion.dbt import safe_path_part
from medallion.devtools.deployment import CeleryDeployment
from medallion.names import DAG_ID, GOLD_RELATIONS, LAYERS
from tests.dags.dag_support import HttpReceiver, serving_http, webhook_posts
from tests.reliability.faults import checksums

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2400)]

RUN_TIMEOUT_S = 900  # a run takes about 2.5 minutes on 2 cores; the kill adds about 1
KILLED_TASK = "silver.dbt_run_silver"
DEADLINE_S = 10


@dataclass
class Cluster:
    deployment: CeleryDeployment
    receiver: HttpReceiver
    state_dir: Path
    warehouse: Path
    runs: dict[str, str] = field(default_factory=dict)  # "clean"/"killed" -> run id
    states: dict[str, str] = field(default_factory=dict)
    reference_gold: dict[str, Any] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)  # task id -> log text (clean run)
    killed_host: str = ""
    killed_pids: list[int] = field(default_factory=list)

    def task_instances(self, run: str) -> dict[str, dict[str, Any]]:
        tis = self.deployment.airflow.task_instances(DAG_ID, self.runs[run])
        return {ti["task_id"]: ti for ti in tis}

    def try_record(self, run: str, task_id: str, try_number: int) -> dict[str, Any] | None:
        path = (
            self.state_dir / DAG_ID / safe_path_part(self.runs[run]) / safe_path_part(task_id)
            / f"try_{try_number}.json"
        )  # fmt: skip
        try:
            return json.loads(path.read_text())
        except (FileNotFoundError, ValueError):  # not written yet, or mid-write
            return None


def _task_log(cluster: Cluster, run: str, task_id: str, try_number: int) -> str:
    run_id = quote(cluster.runs[run], safe="")
    data = cluster.deployment.airflow.request(
        "GET",
        f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
    )
    return json.dumps(data["content"])


def _kill_mid_task(cluster: Cluster, timeout_s: float = RUN_TIMEOUT_S) -> None:
    """Wait until the task runs and has finished at least one model, then kill its host."""
    airflow = cluster.deployment.airflow
    deadline = time.monotonic() + timeout_s
    host = ""
    while not host and time.monotonic() < deadline:
        ti = cluster.task_instances("killed").get(KILLED_TASK, {})
        host = ti.get("hostname") or "" if ti.get("state") == "running" else ""
        time.sleep(0.2)
    assert host, f"{KILLED_TASK} never started running"
    while time.monotonic() < deadline:
        record = cluster.try_record("killed", KILLED_TASK, 1)
        if record and record["result"]["invocations"][0]["nodes"]:
            assert record["in_progress"], (
                f"{KILLED_TASK} finished before the kill; the test has to kill it mid-way"
            )
            cluster.killed_pids = cluster.deployment.kill_worker(host)
            cluster.killed_host = host
            return
        time.sleep(0.02)
        airflow._check_alive()
    raise AssertionError(f"{KILLED_TASK} reported no finished model")


def _our_processes() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    from medallion.loading.api import load

    root = tmp_path_factory.mktemp("deploy")
    before = _our_processes()
    with serving_http() as receiver:
        shared = {
            # what every host of a deployment shares: the warehouse and the object store
            "MEDALLION_WAREHOUSE": str(root / "shared" / "warehouse.duckdb"),
            "MEDALLION_STATE_URL": (root / "shared" / "state").as_uri(),
            "MEDALLION_ALERT_WEBHOOK_URL": receiver.url("/hook/deploy"),
            "MEDALLION_DAGRUN_DEADLINE_SECONDS": str(DEADLINE_S),
            "MEDALLION_DUCKDB_THREADS": "1",
            "MEDALLION_RETRY_DELAY_SECONDS": "5",
            "MEDALLION_MAX_RETRY_DELAY_SECONDS": "10",
            # only the runs this test triggers: no catch-up of the hourly schedule on unpause
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        }
        (root / "shared").mkdir()
        settings = Settings.from_env({**shared, "MEDALLION_HOME": str(root / "scheduler")})
        load(settings, source=None, scale=0.02, seed=7)
        with CeleryDeployment(settings, shared) as deployment:
            cluster = Cluster(deployment, receiver, root / "shared" / "state", settings.warehouse)
            airflow = deployment.airflow
            airflow.wait_for_dag(DAG_ID)
            cluster.runs["clean"] = airflow.trigger(DAG_ID)
            airflow.set_paused(DAG_ID, False)
            cluster.states["clean"] = airflow.wait_for_run(
                DAG_ID, cluster.runs["clean"], RUN_TIMEOUT_S
            )
            cluster.reference_gold = checksums(settings.warehouse, GOLD_RELATIONS)
            # read now: a killed host's log server goes with it
            for task_id, ti in cluster.task_instances("clean").items():
                cluster.logs[task_id] = _task_log(cluster, "clean", task_id, ti["try_number"])

            cluster.runs["killed"] = airflow.trigger(DAG_ID, conf={"full_refresh": True})
            _kill_mid_task(cluster)
            cluster.states["killed"] = airflow.wait_for_run(
                DAG_ID, cluster.runs["killed"], RUN_TIMEOUT_S
            )
            yield cluster
    # the deployment's processes: ours, the killed ones, and any naming its folders or ports
    marks = (str(root), str(deployment.postgres.root), f"127.0.0.1:{deployment.redis.port}")
    ours = (_our_processes() - before) | set(cluster.killed_pids)
    left = {
        p.pid: " ".join(p.info["cmdline"][:4])
        for p in psutil.process_iter(["cmdline", "status"])
        if p.info["status"] != psutil.STATUS_ZOMBIE
        and p.info["cmdline"]
        and (p.pid in ours or any(m in " ".join(p.info["cmdline"]) for m in marks))
    }
    assert not left, f"processes left behind by the deployment: {left}"


def test_runs_are_green_and_publish_gold(cluster: Cluster) -> None:
    airflow = cluster.deployment.airflow
    assert cluster.states == {"clean": "success", "killed": "success"}
    for run in ("clean", "killed"):
        states = {t: ti["state"] for t, ti in cluster.task_instances(run).items()}
        assert set(states.values()) == {"success"}, (run, states)
        events = airflow.asset_events(source_dag_id=DAG_ID, source_run_id=cluster.runs[run])
        assert sorted(e["name"] for e in events) == sorted(GOLD_RELATIONS), run
    with duckdb.connect(str(cluster.warehouse), read_only=True) as con:
        recorded = dict(con.execute("select run_id, status from ops.pipeline_runs").fetchall())
    assert recorded == {cluster.runs["clean"]: "success", cluster.runs["killed"]: "success"}


def test_tasks_ran_on_both_workers_and_their_logs_are_served(cluster: Cluster) -> None:
    # the hostnames Airflow recorded on the task instances (the killed try's included: it
    # was read from its task instance while it ran)
    clean = cluster.task_instances("clean")
    ran_on = {ti["hostname"] for run in cluster.runs for ti in cluster.task_instances(run).values()}
    assert ran_on | {cluster.killed_host} == {"127.0.0.2", "127.0.0.3"}
    # the log of every task of the clean run, fetched by the api-server from the worker
    # host that ran it
    assert set(cluster.logs) == set(clean)
    for layer in LAYERS:
        task_id = f"{layer}.dbt_run_{layer}"
        assert "dbt run" in cluster.logs[task_id], (task_id, cluster.logs[task_id][:500])
    assert all("Could not read served logs" not in text for text in cluster.logs.values())


def test_killed_worker_task_is_retried_on_the_other_with_only_the_unfinished_nodes(
    cluster: Cluster,
) -> None:
    [survivor] = [w.host for w in cluster.deployment.workers]
    assert survivor != cluster.killed_host
    ti = cluster.task_instances("killed")[KILLED_TASK]
    assert (ti["state"], ti["try_number"], ti["hostname"]) == ("success", 2, survivor)

    died = cluster.try_record("killed", KILLED_TASK, 1)
    retry = cluster.try_record("killed", KILLED_TASK, 2)
    assert died is not None and died["in_progress"], "the killed try wrote a final record"
    assert retry is not None and not retry["in_progress"] and retry["result"]["success"]
    finished = {
        n["unique_id"] for n in died["result"]["invocations"][0]["nodes"]
        if n["status"] == "success"
    }  # fmt: skip
    whole = {
        n["unique_id"]
        for n in cluster.try_record("clean", KILLED_TASK, 1)["result"]["invocations"][0]["nodes"]
    }
    assert finished and finished < whole
    assert retry["result"]["retry_of"] == 1
    assert set(retry["result"]["carried"]) == finished
    # what try 2 itself ran: every model the dead try had not finished, and nothing else
    rerun = {
        n["unique_id"] for n in retry["result"]["invocations"][0]["nodes"]
        if n["unique_id"] not in finished
    }  # fmt: skip
    assert rerun == whole - finished


def test_gold_after_the_killed_run_equals_the_clean_run(cluster: Cluster) -> None:
    assert all(cluster.reference_gold.values()), cluster.reference_gold
    assert checksums(cluster.warehouse, GOLD_RELATIONS) == cluster.reference_gold


def test_deadline_misses_alert_through_the_triggerer(cluster: Cluster) -> None:
    def missed() -> dict[str, Any]:
        return {
            p["run_id"]: p for p in webhook_posts(cluster.receiver)
            if p.get("kind") == "deadline_missed"
        }  # fmt: skip

    waited = 0.0
    while waited < 120 and len(missed()) < 2:
        time.sleep(0.5)  # the callback may still be on its way from the triggerer
        waited += 0.5
    assert set(missed()) == set(cluster.runs.values()), webhook_posts(cluster.receiver)
    assert all(alert["deadline_at"] for alert in missed().values())
