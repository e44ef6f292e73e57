"""The embedded DuckDB warehouse as a load destination: connect, publish, remember loads.

``ops.loads`` is the ledger that makes ``medallion load`` idempotent: one row per
successful load (base loads and appends), written in the same transaction that publishes
the data, so the ledger never claims a load the raw tables do not hold.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from medallion.loading.catalog import TABLES
from medallion.loading.staging import fetch_one, quote, raw_relation, staging_relation

BASE_KINDS = ("source", "synthetic")
LOADS_DDL = (
    "create table if not exists ops.loads (load_id integer primary key, kind varchar not null, "
    "fingerprint varchar not null, loaded_at timestamp not null, row_counts varchar not null, "
    "description varchar)"
)


@dataclass
class LoadRecord:
    """One row of ``ops.loads``; ``row_counts`` maps qualified raw table to its row count."""

    kind: str  # source | synthetic | append
    fingerprint: str
    loaded_at: datetime
    description: str
    row_counts: dict[str, int] = field(default_factory=dict)
    load_id: int | None = None


def raw_tables_exist(con: duckdb.DuckDBPyConnection) -> bool:
    present = {
        (s, n.lower())
        for s, n in con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = current_database()"
        ).fetchall()
    }
    return all((t.schema, t.name.lower()) in present for t in TABLES)


def last_base_load(con: duckdb.DuckDBPyConnection) -> LoadRecord | None:
    """The latest full (non-append) load, or None on a fresh warehouse."""
    exists = fetch_one(
        con,
        "select count(*) from information_schema.tables "
        "where table_schema = 'ops' and table_name = 'loads' and table_catalog = current_database()",
    )[0]
    if not exists:
        return None
    row = fetch_one(
        con,
        "select load_id, kind, fingerprint, loaded_at, row_counts, description from ops.loads "
        f"where kind in {BASE_KINDS!r} order by load_id desc limit 1",
    )
    if row is None:
        return None
    load_id, kind, fp, loaded_at, counts, description = row
    return LoadRecord(kind, fp, loaded_at, description or "", json.loads(counts), load_id)


def row_counts(con: duckdb.DuckDBPyConnection, relation_of=raw_relation) -> dict[str, int]:
    return {
        t.qualified: fetch_one(con, f"select count(*) from {relation_of(t)}")[0] for t in TABLES
    }


def record_load(con: duckdb.DuckDBPyConnection, record: LoadRecord) -> None:
    """Append ``record`` to ops.loads inside the caller's transaction."""
    con.execute("create schema if not exists ops")
    con.execute(LOADS_DDL)
    record.load_id = fetch_one(con, "select coalesce(max(load_id), 0) + 1 from ops.loads")[0]
    con.execute(
        "insert into ops.loads values (?, ?, ?, ?, ?, ?)",
        [
            record.load_id,
            record.kind,
            record.fingerprint,
            record.loaded_at,
            json.dumps(record.row_counts, sort_keys=True),
            record.description,
        ],
    )


def publish(con: duckdb.DuckDBPyConnection, record: LoadRecord) -> None:
    """Swap every staging table in for its raw table and log the load, all in one transaction."""
    record.row_counts = row_counts(con, staging_relation)
    con.execute("begin transaction")
    try:
        for table in TABLES:
            con.execute(f"drop table if exists {raw_relation(table)}")
            con.execute(f"alter table {staging_relation(table)} rename to {quote(table.name)}")
        record_load(con, record)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
