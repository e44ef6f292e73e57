"""`medallion airflow`: starts, prints URL and generated credentials, stops on SIGTERM."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from medallion.devtools.local_airflow import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def _read_until(proc: subprocess.Popen[bytes], pattern: str, timeout_s: float) -> str:
    """stdout until `pattern` matches (bounded); the text read so far.

    Reads the pipe's file descriptor directly: a buffered reader would hide lines from select.
    """
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    data = b""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not re.search(pattern, data.decode(errors="replace")):
        if sel.select(timeout=1):
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            data += chunk
        elif proc.poll() is not None:
            break
    return data.decode(errors="replace")


def test_medallion_airflow_serves_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "MEDALLION_HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "medallion.cli", "airflow", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    children: list[psutil.Process] = []
    try:
        out = _read_until(proc, r"Ctrl-C stops everything", timeout_s=300)
        assert f"Airflow UI:  http://127.0.0.1:{port}/dags/dbt_transform" in out, out
        user = re.search(r"user:\s+(\S+)", out).group(1)
        password = re.search(r"password:\s+(\S+)", out).group(1)
        assert (user, password) != ("admin", "admin") and len(password) >= 12
        assert "paused" in out
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False) as client:
            token = client.post("/auth/token", json={"username": user, "password": password})
            assert token.status_code == 201
            bad = client.post("/auth/token", json={"username": "admin", "password": "admin"})
            assert bad.status_code == 401
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            dag = client.get("/api/v2/dags/dbt_transform", headers=headers).json()
            assert dag["is_paused"] is True
        # the four components are children of the CLI (they retitle themselves: count them)
        components = psutil.Process(proc.pid).children()
        assert len(components) == 4
        assert all("airflow" in " ".join(c.cmdline()) for c in components)
        children = psutil.Process(proc.pid).children(recursive=True)
        # the password is printed once, to the terminal, and in no Airflow log
        logs = tmp_path / "home" / "airflow" / "logs" / "local"
        for log in logs.glob("*.log"):
            assert password not in log.read_text(errors="replace"), log
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=90) == 0
        rest = _read_until(proc, r"Airflow stopped", timeout_s=5)
        assert "Airflow stopped." in rest
        _gone, alive = psutil.wait_procs(children, timeout=10)
        assert alive == [], [p.pid for p in alive]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        for child in children:
            if child.is_running():
                child.kill()
