"""`python -m medallion.ci notify-slack` posting to a local receiver on 127.0.0.1."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.ci.cihelpers import REPO, TOKEN, Receiver, run

DB_PASSWORD = "db-password-sentinel-93ad"


def _results(path: Path, results: list[dict[str, Any]], mtime: float) -> None:
    """A run_results.json in dbt's artifact schema (v6), as a dbt step leaves it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/run-results/v6.json",
                             "invocation_id": "inv-1", "generated_at": "2024-01-01T00:00:00Z"},
                "args": {"which": "test"},
                "elapsed_time": 1.5,
                "results": results,
            }
        ),
        encoding="utf-8",
    )  # fmt: skip
    os.utime(path, (mtime, mtime))


def _node(unique_id: str, status: str, failures: int | None = None, message: str = "") -> dict:
    return {
        "unique_id": unique_id,
        "status": status,
        "failures": failures,
        "message": message,
        "execution_time": 0.1,
        "adapter_response": {},
    }


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    root = tmp_path / "artifacts"
    # An earlier, green step: its nodes must not be reported.
    _results(
        root / "cli" / "20240101T000000Z" / "bronze_test" / "run_results.json",
        [_node("test.medallion.not_null_brz_orders_order_id.1a2b", "pass", 0)],
        mtime=1_700_000_000,
    )
    # The failing step, written last.
    _results(
        root / "cli" / "20240101T000100Z" / "silver_test" / "run_results.json",
        [
            _node("test.medallion.accepted_values_slv_orders_status.9f8e", "fail", 3,
                  f"Got 3 results, configured to fail if != 0 (conn pwd {DB_PASSWORD})"),
            _node("test.medallion.unique_slv_orders_order_id.77aa", "pass", 0),
            _node("model.medallion.slv_customers", "error", None, "Database Error: deadlock"),
        ],
        mtime=1_700_000_100,
    )  # fmt: skip
    return root


def _env(artifacts: Path, url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "SLACK_"))}
    env.update(
        {
            "PYTHONPATH": str(REPO / "src"),
            "MEDALLION_ARTIFACTS_DIR": str(artifacts),
            "MEDALLION_MSSQL_PASSWORD": DB_PASSWORD,
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_REPOSITORY": "acme/medallion",
            "GITHUB_WORKFLOW": "pipeline",
            "GITHUB_RUN_ID": "123456",
            "GITHUB_RUN_ATTEMPT": "2",
            "GITHUB_REF_NAME": "main",
            "GITHUB_SHA": "0123456789abcdef0123",
            "GITHUB_EVENT_NAME": "schedule",
            "MEDALLION_CI_STEPS": json.dumps(
                {
                    "plan": {"outcome": "success", "conclusion": "success", "outputs": {}},
                    "bronze_run": {"outcome": "success", "conclusion": "success", "outputs": {}},
                    "silver_test": {"outcome": "failure", "conclusion": "failure", "outputs": {}},
                    "gold_run": {"outcome": "skipped", "conclusion": "skipped", "outputs": {}},
                }
            ),
        }
    )
    if url is not None:
        env["SLACK_WEBHOOK_URL"] = url
    return env


def _notify(env: dict[str, str]) -> Any:
    return run([sys.executable, "-m", "medallion.ci", "notify-slack"], env=env)


def test_failure_is_posted_with_run_facts_and_failing_nodes(
    receiver: Receiver, artifacts: Path
) -> None:
    result = _notify(_env(artifacts, receiver.url))
    assert result.returncode == 0, result.stderr
    assert len(receiver.posts) == 1
    post = receiver.posts[0]
    assert post["content_type"] == "application/json"
    assert receiver.paths == [f"/services/{TOKEN}"]
    payload = post["json"]
    text = payload["text"]
    assert "acme/medallion" in text
    assert "Workflow: pipeline" in text
    assert "Failed step: silver test" in text
    assert "https://github.com/acme/medallion/actions/runs/123456/attempts/2" in text
    # the DAG's alert builder wrote it: the same node lines and next steps as a task alert
    assert "test accepted_values_slv_orders_status: fail, 3 failing rows" in text
    assert "model slv_customers: error" in text and "deadlock" in text
    assert "Reproduce locally: `medallion layer test silver`" in text
    # Passing nodes and the earlier green step are not reported.
    assert "unique_slv_orders_order_id" not in text
    assert "not_null_brz_orders_order_id" not in text
    assert text.startswith("*[medallion] FAILED pipeline: silver test*")
    # No secret anywhere: not the webhook token, not a password quoted in a dbt message.
    dumped = json.dumps(payload)
    assert "SENTINEL" not in dumped and "slack-token" not in dumped
    assert DB_PASSWORD not in dumped
    assert "***" in text
    assert TOKEN not in result.stdout + result.stderr
    assert "sent (HTTP 200)" in result.stdout


def test_absent_secret_skips_cleanly(receiver: Receiver, artifacts: Path) -> None:
    result = _notify(_env(artifacts, None))
    assert result.returncode == 0
    assert "SLACK_WEBHOOK_URL is not set; Slack notification skipped" in result.stdout
    assert receiver.posts == []
    empty = _notify(_env(artifacts, ""))
    assert empty.returncode == 0 and receiver.posts == []


def test_failure_outside_dbt_still_alerts(receiver: Receiver, tmp_path: Path) -> None:
    env = _env(tmp_path / "no-artifacts", receiver.url)
    env["MEDALLION_CI_STEPS"] = json.dumps({"environment": {"outcome": "failure"}})
    result = _notify(env)
    assert result.returncode == 0, result.stderr
    text = receiver.posts[0]["json"]["text"]
    assert "Failed step: environment" in text
    assert "none recorded (the step failed outside dbt)" in text


def test_rejected_delivery_fails_the_step_without_printing_the_url(
    receiver: Receiver, artifacts: Path
) -> None:
    receiver.status = 500
    result = _notify(_env(artifacts, receiver.url))
    assert result.returncode == 1
    assert "delivery failed" in result.stderr
    assert TOKEN not in result.stdout + result.stderr
    assert "127.0.0.1" not in result.stdout + result.stderr


def test_only_http_urls_are_used(artifacts: Path) -> None:
    secret_file = artifacts / "secret.txt"
    secret_file.write_text("x")
    result = _notify(_env(artifacts, f"file://{secret_file}"))
    assert result.returncode == 1
    assert "must be an http(s) URL" in result.stderr
