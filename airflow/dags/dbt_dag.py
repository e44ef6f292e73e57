"""dbt_transform: the medallion dbt pipeline (bronze -> silver -> gold), built by the package.

Thin on purpose: everything (structure, retries, alerts, docs) lives in `medallion.dag`,
whose module docstring is this DAG's doc_md.
"""

from __future__ import annotations

from medallion.dag import build_dag

dag = build_dag()
