"""End-to-end loads of both export formats into DuckDB, idempotency, and the real data."""

from __future__ import annotations

import os
from datetime import datetime

import duckdb
import pytest

from medallion.loading.api import load
from medallion.loading.catalog import TABLES

from .conftest import MULTILINE_XML, checksums, make_settings


def _query(settings, sql: str):
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_headered_export_loads_every_table_with_types_and_metadata(
    settings, headered_export, export_rows
):
    report = load(settings, source=headered_export)

    assert not report.skipped
    assert report.tables == {t.qualified: len(export_rows[t.qualified]) for t in TABLES}
    types = dict(
        _query(
            settings,
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'sales' and table_name = 'SalesOrderHeader'",
        )
    )
    assert types["TotalDue"] == "DECIMAL(19,4)"
    assert types["OrderDate"] == "TIMESTAMP"
    assert types["OnlineOrderFlag"] == "BOOLEAN"
    assert types["_loaded_at"] == "TIMESTAMP"
    source_file, loaded_at = _query(
        settings, "select distinct _source_file, _loaded_at from sales.Customer"
    )[0]
    assert source_file == str((headered_export / "sales" / "Customer.csv").resolve())
    assert abs((datetime.utcnow() - loaded_at).total_seconds()) < 120
    assert _query(
        settings, "select Instructions from production.ProductModel where ProductModelID = 1"
    ) == [(MULTILINE_XML,)]
    # Empty unquoted fields are NULL, not empty strings.
    assert _query(settings, "select count(*) from sales.SalesOrderHeader where Comment = ''") == [
        (0,)
    ]


def test_official_format_loads_utf16_terminated_files_and_instawdb_column_order(
    settings, official_export, headered_export, tmp_path
):
    report = load(settings, source=official_export)
    official = checksums(settings)
    assert report.description.endswith("(official format)")

    # Same values as the headered export of the same data, whatever the format.
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    names = con.execute("select Name from person.CountryRegion order by 1").fetchall()
    person = con.execute(
        "select BusinessEntityID, FirstName, LastName, NameStyle from person.Person "
        "order by 1 limit 3"
    ).fetchall()
    xml = con.execute(
        "select Instructions from production.ProductModel where ProductModelID = 1"
    ).fetchall()
    guid = con.execute("select rowguid from sales.Customer order by CustomerID limit 1").fetchall()
    con.close()
    assert ("Germany",) in names  # would be a country code if instawdb's order were ignored
    assert xml == [(MULTILINE_XML,)]
    assert not guid[0][0].startswith("{")
    assert isinstance(person[0][3], bool)

    other = make_settings(tmp_path / "second")
    load(other, source=headered_export)
    headered = checksums(other)
    for table in TABLES:
        assert official[table.qualified][0] == headered[table.qualified][0], table.qualified
    # Content equal apart from load metadata (file names and timestamps differ).
    cols = ", ".join(f'"{c}"' for c in TABLES[0].column_names)
    a = _query(
        settings,
        f"select md5(string_agg(t::varchar, '|' order by t::varchar)) from (select {cols} from sales.SalesOrderHeader) t",
    )
    b = _query(
        other,
        f"select md5(string_agg(t::varchar, '|' order by t::varchar)) from (select {cols} from sales.SalesOrderHeader) t",
    )
    assert a == b


def test_second_load_of_same_source_is_skipped_and_force_reloads(settings, headered_export):
    first = load(settings, source=headered_export)
    before = checksums(settings)

    second = load(settings, source=headered_export)
    assert second.skipped
    assert second.tables == first.tables
    assert checksums(settings) == before  # untouched, even _loaded_at

    forced = load(settings, source=headered_export, force=True)
    assert not forced.skipped
    after = checksums(settings)
    assert {k: v[0] for k, v in after.items()} == {k: v[0] for k, v in before.items()}
    assert after != before  # new _loaded_at
    assert _query(settings, "select count(*), count(distinct fingerprint) from ops.loads") == [
        (2, 1)
    ]


def test_changed_source_file_is_reloaded(settings, headered_export):
    load(settings, source=headered_export)
    path = headered_export / "sales" / "SalesTerritory.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]))  # one territory fewer
    os.utime(path, ns=(1, 1))

    report = load(settings, source=headered_export)

    assert not report.skipped
    assert report.tables["sales.SalesTerritory"] == len(lines) - 2


def test_skip_needs_every_raw_table_present(settings, headered_export):
    load(settings, source=headered_export)
    con = duckdb.connect(str(settings.warehouse))
    con.execute('drop table sales."Store"')
    con.close()

    report = load(settings, source=headered_export)

    assert not report.skipped
    assert _query(settings, "select count(*) > 0 from sales.Store") == [(True,)]


@pytest.mark.realdata
def test_real_adventureworks_export_loads_with_the_readme_counts_and_totals(settings, real_data):
    report = load(settings, source=real_data)

    expected = {
        "sales.SalesOrderHeader": 31_465, "sales.SalesOrderDetail": 121_317,
        "sales.Customer": 19_820, "sales.SalesTerritory": 10, "sales.Store": 701,
        "sales.SpecialOffer": 16, "sales.SpecialOfferProduct": 538, "production.Product": 504,
        "production.ProductCategory": 4, "production.ProductSubcategory": 37,
        "production.ProductModel": 128, "person.Person": 19_972, "person.Address": 19_614,
        "person.StateProvince": 181, "person.CountryRegion": 238,
    }  # fmt: skip
    assert report.tables == expected
    assert _query(
        settings,
        "select sum(TotalDue)::varchar, (select sum(LineTotal)::varchar from sales.SalesOrderDetail) "
        "from sales.SalesOrderHeader",
    ) == [("123216786.1159", "109846381.399888")]
    assert _query(
        settings,
        "select min(OrderDate)::varchar, max(OrderDate)::varchar from sales.SalesOrderHeader",
    ) == [("2011-05-31 00:00:00", "2014-06-30 00:00:00")]


def test_warehouse_locked_by_another_process_is_reported_as_busy(settings, headered_export):
    import subprocess
    import sys

    from medallion.errors import WarehouseBusyError

    load(settings, source=headered_export)
    before = checksums(settings)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
         "time.sleep(60)", str(settings.warehouse)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(WarehouseBusyError, match="in use by another process"):
            load(settings, source=None, scale=0.01)
    finally:
        holder.kill()
        holder.wait()
    assert checksums(settings) == before
