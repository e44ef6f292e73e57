"""Airflow Assets for the gold contract: what the DAG's gold task produces (its `outlets`).

Downstream DAGs schedule on them (`schedule=[Asset.ref(name="gold.fct_sales_daily")]`, or
`gold_assets()` itself) and run after every successful gold build; a failed run emits no
event. Names are the relation names (stable across deployments); URIs say where the relation
lives for the configured target. Cheap to call at DAG-parse time: no I/O.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from medallion.names import GOLD_RELATIONS

if TYPE_CHECKING:
    from airflow.sdk import Asset

    from medallion.config import Settings

ASSET_GROUP = "medallion"


def asset_uri(settings: Settings, relation: str) -> str:
    """`medallion://duckdb/gold/<table>` or `mssql://<host>:<port>/<db>/gold/<table>`.

    The DuckDB form names the warehouse kind, not the file: the file path is a detail of one
    machine, and an Asset's URI must not change between workers, runs or test homes (Airflow
    refuses an outlet whose name is already registered with another URI).
    """
    schema, table = relation.split(".", 1)
    if settings.target == "sqlserver":
        host = os.environ.get("MEDALLION_MSSQL_HOST", "localhost")
        port = os.environ.get("MEDALLION_MSSQL_PORT", "1433")
        database = os.environ.get("MEDALLION_MSSQL_DATABASE", "AdventureWorks")
        return f"mssql://{host}:{port}/{database}/{schema}/{table}"
    return f"medallion://duckdb/{schema}/{table}"


def gold_assets(settings: Settings | None = None) -> list[Asset]:
    """One Asset per gold relation, for the gold task's `outlets`."""
    from airflow.sdk import Asset

    from medallion.config import Settings as _Settings

    settings = settings or _Settings.from_env()
    return [
        Asset(
            name=relation,
            uri=asset_uri(settings, relation),
            group=ASSET_GROUP,
            extra={"layer": "gold", "target": settings.target},
        )
        for relation in GOLD_RELATIONS
    ]
