"""Airflow callbacks of ``dbt_transform``: plain functions, referenced by import path.

Task-level (failure / retry / success) callbacks turn the Airflow context into an
:class:`~medallion.alerts.AlertEvent` and send it. They also enforce the per-task SLA that
Airflow 3 no longer has: a task whose try ran longer than ``MEDALLION_TASK_SLA_SECONDS``
raises an "SLA missed" alert whatever its outcome. The DAG-run deadline (Airflow 3.1+
``DeadlineAlert``) calls :func:`dag_run_deadline_missed` in the triggerer.

Plain functions rather than DAG-level Notifier objects: a DAG-level Notifier crashes under
``airflow dags test`` (apache/airflow#64649), and these must work there too. Every callback
swallows its own errors: alerting must never change a task's outcome.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from medallion.names import DAG_ID

log = logging.getLogger(__name__)


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _step_result(exc: BaseException | None, ti: Any) -> Any:
    """The runner's StepResult for this try: attached to the exception chain, else from XCom."""
    from medallion.dbt import SUMMARY_XCOM_KEY, StepResult

    seen = 0
    while exc is not None and seen < 10:
        result = getattr(exc, "result", None)
        if isinstance(result, StepResult):
            return result
        exc = exc.__cause__ or exc.__context__
        seen += 1
    try:
        data = ti.xcom_pull(task_ids=ti.task_id, key=SUMMARY_XCOM_KEY)
    except Exception:  # no XCom backend reachable: the alert still goes out without nodes
        return None
    return StepResult.from_dict(data) if isinstance(data, Mapping) else None


def _root_error(exc: BaseException | None) -> BaseException | None:
    """The package's own error behind an Airflow wrapper (AirflowFailException from ...)."""
    from medallion.errors import MedallionError

    current, seen = exc, 0
    while current is not None and seen < 10:
        if isinstance(current, MedallionError):
            return current
        current, seen = current.__cause__ or current.__context__, seen + 1
    return exc


def _duration_s(ti: Any) -> float | None:
    start = getattr(ti, "start_date", None)
    if start is None:
        return None
    end = getattr(ti, "end_date", None) or datetime.now(UTC)
    return max((end - start).total_seconds(), 0.0)


def event_from_context(kind: str, context: Mapping[str, Any]) -> Any:
    """Build the alert event for a task callback from Airflow 3's context."""
    from medallion.alerts import AlertEvent, FailedNode

    ti = context["ti"]
    task = context.get("task") or getattr(ti, "task", None)
    exc = context.get("exception")
    result = _step_result(exc, ti) if kind in ("failure", "retry") else None
    max_tries = getattr(ti, "max_tries", None)
    if max_tries is None and task is not None:
        max_tries = getattr(task, "retries", 0)
    state = {"failure": "failed", "retry": "up_for_retry", "recovered": "success"}.get(kind)
    tb = None
    if isinstance(exc, BaseException):
        tb = "".join(traceback.format_exception(exc))
    return AlertEvent(
        kind=kind,
        dag_id=ti.dag_id,
        task_id=ti.task_id,
        run_id=ti.run_id,
        try_number=ti.try_number,
        max_tries=None if max_tries is None else int(max_tries) + 1,
        logical_date=_iso(context.get("logical_date")),
        log_url=getattr(ti, "log_url", None),
        state=state,
        error_type=type(_root_error(exc)).__name__ if isinstance(exc, BaseException) else None,
        exception=None if exc is None else str(exc),
        traceback=tb,
        duration_s=_duration_s(ti),
        artifacts=str(result.artifacts) if result is not None else None,
        failed_nodes=tuple(
            FailedNode.of(n) for n in (result.failed_nodes if result is not None else ())
        ),
    )


def _dispatch(event: Any) -> dict[str, str]:
    from medallion.alerts import build_message, send
    from medallion.config import Settings
    from medallion.redact import secret_values

    settings = Settings.from_env()
    message = build_message(event, secret_values(extra=[settings.alerts.webhook_url]))
    return send(message, settings.alerts)


def _check_sla(context: Mapping[str, Any], state: str) -> None:
    """Alert when this try outlasted the task SLA, whether it succeeded or failed."""
    from dataclasses import replace

    from medallion.config import Settings

    sla_s = Settings.from_env().retry.task_sla_s
    ti = context["ti"]
    duration = _duration_s(ti)
    if duration is None or duration <= sla_s:
        return
    base = event_from_context("sla_missed", context)
    _dispatch(replace(base, state=state, sla_s=float(sla_s), exception=None, traceback=None))


def _safely(kind: str, context: Mapping[str, Any], state: str, alert: bool) -> None:
    try:
        if alert:
            _dispatch(event_from_context(kind, context))
    except Exception:
        log.exception("could not send the %s alert", kind)
    try:
        _check_sla(context, state)
    except Exception:
        log.exception("could not check the task SLA")


def task_failed(context: Mapping[str, Any]) -> None:
    """on_failure_callback: full alert with error, traceback, failing dbt nodes, next steps."""
    _safely("failure", context, "failed", alert=True)


def task_retrying(context: Mapping[str, Any]) -> None:
    """on_retry_callback: a short "retrying (try n of m)" notice."""
    _safely("retry", context, "up_for_retry", alert=True)


def task_succeeded(context: Mapping[str, Any]) -> None:
    """on_success_callback: "recovered after n tries" when earlier tries failed; SLA check."""
    ti = context["ti"]
    _safely("recovered", context, "success", alert=(ti.try_number or 1) > 1)


def deadline_event(context: Mapping[str, Any] | None) -> Any:
    """The alert event for a missed DAG-run deadline, from the deadline callback's context."""
    from medallion.alerts import AlertEvent

    context = context or {}
    dag_run = context.get("dag_run") or {}
    deadline = context.get("deadline") or {}
    return AlertEvent(
        kind="deadline_missed",
        dag_id=str(dag_run.get("dag_id") or DAG_ID),
        run_id=dag_run.get("dag_run_id") or dag_run.get("run_id"),
        logical_date=_iso(dag_run.get("logical_date")),
        state=dag_run.get("state"),
        deadline_at=_iso(deadline.get("deadline_time")),
    )


async def dag_run_deadline_missed(context: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
    """DeadlineAlert callback (runs in the triggerer): the run is not finished in time."""
    try:
        await asyncio.to_thread(_dispatch, deadline_event(context))
    except Exception:
        log.exception("could not send the deadline alert")
