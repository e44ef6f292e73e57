"""The pure alert message builder: wording, fields, HTML, and that secrets never leak."""

from __future__ import annotations

import json

import pytest

from medallion.alerts import AlertEvent, FailedNode, build_message, send
from medallion.config import AlertSettings
from medallion.redact import scrub, secret_values

SECRET = "hunter2-SENTINEL-0042"


def _failure(**overrides) -> AlertEvent:
    fields = {
        "kind": "failure",
        "dag_id": "dbt_transform",
        "task_id": "silver.dbt_test_silver",
        "run_id": "manual__2024-01-01T00:00:00+00:00",
        "try_number": 1,
        "max_tries": 3,
        "logical_date": "2024-01-01T00:00:00+00:00",
        "log_url": "http://localhost:8080/dags/dbt_transform/runs/x/tasks/silver.dbt_test_silver",
        "error_type": "DataQualityError",
        "exception": f"data quality checks failed (password={SECRET})",
        "traceback": f"Traceback (most recent call last):\n  boom {SECRET}",
        "failed_nodes": (
            FailedNode("assert_line_total_matches", "test", "fail", 3, "Got 3 results"),
        ),
    }
    fields.update(overrides)
    return AlertEvent(**fields)


def test_failure_message_has_every_field_and_next_steps() -> None:
    message = build_message(_failure(), [SECRET])
    assert message.subject == "[medallion] FAILED dbt_transform.silver.dbt_test_silver (try 1 of 3)"
    for needle in (
        "Run id: manual__2024-01-01T00:00:00+00:00",
        "Logical date: 2024-01-01T00:00:00+00:00",
        "Log: http://localhost:8080/",
        "test assert_line_total_matches: fail, 3 failing rows - Got 3 results",
        "Troubleshooting:",
        "medallion layer test silver",
        "Traceback (last lines):",
    ):
        assert needle in message.text
    assert "<li>test assert_line_total_matches: fail, 3 failing rows" in message.html
    assert message.payload["failed_nodes"][0]["failures"] == 3
    assert message.payload["kind"] == "failure"


def test_secrets_are_masked_everywhere() -> None:
    message = build_message(_failure(), [SECRET])
    blob = message.subject + message.text + message.html + json.dumps(message.payload)
    assert SECRET not in blob
    assert "***" in message.text


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("retry", "retrying (try 2 of 3)"),
        ("recovered", "recovered after 2 tries (1 failed try before success)"),
        ("sla_missed", "ran 25.0 min, over its 20.0 min SLA (final state: success)"),
    ],
)
def test_short_notices(kind: str, expected: str) -> None:
    event = AlertEvent(
        kind=kind,
        dag_id="dbt_transform",
        task_id="bronze.dbt_run_bronze",
        try_number=1 if kind == "retry" else 2,
        max_tries=3,
        state="success",
        duration_s=1500,
        sla_s=1200,
    )
    assert expected in build_message(event).text


def test_deadline_message_names_the_run() -> None:
    event = AlertEvent(
        kind="deadline_missed",
        dag_id="dbt_transform",
        run_id="scheduled__2024-01-01T01:00:00+00:00",
        deadline_at="2024-01-01T02:00:00+00:00",
    )
    message = build_message(event)
    assert "scheduled__2024-01-01T01:00:00+00:00" in message.subject
    assert "not finished by its deadline 2024-01-01T02:00:00+00:00" in message.text


def test_infra_failure_suggests_reproducing_not_fixing_data() -> None:
    text = build_message(_failure(error_type="WarehouseBusyError", failed_nodes=())).text
    assert "Another process holds the warehouse" in text
    assert "Data failed its checks" not in text


def test_unknown_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown alert kind"):
        AlertEvent(kind="oops", dag_id="d")


def test_scrub_masks_connection_passwords_and_url_credentials() -> None:
    env = {
        "AIRFLOW_CONN_SMTP_DEFAULT": "smtp://alerts:p%40ss-SENTINEL@127.0.0.1:25",
        "MEDALLION_MSSQL_PASSWORD": "sql-SENTINEL-pw",
        "MEDALLION_TARGET": "duckdb",
    }
    secrets = secret_values(env)
    text = scrub(
        "p@ss-SENTINEL sql-SENTINEL-pw https://u:pw@host/x hooks.slack.com/services/T/B/C duckdb",
        secrets,
    )
    assert "SENTINEL" not in text and "u:pw@" not in text and "/T/B/C" not in text
    assert text.endswith("duckdb")


def test_unconfigured_channels_are_off_and_a_broken_one_never_raises() -> None:
    message = build_message(_failure())
    assert send(message, AlertSettings(), env={}) == {
        "log": "sent",
        "slack": "off",
        "email": "off",
        "webhook": "off",
    }
    # a closed port on loopback: the channel fails, send() reports it and returns
    outcome = send(message, AlertSettings(webhook_url="http://127.0.0.1:9/hook"), env={})
    assert outcome["webhook"].startswith("failed: ")
