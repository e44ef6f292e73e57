"""Each class of bad input: a SourceDataError naming file, line and column, and the
previously loaded raw data left exactly as it was (row counts and content checksums)."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest

from medallion.errors import SourceDataError
from medallion.loading.api import load

from .conftest import checksums


@pytest.fixture
def loaded(settings, headered_export):
    """A warehouse holding a good load, and the checksums that must survive bad loads."""
    load(settings, source=headered_export)
    return checksums(settings)


def _rewrite(path: Path, edit) -> None:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    rows = edit(rows)
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


def _fails(settings, source: Path, before) -> SourceDataError:
    with pytest.raises(SourceDataError) as info:
        load(settings, source=source, force=True)
    assert checksums(settings) == before, "a failed load changed the raw tables"
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    leftovers = con.execute(
        "select table_name from information_schema.tables where table_name like '\\_stg\\_%' escape '\\'"
    ).fetchall()
    con.close()
    assert leftovers == []
    return info.value


def test_missing_file(settings, headered_export, loaded):
    (headered_export / "sales" / "Store.csv").unlink()

    err = _fails(settings, headered_export, loaded)

    assert err.path == str(headered_export / "sales" / "Store.csv")
    assert "missing file for table sales.Store" in str(err)


def test_missing_column_in_header(settings, headered_export, loaded):
    path = headered_export / "sales" / "Customer.csv"
    _rewrite(path, lambda rows: [[v for i, v in enumerate(r) if i != 2] for r in rows])

    err = _fails(settings, headered_export, loaded)

    assert (err.path, err.line, err.column) == (str(path), 1, "StoreID")
    assert "lacks column StoreID" in str(err)


def test_extra_column_in_header(settings, headered_export, loaded):
    path = headered_export / "production" / "ProductCategory.csv"
    _rewrite(path, lambda rows: [[*rows[0], "Colour"]] + [[*r, "x"] for r in rows[1:]])

    err = _fails(settings, headered_export, loaded)

    assert (err.path, err.line, err.column) == (str(path), 1, "Colour")


def test_record_with_a_missing_field(settings, headered_export, loaded):
    path = headered_export / "sales" / "SalesOrderDetail.csv"
    _rewrite(path, lambda rows: [*rows[:5], rows[5][:-2], *rows[6:]])

    err = _fails(settings, headered_export, loaded)

    assert (err.path, err.line, err.column) == (str(path), 6, "rowguid")
    assert "missing column rowguid" in str(err)


def test_record_with_an_extra_field(settings, headered_export, loaded):
    path = headered_export / "person" / "Address.csv"
    _rewrite(path, lambda rows: [*rows[:3], [*rows[3], "surplus"], *rows[4:]])

    err = _fails(settings, headered_export, loaded)

    assert (err.path, err.line) == (str(path), 4)
    assert err.column == "field 10 (after ModifiedDate)"


def test_wrong_delimiter(settings, headered_export, loaded):
    path = headered_export / "sales" / "SalesTerritory.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, delimiter=";", lineterminator="\n").writerows(rows)

    err = _fails(settings, headered_export, loaded)

    assert (err.path, err.line, err.column) == (str(path), 1, "TerritoryID")
    assert "wrong delimiter" in str(err) and "semicolon" in str(err)


def test_bad_encoding(settings, headered_export, loaded):
    path = headered_export / "person" / "Person.csv"
    lines = path.read_bytes().split(b"\n")
    fields = lines[3].split(b",")
    fields[4] = b"Ren\xe9"  # cp1252 e-acute: not UTF-8
    lines[3] = b",".join(fields)
    path.write_bytes(b"\n".join(lines))

    err = _fails(settings, headered_export, loaded)

    assert (err.path, err.line, err.column) == (str(path), 4, "FirstName")
    assert "not valid UTF-8" in str(err)


@pytest.mark.parametrize(
    ("table", "column", "value", "kind"),
    [
        ("sales/SalesOrderDetail", "OrderQty", "3.5", "an integer"),
        ("sales/SalesOrderHeader", "TotalDue", "12,5", "a number"),
        ("sales/SalesOrderHeader", "OrderDate", "2013-02-30 00:00:00.000", "a date-time"),
        ("person/Person", "NameStyle", "maybe", "a boolean"),
    ],
    ids=["integer", "number", "date", "bool"],
)
def test_unparsable_value(settings, headered_export, loaded, table, column, value, kind):
    path = headered_export / f"{table}.csv"

    def edit(rows):
        rows[7][rows[0].index(column)] = value
        return rows

    _rewrite(path, edit)

    err = _fails(settings, headered_export, loaded)

    assert (err.path, err.line, err.column) == (str(path), 8, column)
    assert repr(value) in str(err) and kind in str(err)


def test_unparsable_value_after_a_multiline_record_reports_the_physical_line(
    settings, headered_export, loaded
):
    path = headered_export / "production" / "ProductModel.csv"

    def edit(rows):
        rows[2][rows[0].index("ModifiedDate")] = "yesterday"  # record after the 4-line one
        return rows

    _rewrite(path, edit)

    err = _fails(settings, headered_export, loaded)

    assert (err.path, err.line, err.column) == (str(path), 6, "ModifiedDate")


def test_truncated_last_line_inside_quotes(settings, headered_export, loaded):
    path = headered_export / "sales" / "Store.csv"
    text = path.read_text(encoding="utf-8")
    last_start = text.rstrip("\n").rfind("\n") + 1
    n_lines = text.count("\n")
    cut = text.index("<NumberEmployees>", last_start)
    path.write_text(text[:cut], encoding="utf-8")  # ends inside the quoted XML

    err = _fails(settings, headered_export, loaded)

    assert (err.path, err.line, err.column) == (str(path), n_lines, "Demographics")
    assert "unterminated quoted field" in str(err)


def test_truncated_last_line_short_record(settings, headered_export, loaded):
    path = headered_export / "sales" / "SalesOrderHeader.csv"
    text = path.read_text(encoding="utf-8")
    n_lines = text.count("\n")
    last_start = text.rstrip("\n").rfind("\n") + 1
    cut = text.index(",", text.index(",", last_start) + 1)  # after two fields, no newline
    path.write_text(text[:cut], encoding="utf-8")

    err = _fails(settings, headered_export, loaded)

    assert (err.path, err.line, err.column) == (str(path), n_lines, "OrderDate")
    assert "truncated last line" in str(err)


def test_empty_file(settings, headered_export, loaded):
    path = headered_export / "person" / "CountryRegion.csv"  # the last table staged
    path.write_bytes(b"")

    err = _fails(settings, headered_export, loaded)

    assert (err.path, err.line, err.column) == (str(path), 1, "CountryRegionCode")
    assert "empty file" in str(err)


def test_official_format_truncated_terminated_record(settings, official_export, loaded):
    path = official_export / "Store.csv"
    data = path.read_bytes()
    path.write_bytes(data[: -len("&|\r\n".encode("utf-16-le"))])  # last record lost its '&|'
    n_records = data.decode("utf-16").count("&|")

    err = _fails(settings, official_export, loaded)

    assert (err.path, err.line) == (str(path), n_records)
    assert "truncated last line" in str(err)


def test_official_format_wrong_delimiter(settings, official_export, loaded):
    path = official_export / "SpecialOffer.csv"
    path.write_text(path.read_text(encoding="utf-8").replace("\t", ","), encoding="utf-8")

    err = _fails(settings, official_export, loaded)

    assert (err.path, err.line, err.column) == (str(path), 1, "Description")
    assert "delimiter" in str(err)


def test_official_format_bad_utf16(settings, official_export, loaded):
    path = official_export / "Person.csv"
    data = bytearray(path.read_bytes())
    second_record = data.index("&|\r\n".encode("utf-16-le")) + 8
    data[second_record + 2 : second_record + 4] = b"\x00\xdc"  # a lone low surrogate
    path.write_bytes(bytes(data))

    err = _fails(settings, official_export, loaded)

    assert (err.path, err.line, err.column) == (str(path), 2, "BusinessEntityID")
    assert "not valid UTF-16" in str(err)
