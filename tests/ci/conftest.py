"""Fixtures for the CI tests: the workflow files, parsed once per session, and a Slack
stand-in receiving on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.ci.cihelpers import TOKEN, Receiver, load_workflow


@pytest.fixture(scope="session")
def ci() -> dict[str, Any]:
    return load_workflow("ci.yml")


@pytest.fixture(scope="session")
def pipeline() -> dict[str, Any]:
    return load_workflow("pipeline.yml")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """An incoming-webhook receiver on 127.0.0.1 recording every POST."""
    box = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            box.paths.append(self.path)
            box.posts.append(
                {"content_type": self.headers["Content-Type"], "json": json.loads(body)}
            )
            self.send_response(box.status)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    box.url = f"http://127.0.0.1:{server.server_address[1]}/services/{TOKEN}"
    yield box
    server.shutdown()
    server.server_close()
