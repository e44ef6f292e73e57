"""Fixtures for loader tests: isolated settings and small exports in both formats.

Exports are written from a tiny synthetic data set (SF 0.02, ~600 orders) so every test
has realistic, referentially consistent input and stays fast.
"""

from __future__ import annotations

import csv
import os
import shutil
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from medallion.config import Settings
from medallion.loading import generator, staging
from medallion.loading.catalog import TABLES, Table

REPO = Path(__file__).resolve().parents[2]
UTF16_TERMINATED = {"sales.Store", "production.ProductModel", "person.Person"}
UTF16_TAB = {"person.StateProvince"}
REORDERED = "person.CountryRegion"  # instawdb.sql lists its columns in another order
MULTILINE_XML = '<root>\n  <step>Cut</step>\n  <step>Weld, then "paint"</step>\n</root>'


def make_settings(tmp_path: Path) -> Settings:
    home = tmp_path / "home"
    return Settings.from_env(
        {
            "MEDALLION_HOME": str(home),
            "MEDALLION_WAREHOUSE": str(home / "warehouse.duckdb"),
            "MEDALLION_ARTIFACTS_DIR": str(home / "artifacts"),
            "MEDALLION_DUCKDB_THREADS": "2",
        }
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture(scope="session")
def real_data() -> Path:
    path = Path(os.environ["MEDALLION_REAL_DATA"])  # set by tests/conftest.py
    if not (path / "sales" / "SalesOrderHeader.csv").is_file():
        pytest.skip(f"real AdventureWorks export not found at {path}")
    return path


@pytest.fixture(scope="session")
def export_rows() -> dict[str, list[list[str]]]:
    """Text rows of every table of a tiny synthetic data set, one ProductModel multi-line."""
    con = duckdb.connect()
    staging.create_staging_tables(con)
    generator.generate(con, 0.02, 7, datetime(2024, 1, 1))
    con.execute(
        f"update {staging.staging_relation(_table('production.ProductModel'))} "
        "set Instructions = ? where ProductModelID = 1",
        [MULTILINE_XML],
    )
    rows = {t.qualified: staging.export_text_rows(con, t) for t in TABLES}
    con.close()
    return rows


def _table(qualified: str) -> Table:
    return next(t for t in TABLES if t.qualified == qualified)


@pytest.fixture(scope="session")
def headered_template(tmp_path_factory, export_rows) -> Path:
    root = tmp_path_factory.mktemp("headered")
    for table in TABLES:
        folder = root / table.schema
        folder.mkdir(exist_ok=True)
        with (folder / f"{table.name}.csv").open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(table.column_names)
            writer.writerows(export_rows[table.qualified])
    return root


@pytest.fixture
def headered_export(tmp_path, headered_template) -> Path:
    """A writable copy of the headered export (tests corrupt it)."""
    return Path(shutil.copytree(headered_template, tmp_path / "export"))


def instawdb_sql() -> str:
    """A CREATE TABLE script in the official style: brackets, comments, computed columns."""
    parts = ["-- AdventureWorks install script (test copy)\nCREATE SCHEMA [Sales]\nGO\n"]
    for table in TABLES:
        cols = list(table.columns)
        if table.qualified == REORDERED:
            cols = [cols[1], cols[0], *cols[2:]]
        lines = []
        for col in cols:
            if table.name == "Customer" and col.name == "AccountNumber":
                lines.append(
                    "    [AccountNumber] AS ISNULL('AW' + [dbo].[ufnLeadingZeros](CustomerID), '')"
                )
            else:
                lines.append(f"    -- {col.type}, (see docs)\n    [{col.name}] [nvarchar](50) NULL")
        lines.append(f"    CONSTRAINT [PK_{table.name}] PRIMARY KEY CLUSTERED ([{cols[0].name}])")
        schema = table.schema.capitalize()
        parts.append(
            f"CREATE TABLE [{schema}].[{table.name}](\n"
            + ",\n".join(lines)
            + "\n) ON [PRIMARY];\nGO\n"
        )
    return "\n".join(parts)


def write_official(root: Path, rows: dict[str, list[list[str]]]) -> Path:
    """Microsoft's install-script layout: flat files, no header, tab or +|/&|, UTF-8/UTF-16."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "instawdb.sql").write_text(instawdb_sql(), encoding="utf-8")
    for table in TABLES:
        data = rows[table.qualified]
        if table.qualified == REORDERED:
            data = [[r[1], r[0], *r[2:]] for r in data]
        if table.name == "Customer":  # the 2014 char files: braced GUIDs, 9 fractional digits
            g = table.column_names.index("rowguid")
            m = table.column_names.index("ModifiedDate")
            data = [[*r[:g], "{" + r[g] + "}", r[m] + "000000"] for r in data]
        path = root / f"{table.name}.csv"
        if table.qualified in UTF16_TERMINATED:
            text = "".join("+|".join(r) + "&|\r\n" for r in data)
            path.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
        elif table.qualified in UTF16_TAB:
            text = "".join("\t".join(r) + "\r\n" for r in data)
            path.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
        else:
            path.write_text("".join("\t".join(r) + "\n" for r in data), encoding="utf-8")
    return root


@pytest.fixture
def official_export(tmp_path, export_rows) -> Path:
    return write_official(tmp_path / "official", export_rows)


def checksums(settings: Settings) -> dict[str, tuple[int, str]]:
    """Row count and a content digest of every raw table (load metadata included)."""
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        out = {}
        for table in TABLES:
            rel = staging.raw_relation(table)
            out[table.qualified] = con.execute(
                f"select count(*), md5(coalesce(string_agg(t::varchar, '|' order by t::varchar), '')) "
                f"from {rel} t"
            ).fetchall()[0]
        return out
    finally:
        con.close()
