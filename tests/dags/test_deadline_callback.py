"""The DeadlineAlert callback, called the way the triggerer calls it (context from
airflow.models.deadline.Deadline.handle_miss), delivers a deadline alert."""

from __future__ import annotations

import asyncio
import inspect
import os

from medallion import callbacks
from tests.dags.dag_support import webhook_posts


def test_deadline_callback_is_async_and_alerts(http_receiver, monkeypatch) -> None:
    for key in [k for k in os.environ if k.startswith(("MEDALLION_", "AIRFLOW"))]:
        monkeypatch.delenv(key)  # only the webhook channel, whatever the shell has set
    monkeypatch.setenv("MEDALLION_ALERT_WEBHOOK_URL", http_receiver.url("/hook/deadline"))
    assert inspect.iscoroutinefunction(callbacks.dag_run_deadline_missed)
    context = {
        "dag_run": {
            "dag_id": "dbt_transform",
            "dag_run_id": "scheduled__2024-01-01T01:00:00+00:00",
            "logical_date": "2024-01-01T01:00:00Z",
            "state": "running",
        },
        "deadline": {"id": "x", "deadline_time": "2024-01-01T02:00:05Z"},
    }
    asyncio.run(callbacks.dag_run_deadline_missed(context=context))
    [alert] = webhook_posts(http_receiver)
    assert alert["kind"] == "deadline_missed"
    assert alert["run_id"] == "scheduled__2024-01-01T01:00:00+00:00"
    assert alert["deadline_at"] == "2024-01-01T02:00:05Z"
    assert alert["state"] == "running"
