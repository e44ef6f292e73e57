"""Medallion: a bronze/silver/gold dbt pipeline over AdventureWorks, orchestrated by Airflow.

Kept import-light on purpose: Airflow imports the DAG factory while parsing DAG files,
so nothing here may pull in dbt, DuckDB or network clients at import time.
"""

from __future__ import annotations

__version__ = "0.1.0"
