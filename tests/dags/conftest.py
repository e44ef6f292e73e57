"""Fixtures for the DAG tests; they live in dag_support.py, importable by the tests."""

from __future__ import annotations

from tests.dags.dag_support import airflow_home, http_receiver, pipeline, smtp_receiver

__all__ = ["airflow_home", "http_receiver", "pipeline", "smtp_receiver"]
