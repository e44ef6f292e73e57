"""Helpers for the GitHub Actions workflows: step retry and the Slack failure notice.

The workflow steps stay one line each (`python -m medallion.ci retry -- medallion layer run
bronze`, `python -m medallion.ci notify-slack`) and the behaviour lives here, unit-tested.

retry
    Runs a command and retries it while it exits with a transient code (``--retry-on``, by
    default 75, the exit code every ``medallion`` command uses for a transient failure; see
    `medallion.errors`), up to ``--retries`` more times, waiting ``--delay`` seconds, then
    ``--delay * --factor``, ... (capped by ``--max-delay``). Any other non-zero exit ends the
    step at once: a failed quality gate (1) or a permanent error (2) does not heal by waiting,
    and re-running it only delays the alert. The final exit code is the command's own
    (128 + N when it died of signal N).

pr-comment
    Posts the data diff (``medallion diff``'s Markdown, from ``DIFF_MARKDOWN``) on the pull
    request ``PR_NUMBER`` of ``GITHUB_REPOSITORY`` through the REST API at ``GITHUB_API``, or
    updates the comment it posted before (found by its first-line marker), so a PR carries one
    diff comment that later pushes update. A token that may not comment (a fork's PR) gives a
    warning, not a failure: the diff is in the job summary either way.

notify-slack
    Posts the failure of a workflow run to the incoming webhook in ``SLACK_WEBHOOK_URL``:
    repository, workflow, failed step, run URL and the failing dbt nodes from the newest
    dbt results under the artifacts directory (the failing step is the last one that ran),
    read with `medallion.dbt.read_run_results`. Without the secret it prints one skip line and exits 0. The webhook URL is never
    printed, and every text sent goes through `medallion.redact.scrub`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medallion.errors import EXIT_TRANSIENT, MedallionError
from medallion.redact import scrub

if TYPE_CHECKING:
    from medallion.dbt import NodeResult

SLACK_ENV = "SLACK_WEBHOOK_URL"
STEPS_ENV = "MEDALLION_CI_STEPS"
MAX_MESSAGE_CHARS = 300


# --------------------------------------------------------------------------- retry


def backoff_delays(retries: int, delay: float, factor: float, max_delay: float) -> list[float]:
    """Waits before each retry: delay, delay*factor, delay*factor**2, ... capped at max_delay."""
    return [min(delay * factor**n, max_delay) for n in range(retries)]


def _annotate(level: str, message: str, title: str = "retry") -> None:
    """A GitHub Actions annotation when running there, a plain line otherwise."""
    if os.environ.get("GITHUB_ACTIONS") == "true":
        print(f"::{level} title={title}::{message}", flush=True)
    else:
        print(f"{title}: {message}", file=sys.stderr, flush=True)


def _run_once(argv: Sequence[str]) -> int:
    """Runs argv in the foreground; a SIGTERM to us (job cancelled) is passed on to it."""
    try:
        proc = subprocess.Popen(list(argv))
    except FileNotFoundError:
        print(f"retry: command not found: {argv[0]}", file=sys.stderr)
        return 127
    previous = signal.getsignal(signal.SIGTERM)

    def forward(signum: int, _frame: object) -> None:
        proc.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        code = proc.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 128 - code if code < 0 else code


def run_with_retry(
    argv: Sequence[str],
    *,
    retries: int = 2,
    delay: float = 30.0,
    factor: float = 2.0,
    max_delay: float = 600.0,
    retry_on: frozenset[int] = frozenset({EXIT_TRANSIENT}),
    sleep: Callable[[float], None] = time.sleep,
    run: Callable[[Sequence[str]], int] = _run_once,
) -> int:
    """Runs argv up to 1 + retries times while it exits with a code in retry_on; returns the
    exit code of the last attempt."""
    if not argv:
        raise ValueError("retry: no command given")
    waits = backoff_delays(retries, delay, factor, max_delay)
    attempts = retries + 1
    shown = " ".join(argv)
    for attempt in range(1, attempts + 1):
        code = run(argv)
        if code == 0:
            if attempt > 1:
                _annotate("notice", f"'{shown}' succeeded on attempt {attempt} of {attempts}")
            return 0
        if code not in retry_on:
            _annotate(
                "error",
                f"'{shown}' exited {code}, which is not retried (not a transient failure; "
                f"retried: {', '.join(map(str, sorted(retry_on)))})",
            )
            return code
        if attempt == attempts:
            _annotate("error", f"'{shown}' exited {code} on the last attempt ({attempts})")
            return code
        wait = waits[attempt - 1]
        _annotate(
            "warning",
            f"'{shown}' exited {code} on attempt {attempt} of {attempts}; retrying in {wait:g}s",
        )
        sleep(wait)
    raise AssertionError("unreachable")


def _exit_codes(text: str) -> frozenset[int]:
    try:
        return frozenset(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of exit codes: {text!r}"
        ) from None


# --------------------------------------------------------------------------- layers


def plan_layers(text: str) -> list[str]:
    """The layers named in a workflow input ('silver, gold'), validated, in pipeline order.

    A typo must fail the run: silently skipping 'silvr' would end green having built nothing.
    """
    from medallion.names import LAYERS

    names = [part.strip().lower() for part in text.replace(" ", ",").split(",") if part.strip()]
    unknown = [name for name in names if name not in LAYERS]
    if unknown:
        raise ValueError(
            f"unknown layer(s) {', '.join(unknown)}; expected some of {', '.join(LAYERS)}"
        )
    if not names:
        raise ValueError(f"no layer given; expected some of {', '.join(LAYERS)}")
    return [layer for layer in LAYERS if layer in names]


def _plan_layers_cli(text: str, env: Mapping[str, str]) -> int:
    try:
        layers = plan_layers(text)
    except ValueError as exc:
        print(f"plan-layers: {exc}", file=sys.stderr)
        return 2
    # Comma-delimited on both ends so a step can test contains(..., ',silver,').
    line = f"layers=,{','.join(layers)},"
    print(f"plan-layers: running {' -> '.join(layers)}")
    output = env.get("GITHUB_OUTPUT")
    if output:
        with open(output, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
    else:
        print(line)
    return 0


# --------------------------------------------------------------------------- slack


@dataclass(frozen=True)
class RunContext:
    """What identifies a failed workflow run, from GitHub's default environment."""

    repository: str
    workflow: str
    run_url: str
    failed_step: str
    ref: str
    sha: str
    event: str

    @classmethod
    def from_env(cls, env: Mapping[str, str], failed_step: str | None = None) -> RunContext:
        server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        repository = env.get("GITHUB_REPOSITORY", "")
        run_id = env.get("GITHUB_RUN_ID", "")
        run_url = f"{server}/{repository}/actions/runs/{run_id}" if repository and run_id else ""
        attempt = env.get("GITHUB_RUN_ATTEMPT", "")
        if run_url and attempt and attempt != "1":
            run_url += f"/attempts/{attempt}"
        step = failed_step or failed_step_from_steps(env.get(STEPS_ENV, ""))
        return cls(
            repository=repository or "(unknown repository)",
            workflow=env.get("GITHUB_WORKFLOW", "") or "(unknown workflow)",
            run_url=run_url,
            failed_step=step or "(unknown step)",
            ref=env.get("GITHUB_REF_NAME", ""),
            sha=env.get("GITHUB_SHA", "")[:12],
            event=env.get("GITHUB_EVENT_NAME", ""),
        )


def failed_step_from_steps(steps_json: str) -> str | None:
    """The first failed step in `toJSON(steps)`, by id, shown as its name ('silver_test' -> 'silver test').

    Only steps with an `id:` appear in the steps context; the pipeline gives every step
    that can fail an id matching its name.
    """
    if not steps_json.strip():
        return None
    try:
        steps = json.loads(steps_json)
    except json.JSONDecodeError:
        return None
    if not isinstance(steps, dict):
        return None
    for step_id, info in steps.items():
        if isinstance(info, dict) and info.get("outcome") == "failure":
            return str(step_id).replace("_", " ")
    return None


RESULT_FILES = ("run_results.json", "sources.json")


def latest_results_dir(artifacts_dir: Path) -> Path | None:
    """Directory of the newest dbt results file below artifacts_dir: the failing step's.

    A step's dbt invocations share one target path (bronze's test step writes
    run_results.json and, for source freshness, sources.json), so the whole directory is read.
    """
    if not artifacts_dir.is_dir():
        return None
    found = [p for name in RESULT_FILES for p in artifacts_dir.rglob(name) if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime_ns).parent if found else None


def failing_nodes(results_dir: Path) -> list[NodeResult]:
    """Failed models, tests and source freshness checks recorded in results_dir."""
    from medallion.dbt import read_run_results

    nodes: list[NodeResult] = []
    for name in RESULT_FILES:
        if (results_dir / name).is_file():
            nodes += read_run_results(results_dir / name).failed_nodes
    return nodes


def build_slack_payload(ctx: RunContext, nodes: Sequence[NodeResult]) -> dict[str, Any]:
    """The Slack message: the DAG's alert builder (`medallion.alerts.build_message`) on a
    workflow-step event, so a failure reads the same from Airflow and from GitHub."""
    from medallion.alerts import AlertEvent, FailedNode, build_message, slack_text
    from medallion.redact import secret_values

    event = AlertEvent(
        kind="failure",
        source="github",
        dag_id=ctx.workflow,
        task_id=ctx.failed_step,
        repository=ctx.repository,
        ref=" ".join(p for p in (ctx.ref, ctx.sha) if p) or None,
        state=f"failed ({ctx.event})" if ctx.event else "failed",
        log_url=ctx.run_url or None,
        failed_nodes=tuple(FailedNode.of(n, MAX_MESSAGE_CHARS) for n in nodes),
    )
    return {"text": slack_text(build_message(event, secret_values()))}


def post_json(url: str, payload: Mapping[str, Any], timeout: float = 15.0) -> int:
    """POSTs payload as JSON; returns the HTTP status. Only http(s) URLs are accepted."""
    if not url.lower().startswith(("https://", "http://")):
        raise ValueError(f"{SLACK_ENV} must be an http(s) URL")
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return int(response.status)


def notify_slack(
    env: Mapping[str, str], *, failed_step: str | None = None, dry_run: bool = False
) -> int:
    """Builds and sends the failure notice; 0 when sent or skipped, 1 when delivery failed."""
    from medallion.config import Settings

    url = env.get(SLACK_ENV, "").strip()
    if not url and not dry_run:
        print(f"notify-slack: {SLACK_ENV} is not set; Slack notification skipped")
        return 0
    ctx = RunContext.from_env(env, failed_step)
    nodes: list[NodeResult] = []
    try:
        results = latest_results_dir(Settings.from_env(env).artifacts_dir)
    except MedallionError as exc:  # a bad setting must not stop the alert itself
        print(f"notify-slack: artifacts not searched: {exc}", file=sys.stderr)
        results = None
    if results is not None:
        try:
            nodes = failing_nodes(results)
        except Exception as exc:  # a broken artifact must not stop the alert itself
            print(f"notify-slack: could not read {results}: {scrub(str(exc))}", file=sys.stderr)
    payload = build_slack_payload(ctx, nodes)
    if dry_run:
        print(json.dumps(payload, indent=2))
        return 0
    secrets = [url]
    try:
        status = post_json(url, payload)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        print(f"notify-slack: delivery failed: {scrub(str(reason), secrets)}", file=sys.stderr)
        return 1
    print(
        f"notify-slack: sent (HTTP {status}): step {ctx.failed_step!r}, "
        f"{len(nodes)} failing dbt node(s)"
    )
    return 0


# --------------------------------------------------------------------------- PR comment

GITHUB_COMMENT_LIMIT = 65536


def _github(method: str, url: str, token: str, payload: Any = None) -> Any:
    request = urllib.request.Request(
        url,
        data=None if payload is None else json.dumps(payload).encode("utf-8"),
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "Content-Type": "application/json",
        },
        method=method,
    )
    with urllib.request.urlopen(request, timeout=15.0) as response:
        body = response.read()
    return json.loads(body) if body else None


def upsert_pr_comment(
    api_url: str, repository: str, number: int, token: str, body: str
) -> tuple[str, int]:
    """('created' | 'updated', comment id): the comment that starts with the diff marker is
    edited in place, else one is created."""
    from medallion.names import DIFF_COMMENT_MARKER

    if not body.startswith(DIFF_COMMENT_MARKER):
        raise ValueError(f"the comment text does not start with {DIFF_COMMENT_MARKER}")
    if len(body) > GITHUB_COMMENT_LIMIT:
        cut = "\n\n... (cut: the whole diff is in the job summary and the diff artifact)"
        body = body[: GITHUB_COMMENT_LIMIT - len(cut)] + cut
    repo = f"{api_url.rstrip('/')}/repos/{repository}"
    page = 1
    while True:
        url = f"{repo}/issues/{number}/comments?per_page=100&page={page}"
        comments = _github("GET", url, token)
        for comment in comments:
            if (comment.get("body") or "").startswith(DIFF_COMMENT_MARKER):
                _github("PATCH", f"{repo}/issues/comments/{comment['id']}", token, {"body": body})
                return "updated", int(comment["id"])
        if len(comments) < 100:
            break
        page += 1
    created = _github("POST", f"{repo}/issues/{number}/comments", token, {"body": body})
    return "created", int(created["id"])


def pr_comment(env: Mapping[str, str]) -> int:
    """0 when posted or not allowed (warned), 1 when delivery failed, 2 when misconfigured."""
    needed = ("GITHUB_TOKEN", "GITHUB_REPOSITORY", "PR_NUMBER", "DIFF_MARKDOWN")
    missing = [name for name in needed if not env.get(name, "").strip()]
    if missing:
        print(f"pr-comment: {', '.join(missing)} not set", file=sys.stderr)
        return 2
    token = env["GITHUB_TOKEN"]
    api = env.get("GITHUB_API", "").strip() or "https://api.github.com"
    try:
        action, comment = upsert_pr_comment(
            api, env["GITHUB_REPOSITORY"], int(env["PR_NUMBER"]), token, env["DIFF_MARKDOWN"]
        )
    except urllib.error.HTTPError as exc:
        if exc.code in (403, 404):
            _annotate(
                "warning",
                f"the token may not comment on PR #{env['PR_NUMBER']} (HTTP {exc.code}; "
                "a fork's token is read-only): the diff is in the job summary",
                title="pr-comment",
            )
            return 0
        print(f"pr-comment: {scrub(str(exc), [token])}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        print(f"pr-comment: delivery failed: {scrub(str(reason), [token])}", file=sys.stderr)
        return 1
    print(f"pr-comment: {action} comment {comment} on PR #{env['PR_NUMBER']}")
    return 0


# --------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m medallion.ci", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = parser.add_subparsers(dest="command", required=True)

    retry = sub.add_parser("retry", help="run a command, retrying failures with backoff")
    retry.add_argument("--retries", type=int, default=2, help="extra attempts (default 2)")
    retry.add_argument("--delay", type=float, default=30.0, help="first wait in seconds")
    retry.add_argument("--factor", type=float, default=2.0, help="backoff multiplier")
    retry.add_argument("--max-delay", type=float, default=600.0, help="longest wait in seconds")
    retry.add_argument(
        "--retry-on",
        type=_exit_codes,
        default=frozenset({EXIT_TRANSIENT}),
        metavar="CODES",
        help=f"comma-separated exit codes that are retried (default {EXIT_TRANSIENT}: "
        "transient); any other code ends the step at once",
    )
    retry.add_argument("cmd", nargs=argparse.REMAINDER, help="-- command and its arguments")

    plan = sub.add_parser("plan-layers", help="validate a layers input; write it to $GITHUB_OUTPUT")
    plan.add_argument("layers", help="comma-separated layers, e.g. 'bronze,silver,gold'")

    sub.add_parser("pr-comment", help="post or update the data-diff comment on the PR")

    notify = sub.add_parser("notify-slack", help="post a workflow failure to Slack")
    notify.add_argument("--failed-step", help=f"step name (default: first failure in ${STEPS_ENV})")
    notify.add_argument("--dry-run", action="store_true", help="print the payload, send nothing")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "retry":
        cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
        if not cmd:
            print(
                "retry: no command given (usage: retry [options] -- command ...)", file=sys.stderr
            )
            return 2
        if args.retries < 0 or args.delay < 0 or args.factor < 1 or args.max_delay < 0:
            print(
                "retry: --retries, --delay, --max-delay must be >= 0, --factor >= 1",
                file=sys.stderr,
            )
            return 2
        return run_with_retry(
            cmd,
            retries=args.retries,
            delay=args.delay,
            factor=args.factor,
            max_delay=args.max_delay,
            retry_on=args.retry_on,
        )
    if args.command == "plan-layers":
        return _plan_layers_cli(args.layers, os.environ)
    if args.command == "pr-comment":
        return pr_comment(os.environ)
    return notify_slack(os.environ, failed_step=args.failed_step, dry_run=args.dry_run)


if __name__ == "__main__":
    sys.exit(main())
