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
from collections.abc import Mapping
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
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
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
