"""One settings object, read from the environment when asked for, validated.

Nothing reads the environment at import time: the DAG file imports this module while
Airflow parses it, and a missing variable must fall back to a default, never crash a parse.
Every variable is listed in docs/CONFIGURATION.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from medallion.errors import ConfigError

TARGETS = ("duckdb", "sqlserver")


def _project_root(env: Mapping[str, str]) -> Path:
    """The checkout holding dbt/: MEDALLION_PROJECT_ROOT, else the source tree, else the cwd."""
    if env.get("MEDALLION_PROJECT_ROOT"):
        return Path(env["MEDALLION_PROJECT_ROOT"]).expanduser().resolve()
    source_tree = Path(__file__).resolve().parents[2]
    if (source_tree / "dbt" / "dbt_project.yml").is_file():
        return source_tree
    return Path.cwd().resolve()


def env_int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} must be >= {minimum}")
    return value


def env_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None


def env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use true/false)")


@dataclass(frozen=True)
class RetryPolicy:
    """Task retry and timeout settings; seconds so tests can shrink them."""

    retries: int = 2
    retry_delay_s: int = 300
    backoff: bool = True
    max_retry_delay_s: int = 1800
    execution_timeout_s: int = 1800
    task_sla_s: int = 1200
    dagrun_timeout_s: int = 7200
    dagrun_deadline_s: int = (
        3600  # 0 = no DeadlineAlert (see medallion.devtools.pipeline: dags test)
    )


@dataclass(frozen=True)
class AlertSettings:
    """Alert channels; each is on when its setting is present, off otherwise."""

    slack_conn_id: str | None = None
    email_to: tuple[str, ...] = ()
    smtp_conn_id: str = "smtp_default"
    webhook_url: str | None = field(default=None, repr=False)
    base_url: str = "http://localhost:8080"


def env_hours(env: Mapping[str, str], name: str, default: frozenset[int]) -> frozenset[int]:
    """Hours of the day (0-23), comma-separated; set but empty means none."""
    if name not in env:
        return default
    hours = set()
    for part in env[name].split(","):
        if not part.strip():
            continue
        try:
            hour = int(part)
        except ValueError:
            raise ConfigError(f"{name}={env[name]!r}: {part.strip()!r} is not an hour") from None
        if not 0 <= hour <= 23:
            raise ConfigError(f"{name}={env[name]!r}: {hour} is not an hour of the day (0-23)")
        hours.add(hour)
    return frozenset(hours)


@dataclass(frozen=True)
class Settings:
    project_root: Path
    home: Path
    warehouse: Path
    target: str
    dbt_project_dir: Path
    dbt_profiles_dir: Path
    artifacts_dir: Path
    airflow_home: Path
    duckdb_threads: int
    duckdb_memory_limit: str
    quarantine_max_ratio: float
    retry: RetryPolicy
    alerts: AlertSettings
    # Where each dbt task try leaves its results for the next try: an Airflow object-storage
    # URL (file://, s3://conn_id@bucket/prefix, ...) that every worker can reach.
    state_url: str = ""
    # How long a pipeline run waits for another one holding the warehouse (0: fail at once).
    lock_wait_s: int = 0
    # Runs' artifacts, reports, logs and ops rows older than this are pruned (0: keep all).
    retention_days: int = 30
    # UTC hours whose scheduled run tests everything instead of the batch (empty: never).
    full_check_hours: frozenset[int] = frozenset({0})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        root = _project_root(env)
        home = Path(env.get("MEDALLION_HOME") or root / ".local").expanduser().resolve()
        target = env.get("MEDALLION_TARGET", "duckdb").strip() or "duckdb"
        if target not in TARGETS:
            raise ConfigError(f"MEDALLION_TARGET={target!r} is not one of {', '.join(TARGETS)}")
        project_dir = Path(env.get("MEDALLION_DBT_PROJECT_DIR") or root / "dbt").expanduser()
        ratio = env_float(env, "MEDALLION_QUARANTINE_MAX_RATIO", 0.01)
        if not 0 <= ratio <= 1:
            raise ConfigError(f"MEDALLION_QUARANTINE_MAX_RATIO={ratio} must be within [0, 1]")
        emails = tuple(
            a.strip() for a in env.get("MEDALLION_ALERT_EMAIL_TO", "").split(",") if a.strip()
        )
        return cls(
            project_root=root,
            home=home,
            warehouse=Path(env.get("MEDALLION_WAREHOUSE") or home / "warehouse.duckdb")
            .expanduser()
            .resolve(),
            target=target,
            dbt_project_dir=project_dir.resolve(),
            dbt_profiles_dir=Path(env.get("MEDALLION_DBT_PROFILES_DIR") or project_dir)
            .expanduser()
            .resolve(),
            artifacts_dir=Path(env.get("MEDALLION_ARTIFACTS_DIR") or home / "artifacts")
            .expanduser()
            .resolve(),
            airflow_home=Path(env.get("MEDALLION_AIRFLOW_HOME") or home / "airflow")
            .expanduser()
            .resolve(),
            duckdb_threads=env_int(env, "MEDALLION_DUCKDB_THREADS", os.cpu_count() or 2, minimum=1),
            duckdb_memory_limit=env.get("MEDALLION_DUCKDB_MEMORY_LIMIT", "4GB"),
            quarantine_max_ratio=ratio,
            retry=RetryPolicy(
                retries=env_int(env, "MEDALLION_RETRIES", 2),
                retry_delay_s=env_int(env, "MEDALLION_RETRY_DELAY_SECONDS", 300),
                backoff=env_bool(env, "MEDALLION_RETRY_EXPONENTIAL_BACKOFF", True),
                max_retry_delay_s=env_int(env, "MEDALLION_MAX_RETRY_DELAY_SECONDS", 1800),
                execution_timeout_s=env_int(env, "MEDALLION_EXECUTION_TIMEOUT_SECONDS", 1800, 1),
                task_sla_s=env_int(env, "MEDALLION_TASK_SLA_SECONDS", 1200, 1),
                dagrun_timeout_s=env_int(env, "MEDALLION_DAGRUN_TIMEOUT_SECONDS", 7200, 1),
                dagrun_deadline_s=env_int(env, "MEDALLION_DAGRUN_DEADLINE_SECONDS", 3600, 0),
            ),
            alerts=AlertSettings(
                slack_conn_id=env.get("MEDALLION_ALERT_SLACK_CONN_ID") or None,
                email_to=emails,
                smtp_conn_id=env.get("MEDALLION_ALERT_SMTP_CONN_ID") or "smtp_default",
                webhook_url=env.get("MEDALLION_ALERT_WEBHOOK_URL") or None,
                base_url=env.get("AIRFLOW__API__BASE_URL") or "http://localhost:8080",
            ),
            state_url=(env.get("MEDALLION_STATE_URL") or "").strip() or (home / "state").as_uri(),
            lock_wait_s=env_int(env, "MEDALLION_LOCK_WAIT_SECONDS", 0),
            retention_days=env_int(env, "MEDALLION_RETENTION_DAYS", 30),
            full_check_hours=env_hours(env, "MEDALLION_FULL_CHECK_HOURS", frozenset({0})),
        )

    def dbt_env(self) -> dict[str, str]:
        """Variables profiles.yml and the models read through env_var(); resolved defaults."""
        return {
            "MEDALLION_TARGET": self.target,
            "MEDALLION_WAREHOUSE": str(self.warehouse),
            "MEDALLION_DUCKDB_THREADS": str(self.duckdb_threads),
            "MEDALLION_DUCKDB_MEMORY_LIMIT": self.duckdb_memory_limit,
            "MEDALLION_QUARANTINE_MAX_RATIO": str(self.quarantine_max_ratio),
        }
