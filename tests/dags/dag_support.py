"""Helpers and fixtures for the DAG tests: one migrated AIRFLOW_HOME per session, a small dbt project,
local stand-ins for Slack / a JSON webhook (HTTP on 127.0.0.1) and an SMTP server (aiosmtpd).

Everything is written under pytest's tmp dirs; nothing in the repository changes.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import pytest

from medallion.config import Settings

REPO = Path(__file__).resolve().parents[2]
MINI_PROJECT = REPO / "tests" / "fixtures" / "mini_dbt"
SENTINELS = {
    "slack": "SENTINEL-SLACK-TOKEN-7f3a",
    "smtp": "SENTINEL-SMTP-PASSWORD-91c2",
    "webhook": "SENTINEL-WEBHOOK-TOKEN-55e1",
}


def clean_env() -> dict[str, str]:
    """os.environ without MEDALLION_* / AIRFLOW* so tests only see what they set."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MEDALLION_", "AIRFLOW_", "AIRFLOW__"))
    }


@dataclass
class HttpReceiver:
    """A webhook endpoint on 127.0.0.1 recording every POST (path, JSON body)."""

    port: int
    posts: list[tuple[str, Any]] = field(default_factory=list)
    on_post: Any = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_for(self, predicate: Any, timeout: float = 60) -> list[tuple[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [p for p in list(self.posts) if predicate(p)]
            if found:
                return found
            time.sleep(0.05)
        return []


@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    with serving_http() as receiver:
        yield receiver


@contextlib.contextmanager
def serving_http() -> Iterator[HttpReceiver]:
    """An :class:`HttpReceiver` listening until the block ends."""
    receiver = HttpReceiver(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                payload: Any = json.loads(body)
            except ValueError:
                payload = body.decode("utf-8", "replace")
            receiver.posts.append((self.path, payload))
            if receiver.on_post is not None:
                receiver.on_post(self.path, payload)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


@dataclass
class SmtpReceiver:
    port: int
    messages: list[Any] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)


@pytest.fixture
def smtp_receiver() -> Iterator[SmtpReceiver]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    receiver = SmtpReceiver(port=0)

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            receiver.messages.append(message_from_bytes(envelope.original_content))
            return "250 OK"

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
        receiver.logins.append((auth.login.decode(), auth.password.decode()))
        return AuthResult(success=True)

    with socket.socket() as probe:  # aiosmtpd needs a concrete port to self-check
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    receiver.port = port
    yield receiver
    controller.stop()


def alert_env(http: HttpReceiver, smtp: SmtpReceiver) -> dict[str, str]:
    """Every alert channel on, pointing at the local receivers, with sentinel secrets."""
    slack_conn = {
        "conn_type": "slackwebhook",
        "host": http.url(""),
        "password": f"services/T000/B000/{SENTINELS['slack']}",
    }
    smtp_conn = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": smtp.port,
        "login": "alerts",
        "password": SENTINELS["smtp"],
        "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "airflow@localhost"},
    }
    return {
        "MEDALLION_ALERT_SLACK_CONN_ID": "slack_default",
        "AIRFLOW_CONN_SLACK_DEFAULT": json.dumps(slack_conn),
        "MEDALLION_ALERT_EMAIL_TO": "oncall@example.com",
        "MEDALLION_ALERT_SMTP_CONN_ID": "smtp_default",
        "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(smtp_conn),
        "MEDALLION_ALERT_WEBHOOK_URL": http.url(f"/hook/{SENTINELS['webhook']}"),
    }


def slack_posts(http: HttpReceiver) -> list[Any]:
    return [p for path, p in http.posts if path.startswith("/services/")]


def webhook_posts(http: HttpReceiver) -> list[Any]:
    return [p for path, p in http.posts if path.startswith("/hook/")]


def mail_text(message: Any) -> str:
    """Headers and decoded bodies of an email (bodies travel base64-encoded)."""
    parts = [f"{k}: {v}" for k, v in message.items()]
    for part in message.walk():
        payload = part.get_payload(decode=True)
        if payload:
            parts.append(payload.decode("utf-8", "replace"))
    return "\n".join(parts)


def xcom_summaries(airflow_home: Path, run_id: str) -> dict[str, dict[str, Any]]:
    """The `dbt_summary` XCom of every dbt task of a run (its last try), from Airflow's
    metadata DB."""
    with sqlite3.connect(airflow_home / "airflow.db") as con:
        rows = con.execute(
            "select task_id, value from xcom where run_id = ? and key = 'dbt_summary'", (run_id,)
        ).fetchall()
    out = {}
    for task_id, value in rows:
        data = json.loads(value)
        out[task_id] = json.loads(data) if isinstance(data, str) else data
    return out


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated Airflow metadata DB for the whole session (migration costs seconds)."""
    from medallion.devtools.pipeline import dags_test_env, ensure_airflow_db

    home = tmp_path_factory.mktemp("airflow_home")
    env = {
        **clean_env(),
        "MEDALLION_HOME": str(home / "medallion"),
        "MEDALLION_AIRFLOW_HOME": str(home),
    }
    settings = Settings.from_env(env)
    ensure_airflow_db(settings, dags_test_env(settings, base=env))
    return home


def seed_orders(warehouse: Path, *, bad_status: bool = False) -> None:
    """Raw `sales.orders` for the mini project; ``bad_status`` adds a row that fails silver."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "create schema if not exists sales; "
            "create or replace table sales.orders as "
            "select i as order_id, 1 + i % 6 as status, 10.0 * i as amount, "
            "now() as _loaded_at from range(1, 50) t(i)"
        )
        if bad_status:
            con.execute("insert into sales.orders values (999, 9, 1.0, now())")


@dataclass
class Pipeline:
    """One isolated pipeline world: warehouse, artifacts, dbt project; shared AIRFLOW_HOME."""

    root: Path
    env: dict[str, str]

    @property
    def settings(self) -> Settings:
        return Settings.from_env(self.env)

    def dags_test(self, **extra_env: str) -> Any:
        from medallion.devtools.pipeline import dags_test_env, run_dag

        self.env.update(extra_env)
        settings = self.settings
        return run_dag(settings, env=dags_test_env(settings, base=self.env), echo=False)

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.settings.warehouse), read_only=True) as con:
            return con.execute(sql).fetchall()


def mini_pipeline(root: Path, airflow_home: Path, warehouse: Path) -> Pipeline:
    """A pipeline world in ``root`` running a copy of the mini dbt project on ``warehouse``:
    one thread, 1 s retry delays, a shared AIRFLOW_HOME."""
    project = root / "dbt"
    shutil.copytree(MINI_PROJECT, project)
    env = {
        **clean_env(),
        "MEDALLION_PROJECT_ROOT": str(REPO),
        "MEDALLION_HOME": str(root / "home"),
        "MEDALLION_WAREHOUSE": str(warehouse),
        "MEDALLION_DBT_PROJECT_DIR": str(project),
        "MEDALLION_AIRFLOW_HOME": str(airflow_home),
        "MEDALLION_DUCKDB_THREADS": "1",
        "MEDALLION_DUCKDB_MEMORY_LIMIT": "1GB",
        "MEDALLION_RETRY_DELAY_SECONDS": "1",
        "MEDALLION_MAX_RETRY_DELAY_SECONDS": "4",
        "MEDALLION_EXECUTION_TIMEOUT_SECONDS": "300",
    }
    return Pipeline(root=root, env=env)


@pytest.fixture
def pipeline(tmp_path: Path, airflow_home: Path) -> Pipeline:
    return mini_pipeline(tmp_path, airflow_home, tmp_path / "warehouse.duckdb")
