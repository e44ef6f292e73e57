"""`medallion airflow`: a local Airflow 3.3 with its UI, for looking at and running the DAG.

Starts the four components Airflow 3 needs (api-server, scheduler, dag-processor, triggerer)
as child processes with the environment from `medallion.airflow_env`, on 127.0.0.1 only,
waits until the health endpoint reports every component healthy, prints the URL and the
generated credentials, and stops all of them (whole process groups: LocalExecutor workers,
task processes) on Ctrl-C or SIGTERM. The tests drive the same class.

LocalExecutor on SQLite: Airflow 3.3 accepts it (no SequentialExecutor any more); SQLite
serialises writers, so parallelism is kept small. Fine for one person's UI, not production.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import quote, urlencode

from medallion.airflow_env import airflow_env, ensure_admin_password
from medallion.errors import MedallionError
from medallion.names import DAG_ID

if TYPE_CHECKING:
    from medallion.config import Settings

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
HEALTH_COMPONENTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")


class LocalAirflowError(MedallionError):
    """The local Airflow could not start, or did not answer in time."""


def free_port(preferred: int | None = None) -> int:
    """`preferred` if nothing listens on it at 127.0.0.1, else a free port the OS picks."""
    candidates = [preferred] if preferred else []
    for port in [*candidates, 0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise LocalAirflowError("no free TCP port on 127.0.0.1")


class StartStop:
    """A context manager over `start()`/`stop()`: `stop()` also runs when `start()` fails
    half-way, so nothing that did start is left running."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class LocalAirflow(StartStop):
    """The local Airflow processes; a context manager that always stops what it started."""

    settings: Settings
    port: int
    extra_env: Mapping[str, str] = field(default_factory=dict)
    base_env: Mapping[str, str] | None = None  # what airflow_env() starts from (os.environ)
    python: str = sys.executable  # another virtualenv's interpreter runs its own Airflow
    log_dir: Path = field(init=False)
    env: dict[str, str] = field(init=False)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict, init=False)
    _token: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.env = airflow_env(self.settings, api_port=self.port, base=self.base_env)
        self.env.update(self.extra_env)
        self.log_dir = self.settings.airflow_home / "logs" / "local"
        self.user, self._password = ensure_admin_password(self.settings)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def password(self) -> str:
        return self._password

    # --- processes --------------------------------------------------------------------------

    def _airflow(self, *args: str) -> list[str]:
        return [self.python, "-m", "airflow", *args]

    def migrate(self, timeout_s: float = 300) -> None:
        """Create or upgrade the SQLite metadata database (idempotent)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / "db-migrate.log"
        with log.open("wb") as out:
            proc = subprocess.run(
                self._airflow("db", "migrate"),
                env=self.env,
                cwd=self.settings.airflow_home,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout_s,
                check=False,
            )
        if proc.returncode != 0:
            raise LocalAirflowError(f"`airflow db migrate` failed; see {log}")

    def start(self, timeout_s: float = 180) -> None:
        """Migrate, start every component, wait until all report healthy."""
        self.migrate()
        for component in COMPONENTS:
            args = [component]
            if component == "api-server":
                args += ["--host", "127.0.0.1", "--port", str(self.port)]
            elif component in ("scheduler", "triggerer"):
                # their log servers bind every interface on fixed ports; the api-server
                # reads task logs from the shared local log folder instead
                args.append("--skip-serve-logs")
            self.spawn(component, self._airflow(*args))
        self.wait_healthy(timeout_s)

    def spawn(
        self, name: str, argv: list[str], env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start one more process that `stop()` stops; its output goes to `<log_dir>/<name>.log`."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"{name}.log").open("ab") as out:
            proc = subprocess.Popen(
                argv,
                env=dict(env if env is not None else self.env),
                cwd=self.settings.airflow_home,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # own process group: stop() reaches its children
            )
        self.processes[name] = proc
        return proc

    def _check_alive(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise LocalAirflowError(
                    f"airflow {name} exited with code {proc.returncode}; "
                    f"see {self.log_dir / (name + '.log')}"
                )

    def stop(self, timeout_s: float = 30) -> None:
        """SIGTERM every component's process group, then SIGKILL what is left, including
        descendants that left the group (task processes start sessions of their own)."""
        import psutil

        family: list[psutil.Process] = []
        for proc in self.processes.values():
            with contextlib.suppress(psutil.NoSuchProcess):
                family += psutil.Process(proc.pid).children(recursive=True)
        for proc in self.processes.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for proc in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        for proc in self.processes.values():
            # the group may outlive its leader (task processes); kill it either way
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        for member in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                member.kill()
        self.processes.clear()

    # --- REST API v2 ------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        auth: bool = True,
        timeout_s: float = 30,
    ) -> Any:
        import httpx

        headers = {"Authorization": f"Bearer {self.token()}"} if auth else {}
        with httpx.Client(base_url=self.url, timeout=timeout_s, trust_env=False) as client:
            resp = client.request(method, path, json=json_body, headers=headers)
        if resp.status_code >= 400:
            raise LocalAirflowError(
                f"{method} {path} -> HTTP {resp.status_code}: {resp.text[:500]}"
            )
        return resp.json() if resp.content else None

    def token(self) -> str:
        """A JWT for the REST API, from `POST /auth/token` with the generated credentials."""
        if self._token is None:
            import httpx

            with httpx.Client(base_url=self.url, timeout=30, trust_env=False) as client:
                resp = client.post(
                    "/auth/token", json={"username": self.user, "password": self._password}
                )
            if resp.status_code not in (200, 201):
                raise LocalAirflowError(f"POST /auth/token -> HTTP {resp.status_code}")
            self._token = str(resp.json()["access_token"])
        return self._token

    def asset_events(self, **filters: str) -> list[dict[str, Any]]:
        """`GET /api/v2/assets/events`, filtered (e.g. source_dag_id=..., source_run_id=...)."""
        query = urlencode({**filters, "limit": "100"})
        return list(self.request("GET", f"/api/v2/assets/events?{query}")["asset_events"])

    def health(self) -> dict[str, Any]:
        return self.request("GET", "/api/v2/monitor/health", auth=False, timeout_s=5)

    def wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        last: Any = None
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                last = self.health()
                if all((last.get(c) or {}).get("status") == "healthy" for c in HEALTH_COMPONENTS):
                    return
            except (LocalAirflowError, OSError, ValueError) as exc:
                last = exc
            except Exception as exc:  # httpx connection errors before the server listens
                last = exc
            time.sleep(1)
        raise LocalAirflowError(
            f"Airflow not healthy after {timeout_s:.0f}s (last: {last}); logs in {self.log_dir}"
        )

    def wait_for_dag(self, dag_id: str = DAG_ID, timeout_s: float = 120) -> dict[str, Any]:
        """Wait until the dag-processor has parsed `dag_id`; raise with its import errors."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._check_alive()
            with contextlib.suppress(LocalAirflowError):
                return self.request("GET", f"/api/v2/dags/{dag_id}")
            time.sleep(2)
        errors = self.request("GET", "/api/v2/importErrors")
        raise LocalAirflowError(
            f"DAG {dag_id} not loaded after {timeout_s:.0f}s; import errors: "
            f"{json.dumps(errors.get('import_errors', []))[:2000]}"
        )

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.request("PATCH", f"/api/v2/dags/{dag_id}", json_body={"is_paused": paused})

    def trigger(self, dag_id: str = DAG_ID, conf: Mapping[str, Any] | None = None) -> str:
        """Trigger a run now; returns its run id."""
        from datetime import UTC, datetime

        body = {"logical_date": datetime.now(UTC).isoformat(), "conf": dict(conf or {})}
        run = self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", json_body=body)
        return str(run["dag_run_id"])

    def _run_path(self, dag_id: str, run_id: str) -> str:
        return f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        """`GET .../dagRuns/{run_id}`: state, queued_at, start_date, end_date, ..."""
        return dict(self.request("GET", self._run_path(dag_id, run_id)))

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """The run's task instances as the API records them (states, times, hostnames)."""
        path = f"{self._run_path(dag_id, run_id)}/taskInstances?limit=1000"
        return list(self.request("GET", path)["task_instances"])

    def wait_for_run(self, dag_id: str, run_id: str, timeout_s: float) -> str:
        """Final state of a run (`success`/`failed`), or raise after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        state = None
        while time.monotonic() < deadline:
            self._check_alive()
            state = self.dag_run(dag_id, run_id)["state"]
            if state in ("success", "failed"):
                return str(state)
            time.sleep(3)
        raise LocalAirflowError(
            f"run {run_id} still {state} after {timeout_s:.0f}s; logs in {self.log_dir} and "
            f"{self.settings.airflow_home / 'logs'}"
        )

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        return {ti["task_id"]: ti["state"] for ti in self.task_instances(dag_id, run_id)}


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C, so the same `finally` stops the children."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def serve(settings: Settings, *, port: int | None = None, unpause: bool = False) -> int:
    """`medallion airflow`: run until Ctrl-C/SIGTERM, then stop every component."""
    chosen = free_port(port or 8080)
    if port and chosen != port:
        raise LocalAirflowError(f"port {port} on 127.0.0.1 is in use; pick another with --port")
    airflow = LocalAirflow(settings, chosen)
    print(
        f"starting Airflow 3 in {settings.airflow_home} (logs: {airflow.log_dir}) ...", flush=True
    )
    with sigterm_as_interrupt():
        try:
            airflow.start()
            airflow.wait_for_dag(DAG_ID)
            if unpause:
                airflow.set_paused(DAG_ID, False)
            print(
                f"\nAirflow UI:  {airflow.url}/dags/{DAG_ID}\n"
                f"user:        {airflow.user}\n"
                f"password:    {airflow.password}\n"
                f"(kept in {settings.airflow_home / 'simple_auth_manager_passwords.json.generated'})\n"
                f"{DAG_ID} is {'unpaused' if unpause else 'paused (use --unpause to schedule it)'}"
                "; Ctrl-C stops everything.",
                flush=True,
            )
            while True:
                airflow._check_alive()
                time.sleep(2)
        except KeyboardInterrupt:
            print("\nstopping Airflow ...", flush=True)
            return 0
        finally:
            airflow.stop()
            print("Airflow stopped.", flush=True)
