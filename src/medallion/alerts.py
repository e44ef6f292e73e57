"""Alerts: one pure message builder, and channels switched on by configuration alone.

:func:`build_message` turns an :class:`AlertEvent` (what happened, to which task, with which
dbt nodes failing) into a :class:`Message` (subject, plain text, HTML, JSON payload). It does
no I/O, so every wording is unit-tested without sending anything. :func:`send` delivers a
message to every configured channel:

* log - always on (the development default);
* Slack - ``MEDALLION_ALERT_SLACK_CONN_ID`` names an Airflow connection of type
  ``slackwebhook``; sent with the Slack provider's ``SlackWebhookHook``;
* email - ``MEDALLION_ALERT_EMAIL_TO`` (comma-separated) through the SMTP provider's
  ``SmtpHook`` on ``MEDALLION_ALERT_SMTP_CONN_ID`` (default ``smtp_default``), HTML body;
* JSON webhook - ``MEDALLION_ALERT_WEBHOOK_URL`` receives the payload as JSON (Teams,
  PagerDuty-style relays, anything that accepts a POST).

A channel that is not configured costs one debug line. A channel that fails logs the error
and returns: alerting never fails or masks the task's own outcome. Every string is scrubbed
of secrets before it leaves this module.
"""

from __future__ import annotations

import html
import json
import logging
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from medallion.config import AlertSettings
from medallion.names import layer_step
from medallion.redact import scrub, secret_values

if TYPE_CHECKING:
    from medallion.dbt import NodeResult

log = logging.getLogger(__name__)

KINDS = ("failure", "retry", "recovered", "sla_missed", "deadline_missed")
SOURCES = ("airflow", "github")
SEND_TIMEOUT_S = 10
_TRACEBACK_LINES = 40
_SLACK_MAX = 3500


@dataclass(frozen=True)
class FailedNode:
    """A dbt model or test that failed, as the alert shows it."""

    name: str
    resource_type: str
    status: str
    failures: int | None = None
    message: str | None = None

    @classmethod
    def of(cls, node: NodeResult, max_message: int | None = None) -> FailedNode:
        """From dbt's result of the node; with ``max_message``, the message on one line, cut."""
        message = node.message
        if max_message is not None:
            message = " ".join((message or "").split())[:max_message] or None
        return cls(node.name, node.resource_type, node.status, node.failures, message)


@dataclass(frozen=True)
class AlertEvent:
    """Everything an alert may say, extracted from the Airflow context by the callbacks."""

    kind: str
    dag_id: str
    run_id: str | None = None
    task_id: str | None = None
    try_number: int | None = None
    max_tries: int | None = None
    logical_date: str | None = None
    log_url: str | None = None
    state: str | None = None
    error_type: str | None = None
    exception: str | None = None
    traceback: str | None = None
    duration_s: float | None = None
    sla_s: float | None = None
    deadline_at: str | None = None
    artifacts: str | None = None
    failed_nodes: tuple[FailedNode, ...] = field(default_factory=tuple)
    # "airflow": a DAG task; "github": a workflow step (dag_id is then the workflow,
    # task_id the step, log_url the run's page), e.g. pipeline.yml's failure notice.
    source: str = "airflow"
    repository: str | None = None
    ref: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown alert kind {self.kind!r}; expected one of {KINDS}")
        if self.source not in SOURCES:
            raise ValueError(f"unknown alert source {self.source!r}; expected one of {SOURCES}")


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    html: str
    payload: dict[str, Any]


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 120:
        return f"{seconds:.0f}s"
    return f"{seconds / 60:.1f} min"


def troubleshooting(event: AlertEvent) -> list[str]:
    """Next steps for the person on call, chosen by what failed."""
    # a DAG task id or a workflow step name: both name their layer and step
    layer, step = layer_step(event.task_id or "") or ("<layer>", "run")
    step = "test" if step == "test" else "run"
    steps: list[str] = []
    if event.kind == "deadline_missed":
        return [
            "Open the run in the Airflow UI and find the task still running or queued.",
            "Check the workers and the warehouse for load; a long lock wait shows as a slow task.",
            "The run keeps going: this alert does not stop it (dagrun_timeout does).",
        ]
    if event.kind == "sla_missed":
        return [
            "Compare this task's duration with previous runs (Airflow UI, task duration view).",
            "Look for a slow model in the task's dbt summary table or run_results.json.",
            "Check warehouse load and data volume growth; consider incremental models.",
        ]
    if event.error_type == "DataQualityError" or (
        event.failed_nodes
        and all(n.resource_type in ("test", "source") for n in event.failed_nodes)
    ):
        unit = "step" if event.source == "github" else "task"
        rerun = "re-run the workflow" if event.source == "github" else "clear this task in Airflow"
        steps += [
            f"Data failed its checks; retrying cannot fix it, so the {unit} was not retried.",
            f"Reproduce locally: `medallion layer test {layer}` (same selection as this {unit}).",
            "Inspect the failing rows: `dbt test --select <test name> --store-failures` in dbt/.",
            f"Fix the source data (or the rule), reload, then {rerun}.",
        ]
    elif event.error_type == "WarehouseBusyError":
        steps += [
            "Another process holds the warehouse (DuckDB file lock or database lock).",
            "Find it (a running `medallion`, dbt or notebook session) and let it finish.",
            "The task retries by itself; clear it once the lock is gone if retries ran out.",
        ]
    elif event.error_type in ("AirflowTaskTimeout", "TimeoutError"):
        steps += [
            "The task exceeded its execution_timeout (MEDALLION_EXECUTION_TIMEOUT_SECONDS).",
            "Look for a slow model in the dbt log; check warehouse load.",
        ]
    else:
        steps += [
            f"Reproduce locally: `medallion layer {step} {layer}`.",
            "Read dbt.log in the task's artifacts directory for the full error.",
            "Check the warehouse connection settings (MEDALLION_TARGET, profiles.yml env vars).",
        ]
    if event.artifacts:
        steps.append(f"dbt artifacts of this try: {event.artifacts}")
    return steps


def _headline(event: AlertEvent) -> tuple[str, str]:
    """(subject, one-line summary) for the event."""
    if event.source == "github":
        where = f"{event.dag_id}: {event.task_id}"
        return (
            f"FAILED {where}",
            f"Workflow {event.dag_id} failed at step {event.task_id!r} in {event.repository}.",
        )
    where = ".".join(p for p in (event.dag_id, event.task_id) if p)
    tries = (
        f"try {event.try_number} of {event.max_tries}"
        if event.try_number is not None and event.max_tries is not None
        else f"try {event.try_number}"
    )
    if event.kind == "failure":
        return f"FAILED {where} ({tries})", f"Task {where} failed on {tries}."
    if event.kind == "retry":
        nxt = (event.try_number or 0) + 1
        of = f" of {event.max_tries}" if event.max_tries is not None else ""
        return (
            f"Retrying {where} (try {nxt}{of})",
            f"Task {where} failed on {tries}; retrying (try {nxt}{of}).",
        )
    if event.kind == "recovered":
        failed = max((event.try_number or 1) - 1, 0)
        return (
            f"Recovered {where} after {event.try_number} tries",
            f"Task {where} recovered after {event.try_number} tries "
            f"({failed} failed {'try' if failed == 1 else 'tries'} before success).",
        )
    if event.kind == "sla_missed":
        return (
            f"SLA missed {where}: {_minutes(event.duration_s)} > {_minutes(event.sla_s)}",
            f"SLA missed: task {where} ran {_minutes(event.duration_s)}, over its "
            f"{_minutes(event.sla_s)} SLA (final state: {event.state or 'unknown'}).",
        )
    return (
        f"Deadline missed {event.dag_id} run {event.run_id}",
        f"DAG run {event.dag_id} / {event.run_id} was not finished by its deadline "
        f"{event.deadline_at or ''}.".replace(" .", "."),
    )


def _scrubbed(event: AlertEvent, secrets: list[str]) -> AlertEvent:
    """A copy of ``event`` with every string field and node message scrubbed of secrets."""
    changes: dict[str, Any] = {
        f.name: scrub(value, secrets)
        for f in fields(event)
        if isinstance(value := getattr(event, f.name), str) and f.name != "kind"
    }
    changes["failed_nodes"] = tuple(
        replace(n, message=scrub(n.message, secrets) if n.message else n.message)
        for n in event.failed_nodes
    )
    return replace(event, **changes)


def build_message(event: AlertEvent, secrets: Iterable[str] = ()) -> Message:
    """The alert for ``event``: pure, so the same event always reads the same everywhere.

    ``secrets`` are masked wherever they appear (the callbacks pass
    :func:`medallion.redact.secret_values`); credential-shaped URLs are masked regardless.
    """
    secrets = list(secrets)
    event = _scrubbed(event, secrets)
    subject, summary = _headline(event)
    facts = [
        ("Repository", event.repository),
        ("Workflow" if event.source == "github" else "DAG", event.dag_id),
        ("Failed step" if event.source == "github" else "Task", event.task_id),
        ("Ref", event.ref),
        ("Run id", event.run_id),
        ("Try", None if event.try_number is None else f"{event.try_number} of {event.max_tries}"),
        ("Logical date", event.logical_date),
        ("State", event.state),
        ("Duration", None if event.duration_s is None else _minutes(event.duration_s)),
        ("SLA", None if event.sla_s is None else _minutes(event.sla_s)),
        ("Deadline", event.deadline_at),
        ("Run" if event.source == "github" else "Log", event.log_url),
    ]
    facts = [(k, str(v)) for k, v in facts if v not in (None, "")]
    error = f"{event.error_type}: {event.exception}" if event.error_type else event.exception
    tb_lines = (event.traceback or "").rstrip().splitlines()[-_TRACEBACK_LINES:]
    nodes = [
        f"{n.resource_type} {n.name}: {n.status}"
        + (f", {n.failures} failing rows" if n.failures else "")
        + (f" - {n.message}" if n.message else "")
        for n in event.failed_nodes
    ]
    steps = troubleshooting(event) if event.kind != "recovered" else []

    text_parts = [summary, ""] + [f"{k}: {v}" for k, v in facts]
    if error:
        text_parts += ["", f"Error: {error}"]
    if nodes:
        text_parts += ["", "Failing dbt nodes:"] + [f"  - {n}" for n in nodes]
    elif event.source == "github" and event.kind == "failure":
        text_parts += ["", "Failing dbt nodes: none recorded (the step failed outside dbt)"]
    if steps:
        text_parts += ["", "Troubleshooting:"] + [f"  {i}. {s}" for i, s in enumerate(steps, 1)]
    if tb_lines:
        text_parts += ["", "Traceback (last lines):", *tb_lines]
    text = scrub("\n".join(text_parts), secrets)
    subject = scrub(f"[medallion] {subject}", secrets)

    def esc(value: str) -> str:
        return html.escape(scrub(value, secrets))

    rows = "".join(f"<tr><th align='left'>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in facts)
    body = [f"<h2>{esc(subject)}</h2>", f"<p>{esc(summary)}</p>", f"<table>{rows}</table>"]
    if error:
        body.append(f"<p><b>Error:</b> {esc(error)}</p>")
    if nodes:
        body.append(
            "<h3>Failing dbt nodes</h3><ul>"
            + "".join(f"<li>{esc(n)}</li>" for n in nodes)
            + "</ul>"
        )
    if steps:
        body.append(
            "<h3>Troubleshooting</h3><ol>" + "".join(f"<li>{esc(s)}</li>" for s in steps) + "</ol>"
        )
    if tb_lines:
        body.append("<h3>Traceback</h3><pre>" + esc("\n".join(tb_lines)) + "</pre>")
    page = "<html><body>" + "".join(body) + "</body></html>"

    payload = {
        "source": "medallion",
        "subject": subject,
        "summary": summary,
        "text": text,
        **asdict(event),
        "troubleshooting": steps,
    }
    return Message(subject=subject, text=text, html=page, payload=payload)


# --------------------------------------------------------------------------- channels


def slack_text(message: Message) -> str:
    """The Slack text of an alert, the DAG's and the workflows' alike: subject, then body."""
    text = message.text if len(message.text) <= _SLACK_MAX else message.text[:_SLACK_MAX] + "\n..."
    return f"*{message.subject}*\n{text}"


def _send_slack(message: Message, conn_id: str) -> None:
    from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

    SlackWebhookHook(slack_webhook_conn_id=conn_id, timeout=SEND_TIMEOUT_S).send(
        text=slack_text(message)
    )


def _send_email(message: Message, conn_id: str, to: Sequence[str]) -> None:
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    with SmtpHook(smtp_conn_id=conn_id) as hook:
        hook.send_email_smtp(
            to=list(to),
            subject=message.subject,
            html_content=message.html,
            from_email=hook.from_email or "medallion-alerts@localhost",
        )


def _send_webhook(message: Message, url: str) -> None:
    if not url.startswith(("http://", "https://")):
        raise ValueError("MEDALLION_ALERT_WEBHOOK_URL must be an http(s) URL")
    request = urllib.request.Request(
        url,
        data=json.dumps(message.payload).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=SEND_TIMEOUT_S) as response:
        response.read()


def send(
    message: Message, settings: AlertSettings, env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Deliver ``message`` on every configured channel; never raises.

    Returns ``{channel: "sent" | "off" | "failed: <scrubbed reason>"}`` so callers and tests
    can see what happened without parsing logs.
    """
    secrets = secret_values(env, extra=[settings.webhook_url])
    level = logging.INFO if message.payload.get("kind") == "recovered" else logging.WARNING
    log.log(level, "ALERT %s\n%s", message.subject, message.text)
    outcome = {"log": "sent"}
    channels = {
        "slack": (
            (lambda: _send_slack(message, settings.slack_conn_id))
            if settings.slack_conn_id
            else None,
            "MEDALLION_ALERT_SLACK_CONN_ID is not set",
        ),
        "email": (
            (lambda: _send_email(message, settings.smtp_conn_id, settings.email_to))
            if settings.email_to
            else None,
            "MEDALLION_ALERT_EMAIL_TO is not set",
        ),
        "webhook": (
            (lambda: _send_webhook(message, settings.webhook_url or ""))
            if settings.webhook_url
            else None,
            "MEDALLION_ALERT_WEBHOOK_URL is not set",
        ),
    }
    for name, (sender, why_off) in channels.items():
        if sender is None:
            log.debug("alert channel %s off: %s", name, why_off)
            outcome[name] = "off"
            continue
        try:
            sender()
            outcome[name] = "sent"
        except Exception as exc:  # a broken channel must never fail the task
            reason = scrub(f"{type(exc).__name__}: {exc}", secrets)
            log.error("alert channel %s failed: %s", name, reason)
            outcome[name] = f"failed: {reason}"
    return outcome
