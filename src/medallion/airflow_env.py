"""The environment every local Airflow process of this project runs with.

One function so `medallion run` (`airflow dags test`), `medallion airflow` (scheduler,
api-server, ...) and the tests configure Airflow identically: project-local AIRFLOW_HOME with
SQLite metadata, this checkout's DAGs folder, LocalExecutor, no examples, DAGs paused at
creation, loopback-only API. Secrets Airflow needs (JWT and API secret keys) are generated
once per AIRFLOW_HOME and kept there with mode 0600; they are never printed.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from medallion.config import Settings

ADMIN_USER = "medallion"
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"
_SIMPLE_AUTH = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


def _secret(airflow_home: Path, name: str) -> str:
    """A random secret persisted in AIRFLOW_HOME (created 0600 on first use)."""
    path = airflow_home / name
    if not path.is_file():
        airflow_home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text(encoding="utf-8").strip()


def dags_folder(settings: Settings) -> Path:
    return settings.project_root / "airflow" / "dags"


def airflow_env(
    settings: Settings,
    *,
    api_port: int | None = None,
    base: Mapping[str, str] | None = None,
    parallelism: int = 4,
) -> dict[str, str]:
    """The full environment for an Airflow process (`base`, default os.environ, plus ours).

    `api_port` points the API base URL and the Execution API (which task processes under a
    real scheduler report to) at a local api-server on 127.0.0.1; without it the settings
    still work for `airflow dags test` and the CLI.
    """
    home = settings.airflow_home
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ if base is None else base)
    env.update(settings.dbt_env())
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            # Settings.from_env() inside task processes must resolve the same paths
            "MEDALLION_PROJECT_ROOT": str(settings.project_root),
            "MEDALLION_HOME": str(settings.home),
            "MEDALLION_DBT_PROJECT_DIR": str(settings.dbt_project_dir),
            "MEDALLION_DBT_PROFILES_DIR": str(settings.dbt_profiles_dir),
            "MEDALLION_ARTIFACTS_DIR": str(settings.artifacts_dir),
            "MEDALLION_AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder(settings)),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            # Airflow's LocalExecutor, forking tasks from workers that have dbt loaded
            "AIRFLOW__CORE__EXECUTOR": "medallion.executors.LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(parallelism),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__AUTH_MANAGER": _SIMPLE_AUTH,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / PASSWORDS_FILE),
            "AIRFLOW__API_AUTH__JWT_SECRET": _secret(home, ".jwt_secret"),
            "AIRFLOW__API__SECRET_KEY": _secret(home, ".api_secret_key"),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__WORKERS": "1",
            # new DAG files and changes show up within seconds, locally
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
            "NO_PROXY": ",".join(filter(None, [env.get("NO_PROXY", ""), "127.0.0.1", "localhost"])),
        }
    )
    env["no_proxy"] = env["NO_PROXY"]
    if api_port is not None:
        url = f"http://127.0.0.1:{api_port}"
        env["AIRFLOW__API__PORT"] = str(api_port)
        env["AIRFLOW__API__BASE_URL"] = url
        env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"{url}/execution/"
    return env


def ensure_admin_password(settings: Settings) -> tuple[str, str]:
    """(user, password) of the local admin; generated once, kept in AIRFLOW_HOME (0600).

    Writing the SimpleAuthManager passwords file ourselves, before the api-server starts,
    keeps Airflow from printing a generated password into its log.
    """
    import json

    path = settings.airflow_home / PASSWORDS_FILE
    passwords: dict[str, str] = {}
    if path.is_file():
        try:
            passwords = json.loads(path.read_text(encoding="utf-8") or "{}")
        except json.JSONDecodeError:
            passwords = {}
    if not passwords.get(ADMIN_USER):
        passwords[ADMIN_USER] = secrets.token_urlsafe(12)
        settings.airflow_home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(passwords) + "\n")
    return ADMIN_USER, passwords[ADMIN_USER]


# --------------------------------------------------------------------------- metadata


@dataclass(frozen=True)
class RecordedTask:
    """A task instance as the metadata database recorded it (times naive UTC)."""

    task_id: str
    state: str | None
    try_number: int
    start: datetime | None
    end: datetime | None

    @property
    def duration_s(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class RecordedRun:
    pk: int
    run_id: str
    state: str | None
    tasks: tuple[RecordedTask, ...]


def _metadata(airflow_home: Path) -> sqlite3.Connection:
    path = airflow_home / "airflow.db"
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)


def _utc(value: str | None) -> datetime | None:
    """Naive UTC from a timestamp as Airflow stores it."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T"))
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def last_run_pk(airflow_home: Path, dag_id: str, *, replacing: str | None = None) -> int:
    """The newest run's id in a local Airflow home (0 before the first run); with
    ``replacing`` (an ISO logical date), among the other runs, since Airflow deletes the run
    it replaces and SQLite may hand its id to the new one."""
    if not (airflow_home / "airflow.db").is_file():
        return 0
    query, args = "select max(id) from dag_run where dag_id = ?", [dag_id]
    if replacing:
        when = datetime.fromisoformat(replacing).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        query += " and coalesce(logical_date, '') not like ?"
        args.append(when + "%")
    with _metadata(airflow_home) as con:
        row = con.execute(query, args).fetchone()
    return int(row[0] or 0)


def latest_run(airflow_home: Path, dag_id: str, after_pk: int = 0) -> RecordedRun | None:
    """The newest run of ``dag_id`` created after ``after_pk``, with its task instances."""
    with _metadata(airflow_home) as con:
        run = con.execute(
            "select id, run_id, state from dag_run where dag_id = ? and id > ? "
            "order by id desc limit 1",
            (dag_id, after_pk),
        ).fetchone()
        if run is None:
            return None
        rows = con.execute(
            "select task_id, state, try_number, start_date, end_date from task_instance "
            "where dag_id = ? and run_id = ?",
            (dag_id, run[1]),
        ).fetchall()
    tasks = tuple(RecordedTask(t, st, int(n or 0), _utc(s), _utc(e)) for t, st, n, s, e in rows)
    return RecordedRun(int(run[0]), str(run[1]), run[2], tasks)
