"""One pipeline at a time per warehouse: a lock held by `medallion run`/`load` and each dbt task.

Two pipeline runs against one warehouse would interleave loads and layer builds (run A's
silver over run B's raw data, a load swapping raw tables under a dbt run). DuckDB's own file
lock only covers one statement's connection, not a whole run, so the pipeline takes its own:

* DuckDB: an exclusive ``flock`` on ``<warehouse>.pipeline.lock`` next to the warehouse file.
  The kernel drops it when the holder dies, even by SIGKILL, so a killed run never leaves a
  stale lock behind; the file's content (pid, owner, since) only serves the error message.
* SQL Server: ``sp_getapplock`` on resource ``medallion_pipeline`` with a session owner,
  released by SQL Server when the session ends, for the same reason (an ``ops`` lock row would
  outlive a killed holder).

`medallion run` takes the lock for load + DAG run and hands its token to the `airflow dags
test` subprocess (``MEDALLION_PIPELINE_LOCK_TOKEN``), whose tasks then run under it instead of
waiting for their own parent. A DAG run by a scheduler has no parent: each dbt task takes the
lock for its duration. The second pipeline waits up to ``MEDALLION_LOCK_WAIT_SECONDS``
(default 0) and then fails with :class:`WarehouseBusyError` naming the holder; inside Airflow
that error is retried like any busy warehouse.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medallion.errors import WarehouseBusyError

if TYPE_CHECKING:
    from medallion.config import Settings

TOKEN_ENV = "MEDALLION_PIPELINE_LOCK_TOKEN"
APPLOCK_RESOURCE = "medallion_pipeline"
_POLL_S = 0.2


def lock_path(settings: Settings) -> Path:
    """The DuckDB lock file: next to the warehouse, so every process using it finds it."""
    return settings.warehouse.with_name(settings.warehouse.name + ".pipeline.lock")


def _holder(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}


def _describe(holder: dict[str, Any]) -> str:
    if not holder.get("pid"):
        return "holder unknown"
    return (
        f"held by {holder.get('owner', '?')} (pid {holder['pid']} on {holder.get('host', '?')}, "
        f"since {holder.get('since', '?')})"
    )


def _busy(settings: Settings, holder: dict[str, Any], waited: float) -> WarehouseBusyError:
    return WarehouseBusyError(
        f"warehouse {settings.warehouse} is in use by another pipeline run: lock "
        f"{lock_path(settings) if settings.target == 'duckdb' else APPLOCK_RESOURCE} "
        f"{_describe(holder)}; waited {waited:.0f}s. This run changed nothing. Wait for the "
        "other run to finish (or set MEDALLION_LOCK_WAIT_SECONDS to wait longer) and retry."
    )


@contextlib.contextmanager
def pipeline_lock(settings: Settings, *, owner: str, wait_s: float | None = None) -> Iterator[str]:
    """Hold the warehouse's pipeline lock; yields the token children may inherit."""
    wait = float(settings.lock_wait_s if wait_s is None else wait_s)
    if settings.target == "sqlserver":
        with _sqlserver_lock(settings, wait) as token:
            yield token
        return
    path = lock_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    started = time.monotonic()
    try:
        inherited = os.environ.get(TOKEN_ENV)
        held_by_parent = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _holder(path)
            if inherited and holder.get("token") == inherited:
                held_by_parent = True  # our parent `medallion run` holds it for us
                break
            waited = time.monotonic() - started
            if waited >= wait:
                raise _busy(settings, holder, waited)
            time.sleep(_POLL_S)
        if held_by_parent:
            yield inherited  # type: ignore[misc]
            return
        token = secrets.token_hex(16)
        record = {
            "token": token,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "owner": owner,
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        try:
            yield token
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def applock_sql(wait_s: float) -> str:
    """T-SQL taking the session-owned application lock; returns sp_getapplock's status."""
    return (
        "SET NOCOUNT ON; DECLARE @status int; "
        f"EXEC @status = sp_getapplock @Resource = N'{APPLOCK_RESOURCE}', "
        f"@LockMode = N'Exclusive', @LockOwner = N'Session', @LockTimeout = {int(wait_s * 1000)}; "
        "SELECT @status;"
    )


@contextlib.contextmanager
def _sqlserver_lock(settings: Settings, wait: float) -> Iterator[str]:
    inherited = os.environ.get(TOKEN_ENV)
    if inherited:  # the parent's session holds the application lock
        yield inherited
        return
    from medallion.connections import connect_sqlserver

    conn = connect_sqlserver(autocommit=True)
    try:
        status = conn.execute(applock_sql(wait)).fetchone()[0]
        if status < 0:  # -1 timeout, -2 cancelled, -3 deadlock victim, -999 error
            raise _busy(settings, {}, wait)
        yield secrets.token_hex(16)
    finally:
        conn.close()  # ends the session: SQL Server releases the lock
