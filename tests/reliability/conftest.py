"""Fixtures of the reliability suite: the DAG tests' helpers (one migrated AIRFLOW_HOME per
session, local alert receivers) plus a built pristine world per session that each scenario
copies, and the scenario recorder behind docs/RELIABILITY.md."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dags"))

from dag_support import airflow_home, http_receiver, pipeline, smtp_receiver  # noqa: E402

__all__ = ["airflow_home", "http_receiver", "pipeline", "smtp_receiver"]
