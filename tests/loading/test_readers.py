"""Reader-level checks on Microsoft's own install-script files (the shared sample)."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest

from medallion.errors import SourceDataError
from medallion.loading import readers
from medallion.loading.catalog import find

SAMPLE = Path(os.environ["MEDALLION_REAL_DATA"]) / "official-format-sample"


@pytest.fixture
def sample(tmp_path) -> Path:
    if not SAMPLE.is_dir():
        pytest.skip(f"official-format sample not found at {SAMPLE}")
    return Path(shutil.copytree(SAMPLE, tmp_path / "sample"))


def _normalize(path: Path, schema: str, name: str, out: Path) -> list[list[str]]:
    table = find(schema, name)
    sf = readers.SourceFile(table, path, readers.OFFICIAL, table.column_names)
    nf = readers.normalize(sf, out)
    with nf.path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert nf.rows == len(rows)
    return rows


@pytest.mark.realdata
def test_terminated_format_with_multiline_xml(sample, tmp_path):
    rows = _normalize(sample / "ProductModel.csv", "production", "ProductModel", tmp_path)

    assert len(rows) == 128
    multiline = [r for r in rows if "\n" in r[3] or "\n" in r[4]]
    assert multiline, "the sample's XML values span lines"
    # _line is the physical line a record starts on, so it runs ahead of the record index.
    assert int(rows[-1][0]) > 128
    assert rows[0][1:3] == ["1", "Classic Vest"]
    assert rows[0][3] == "" and rows[0][4] == ""  # empty fields, NULL downstream


@pytest.mark.realdata
def test_tab_format_and_utf16_copy_give_identical_records(sample, tmp_path):
    utf8 = _normalize(sample / "SalesTerritory.csv", "sales", "SalesTerritory", tmp_path)
    text = (sample / "SalesTerritory.csv").read_text(encoding="utf-8").replace("\n", "\r\n")
    utf16 = tmp_path / "SalesTerritory16.csv"
    utf16.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    (tmp_path / "o16").mkdir()

    assert _normalize(utf16, "sales", "SalesTerritory", tmp_path / "o16") == utf8
    assert len(utf8) == 10 and utf8[0][2:4] == ["Northwest", "US"]


@pytest.mark.realdata
def test_store_terminated_utf16_with_crlf(sample, tmp_path):
    text = (sample / "Store.csv").read_text(encoding="utf-8").replace("&|\n", "&|\r\n")
    path = tmp_path / "Store.csv"
    path.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))

    rows = _normalize(path, "sales", "Store", tmp_path)

    assert len(rows) == 701
    assert rows[0][1:4] == ["292", "Next-Door Bike Store", "279"]
    assert all(not r[-1].endswith(("&|", "\r")) for r in rows)


def test_instawdb_column_order_parsing(tmp_path):
    script = tmp_path / "instawdb.sql"
    script.write_text(
        "CREATE TABLE [Sales].[Customer](\n"
        "\t[CustomerID] [int] IDENTITY (1, 1) NOT FOR REPLICATION NOT NULL,\n"
        "\t-- A customer may either be a person, a store, or a person who works for a store\n"
        "\t[PersonID] [int] NULL, -- If this customer represents a person, this is non-null\n"
        "    [StoreID] [int] NULL,\n    [TerritoryID] [int] NULL,\n"
        "    [AccountNumber] AS ISNULL('AW' + [dbo].[ufnLeadingZeros](CustomerID), ''),\n"
        "    [rowguid] uniqueidentifier ROWGUIDCOL NOT NULL CONSTRAINT [DF_Customer_rowguid] "
        "DEFAULT (NEWID()),\n"
        "    [ModifiedDate] [datetime] NOT NULL CONSTRAINT [DF_Customer_ModifiedDate] "
        "DEFAULT (GETDATE())\n) ON [PRIMARY];\nGO\n"
        "CREATE TABLE [dbo].[AWBuildVersion](\n    [SystemInformationID] [tinyint] NOT NULL,\n"
        "    [Database Version] [nvarchar](25) NOT NULL,\n"
        "    CONSTRAINT [CK_x] CHECK (([SystemInformationID] > (0)))\n) ON [PRIMARY];\n",
        encoding="utf-8",
    )

    parsed = readers.parse_instawdb(script)

    assert parsed["sales.customer"] == find("sales", "Customer").column_names
    assert parsed["dbo.awbuildversion"] == ("SystemInformationID", "Database Version")


@pytest.mark.realdata
def test_format_detection(tmp_path, sample):
    assert readers.detect_format(sample) == readers.OFFICIAL
    (tmp_path / "x" / "sales").mkdir(parents=True)
    (tmp_path / "x" / "sales" / "SalesOrderHeader.csv").write_text("SalesOrderID\n")
    assert readers.detect_format(tmp_path / "x") == readers.HEADERED
    with pytest.raises(SourceDataError, match="no AdventureWorks export found"):
        readers.detect_format(tmp_path)


@pytest.mark.realdata
def test_official_file_with_a_header_row_is_read_too(sample, tmp_path):
    text = (sample / "ProductCategory.csv").read_text(encoding="utf-8")
    path = tmp_path / "ProductCategory.csv"
    path.write_text("ProductCategoryID\tName\trowguid\tModifiedDate\n" + text, encoding="utf-8")

    rows = _normalize(path, "production", "ProductCategory", tmp_path)

    assert [r[:3] for r in rows][:2] == [["2", "1", "Bikes"], ["3", "2", "Components"]]
    assert len(rows) == 4
