"""`medallion run`: load the data, run the real `dbt_transform` DAG, print what happened.

The DAG runs through `airflow dags test` (a subprocess of this environment's `airflow`) on a
project-local AIRFLOW_HOME with SQLite metadata, migrated on first use only. The outcome is
read back from Airflow's metadata DB (DAG run and task instance states, timings), never
guessed from console output, and the exit code is 0 only when the DAG run succeeded.

`dags test` runs with the DAG-run DeadlineAlert switched off
(MEDALLION_DAGRUN_DEADLINE_SECONDS=0): in Airflow 3.3.2 a DAG with a deadline makes
`dags test` crash after a successful run and leave the run "running" (apache/airflow#73428),
and no scheduler evaluates deadlines under `dags test` anyway. Deployed DAGs keep it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

from medallion.airflow_env import RecordedTask, airflow_env, last_run_pk, latest_run
from medallion.config import Settings
from medallion.errors import MedallionError
from medallion.names import DAG_ID, LAYERS, STEPS, task_id

if TYPE_CHECKING:
    from collections.abc import Mapping

_MIGRATED_MARKER = ".medallion-db-migrated"


@dataclass
class DagRunOutcome:
    """A DAG run as recorded in Airflow's metadata DB."""

    run_id: str | None
    state: str | None
    tasks: dict[str, RecordedTask] = field(default_factory=dict)
    returncode: int | None = None
    log_file: Path | None = None

    @property
    def success(self) -> bool:
        return self.state == "success"

    def layer(self, layer: str) -> tuple[str, float | None]:
        """(status, seconds from the run task's start to the publish task's end) of a layer."""
        steps = [self.tasks.get(task_id(layer, step)) for step in STEPS]
        present = [t for t in steps if t is not None]
        states = [t.state or "none" for t in present]
        order = ("failed", "upstream_failed", "up_for_retry", "running", "none", "skipped")
        status = next((s for s in order if s in states), "success" if states else "missing")
        duration = None
        if present and present[0].start and present[-1].end:
            duration = (present[-1].end - present[0].start).total_seconds()
        return status, duration


def _airflow_bin() -> str:
    candidate = Path(sys.executable).with_name("airflow")
    return str(candidate) if candidate.exists() else (shutil.which("airflow") or "airflow")


def dags_test_env(settings: Settings, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment of the `airflow` subprocesses: the project's local Airflow, deadline off."""
    env = airflow_env(settings, base=base)
    env["MEDALLION_DAGRUN_DEADLINE_SECONDS"] = "0"  # apache/airflow#73428, see module doc
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def ensure_airflow_db(settings: Settings, env: Mapping[str, str]) -> bool:
    """`airflow db migrate` unless this AIRFLOW_HOME is already migrated for this Airflow.

    Returns True when it migrated. The marker makes the second call free (no Airflow start).
    """
    home = settings.airflow_home
    marker = home / _MIGRATED_MARKER
    wanted = version("apache-airflow")
    if (home / "airflow.db").is_file() and marker.is_file() and marker.read_text() == wanted:
        return False
    home.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [_airflow_bin(), "db", "migrate"], env=dict(env), capture_output=True, text=True
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-20:])
        raise MedallionError(f"`airflow db migrate` failed in {home}:\n{tail}")
    marker.write_text(wanted)
    return True


def read_dag_run(settings: Settings, after_pk: int = 0) -> DagRunOutcome:
    """The latest `dbt_transform` run created after ``after_pk``, with its task instances."""
    run = latest_run(settings.airflow_home, DAG_ID, after_pk)
    if run is None:
        return DagRunOutcome(run_id=None, state=None)
    return DagRunOutcome(
        run_id=run.run_id, state=run.state, tasks={t.task_id: t for t in run.tasks}
    )


def run_dag(
    settings: Settings,
    *,
    full_refresh: bool = False,
    env: Mapping[str, str] | None = None,
    echo: bool = True,
    logical_date: str | None = None,
) -> DagRunOutcome:
    """`airflow dags test dbt_transform` on the project's Airflow; the run as recorded.

    ``logical_date`` (ISO) re-runs that interval: Airflow replaces an earlier run of it.
    """
    env = dags_test_env(settings) if env is None else dict(env)
    if echo and not (settings.airflow_home / _MIGRATED_MARKER).is_file():
        print("  preparing Airflow's metadata database (airflow db migrate, first run only)")
    ensure_airflow_db(settings, env)
    before = last_run_pk(settings.airflow_home, DAG_ID, replacing=logical_date)
    log_dir = settings.home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / f"dags_test_{time.strftime('%Y%m%dT%H%M%S')}.log"
    argv = [
        _airflow_bin(),
        "dags",
        "test",
        DAG_ID,
        *([logical_date] if logical_date else []),
        "--conf",
        json.dumps({"full_refresh": full_refresh}),
    ]
    timeout = settings.retry.dagrun_timeout_s + 300
    with log_file.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert proc.stdout is not None
        started = time.monotonic()
        if echo:
            print("  starting Airflow and parsing the DAG", flush=True)
        for line in proc.stdout:
            out.write(line)
            if echo and "[DAG TEST] " in line and "task_id=" in line:
                task = line.split("task_id=", 1)[-1].split()[0]
                verb = "finished" if "[DAG TEST] end task" in line else "started "
                print(f"  {time.monotonic() - started:6.1f}s  {verb} {task}", flush=True)
            if time.monotonic() - started > timeout:
                proc.kill()
                break
        returncode = proc.wait()
    outcome = read_dag_run(settings, after_pk=before)
    outcome.returncode = returncode
    outcome.log_file = log_file
    return outcome


def gold_row_counts(settings: Settings) -> dict[str, int]:
    """Rows per gold relation (DuckDB target; empty when the warehouse is elsewhere)."""
    if settings.target != "duckdb" or not settings.warehouse.is_file():
        return {}
    import duckdb

    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        names = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'gold' order by table_name"
            ).fetchall()
        ]
        return {
            f"gold.{n}": int(con.execute(f'select count(*) from gold."{n}"').fetchone()[0])
            for n in names
        }


def print_summary(settings: Settings, outcome: DagRunOutcome) -> None:
    """The run's per-layer table and report (from `ops`, written by the DAG's record task),
    then the gold row counts. Falls back to the metadata DB's task states if the run was not
    recorded (e.g. the record task itself could not reach the warehouse)."""
    from medallion.report import report_run

    print(f"\nDAG {DAG_ID} run {outcome.run_id}: {outcome.state or 'not recorded'}")
    try:
        report_run(settings, outcome.run_id)
    except MedallionError as exc:
        print(f"  (no run report: {exc})")
        for layer in LAYERS:
            status, duration = outcome.layer(layer)
            shown = "-" if duration is None else f"{duration:.1f}s"
            print(f"  {layer:8} {status:16} {shown:>9}")
    counts = gold_row_counts(settings)
    if counts:
        print("\nGold rows:")
        for name, n in counts.items():
            print(f"  {name:32} {n:>10,}")
    if outcome.log_file:
        print(f"\nFull log: {outcome.log_file}")


def run_pipeline(
    settings: Settings,
    *,
    source: Path | None = None,
    scale: float = 1.0,
    seed: int = 42,
    full_refresh: bool = False,
) -> int:
    """Load (skipped when already loaded), run the DAG, summarise; 0 only on DAG success.

    The whole run holds the warehouse's pipeline lock (`medallion.lock`): a second
    `medallion run` on the same warehouse fails at once (exit 2) naming this one. The DAG's
    tasks inherit the lock through its token instead of waiting for their own parent.
    """
    from medallion.loading.api import load
    from medallion.lock import TOKEN_ENV, pipeline_lock

    with pipeline_lock(settings, owner="medallion run") as token:
        load(settings, source=source, scale=scale, seed=seed).print()
        print(f"\nRunning DAG {DAG_ID} (airflow dags test, AIRFLOW_HOME={settings.airflow_home})")
        env = dags_test_env(settings)
        env[TOKEN_ENV] = token
        outcome = run_dag(settings, full_refresh=full_refresh, env=env)
        print_summary(settings, outcome)
    if not outcome.success:
        print(f"DAG run did not succeed (state {outcome.state}).", file=sys.stderr)
        return 1
    return 0
