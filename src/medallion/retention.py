"""Retention: what each run leaves behind is pruned by the pipeline itself.

Every DAG run leaves dbt artifacts (about 12 MB at SF 1), an HTML report, a `dags test` log
and rows in `ops`; an hourly schedule would add hundreds of MB a day, forever. The DAG's
record task calls :func:`prune` after recording its run: whatever is older than
``MEDALLION_RETENTION_DAYS`` (default 30; 0 keeps everything) goes, judged by when the run
was recorded (``ops.pipeline_runs.recorded_at``: a run's start is its logical date under
`airflow dags test`, which may lie years back) and by file modification time on disk:

- ``ops`` rows of those runs (every table, children first);
- ``<artifacts>/<dag_id>/<run_id>/`` and ``<artifacts>/cli/<stamp>/`` folders;
- ``<home>/reports/*.html`` and ``<home>/logs/*.log``.

Under a distributed executor each worker keeps its own artifacts: the record task prunes the
disk of the worker it runs on (and the shared `ops`); Airflow's own task logs are Airflow's
to rotate.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from medallion.config import Settings

log = logging.getLogger(__name__)


@dataclass
class PruneReport:
    cutoff: datetime
    runs: list[str] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"retention: older than {self.cutoff:%Y-%m-%d %H:%M} UTC: pruned {len(self.runs)} "
            f"run(s) from ops and {len(self.paths)} file(s) or folder(s)"
        )


def _old_entries(folder: Path, cutoff_ts: float, pattern: str = "*") -> list[Path]:
    if not folder.is_dir():
        return []
    return [
        p
        for p in folder.glob(pattern)
        if not p.name.startswith(".") and p.stat().st_mtime < cutoff_ts
    ]


def prune(settings: Settings, *, now: datetime | None = None) -> PruneReport | None:
    """Delete what is older than the retention age; None when retention is off (0 days)."""
    if settings.retention_days <= 0:
        return None
    from medallion import ops
    from medallion.connections import connect

    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=settings.retention_days)
    report = PruneReport(cutoff=cutoff)
    with connect(settings) as conn:
        cur = conn.cursor()
        ops.ensure_schema(conn, ops.dialect_for_target(settings.target))
        cur.execute(
            f"select run_id from {ops.SCHEMA}.pipeline_runs where recorded_at < ?",
            [cutoff.replace(tzinfo=None)],
        )
        report.runs = [row[0] for row in cur.fetchall()]
        for run_id in report.runs:
            for sql in ops.delete_run_sql(ops.dialect_for_target(settings.target)):
                cur.execute(sql, [run_id])
        conn.commit()
    cutoff_ts = time.time() - (now - cutoff).total_seconds()
    artifacts = settings.artifacts_dir
    candidates = [
        *(p for dag in _old_dirs(artifacts) for p in _old_entries(dag, cutoff_ts)),
        *_old_entries(settings.home / "reports", cutoff_ts, "*.html"),
        *_old_entries(settings.home / "logs", cutoff_ts, "*.log"),
    ]
    for path in candidates:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        report.paths.append(path)
    log.info("%s", report)
    return report


def _old_dirs(artifacts: Path) -> list[Path]:
    """The folders that hold one folder per run: <artifacts>/<dag_id>/ and <artifacts>/cli/."""
    if not artifacts.is_dir():
        return []
    return [p for p in artifacts.iterdir() if p.is_dir() and not p.name.startswith(".")]


def record_task(**context: Any) -> str:
    """`python_callable` of the DAG's record task (PythonOperator passes the context as
    kwargs): record this run into `ops` (`ops.record_from_context`), then prune what is
    older than the retention age. Wired as the DAG's last task, a teardown."""
    from medallion import ops

    status = ops.record_from_context(context)
    try:
        prune(Settings.from_env())
    except Exception:  # pruning old runs must never fail the record of this one
        log.exception("retention: could not prune old runs")
    return status
