"""Helpers for the CI tests: paths, the workflows loaded as YAML, tools from the .venv."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
VENV_BIN = Path(sys.executable).parent
PINNED_USES = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
# Looks like a Slack webhook path; asserted never to appear in any output.
TOKEN = "T0SENTINEL/B0SENTINEL/slack-token-5e1f"


@dataclass
class Receiver:
    """What the `receiver` fixture's webhook on 127.0.0.1 was sent."""

    url: str
    status: int = 200
    posts: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


def load_workflow(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as the boolean True.
    if True in data:
        data["on"] = data.pop(True)
    return data


def tool(name: str) -> str:
    """A tool from the test interpreter's environment (.venv), else from PATH."""
    candidate = VENV_BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} not found: run `make venv` (and `make system-deps` for node)")
    return found


def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    env = kwargs.pop("env", None) or dict(os.environ)
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=300, cwd=REPO, env=env, **kwargs
    )


def dag_layer_steps() -> list[tuple[str, str]]:
    """(layer, step) of every layer task of the real DAG, in the order the DAG runs them:
    groups in dependency order, tasks in dependency order inside each group. The workflow
    must mirror exactly this sequence."""
    from medallion.dag import build_dag
    from medallion.names import layer_step

    dag = build_dag()
    done: list[str] = []
    pending = {t.task_id: t for t in dag.tasks}
    while pending:  # Kahn's algorithm, ties broken by task id for a stable order
        ready = sorted(tid for tid, t in pending.items() if not (t.upstream_task_ids - set(done)))
        assert ready, f"cycle among {sorted(pending)}"
        done.append(ready[0])
        del pending[ready[0]]
    return [ls for tid in done if (ls := layer_step(tid)) is not None]
