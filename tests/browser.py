"""Headless Chromium driven over the Chrome DevTools Protocol, for screenshots and UI checks.

Debian's `chromium` with a throw-away profile, its DevTools endpoint on 127.0.0.1 only, and
a websocket client (the `websockets` package Airflow's uvicorn already brings): enough to log
in to a page, wait for it to render, read its text and save a PNG. No browser download.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import subprocess
import tempfile
import time
from itertools import count
from pathlib import Path
from typing import Any

from medallion.errors import MedallionError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Without the background-networking switches Chromium dials out at start, which this
# sandbox (and many CI runners) refuse.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)


class BrowserError(MedallionError):
    """Chromium is missing, did not start, or a page did not do what was expected."""


def find_chromium() -> str | None:
    return next((path for name in CANDIDATES if (path := shutil.which(name))), None)


class Chromium:
    """`with Chromium() as browser: browser.goto(url); browser.screenshot(path)`."""

    def __init__(self, *, width: int = 1440, height: int = 900, timeout_s: float = 30) -> None:
        self.width, self.height, self.timeout_s = width, height, timeout_s
        self._ids = count(1)
        self._proc: subprocess.Popen[bytes] | None = None
        self._profile: Path | None = None
        self._ws: Any = None
        self._stack = contextlib.ExitStack()

    # --- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> Chromium:
        binary = find_chromium()
        if binary is None:
            raise BrowserError(
                "no Chromium found: install Debian's `chromium` (scripts/install_system_deps.sh)"
            )
        self._profile = Path(tempfile.mkdtemp(prefix="medallion-chromium-"))
        try:
            self._proc = subprocess.Popen(
                [
                    binary,
                    *FLAGS,
                    f"--user-data-dir={self._profile}",
                    f"--window-size={self.width},{self.height}",
                    "about:blank",
                ],
                stdout=subprocess.DEVNULL,
                stderr=(self._profile / "chromium.log").open("wb"),
                stdin=subprocess.DEVNULL,
            )
            self._connect()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect(self) -> None:
        import httpx
        from websockets.sync.client import connect

        assert self._profile is not None and self._proc is not None
        port_file = self._profile / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout_s
        while not port_file.is_file() or not port_file.read_text().strip():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                log = (self._profile / "chromium.log").read_text(errors="replace")[-2000:]
                raise BrowserError(f"Chromium did not start its DevTools endpoint:\n{log}")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with httpx.Client(timeout=10, trust_env=False) as client:
            pages = client.get(f"http://127.0.0.1:{port}/json/list").json()
        page = next(p for p in pages if p.get("type") == "page")
        self._ws = self._stack.enter_context(
            connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10, proxy=None)
        )
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False},
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stack.close()
        self._ws = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait(timeout=10)
            self._proc = None
        if self._profile is not None:
            shutil.rmtree(self._profile, ignore_errors=True)
            self._profile = None

    # --- protocol -------------------------------------------------------------------------

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One CDP command; waits for its answer (events in between are dropped)."""
        msg_id = next(self._ids)
        self._ws.send(json.dumps({"id": msg_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + self.timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError(f"no answer to {method} within {self.timeout_s:.0f}s")
            reply = json.loads(self._ws.recv(timeout=remaining))
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def evaluate(self, expression: str) -> Any:
        """Value of a JavaScript expression in the page (awaits promises)."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"JavaScript error: {result['exceptionDetails'].get('text')}")
        return result.get("result", {}).get("value")

    # --- page -----------------------------------------------------------------------------

    def goto(self, url: str, *, wait_s: float = 30) -> None:
        self.send("Page.navigate", {"url": url})
        self.wait_for("document.readyState === 'complete'", timeout_s=wait_s, what=url)

    def wait_for(self, expression: str, *, timeout_s: float = 30, what: str = "") -> Any:
        """Poll a JavaScript expression until it is truthy; its value, or raise."""
        deadline = time.monotonic() + timeout_s
        value: Any = None
        while time.monotonic() < deadline:
            with contextlib.suppress(BrowserError):
                value = self.evaluate(expression)
                if value:
                    return value
            time.sleep(0.25)
        raise BrowserError(f"timed out after {timeout_s:.0f}s waiting for {what or expression}")

    def text(self) -> str:
        return str(self.evaluate("document.body ? document.body.innerText : ''") or "")

    def set_cookie(self, name: str, value: str, url: str) -> None:
        self.send("Network.setCookie", {"name": name, "value": value, "url": url})

    def screenshot(self, path: Path, *, full_page: bool = False) -> Path:
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": full_page}
        if full_page:
            size = self.send("Page.getLayoutMetrics")["cssContentSize"]
            params["clip"] = {
                "x": 0,
                "y": 0,
                "width": self.width,
                "height": min(float(size["height"]), 12000.0),
                "scale": 1,
            }
        data = self.send("Page.captureScreenshot", params)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path
