"""SQL Server as a load destination (``MEDALLION_TARGET=sqlserver``).

Loads are staged in a local DuckDB first (the same readers and generator as the embedded
warehouse), then copied with pyodbc ``fast_executemany`` in batches into
``<schema>._stg_<Table>`` on the server, and swapped in with ``DROP`` + ``sp_rename`` in one
transaction together with the ``ops.loads`` row. SQL is built by pure functions so it can
be checked without a server; pyodbc is imported only when a connection is opened.

The connection and its settings (MEDALLION_MSSQL_*) are `medallion.connections`'.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from medallion.connections import MssqlSettings, connect_sqlserver
from medallion.loading.catalog import SCHEMAS, TABLES, Table, warehouse_type
from medallion.loading.staging import METADATA_DDL, STAGE_PREFIX, staging_relation
from medallion.loading.warehouse import BASE_KINDS, LoadRecord

OPS_SCHEMA = "ops"


# --- pure SQL builders ------------------------------------------------------------------


def ident(name: str) -> str:
    return "[" + name.replace("]", "]]") + "]"


def relation(schema: str, name: str) -> str:
    return f"{ident(schema)}.{ident(name)}"


def schemas_sql() -> str:
    return "SELECT LOWER(name) FROM sys.schemas"


def create_schema_sql(schema: str) -> str:
    return f"CREATE SCHEMA {ident(schema)}"


def object_id_sql(schema: str, name: str) -> str:
    """NULL when the table does not exist (plain statements, no IF blocks, parse cleanly)."""
    literal = f"{schema}.{name}".replace("'", "''")
    return f"SELECT OBJECT_ID(N'{literal}', N'U')"


def column_definitions(table: Table) -> list[str]:
    ts, text = METADATA_DDL["sqlserver"]
    cols = [f"{ident(c.name)} {warehouse_type(c.type, 'sqlserver')} NULL" for c in table.columns]
    return [*cols, f"[_loaded_at] {ts} NOT NULL", f"[_source_file] {text} NULL"]


def create_table_sql(table: Table, name: str | None = None) -> str:
    target = relation(table.schema, name or table.name)
    return f"CREATE TABLE {target} ({', '.join(column_definitions(table))})"


def drop_table_sql(schema: str, name: str) -> str:
    return f"DROP TABLE IF EXISTS {relation(schema, name)}"


def insert_sql(table: Table, name: str) -> str:
    columns = [*table.column_names, "_loaded_at", "_source_file"]
    names = ", ".join(ident(c) for c in columns)
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {relation(table.schema, name)} ({names}) VALUES ({marks})"


def swap_sql(table: Table) -> list[str]:
    """Replace the raw table by its staging table (run inside one transaction)."""
    staged = f"{table.schema}.{STAGE_PREFIX}{table.name}".replace("'", "''")
    return [
        drop_table_sql(table.schema, table.name),
        f"EXEC sp_rename N'{staged}', N'{table.name}'",
    ]


def loads_ddl_sql() -> str:
    return (
        f"CREATE TABLE {relation(OPS_SCHEMA, 'loads')} "
        "([load_id] INT NOT NULL PRIMARY KEY, [kind] NVARCHAR(20) NOT NULL, "
        "[fingerprint] NVARCHAR(200) NOT NULL, [loaded_at] DATETIME2(6) NOT NULL, "
        "[row_counts] NVARCHAR(MAX) NOT NULL, [description] NVARCHAR(1000) NULL)"
    )


def insert_load_sql() -> str:
    return (
        f"INSERT INTO {relation(OPS_SCHEMA, 'loads')} ([load_id], [kind], [fingerprint], "
        "[loaded_at], [row_counts], [description]) "
        f"SELECT COALESCE(MAX([load_id]), 0) + 1, ?, ?, ?, ?, ? FROM {relation(OPS_SCHEMA, 'loads')}"
    )


def last_base_load_sql() -> str:
    kinds = ", ".join(f"N'{k}'" for k in BASE_KINDS)
    return (
        "SELECT TOP (1) [load_id], [kind], [fingerprint], [loaded_at], [row_counts], "
        f"[description] FROM {relation(OPS_SCHEMA, 'loads')} WHERE [kind] IN ({kinds}) "
        "ORDER BY [load_id] DESC"
    )


def raw_tables_sql() -> str:
    return (
        "SELECT LOWER(s.name), LOWER(t.name) FROM sys.tables t "
        "JOIN sys.schemas s ON s.schema_id = t.schema_id"
    )


def batches(rows: Iterable[Sequence[Any]], size: int) -> Iterator[list[Sequence[Any]]]:
    """Consecutive lists of at most ``size`` rows, in order, never an empty one."""
    if size < 1:
        raise ValueError("batch size must be >= 1")
    batch: list[Sequence[Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _duckdb_rows(stage, table: Table, size: int) -> Iterator[tuple]:
    cursor = stage.execute(f"select * from {staging_relation(table)}")
    while chunk := cursor.fetchmany(size):
        yield from chunk


# --- the writer -------------------------------------------------------------------------


class SqlServerWriter:
    """Publishes staged DuckDB tables to SQL Server; one connection per load."""

    def __init__(self, settings: MssqlSettings) -> None:
        self.settings = settings
        self._conn = None

    def __repr__(self) -> str:
        return f"SqlServerWriter({self.settings.describe()})"

    def connect(self):
        if self._conn is None:
            self._conn = connect_sqlserver(self.settings, autocommit=False)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def raw_tables_exist(self) -> bool:
        present = {tuple(r) for r in self.connect().cursor().execute(raw_tables_sql()).fetchall()}
        return all((t.schema, t.name.lower()) in present for t in TABLES)

    def last_base_load(self) -> LoadRecord | None:
        cur = self.connect().cursor()
        if cur.execute(object_id_sql(OPS_SCHEMA, "loads")).fetchone()[0] is None:
            return None
        row = cur.execute(last_base_load_sql()).fetchone()
        if row is None:
            return None
        load_id, kind, fp, loaded_at, counts, description = row
        return LoadRecord(kind, fp, loaded_at, description or "", json.loads(counts), load_id)

    def publish(self, stage, record: LoadRecord) -> None:
        """Copy every staging table from the DuckDB ``stage``, then swap all in at once."""
        conn = self.connect()
        cur = conn.cursor()
        cur.fast_executemany = True
        try:
            present = {row[0] for row in cur.execute(schemas_sql()).fetchall()}
            for schema in (*SCHEMAS, OPS_SCHEMA):
                if schema not in present:
                    cur.execute(create_schema_sql(schema))
            if cur.execute(object_id_sql(OPS_SCHEMA, "loads")).fetchone()[0] is None:
                cur.execute(loads_ddl_sql())
            conn.commit()
            counts: dict[str, int] = {}
            for table in TABLES:
                name = STAGE_PREFIX + table.name
                cur.execute(drop_table_sql(table.schema, name))
                cur.execute(create_table_sql(table, name))
                sql = insert_sql(table, name)
                counts[table.qualified] = 0
                for batch in batches(_duckdb_rows(stage, table, self.settings.batch_size),
                                     self.settings.batch_size):  # fmt: skip
                    cur.executemany(sql, batch)
                    counts[table.qualified] += len(batch)
                conn.commit()
            record.row_counts = counts
            for table in TABLES:
                for statement in swap_sql(table):
                    cur.execute(statement)
            cur.execute(
                insert_load_sql(),
                record.kind,
                record.fingerprint,
                record.loaded_at,
                json.dumps(counts, sort_keys=True),
                record.description,
            )
            conn.commit()
        except BaseException:
            conn.rollback()
            try:  # best effort: the original error matters more than a failed cleanup
                for table in TABLES:
                    cur.execute(drop_table_sql(table.schema, STAGE_PREFIX + table.name))
                conn.commit()
            except Exception:
                pass
            raise

    def row_counts(self) -> dict[str, int]:
        cur = self.connect().cursor()
        return {
            t.qualified: cur.execute(
                f"SELECT COUNT_BIG(*) FROM {relation(t.schema, t.name)}"
            ).fetchone()[0]
            for t in TABLES
        }
