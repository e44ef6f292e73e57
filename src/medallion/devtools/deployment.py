"""A distributed Airflow on one machine: what docs/DEPLOYMENT.md describes, started for real.

PostgreSQL is the metadata database, Redis the Celery broker, and the four Airflow 3 core
components (:class:`~medallion.devtools.local_airflow.LocalAirflow`) run the CeleryExecutor.
Each Celery worker stands in for a host of its own:

* its own ``MEDALLION_HOME`` (Airflow home, task logs, dbt artifacts): no local disk is shared;
* its own loopback address as hostname (``127.0.0.2``, ``127.0.0.3``, ...), recorded on the
  task instances it runs, with its own log server bound to that address, from which the
  api-server fetches task logs as it would from another machine.

Shared, as in a real deployment: the warehouse (a DuckDB file here, SQL Server in
production), the try-state store (``MEDALLION_STATE_URL``: a ``file://`` folder standing in
for the object store) and the secrets every component signs and checks tokens with.
Everything binds 127.0.0.1 (the workers' 127.0.0.x) and stops with the context manager.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from glob import glob
from pathlib import Path

from medallion.airflow_env import airflow_env
from medallion.config import Settings
from medallion.devtools.local_airflow import LocalAirflow, LocalAirflowError, StartStop, free_port

WORKER_LOG_PORT = 8793  # Airflow's default; each worker binds it on its own address
DB_NAME = DB_USER = "airflow"


def worker_host() -> str:
    """`[core] hostname_callable` of a stand-in worker host: its loopback address."""
    return os.environ["MEDALLION_WORKER_HOST"]


def _pg_bin(name: str) -> str:
    found = sorted(glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or ""]
    if not found[-1]:
        raise LocalAirflowError(
            f"PostgreSQL's {name} not found: run `bash scripts/install_system_deps.sh`"
        )
    return found[-1]


@dataclass
class Postgres:
    """A throwaway PostgreSQL cluster on 127.0.0.1, for tests only: trust auth, no fsync."""

    port: int = field(default_factory=free_port)
    root: Path = field(init=False)

    def _run(self, *argv: str, timeout_s: float = 120) -> None:
        # PostgreSQL refuses to run as root: as root, run it as the `postgres` system user
        cmd = ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else list(argv)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
        if proc.returncode != 0:
            raise LocalAirflowError(f"{' '.join(argv[:2])} failed: {proc.stderr[-1500:]}")

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://{DB_USER}@127.0.0.1:{self.port}/{DB_NAME}"

    def start(self) -> None:
        # not under pytest's 0700 tmp dirs: the postgres user must be able to reach it
        self.root = Path(tempfile.mkdtemp(prefix="medallion-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            _pg_bin("initdb"), "-D", str(self.data), "-U", DB_USER, "--auth=trust", "-E", "UTF8"
        )
        self._run(
            _pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.root / "postgres.log"), "-w",
            "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )  # fmt: skip
        self._run(
            _pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", DB_USER, DB_NAME
        )

    def stop(self) -> None:
        if getattr(self, "root", None) is None:
            return
        with contextlib.suppress(LocalAirflowError, subprocess.TimeoutExpired):
            self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class Redis:
    """A Redis server on 127.0.0.1 without persistence: the Celery broker."""

    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 30) -> None:
        server = shutil.which("redis-server")
        if server is None:
            raise LocalAirflowError(
                "redis-server not found: run `bash scripts/install_system_deps.sh`"
            )
        self.proc = subprocess.Popen(
            [server, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        import redis

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError):
                if redis.Redis(host="127.0.0.1", port=self.port).ping():
                    return
            time.sleep(0.2)
        raise LocalAirflowError(f"redis-server on port {self.port} did not answer")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@dataclass
class Worker:
    """One Celery worker host: its address, its settings (own home) and its process names."""

    host: str
    settings: Settings

    @property
    def name(self) -> str:
        return f"worker-{self.host}"

    @property
    def log_server(self) -> str:
        return f"log-server-{self.host}"


@dataclass
class CeleryDeployment(StartStop):
    """PostgreSQL + Redis + Airflow core components + Celery workers; a context manager.

    `shared_env` holds what every process gets (MEDALLION_WAREHOUSE, MEDALLION_STATE_URL,
    alert channels, retry policy...); `settings` is the scheduler side's (its own home).
    """

    settings: Settings
    shared_env: Mapping[str, str]
    worker_hosts: Sequence[str] = ("127.0.0.2", "127.0.0.3")
    heartbeat_timeout_s: int = 30
    postgres: Postgres = field(default_factory=Postgres)
    redis: Redis = field(default_factory=Redis)
    airflow: LocalAirflow = field(init=False)
    workers: list[Worker] = field(default_factory=list, init=False)

    def _executor_env(self) -> dict[str, str]:
        return {
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.postgres.url,
            "AIRFLOW__CELERY__BROKER_URL": self.redis.url,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + self.postgres.url,
            # each worker imports dbt and parses the project once, before forking its pool
            "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": "medallion.executors.CELERY_CONFIG",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(WORKER_LOG_PORT),
            # a dead worker's task is failed (and retried) after this many seconds of silence
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(self.heartbeat_timeout_s),
        }

    def start(self) -> None:
        self.postgres.start()
        self.redis.start()
        env = {**self.shared_env, **self._executor_env()}
        self.airflow = LocalAirflow(self.settings, free_port(), extra_env=env)
        self.airflow.start()
        for host in self.worker_hosts:
            self.start_worker(host)

    def start_worker(self, host: str) -> Worker:
        home = self.settings.home.parent / f"worker-{host}"
        worker_env = {**self.shared_env, "MEDALLION_HOME": str(home)}
        worker = Worker(host, Settings.from_env(worker_env))
        env = airflow_env(worker.settings, api_port=self.airflow.port)
        env.update(worker_env)
        env.update(self._executor_env())
        env.update(
            {
                # one deployment, one set of signing keys (a secret store in production)
                key: self.airflow.env[key]
                for key in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY")
            }
        )
        env["MEDALLION_WORKER_HOST"] = host
        env["AIRFLOW__CORE__HOSTNAME_CALLABLE"] = f"{__name__}.worker_host"
        self.airflow.spawn(
            worker.name,
            [sys.executable, "-m", "airflow", "celery", "worker", "--celery-hostname",
             f"{worker.name}@%h", "--concurrency", "1", "--skip-serve-logs"],
            env,
        )  # fmt: skip
        # Airflow's own log server binds every interface; this one binds the worker's address
        self.airflow.spawn(
            worker.log_server,
            [sys.executable, "-m", "uvicorn", "--factory",
             "airflow.utils.serve_logs.log_server:get_app", "--host", host,
             "--port", str(WORKER_LOG_PORT), "--no-access-log"],
            env,
        )  # fmt: skip
        self.workers.append(worker)
        return worker

    def kill_worker(self, host: str) -> list[int]:
        """SIGKILL a worker host's every process (worker, pool, task processes, log server),
        as a machine that dies would; returns the pids killed."""
        import psutil

        worker = next(w for w in self.workers if w.host == host)
        killed: list[int] = []
        for name in (worker.name, worker.log_server):
            proc = self.airflow.processes.pop(name)
            family = [psutil.Process(proc.pid)]
            with contextlib.suppress(psutil.NoSuchProcess):
                family += family[0].children(recursive=True)
            for member in family:
                with contextlib.suppress(psutil.NoSuchProcess):
                    member.send_signal(signal.SIGKILL)
                    killed.append(member.pid)
            proc.wait(timeout=10)
        self.workers.remove(worker)
        return killed

    def stop(self) -> None:
        if hasattr(self, "airflow"):
            self.airflow.stop()
        self.redis.stop()
        self.postgres.stop()
