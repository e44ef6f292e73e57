"""The workflows run for real under act, on this host, as a user's repository runs them.

`medallion.devtools.act` starts act with the marketplace actions mapped to the stand-ins in
tests/ci/actions/ (their README says what each does). The pipeline scenarios share one act
work folder, so the stand-in cache keeps the DuckDB warehouse between runs exactly as the
`restore the warehouse` step does on GitHub: the first run loads, later runs append an hour.

What stands in for what: the stand-in cache folder for GitHub's cache service, a receiver on
127.0.0.1 for Slack, a lock holder process for another pipeline run on the same warehouse.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
import yaml

from medallion.devtools.act import ActRun, run_act
from medallion.errors import EXIT_TRANSIENT
from medallion.names import workflow_step
from tests.ci.cihelpers import REPO, TOKEN, Receiver, dag_layer_steps, load_workflow

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

# Small data and short waits: the workflow reads both from repository variables.
VARIABLES = {"MEDALLION_SYNTHETIC_SCALE": "0.05", "PIPELINE_RETRY_DELAY_SECONDS": "1"}
STEP_LINE = re.compile(
    r"^\[[^\]]+\]\s+(⭐ Run Main|✅  Success - Main|❌  Failure - Main) (.+?)(?: \[[^\]]*\])?$"
)
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # FORCE_COLOR in ci.yml colours tool output
LAYER_STEPS = [workflow_step(layer, step) for layer, step in dag_layer_steps()]


@dataclass
class ActResult:
    returncode: int
    output: str

    def steps(self) -> dict[str, list[str]]:
        """Step name -> what act reported for it, in order ('start', 'success', 'failure')."""
        out: dict[str, list[str]] = {}
        kinds = {
            "⭐ Run Main": "start",
            "✅  Success - Main": "success",
            "❌  Failure - Main": "failure",
        }
        for line in self.output.splitlines():
            match = STEP_LINE.match(line)
            if match:
                out.setdefault(match.group(2).strip(), []).append(kinds[match.group(1)])
        return out

    def tail(self) -> str:
        return self.output[-6000:]


@pytest.fixture(scope="module")
def act_work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One act work folder for the module: act's copies, the stand-in cache, artifacts."""
    return tmp_path_factory.mktemp("act")


def _warehouse(work: Path) -> Path:
    return work / "cache" / ".local_warehouse" / "warehouse.duckdb"


def _act(
    work: Path, run: ActRun, on_line: Callable[[str], None] | None = None, timeout_s: float = 600
) -> ActResult:
    proc = run_act(run, REPO, work)
    lines: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = ANSI.sub("", raw)
            lines.append(line)
            if on_line:
                on_line(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        code = proc.wait(timeout=timeout_s)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=30)
    return ActResult(code, "".join(lines))


def _dispatch(**inputs: str) -> ActRun:
    return ActRun("pipeline.yml", "workflow_dispatch", inputs=inputs, variables=VARIABLES)


def _query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def _published(warehouse: Path) -> dict[str, tuple | None]:
    """Row count and digest of every published silver and gold relation."""
    out: dict[str, tuple | None] = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        relations = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema in ('silver', 'gold') order by 1"
        ).fetchall()
        for (relation,) in relations:
            out[relation] = con.execute(
                "select count(*), md5(coalesce(string_agg(t::varchar, '|' order by "
                f"t::varchar), '')) from {relation} t"
            ).fetchone()
    return out


def _assert_gold_reconciles(warehouse: Path) -> None:
    """Published gold is non-empty and its totals equal published silver's, to the cent."""
    [(gold_rows, gold_due, gold_units)] = _query(
        warehouse, "select count(*), sum(total_due), sum(units) from gold.fct_sales_daily"
    )
    [(silver_due,)] = _query(
        warehouse, "select sum(total_due) from silver.orders where status not in (4, 6)"
    )
    [(silver_units,)] = _query(
        warehouse,
        "select sum(l.order_qty) from silver.order_lines l join silver.orders o "
        "using (sales_order_id) where o.status not in (4, 6)",
    )
    assert gold_rows > 0
    assert gold_due == silver_due and gold_units == silver_units


def _assert_all_green(result: ActResult) -> None:
    assert result.returncode == 0, result.tail()
    steps = result.steps()
    for name in ["load", *LAYER_STEPS]:
        assert steps.get(name) == ["start", "success"], (name, steps.get(name), result.tail())


@pytest.fixture(scope="module")
def first_dispatch(act_work: Path) -> ActResult:
    """`workflow_dispatch` with default inputs into an empty warehouse: the base load."""
    return _act(act_work, _dispatch())


def test_dispatch_runs_every_layer_and_publishes_gold(first_dispatch: ActResult, act_work: Path):
    _assert_all_green(first_dispatch)
    warehouse = _warehouse(act_work)
    assert _query(warehouse, "select count(*) from ops.loads where kind = 'synthetic'") == [(1,)]
    _assert_gold_reconciles(warehouse)
    # Every pattern the upload step names matched files of this run (stand-in upload).
    upload = next(
        s
        for s in load_workflow("pipeline.yml")["jobs"]["pipeline"]["steps"]
        if s.get("name") == "upload dbt results and logs"
    )
    uploaded = act_work / "artifacts" / "pipeline-1-1"
    for pattern in upload["with"]["path"].split():
        assert list(uploaded.glob(pattern)), f"nothing uploaded for {pattern}"
    assert list(uploaded.glob(".local/artifacts/**/dbt_test_gold/run_results.json"))


def test_schedule_builds_an_appended_hour_on_the_kept_warehouse(
    first_dispatch: ActResult, act_work: Path
):
    """The cron event has no inputs: target from the repository variable, else duckdb."""
    warehouse = _warehouse(act_work)
    [(orders_before,)] = _query(warehouse, "select count(*) from silver.orders")

    result = _act(act_work, ActRun("pipeline.yml", "schedule", variables=VARIABLES))

    _assert_all_green(result)
    assert "medallion pipeline (duckdb)" in result.output
    assert _query(warehouse, "select count(*) from ops.loads where kind = 'append'") >= [(1,)]
    [(orders_after,)] = _query(warehouse, "select count(*) from silver.orders")
    assert orders_after > orders_before
    _assert_gold_reconciles(warehouse)


HOLDER = """
import fcntl, json, os, sys, time
path = sys.argv[1]
# Wait until `medallion load` holds the lock (its record names it), then queue for it: the
# kernel hands it over when the load releases it, before the next step has even started.
while '"medallion load"' not in (open(path).read() if os.path.exists(path) else ""):
    time.sleep(0.01)
fd = os.open(path, os.O_RDWR)
fcntl.flock(fd, fcntl.LOCK_EX)
record = {"pid": os.getpid(), "host": "test", "owner": "another pipeline (test)"}
os.ftruncate(fd, 0); os.pwrite(fd, json.dumps(record).encode(), 0)
print("holding", flush=True)
sys.stdin.readline()
os.ftruncate(fd, 0); fcntl.flock(fd, fcntl.LOCK_UN)
"""


def test_transient_lock_on_a_run_step_is_retried_and_the_job_succeeds(
    first_dispatch: ActResult, act_work: Path
):
    lock = _warehouse(act_work).with_name("warehouse.duckdb.pipeline.lock")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock)], stdin=subprocess.PIPE, text=True
    )
    first_attempt = f"'medallion layer run bronze' exited {EXIT_TRANSIENT} on attempt 1 of 3"

    def release_after_first_attempt(line: str) -> None:
        if "exited" in line and "on attempt 1" in line and holder.stdin and not holder.stdin.closed:
            holder.stdin.write("release\n")
            holder.stdin.close()

    try:
        result = _act(act_work, _dispatch(), on_line=release_after_first_attempt)
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait(timeout=30)

    _assert_all_green(result)
    assert first_attempt in result.output, result.tail()
    assert "is in use by another pipeline run" in result.output
    assert "held by another pipeline (test)" in result.output
    assert "succeeded on attempt 2 of 3" in result.output
    _assert_gold_reconciles(_warehouse(act_work))


def test_silver_quality_failure_stops_before_publish_and_alerts_once(
    first_dispatch: ActResult, act_work: Path, receiver: Receiver
):
    warehouse = _warehouse(act_work)
    published_before = _published(warehouse)
    assert "silver.orders" in published_before and "gold.fct_sales_daily" in published_before
    # Upstream sends 5 % of the order lines again with a zero quantity: far above the
    # quarantine limit, so silver's gate must fail.
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "update sales.SalesOrderDetail set OrderQty = 0, _loaded_at = ? "
            "where SalesOrderDetailID % 20 = 0",
            [datetime.now(UTC).replace(tzinfo=None)],
        )
    run = _dispatch()
    run.secrets = {"SLACK_WEBHOOK_URL": receiver.url}

    result = _act(act_work, run)

    assert result.returncode != 0, result.tail()
    steps = result.steps()
    assert steps["silver test"] == ["start", "failure"], result.tail()
    for name in LAYER_STEPS[LAYER_STEPS.index("silver test") + 1 :]:
        assert name not in steps, f"{name} ran after the failed gate"
    assert _published(warehouse) == published_before, "published silver/gold changed"
    assert len(receiver.posts) == 1, receiver.posts
    text = receiver.posts[0]["json"]["text"]
    assert "Failed step: silver test" in text
    failing = re.findall(r"^  - test (\S+): fail, (\d+) failing rows", text, re.M)
    assert failing and all(int(count) > 0 for _, count in failing), text
    assert TOKEN not in result.output


# --------------------------------------------------------------------------- ci.yml


def _pull_request_event(work: Path) -> Path:
    event = work / "pull_request.json"
    event.write_text(
        json.dumps(
            {
                "pull_request": {
                    "number": 1,
                    "head": {"ref": "feature", "sha": "0" * 40},
                    "base": {"ref": "main", "sha": "1" * 40},
                }
            }
        ),
        encoding="utf-8",
    )
    return event


def test_ci_lint_job_runs_under_act(act_work: Path) -> None:
    """pre-commit on every file, as the pull-request check runs it."""
    run = ActRun("ci.yml", "pull_request", job="lint", event_file=_pull_request_event(act_work))
    result = _act(act_work, run)
    assert result.returncode == 0, result.tail()
    steps = result.steps()
    assert steps["pre-commit on all files"] == ["start", "success"], result.tail()
    for hook in ("ruff", "sqlfluff", "actionlint", "zizmor"):
        assert re.search(rf"^.*\| {hook}.*Passed$", result.output, re.M | re.I), hook


def test_ci_test_job_runs_on_the_host_under_act(act_work: Path) -> None:
    """The test job's `container:` is dropped (the host is that image's OS and Python); the
    job's `make test` runs a light subset, since the whole suite would run itself."""
    run = ActRun(
        "ci.yml",
        "pull_request",
        job="test",
        on_host=True,
        event_file=_pull_request_event(act_work),
        env={"PYTEST_ARGS": "tests/ci/test_retry.py -p no:cacheprovider"},
    )
    result = _act(act_work, run)
    assert result.returncode == 0, result.tail()
    assert result.steps()["make test"] == ["start", "success"], result.tail()
    assert re.search(r"\| =+ \d+ passed", result.output), result.tail()
    assert (
        "container"
        not in yaml.safe_load(run.workflow_file(REPO, act_work).read_text(encoding="utf-8"))[
            "jobs"
        ]["test"]
    )
