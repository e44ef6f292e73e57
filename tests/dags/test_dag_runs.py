"""The real DAG under `airflow dags test`, on a small dbt project and a real DuckDB file.

Each test asserts what Airflow recorded (task states and try numbers in the metadata DB),
what landed in the warehouse, and what the alert receivers got.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.dags.dag_support import (
    SENTINELS,
    alert_env,
    mail_text,
    seed_orders,
    slack_posts,
    webhook_posts,
    xcom_summaries,
)

pytestmark = pytest.mark.e2e

DBT_TASKS = [
    f"{layer}.{step}_{layer}"
    for layer in ("bronze", "silver", "gold")
    for step in ("dbt_run", "dbt_test", "publish")
]
TASKS = [*DBT_TASKS, "record_run"]


def bodies(receiver: Any) -> list[Any]:
    """Request bodies only: a webhook URL's own path is where its token belongs."""
    return [payload for _, payload in receiver.posts]


def _no_secrets(*blobs: Any) -> None:
    text = "\n".join(b if isinstance(b, str) else json.dumps(b, default=str) for b in blobs)
    for secret in SENTINELS.values():
        assert secret not in text


def test_run_succeeds_populates_gold_and_flags_sla(pipeline, http_receiver, smtp_receiver):
    seed_orders(pipeline.settings.warehouse)
    outcome = pipeline.dags_test(
        **alert_env(http_receiver, smtp_receiver),
        MEDALLION_TASK_SLA_SECONDS="1",
        MEDALLION_TEST_PAUSE_SECONDS="2",  # brz_pause sleeps: bronze's run task outlasts 1 s
    )

    assert outcome.state == "success", outcome.log_file.read_text()[-5000:]
    assert outcome.returncode == 0
    assert {t: (o.state, o.try_number) for t, o in outcome.tasks.items()} == {
        t: ("success", 1) for t in TASKS
    }
    assert pipeline.query("select order_count, total_due from gold.fct_sales_daily") == [
        (33, sum(10.0 * i for i in range(1, 50) if (1 + i % 6) not in (4, 6)))
    ]
    artifacts = pipeline.settings.artifacts_dir / "dbt_transform"
    results = list(artifacts.glob("*/bronze.dbt_run_bronze/try_1/run_results.json"))
    assert len(results) == 1

    xcoms = xcom_summaries(pipeline.settings.airflow_home, outcome.run_id)
    assert sorted(xcoms) == sorted(DBT_TASKS)
    assert xcoms["gold.dbt_run_gold"]["success"] is True
    assert xcoms["gold.dbt_run_gold"]["invocations"][0]["nodes"][0]["name"] == "fct_sales_daily"

    sla = [p for p in webhook_posts(http_receiver) if p["kind"] == "sla_missed"]
    assert "bronze.dbt_run_bronze" in {p["task_id"] for p in sla}
    bronze = next(p for p in sla if p["task_id"] == "bronze.dbt_run_bronze")
    assert bronze["state"] == "success" and bronze["sla_s"] == 1.0 and bronze["duration_s"] > 1
    assert any(
        "SLA missed dbt_transform.bronze.dbt_run_bronze" in p["text"]
        for p in slack_posts(http_receiver)
    )
    assert any("SLA missed" in m["Subject"] for m in smtp_receiver.messages)
    # no failure, retry or recovery alert on a clean run
    assert {p["kind"] for p in webhook_posts(http_receiver)} == {"sla_missed"}
    _no_secrets(bodies(http_receiver), [mail_text(m) for m in smtp_receiver.messages])


def test_failing_silver_test_fails_fast_and_blocks_gold(pipeline, http_receiver, smtp_receiver):
    seed_orders(pipeline.settings.warehouse, bad_status=True)
    outcome = pipeline.dags_test(**alert_env(http_receiver, smtp_receiver))

    assert outcome.state == "failed"
    states = {t: (o.state, o.try_number) for t, o in outcome.tasks.items()}
    assert states["silver.dbt_test_silver"] == ("failed", 1)  # no retry of a data failure
    assert states["silver.dbt_run_silver"] == ("success", 1)
    assert states["gold.dbt_run_gold"][0] == "upstream_failed"
    assert states["gold.dbt_test_gold"][0] == "upstream_failed"
    with pytest.raises(Exception, match="fct_sales_daily"):
        pipeline.query("select * from gold.fct_sales_daily")  # gold never built

    failures = [p for p in webhook_posts(http_receiver) if p["kind"] == "failure"]
    assert len(failures) == 1
    alert = failures[0]
    assert alert["task_id"] == "silver.dbt_test_silver"
    assert alert["error_type"] == "DataQualityError"
    assert alert["try_number"] == 1 and alert["run_id"] == outcome.run_id
    assert alert["log_url"].startswith("http") and alert["logical_date"]
    assert "Traceback" in alert["traceback"]
    [node] = alert["failed_nodes"]
    assert node["name"].startswith("accepted_values_slv_orders_status")
    assert node["failures"] == 1 and node["status"] == "fail"
    assert alert["troubleshooting"]
    assert not [p for p in webhook_posts(http_receiver) if p["kind"] == "retry"]

    [slack] = [p for p in slack_posts(http_receiver) if "FAILED" in p["text"]]
    assert (
        "accepted_values_slv_orders_status" in slack["text"] and "1 failing rows" in slack["text"]
    )
    [mail] = [m for m in smtp_receiver.messages if "FAILED" in m["Subject"]]
    assert mail["To"] == "oncall@example.com"
    html = mail_text(mail)
    assert "accepted_values_slv_orders_status" in html and "<li>" in html
    assert smtp_receiver.logins == [("alerts", SENTINELS["smtp"])]  # the password reached SMTP only
    _no_secrets(bodies(http_receiver), [mail_text(m) for m in smtp_receiver.messages])
    _no_secrets(outcome.log_file.read_text())


def test_locked_warehouse_is_retried_and_recovers(pipeline, http_receiver, smtp_receiver):
    """The warehouse file is locked by another process until the first try has failed."""
    warehouse = pipeline.settings.warehouse
    seed_orders(warehouse)
    locker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('locked', flush=True); "
            "sys.stdin.read()",
            str(warehouse),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert locker.stdout.readline().strip() == "locked"

    def release_on_retry(path: str, payload: Any) -> None:
        if isinstance(payload, dict) and payload.get("kind") == "retry":
            locker.stdin.close()  # the locker exits, releasing the DuckDB lock
            # Answer the retry alert only once the lock is gone: the next try never races
            # the locker's exit.
            locker.wait(timeout=60)

    http_receiver.on_post = release_on_retry
    try:
        outcome = pipeline.dags_test(**alert_env(http_receiver, smtp_receiver))
    finally:
        locker.kill()
        locker.wait()

    assert outcome.state == "success", outcome.log_file.read_text()[-5000:]
    assert outcome.tasks["bronze.dbt_run_bronze"].try_number == 2
    assert all(o.state == "success" for o in outcome.tasks.values())
    kinds = [(p["kind"], p["task_id"]) for p in webhook_posts(http_receiver)]
    assert ("retry", "bronze.dbt_run_bronze") in kinds
    assert ("recovered", "bronze.dbt_run_bronze") in kinds
    assert ("failure", "bronze.dbt_run_bronze") not in kinds
    retry = next(p for p in webhook_posts(http_receiver) if p["kind"] == "retry")
    assert retry["error_type"] == "WarehouseBusyError"
    assert "retrying (try 2 of 3)" in retry["summary"]
    recovered = next(p for p in webhook_posts(http_receiver) if p["kind"] == "recovered")
    assert "recovered after 2 tries" in recovered["summary"]
    first_try = pipeline.settings.artifacts_dir.glob("dbt_transform/*/bronze.dbt_run_bronze/try_1")
    assert list(first_try), "each try keeps its own artifacts"


class UpstreamDeadlineCrash(Exception):
    """`airflow dags test` crashed after a green run of a DAG with a DeadlineAlert."""


@pytest.mark.xfail(
    raises=UpstreamDeadlineCrash,
    strict=True,
    reason="apache/airflow#73428: `dags test` crashes in DagRun.update_state after a "
    "successful run of a DAG with a DeadlineAlert. When this test XPASSes (fails as strict), "
    "upstream is fixed: drop the deadline switch-off in medallion.devtools.pipeline.dags_test_env.",
)
def test_dag_with_deadline_runs_under_dags_test(pipeline):
    """With the DeadlineAlert on, every task runs and succeeds under `dags test`; only the
    known upstream crash at the very end may turn the run red, and nothing else."""
    from medallion.devtools.pipeline import dags_test_env, run_dag

    seed_orders(pipeline.settings.warehouse)
    settings = pipeline.settings
    env = dags_test_env(settings, base=pipeline.env)
    env["MEDALLION_DAGRUN_DEADLINE_SECONDS"] = "3600"
    outcome = run_dag(settings, env=env, echo=False)

    assert {t: o.state for t, o in outcome.tasks.items()} == {t: "success" for t in TASKS}
    if "'dict' object has no attribute 'hex'" in outcome.log_file.read_text():
        raise UpstreamDeadlineCrash(outcome.state)
    assert outcome.state == "success", outcome.log_file.read_text()[-3000:]
