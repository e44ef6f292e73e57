"""The DAG under a real Airflow 3.3 (scheduler, LocalExecutor task processes, api-server),
driven through REST API v2 and looked at in headless Chromium.

Unlike `airflow dags test`, every task runs in its own process started by the executor and
talks to the api-server's Execution API: this is what a deployment does. One Airflow serves
the whole module: a green run, then a run on deliberately broken data.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import pytest

from medallion import ops, report
from medallion.config import Settings
from medallion.connections import connect
from medallion.devtools.local_airflow import DAG_ID, LocalAirflow, free_port
from medallion.names import GOLD_RELATIONS, LAYERS
from tests.browser import Chromium
from tests.dags.dag_support import HttpReceiver, serving_http, webhook_posts

pytestmark = [pytest.mark.ui, pytest.mark.e2e, pytest.mark.timeout(1500)]

RUN_TIMEOUT_S = 480  # one DAG run on SF 0.02 takes about a minute on 2 cores
DBT_TASKS = [f"{layer}.dbt_{step}_{layer}" for layer in LAYERS for step in ("run", "test")]


# Far below one run's duration (about a minute): every run misses its DAG-run deadline.
DEADLINE_S = 10


@dataclass
class Deployment:
    settings: Settings
    airflow: LocalAirflow
    run_id: str
    state: str
    receiver: HttpReceiver  # the JSON webhook alert channel

    @property
    def alerts(self) -> list[dict[str, Any]]:
        """Every alert the deployment sent through the webhook channel."""
        return webhook_posts(self.receiver)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, chromium: str) -> Iterator[Deployment]:
    from medallion.loading.api import load

    home = tmp_path_factory.mktemp("ui") / "home"
    with serving_http() as receiver:
        env = {
            "MEDALLION_HOME": str(home),
            "MEDALLION_DAGRUN_DEADLINE_SECONDS": str(DEADLINE_S),
            "MEDALLION_ALERT_WEBHOOK_URL": receiver.url("/hook/ui"),
            "MEDALLION_DUCKDB_THREADS": "1",
            "MEDALLION_RETRY_DELAY_SECONDS": "5",
            "MEDALLION_MAX_RETRY_DELAY_SECONDS": "10",
            # only the runs this test triggers: no catch-up of the hourly schedule on unpause
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        }
        settings = Settings.from_env(env)
        load(settings, source=None, scale=0.02, seed=7)
        with LocalAirflow(settings, free_port(), extra_env=env) as airflow:
            dag = airflow.wait_for_dag(DAG_ID)
            assert dag["is_paused"], "dbt_transform must start paused"
            run_id = airflow.trigger(DAG_ID)
            airflow.set_paused(DAG_ID, False)
            state = airflow.wait_for_run(DAG_ID, run_id, RUN_TIMEOUT_S)
            yield Deployment(settings, airflow, run_id, state, receiver)


def test_dag_run_succeeds_with_every_task_green(deployment: Deployment) -> None:
    states = deployment.airflow.task_states(DAG_ID, deployment.run_id)
    assert deployment.state == "success", states
    assert set(DBT_TASKS) <= set(states)
    assert {task: states[task] for task in states} == {task: "success" for task in states}
    # each dbt task ran in its own process and left its artifacts where ops reads them
    summaries = {
        s.task_id: s
        for s in ops.summaries_from_artifacts(deployment.settings, DAG_ID, deployment.run_id)
    }
    for task in DBT_TASKS:
        assert summaries[task].nodes, f"{task} left no dbt results"
    with duckdb.connect(str(deployment.settings.warehouse), read_only=True) as con:
        for relation in GOLD_RELATIONS:
            assert con.execute(f"select count(*) from {relation}").fetchone()[0] > 0, relation


def test_deadline_miss_fires_its_alert_through_the_triggerer(deployment: Deployment) -> None:
    """The run outlived its DAG-run deadline: the scheduler saw the miss and the triggerer ran
    the DeadlineAlert's async callback, which alerted through the webhook channel."""

    def missed() -> list[dict[str, Any]]:
        return [
            a
            for a in deployment.alerts
            if a.get("kind") == "deadline_missed" and a.get("run_id") == deployment.run_id
        ]

    waited = 0.0
    while waited < 120 and not missed():
        time.sleep(0.5)  # the callback may still be on its way from the triggerer
        waited += 0.5
    assert len(missed()) == 1, deployment.alerts
    assert missed()[0]["deadline_at"], missed()
    assert deployment.airflow.password not in json.dumps(missed())


def test_task_logs_are_served_with_the_dbt_summary(deployment: Deployment) -> None:
    """Task logs written by the executor's task processes, read back through the REST API."""
    import httpx

    airflow = deployment.airflow
    run = quote(deployment.run_id, safe="")
    path = f"/api/v2/dags/{DAG_ID}/dagRuns/{run}/taskInstances/silver.dbt_test_silver/logs/1"
    with httpx.Client(base_url=airflow.url, timeout=30, trust_env=False) as client:
        resp = client.get(
            path,
            params={"full_content": "true"},
            headers={"Authorization": f"Bearer {airflow.token()}", "Accept": "application/json"},
        )
    assert resp.status_code == 200, resp.text[:500]
    events = [e.get("event", "") for e in resp.json()["content"] if isinstance(e, dict)]
    text = "\n".join(str(e) for e in events)
    assert "dbt test silver:" in text and "0 failed" in text, text[-2000:]
    assert airflow.password not in resp.text


def _login(browser: Chromium, airflow: LocalAirflow, next_path: str) -> None:
    """The real login form, with the generated credentials."""
    browser.goto(f"{airflow.url}/auth/login?next={quote(next_path, safe='')}")
    browser.wait_for("!!document.querySelector('input[name=username]')", what="login form")
    for name, value in (("username", airflow.user), ("password", airflow.password)):
        browser.evaluate(f"document.querySelector('input[name={name}]').focus()")
        browser.send("Input.insertText", {"text": value})
    browser.wait_for("!document.querySelector('button[type=submit]').disabled")
    browser.evaluate("document.querySelector('button[type=submit]').click()")
    browser.wait_for("!location.pathname.startsWith('/auth')", what="redirect after login")


def _click(browser: Chromium, aria_label: str) -> None:
    selector = f'button[aria-label^="{aria_label}"]'
    browser.wait_for(f"!!document.querySelector('{selector}')", what=aria_label)
    browser.evaluate(f"document.querySelector('{selector}').click()")


def test_graph_view_shows_the_three_task_groups(
    deployment: Deployment,
    tmp_path: Path,
    publish_screenshot: Callable[[Path, str], Path | None],
) -> None:
    airflow = deployment.airflow
    run_path = f"/dags/{DAG_ID}/runs/{quote(deployment.run_id, safe='')}"
    with Chromium(width=1600, height=820) as browser:
        _login(browser, airflow, run_path)
        browser.wait_for(f"location.pathname === {run_path!r}", what="the run page")
        _click(browser, "Show Graph")
        browser.wait_for("document.querySelectorAll('.react-flow__node').length >= 3")
        _click(browser, "Expand all task groups")
        nodes = browser.wait_for(
            "(() => { const n = Array.from(document.querySelectorAll('.react-flow__node'))"
            "  .map(e => [e.getAttribute('data-id'), e.innerText]);"
            "  return n.length >= 9 ? n : null; })()",
            what="expanded task groups",
        )
        _click(browser, "Collapse Details Panel")
        _click(browser, "Fit View")
        time.sleep(1.5)  # the fit-view animation
        shot = browser.screenshot(tmp_path / "airflow_graph.png")
    by_id = dict(nodes)
    for layer in LAYERS:
        assert layer in by_id, f"TaskGroup {layer} not in the graph: {sorted(by_id)}"
        assert "Task Group" in by_id[layer]
    for task in DBT_TASKS:
        assert "success" in by_id[task], (task, by_id.get(task))
    assert shot.stat().st_size > 20_000
    publish_screenshot(shot, "airflow_graph.png")


def _dag_outlets(airflow: LocalAirflow) -> list[str]:
    assets = airflow.request("GET", f"/api/v2/assets?dag_ids={DAG_ID}&limit=100")["assets"]
    return sorted(a["name"] for a in assets if a.get("producing_tasks"))


def test_gold_assets_get_events_after_a_green_run(deployment: Deployment) -> None:
    produced = _dag_outlets(deployment.airflow)
    assert produced == sorted(GOLD_RELATIONS)
    events = deployment.airflow.asset_events(source_dag_id=DAG_ID, source_run_id=deployment.run_id)
    assert sorted(e["name"] for e in events) == sorted(GOLD_RELATIONS)


def test_green_run_report(
    deployment: Deployment,
    tmp_path: Path,
    publish_screenshot: Callable[[Path, str], Path | None],
) -> None:
    """The report of the run, opened in Chromium: every chart drawn, no failure shown."""
    settings, run_id = deployment.settings, deployment.run_id
    _ensure_recorded(deployment, run_id)
    history = report.load_run(settings, run_id)
    assert history.run["status"] == "success"
    assert {s.status for s in report.layer_summaries(history)} == {"success"}
    path = report.write_report(settings, history)
    with Chromium(width=1400, height=900) as browser:
        browser.goto(path.as_uri(), wait_s=60)
        browser.wait_for(
            "document.querySelectorAll('.plot .js-plotly-plot .main-svg').length >= 6",
            timeout_s=60,
            what="plotly charts",
        )
        shot = browser.screenshot(tmp_path / "report.png", full_page=True)
    assert shot.stat().st_size > 50_000
    publish_screenshot(shot, "report.png")


def _ensure_recorded(deployment: Deployment, run_id: str) -> None:
    """The DAG's own record_run task (a teardown) wrote this run into ops."""
    with connect(deployment.settings, read_only=True) as con:
        assert ops.has_ops(con), "record_run never created the ops schema"
        recorded = con.execute(
            "select count(*) from ops.pipeline_runs where run_id = ?", [run_id]
        ).fetchone()[0]
    assert recorded == 1, f"run {run_id} is not in ops.pipeline_runs"
    assert deployment.airflow.task_states(DAG_ID, run_id)["record_run"] == "success"


def test_broken_data_fails_the_run_and_emits_no_gold_event(deployment: Deployment) -> None:
    """A newly loaded order reusing an old order's id fails bronze's unique test (the hourly
    gate looks the batch's keys up in the whole table): later layers never run."""
    settings, airflow = deployment.settings, deployment.airflow
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute(
            "insert into sales.SalesOrderHeader select * replace "
            "(cast(timezone('UTC', now()) as timestamp) as _loaded_at) "
            "from sales.SalesOrderHeader order by 1 limit 1"
        )
    run_id = airflow.trigger(DAG_ID)
    assert airflow.wait_for_run(DAG_ID, run_id, RUN_TIMEOUT_S) == "failed"
    states = airflow.task_states(DAG_ID, run_id)
    assert states["bronze.dbt_run_bronze"] == "success"
    assert states["bronze.dbt_test_bronze"] == "failed"
    for task in DBT_TASKS[2:]:
        assert states[task] == "upstream_failed", (task, states[task])
    assert airflow.asset_events(source_dag_id=DAG_ID, source_run_id=run_id) == []
    _ensure_recorded(deployment, run_id)
    history = report.load_run(settings, run_id)
    assert history.run["status"] == "failed"
    failed = [n for n in history.nodes if n["status"] in ("fail", "error")]
    assert failed and all(n["layer"] == "bronze" and n["node_type"] == "test" for n in failed)
    assert any("unique" in n["name"] for n in failed)
