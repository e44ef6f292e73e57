"""What one try of a dbt task leaves for the next try, in storage every worker can reach.

A retry should rebuild only the nodes that failed or were skipped (see
:func:`medallion.dbt.plan_commands`), so it needs the previous try's results. Those cannot
come from local disk (the retry may land on another worker) nor from XCom: Airflow 3 deletes
a task instance's XComs when its next try starts (the Execution API hands the worker
``xcom_keys_to_clear``), so try 1's ``dbt_summary`` is gone before try 2 could read it.

They go to Airflow object storage instead (``airflow.sdk.ObjectStoragePath``) under
``MEDALLION_STATE_URL`` (default ``file://$MEDALLION_HOME/state``; in a multi-worker
deployment an ``s3://<conn_id>@bucket/prefix`` or any fsspec URL all workers share):
``<url>/<dag_id>/<run_id>/<task_id>/try_<n>.json``.

A record is trusted only when it says Airflow was going to retry (``expects_retry``): after a
final failure, a data-quality failure or a success, a new try is a manual re-run whose inputs
may have changed, so it runs the whole layer.

While dbt runs, the record is rewritten as nodes finish (``in_progress``, at most once a
second: :func:`progress_recorder`). A try whose worker is killed (SIGKILL, a lost machine,
an evicted pod) never writes its final record, and the retry that the scheduler starts after
the missed heartbeats re-runs only what the dead try had not finished. Such a record is
trusted like a retry's: its nodes were built in this same DAG run.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from medallion.dbt import StepResult, safe_path_part

if TYPE_CHECKING:
    from medallion.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TryKey:
    """Which task try a record belongs to."""

    dag_id: str
    run_id: str
    task_id: str
    try_number: int

    @classmethod
    def of(cls, ti: Any) -> TryKey:
        """The key of an Airflow task instance's current try."""
        return cls(ti.dag_id, ti.run_id, ti.task_id, int(ti.try_number))


def _path(settings: Settings, key: TryKey, try_number: int) -> Any:
    from airflow.sdk import ObjectStoragePath

    root = ObjectStoragePath(settings.state_url)
    return (
        root
        / safe_path_part(key.dag_id)
        / safe_path_part(key.run_id)
        / safe_path_part(key.task_id)
        / f"try_{int(try_number)}.json"
    )


def save_try(
    settings: Settings,
    key: TryKey,
    result: StepResult,
    *,
    expects_retry: bool,
    in_progress: bool = False,
) -> None:
    """Record this try's dbt results; never raises (state is an optimisation, not an outcome)."""
    try:
        path = _path(settings, key, key.try_number)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "expects_retry": expects_retry,
            "in_progress": in_progress,
            "result": result.to_dict(),
        }
        path.write_text(json.dumps(record, default=str))
    except Exception:
        log.warning(
            "could not record the results of try %s in %s; a retry will rebuild the whole layer",
            key.try_number,
            settings.state_url,
            exc_info=True,
        )


def progress_recorder(
    settings: Settings, key: TryKey, *, min_interval_s: float = 1.0
) -> Callable[[StepResult], None]:
    """``on_progress`` of a dbt task: its progress record, rewritten at most once per
    ``min_interval_s`` (a write per node would add an object-store round trip per node); a
    try that dies loses at most that much progress, which its retry runs again."""
    last = -min_interval_s

    def record(so_far: StepResult) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= min_interval_s:
            last = now
            save_try(settings, key, so_far, expects_retry=True, in_progress=True)

    return record


def _forget_older_runs(settings: Settings, key: TryKey) -> None:
    """Drop records a replaced run with the same run id left (`dags test` of one logical
    date twice), so a later try never plans from another run's results."""
    try:
        folder = _path(settings, key, 1).parent
        if folder.exists():
            for record in folder.iterdir():
                record.unlink()
    except Exception:
        log.warning("could not clear old try records under %s", settings.state_url, exc_info=True)


def previous_try(settings: Settings, key: TryKey) -> StepResult | None:
    """The previous try's results when this try is an automatic retry of it, else None.

    None (rebuild the whole layer) when this is try 1, when the previous try left no record
    (killed before its first node finished, storage unreachable) or when it did not expect a retry.
    """
    if key.try_number <= 1:
        _forget_older_runs(settings, key)
        return None
    try:
        path = _path(settings, key, key.try_number - 1)
        if not path.exists():
            log.info(
                "no record of try %s at %s: rebuilding the whole layer", key.try_number - 1, path
            )
            return None
        record = json.loads(path.read_text())
    except Exception:
        log.warning(
            "could not read the record of try %s; rebuilding the whole layer",
            key.try_number - 1,
            exc_info=True,
        )
        return None
    if not record.get("expects_retry"):
        return None
    if record.get("in_progress"):
        log.warning(
            "try %s did not finish (its worker died?): re-running what it left unfinished",
            key.try_number - 1,
        )
    return StepResult.from_dict(record.get("result") or {})
