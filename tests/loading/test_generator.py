"""The synthetic generator: determinism, referential integrity, scale, business rules, appends."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest

from medallion.loading import generator, staging
from medallion.loading.api import load
from medallion.loading.catalog import TABLES

from .conftest import make_settings

# (child table, child columns, parent table, parent columns): every FK the raw data carries.
FOREIGN_KEYS = [
    ("sales.SalesOrderDetail", "SalesOrderID", "sales.SalesOrderHeader", "SalesOrderID"),
    ("sales.SalesOrderDetail", "ProductID", "production.Product", "ProductID"),
    ("sales.SalesOrderDetail", "SpecialOfferID, ProductID", "sales.SpecialOfferProduct",
     "SpecialOfferID, ProductID"),
    ("sales.SalesOrderHeader", "CustomerID", "sales.Customer", "CustomerID"),
    ("sales.SalesOrderHeader", "TerritoryID", "sales.SalesTerritory", "TerritoryID"),
    ("sales.SalesOrderHeader", "BillToAddressID", "person.Address", "AddressID"),
    ("sales.SalesOrderHeader", "ShipToAddressID", "person.Address", "AddressID"),
    ("sales.SalesOrderHeader", "SalesPersonID", "person.Person", "BusinessEntityID"),
    ("sales.Customer", "PersonID", "person.Person", "BusinessEntityID"),
    ("sales.Customer", "StoreID", "sales.Store", "BusinessEntityID"),
    ("sales.Customer", "TerritoryID", "sales.SalesTerritory", "TerritoryID"),
    ("sales.Store", "SalesPersonID", "person.Person", "BusinessEntityID"),
    ("sales.SpecialOfferProduct", "SpecialOfferID", "sales.SpecialOffer", "SpecialOfferID"),
    ("sales.SpecialOfferProduct", "ProductID", "production.Product", "ProductID"),
    ("sales.SalesTerritory", "CountryRegionCode", "person.CountryRegion", "CountryRegionCode"),
    ("production.Product", "ProductSubcategoryID", "production.ProductSubcategory",
     "ProductSubcategoryID"),
    ("production.Product", "ProductModelID", "production.ProductModel", "ProductModelID"),
    ("production.ProductSubcategory", "ProductCategoryID", "production.ProductCategory",
     "ProductCategoryID"),
    ("person.Address", "StateProvinceID", "person.StateProvince", "StateProvinceID"),
    ("person.StateProvince", "CountryRegionCode", "person.CountryRegion", "CountryRegionCode"),
    ("person.StateProvince", "TerritoryID", "sales.SalesTerritory", "TerritoryID"),
]  # fmt: skip
PRIMARY_KEYS = {
    "sales.SalesOrderHeader": "SalesOrderID", "sales.SalesOrderDetail": "SalesOrderDetailID",
    "sales.Customer": "CustomerID", "sales.SalesTerritory": "TerritoryID",
    "sales.Store": "BusinessEntityID", "sales.SpecialOffer": "SpecialOfferID",
    "sales.SpecialOfferProduct": "SpecialOfferID, ProductID", "production.Product": "ProductID",
    "production.ProductCategory": "ProductCategoryID",
    "production.ProductSubcategory": "ProductSubcategoryID",
    "production.ProductModel": "ProductModelID", "person.Person": "BusinessEntityID",
    "person.Address": "AddressID", "person.StateProvince": "StateProvinceID",
    "person.CountryRegion": "CountryRegionCode",
}  # fmt: skip
ALWAYS_NULL_OK = {"Comment", "CurrencyRateID", "SpatialLocation", "AdditionalContactInfo",
                  "Suffix", "SellEndDate", "DiscontinuedDate", "CatalogDescription", "Instructions"}  # fmt: skip


def _rel(qualified: str, raw: bool) -> str:
    table = next(t for t in TABLES if t.qualified == qualified)
    return staging.raw_relation(table) if raw else staging.staging_relation(table)


def orphans(con: duckdb.DuckDBPyConnection, raw: bool) -> dict[str, int]:
    found = {}
    for child, ccols, parent, pcols in FOREIGN_KEYS:
        cc, pc = ccols.split(", "), pcols.split(", ")
        on = " and ".join(f"p.{p} = c.{c}" for c, p in zip(cc, pc, strict=True))
        n = con.execute(
            f"select count(*) from {_rel(child, raw)} c where c.{cc[0]} is not null and not "
            f"exists (select 1 from {_rel(parent, raw)} p where {on})"
        ).fetchall()[0][0]
        found[f"{child}({ccols}) -> {parent}"] = n
    return found


def duplicate_keys(con: duckdb.DuckDBPyConnection, raw: bool) -> dict[str, int]:
    return {
        q: con.execute(f"select count(*) - count(distinct ({key})) from {_rel(q, raw)}").fetchall()[
            0
        ][0]
        for q, key in PRIMARY_KEYS.items()
    }


def content_digest(con: duckdb.DuckDBPyConnection, raw: bool) -> dict[str, str]:
    """Digest of catalog columns only: load metadata differs between identical loads."""
    out = {}
    for t in TABLES:
        cols = ", ".join(staging.quote(c) for c in t.column_names)
        out[t.qualified] = con.execute(
            f"select md5(string_agg(x::varchar, '|' order by x::varchar)) "
            f"from (select {cols} from {_rel(t.qualified, raw)}) x"
        ).fetchall()[0][0]
    return out


def _generated(scale: float, seed: int) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    staging.create_staging_tables(con)
    generator.generate(con, scale, seed, datetime(2024, 1, 1))
    return con


@pytest.fixture(scope="module")
def sf1() -> duckdb.DuckDBPyConnection:
    con = _generated(1.0, 42)
    yield con
    con.close()


def _q(con, sql: str, params: list | None = None):
    return con.execute(sql, params or []).fetchall()


def test_same_seed_same_tables_other_seed_other_tables():
    a, b, c = _generated(0.05, 1), _generated(0.05, 1), _generated(0.05, 2)

    assert content_digest(a, False) == content_digest(b, False)
    differ = {k for k, v in content_digest(c, False).items() if v != content_digest(a, False)[k]}
    assert {"sales.SalesOrderHeader", "sales.SalesOrderDetail", "person.Person"} <= differ


def test_referential_integrity_and_unique_keys(sf1):
    assert orphans(sf1, False) == {k: 0 for k in orphans(sf1, False)}
    assert duplicate_keys(sf1, False) == {k: 0 for k in PRIMARY_KEYS}


def test_sf1_matches_the_real_sizes(sf1):
    counts = {t.qualified: _q(sf1, f"select count(*) from {_rel(t.qualified, False)}")[0][0]
              for t in TABLES}  # fmt: skip
    assert counts["sales.SalesOrderHeader"] == 31_465
    assert counts["sales.Customer"] == 19_820
    assert counts["production.Product"] == 504
    assert counts["sales.SalesTerritory"] == 10
    assert abs(counts["sales.SalesOrderDetail"] / 121_317 - 1) < 0.03
    assert abs(counts["person.Person"] / 19_972 - 1) < 0.05
    assert 650 <= counts["sales.Store"] <= 750
    avg_lines = counts["sales.SalesOrderDetail"] / counts["sales.SalesOrderHeader"]
    assert 3.6 < avg_lines < 4.1


def test_scale_is_linear_for_orders_and_customers():
    con = _generated(0.1, 42)
    orders, lines, customers = _q(
        con,
        'select (select count(*) from sales."_stg_SalesOrderHeader"), '
        '(select count(*) from sales."_stg_SalesOrderDetail"), '
        '(select count(*) from sales."_stg_Customer")',
    )[0]
    assert orders == 3_146 or orders == 3_147
    assert abs(lines / 12_132 - 1) < 0.05
    assert abs(customers / 1_982 - 1) < 0.01
    assert orphans(con, False) == {k: 0 for k in orphans(con, False)}
    for scale in (10, 30):  # large scales: the plan only, generating them is the benchmark's job
        p = generator.plan(scale, 42)
        assert p.orders == round(31_465 * scale)
        assert p.customers == round(19_820 * scale)
        assert p.stores == 701  # dimensions stay fixed


def test_business_rules_hold_exactly(sf1):
    h, d = 'sales."_stg_SalesOrderHeader"', 'sales."_stg_SalesOrderDetail"'
    assert _q(
        sf1,
        f"select count(*) from {d} where LineTotal <> UnitPrice * (1 - UnitPriceDiscount) * OrderQty "
        "or OrderQty <= 0 or UnitPrice <= 0 or UnitPriceDiscount < 0 or UnitPriceDiscount >= 1",
    ) == [(0,)]
    assert _q(
        sf1,
        f"select count(*) from {h} o join (select SalesOrderID, round(sum(LineTotal), 4) s "
        f"from {d} group by all) l using (SalesOrderID) where o.SubTotal <> l.s "
        "or o.TotalDue <> o.SubTotal + o.TaxAmt + o.Freight",
    ) == [(0,)]
    assert _q(
        sf1,
        f"select count(*) from {h} where ShipDate < OrderDate or DueDate <= OrderDate "
        "or OrderDate < '2011-05-31' or OrderDate > '2014-06-30' or OrderDate > now()",
    ) == [(0,)]
    assert _q(sf1, f"select count(*) from {h} o where not exists "
                   f"(select 1 from {d} l where l.SalesOrderID = o.SalesOrderID)") == [(0,)]  # fmt: skip
    statuses = dict(_q(sf1, f"select Status, count(*) from {h} group by all"))
    assert set(statuses) == {1, 2, 3, 4, 5, 6}
    assert statuses[5] / sum(statuses.values()) > 0.9
    assert _q(
        sf1, f"select count(*) from {h} where (ShipDate is null) <> (Status in (1, 2, 3))"
    ) == [(0,)]
    assert {r[0] for r in _q(sf1, f"select distinct OnlineOrderFlag from {h}")} == {True, False}
    assert _q(
        sf1, f"select min(OrderDate)::date::varchar, max(OrderDate)::date::varchar from {h}"
    ) == [("2011-05-31", "2014-06-30")]


def test_distributions_are_skewed_like_real_sales(sf1):
    h, d = 'sales."_stg_SalesOrderHeader"', 'sales."_stg_SalesOrderDetail"'
    per_territory = [r[0] for r in _q(sf1, f"select count(*) from {h} group by TerritoryID")]
    assert len(per_territory) == 10 and max(per_territory) > 5 * min(per_territory)
    top_share = _q(
        sf1,
        f"select sum(c) filter (where rk <= 30) / sum(c) from (select count(*) c, "
        f"row_number() over (order by count(*) desc) rk from {d} group by ProductID)",
    )[0][0]
    assert top_share > 0.4  # the top 10 % of sold products carry a large share of lines
    years = dict(_q(sf1, f"select year(OrderDate), count(*) from {h} group by all"))
    assert years[2011] < years[2012] < years[2013]
    mix = dict(
        _q(
            sf1,
            "select (PersonID is not null)::int * 2 + (StoreID is not null)::int, count(*) "
            'from sales."_stg_Customer" group by all',
        )
    )
    assert mix[2] > 18_000 and mix[1] == 701 and mix[3] == 635  # individual, store, contact


def test_no_column_is_left_empty_by_mistake(sf1):
    empty = []
    for t in TABLES:
        for col in t.column_names:
            if col in ALWAYS_NULL_OK:
                continue
            n = _q(sf1, f"select count({staging.quote(col)}) from {_rel(t.qualified, False)}")[0][0]
            if n == 0:
                empty.append(f"{t.qualified}.{col}")
    assert empty == []


def _warehouse(tmp_path, name: str, scale: float = 0.1):
    settings = make_settings(tmp_path / name)
    load(settings, source=None, scale=scale, seed=42)
    return settings


def _con(settings, read_only: bool = True):
    return duckdb.connect(str(settings.warehouse), read_only=read_only)


def test_append_hours_adds_orders_updates_earlier_ones_and_keeps_integrity(tmp_path):
    settings = _warehouse(tmp_path, "a")
    con = _con(settings)
    before_max, before_orders, before_loaded, before_customers = _q(
        con,
        "select max(SalesOrderID), count(*), max(_loaded_at), "
        "(select count(*) from sales.Customer) from sales.SalesOrderHeader",
    )[0]
    in_process = _q(con, "select count(*) from sales.SalesOrderHeader where Status in (1, 2, 3)")[
        0
    ][0]
    untouched = _q(
        con,
        "select md5(string_agg(t::varchar, '|' order by SalesOrderID)) from "
        "sales.SalesOrderHeader t where SalesOrderID < 43800",
    )
    con.close()

    report = load(settings, source=None, append_hours=2, seed=42)

    con = _con(settings)
    orders = report.tables["sales.SalesOrderHeader"] - before_orders
    assert 0.8 * 2 * 315 < orders < 1.2 * 2 * 315
    assert _q(
        con, f"select count(*) from sales.SalesOrderHeader where SalesOrderID > {before_max}"
    ) == [(orders,)]
    new_loaded = _q(con, "select max(_loaded_at) from sales.SalesOrderHeader")[0][0]
    assert new_loaded > before_loaded
    updated = _q(
        con,
        f"select count(*), count(*) filter (where Status = 5 and ShipDate is not null) "
        f"from sales.SalesOrderHeader where SalesOrderID <= {before_max} and _loaded_at = ?",
        [new_loaded],
    )[0]
    assert updated[0] > 0 and updated[1] == updated[0]
    assert _q(con, "select count(*) from sales.SalesOrderHeader where Status in (1, 2, 3) "
                   f"and SalesOrderID <= {before_max}")[0][0] < in_process  # fmt: skip
    new_customers = report.tables["sales.Customer"] - before_customers
    assert new_customers > 0
    assert report.tables["person.Person"] > 0
    assert _q(con, "select count(*) from sales.Customer where _loaded_at = ?", [new_loaded]) == [
        (new_customers,)
    ]
    # New orders come after the old ones, touch old customers too, and obey the same rules.
    assert _q(
        con,
        f"select min(OrderDate) > timestamp '2014-06-30', count(*) filter (where CustomerID <= "
        f"{before_customers}) > 0 from sales.SalesOrderHeader where SalesOrderID > {before_max}",
    ) == [(True, True)]
    assert _q(
        con,
        "select count(*) from sales.SalesOrderHeader o join (select SalesOrderID, "
        "round(sum(LineTotal), 4) s from sales.SalesOrderDetail group by all) l using (SalesOrderID) "
        "where o.SubTotal <> l.s or o.TotalDue <> o.SubTotal + o.TaxAmt + o.Freight "
        "or o.ShipDate < o.OrderDate",
    ) == [(0,)]
    assert orphans(con, True) == {k: 0 for k in orphans(con, True)}
    assert duplicate_keys(con, True) == {k: 0 for k in PRIMARY_KEYS}
    assert (
        _q(
            con,
            "select md5(string_agg(t::varchar, '|' order by SalesOrderID)) from "
            "sales.SalesOrderHeader t where SalesOrderID < 43800",
        )
        == untouched
    )
    assert _q(con, "select kind from ops.loads order by load_id") == [("synthetic",), ("append",)]
    con.close()

    # The base is unchanged, so a plain load keeps the appended data.
    again = load(settings, source=None, scale=0.1, seed=42)
    assert again.skipped and again.tables == report.tables


def test_append_is_deterministic(tmp_path):
    digests = []
    for name in ("x", "y"):
        settings = _warehouse(tmp_path, name, scale=0.05)
        load(settings, source=None, append_hours=1, seed=7)
        load(settings, source=None, append_hours=1, seed=7)
        con = _con(settings)
        digests.append(content_digest(con, True))
        con.close()
    assert digests[0] == digests[1]


@pytest.mark.realdata
def test_append_onto_the_real_export_keeps_integrity(tmp_path, real_data):
    settings = make_settings(tmp_path)
    load(settings, source=real_data)

    report = load(settings, source=None, append_hours=1)

    con = _con(settings)
    assert report.tables["sales.SalesOrderHeader"] > 31_465
    assert orphans(con, True) == {k: 0 for k in orphans(con, True)}
    assert _q(
        con,
        "select count(*) from sales.SalesOrderDetail where "
        "LineTotal <> UnitPrice * (1 - UnitPriceDiscount) * OrderQty",
    ) == [(0,)]
    con.close()
