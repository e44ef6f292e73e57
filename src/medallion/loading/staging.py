"""Typed staging tables in DuckDB: where every load lands before it is published.

Loads never write the raw tables directly. They fill ``<schema>._stg_<Table>`` (catalog
columns and types plus ``_loaded_at`` and ``_source_file``) and a writer then swaps them in
within one transaction, so a load that fails at any point leaves the raw data untouched.
Value checks happen here, in SQL over text columns, which is fast on the happy path; only
the first bad value is looked up, with the record's line number carried in ``_line``.
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import duckdb

from medallion.errors import SourceDataError
from medallion.loading.catalog import (
    BOOL,
    DEC_8_2,
    DEC_38_6,
    INT,
    MONEY,
    SMALLINT,
    TABLES,
    TEXT,
    TIMESTAMP,
    Table,
    warehouse_type,
)
from medallion.loading.readers import NormalizedFile

STAGE_PREFIX = "_stg_"
METADATA_DDL = {"duckdb": ("TIMESTAMP", "VARCHAR"), "sqlserver": ("DATETIME2(6)", "NVARCHAR(400)")}

_INTEGER = r"\s*[+-]?\d+\s*"
_NUMBER = r"\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*"
_EXPECTED = {
    INT: "an integer",
    SMALLINT: "an integer in -32768..32767",
    MONEY: "a number with at most 15 integer digits",
    DEC_38_6: "a number",
    DEC_8_2: "a number below 1000000",
    TIMESTAMP: "a date-time like 2011-05-31 00:00:00.000",
    BOOL: "a boolean: 0, 1, true or false",
}


def quote(name: str) -> str:
    """A DuckDB/ANSI quoted identifier (official names are mixed case; ``Group`` is a keyword)."""
    return '"' + name.replace('"', '""') + '"'


def fetch_one(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> tuple | None:
    """First row of a query, reading the result to the end (DuckDB 2 refuses new statements
    on a connection while a result is half-read)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else None


def raw_relation(table: Table) -> str:
    return f"{table.schema}.{quote(table.name)}"


def staging_relation(table: Table) -> str:
    return f"{table.schema}.{quote(STAGE_PREFIX + table.name)}"


def export_text_rows(con: duckdb.DuckDBPyConnection, table: Table) -> list[list[str]]:
    """``table``'s staged rows spelled as a headered CSV export spells them, in a stable order:
    booleans 0/1, datetimes with milliseconds, NULL empty. What :func:`stage_file` reads
    back (see :func:`write_csv_export`)."""
    exprs = []
    for col in table.columns:
        ref = quote(col.name)
        if col.type == BOOL:
            exprs.append(f"{ref}::integer::varchar")
        elif col.type == TIMESTAMP:
            exprs.append(f"strftime({ref}, '%Y-%m-%d %H:%M:%S.%g')")
        else:
            exprs.append(f"{ref}::varchar")
    rows = con.execute(f"select {', '.join(exprs)} from {staging_relation(table)} order by all")
    return [["" if v is None else v for v in row] for row in rows.fetchall()]


def write_csv_export(con: duckdb.DuckDBPyConnection, root: Path) -> Path:
    """The staged tables as a headered CSV export in ``root`` (``<schema>/<Table>.csv``), the
    format ``medallion load --source`` reads; the tests export synthetic data with it."""
    for table in TABLES:
        folder = root / table.schema
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / f"{table.name}.csv").open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(table.column_names)
            writer.writerows(export_text_rows(con, table))
    return root


def create_staging_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Empty typed staging tables for every catalog table; leftovers of a crashed load go."""
    for schema in sorted({t.schema for t in TABLES}):
        con.execute(f"create schema if not exists {schema}")
    drop_staging_tables(con)
    ts, text = METADATA_DDL["duckdb"]
    for table in TABLES:
        columns = [f"{quote(c.name)} {warehouse_type(c.type, 'duckdb')}" for c in table.columns]
        columns += [f"_loaded_at {ts}", f"_source_file {text}"]
        con.execute(f"create table {staging_relation(table)} ({', '.join(columns)})")


def drop_staging_tables(con: duckdb.DuckDBPyConnection) -> None:
    for table in TABLES:
        con.execute(f"drop table if exists {staging_relation(table)}")


def _check(logical: str, ref: str) -> str | None:
    """SQL that is true when the text ``ref`` is a valid value of ``logical`` (None: any text)."""
    if logical in (INT, SMALLINT):
        target = warehouse_type(logical, "duckdb")
        return f"regexp_full_match({ref}, '{_INTEGER}') and try_cast({ref} as {target}) is not null"
    if logical in (MONEY, DEC_38_6, DEC_8_2):
        target = warehouse_type(logical, "duckdb")
        return f"regexp_full_match({ref}, '{_NUMBER}') and try_cast({ref} as {target}) is not null"
    if logical == TIMESTAMP:
        return f"try_cast(trim({ref}) as timestamp) is not null"
    if logical == BOOL:
        return f"lower(trim({ref})) in ('0', '1', 'true', 'false')"
    return None


def _cast(name: str, logical: str, ref: str) -> str:
    if logical == BOOL:
        return f"lower(trim({ref})) in ('1', 'true')"
    if logical == TEXT:
        return f"upper(trim({ref}, '{{}}'))" if name == "rowguid" else ref
    if logical == TIMESTAMP:
        return f"cast(trim({ref}) as timestamp)"
    return f"cast(trim({ref}) as {warehouse_type(logical, 'duckdb')})"


def stage_file(
    con: duckdb.DuckDBPyConnection, nf: NormalizedFile, loaded_at: datetime, source_label: str
) -> int:
    """Validate a normalized file's values and append them to its table's staging table."""
    table = nf.source.table
    columns = {"_line": "BIGINT"} | {f"c{i}": "VARCHAR" for i in range(len(table.columns))}
    con.execute("drop table if exists _stage_text")
    con.execute(
        "create temp table _stage_text as select * from read_csv(?, header = false, "
        "auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
        f"max_line_size = 268435456, columns = {columns!r})",
        [str(nf.path)],
    )
    checks = [
        (col, f"c{i}", check)
        for i, col in enumerate(table.columns)
        if (check := _check(col.type, f"c{i}")) is not None
    ]
    if checks:
        bad_any = " or ".join(f"({ref} is not null and not ({check}))" for _, ref, check in checks)
        which = " ".join(
            f"when {ref} is not null and not ({check}) then {i}"
            for i, (_, ref, check) in enumerate(checks)
        )
        row = fetch_one(
            con,
            f"select _line, case {which} end from _stage_text where {bad_any} "
            "order by _line limit 1",
        )
        if row is not None:
            line, index = row
            col, ref, _ = checks[index]
            value = fetch_one(con, f"select {ref} from _stage_text where _line = ?", [line])[0]
            raise SourceDataError(
                f"unparsable value {value!r} for {table.qualified}.{col.name}: expected "
                f"{_EXPECTED[col.type]}; fix the value or re-export the file",
                path=str(nf.source.path),
                line=int(line),
                column=col.name,
            )
    select = ", ".join(
        f"{_cast(col.name, col.type, f'c{i}')} as {quote(col.name)}"
        for i, col in enumerate(table.columns)
    )
    con.execute(
        f"insert into {staging_relation(table)} select {select}, ?::timestamp, ? "
        "from _stage_text order by _line",
        [loaded_at, source_label],
    )
    con.execute("drop table _stage_text")
    return nf.rows
