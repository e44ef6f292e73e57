"""Airflow DAG file for dbt_transform: the medallion dbt pipeline (bronze -> silver -> gold).

Thin on purpose: everything (structure, retries, alerts, docs) lives in `medallion.dag`,
whose module docstring is this DAG's doc_md. (The words "airflow" and "dag" in this file
also let Airflow's safe-mode scan pick it up.)
"""

from __future__ import annotations

from medallion.dag import build_dag

dag = build_dag()
