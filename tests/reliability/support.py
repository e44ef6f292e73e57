"""Shared steps of the reliability tests: run a scenario through the real DAG with every alert
channel on and sentinel secrets set, then check what leaked (nothing may)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from medallion.dbt import safe_path_part
from medallion.devtools.pipeline import DagRunOutcome
from tests.dags.dag_support import alert_env, mail_text, slack_posts, webhook_posts
from tests.reliability.faults import GOLD, SECRETS, World
from tests.reliability.scenarios import dumps, files_under, leaks, read_all


@dataclass
class Observed:
    outcome: DagRunOutcome
    webhook: list[Any]
    slack: list[Any]
    mails: list[Any]

    def alerts(self, kind: str) -> list[dict[str, Any]]:
        return [p for p in self.webhook if isinstance(p, dict) and p.get("kind") == kind]

    def state(self, task: str) -> tuple[str | None, int]:
        t = self.outcome.tasks[task]
        return t.state, t.try_number


def run_scenario(
    world: World,
    http: Any,
    smtp: Any,
    *,
    logical_date: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> Observed:
    """The DAG on the world's warehouse, alerts to the local receivers; then the leak check."""
    outcome = world.run({**alert_env(http, smtp), **(extra_env or {})}, logical_date)
    observed = Observed(outcome, webhook_posts(http), slack_posts(http), list(smtp.messages))
    assert not secret_leaks(world, observed, http), secret_leaks(world, observed, http)
    return observed


def secret_leaks(world: World, observed: Observed, http: Any) -> list[str]:
    """Every place a sentinel secret shows up: the dags-test log, Airflow's task logs of the
    run, dbt's artifacts of the run (manifest, run_results, compiled SQL, dbt.log), the
    partial-parse cache, the retry state, the run's XComs, and every alert body sent."""
    settings = world.settings
    run_dir = safe_path_part(observed.outcome.run_id or "none")
    blobs = read_all(
        files_under(
            observed.outcome.log_file,
            settings.artifacts_dir / "dbt_transform" / run_dir,
            settings.artifacts_dir / ".partial_parse",
            settings.home / "state",
            settings.airflow_home / "logs",
        )
    )
    with sqlite3.connect(settings.airflow_home / "airflow.db") as con:
        xcoms = con.execute(
            "select task_id, value from xcom where run_id = ?", (observed.outcome.run_id,)
        ).fetchall()
    blobs["xcom"] = dumps(xcoms)
    blobs["alert bodies"] = dumps([payload for _, payload in http.posts])
    blobs["emails"] = "\n".join(mail_text(m) for m in observed.mails)
    return leaks(SECRETS, blobs)


def gold_and_silver(world: World) -> tuple[dict[str, Any], dict[str, Any]]:
    return world.checksums(world.baseline["silver"]), world.checksums(GOLD)
