"""Synthetic AdventureWorks, generated inside DuckDB SQL, deterministic for a seed.

Every random choice is ``hash(seed, stream, key)`` of a stable key (an id, an index), never
``random()``, so a seed reproduces the same tables whatever the chunking or thread count.
The data never passes through Python objects: dimensions are small literal lists, and
customers, persons, addresses, orders and lines come from ``range()`` in SQL, orders in
chunks so SF 30 stays within memory and a progress bar can follow.

Shape (SF 1, calibrated on the real export): 31,465 orders, ~121k lines (store orders
~12 % with ~16 lines, online orders ~2.2 lines), 19,820 customers (701 store-only, 635
store contacts, the rest individuals), 504 products (209 parts that never sell), 10
territories with uneven volume, dates 2011-05-31..2014-06-30 with growth, skewed product
popularity. SF scales orders, customers and persons linearly; dimensions stay fixed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import duckdb

from medallion.errors import MedallionError
from medallion.loading.catalog import TABLES
from medallion.loading.staging import fetch_one, raw_relation, staging_relation

GENERATOR_VERSION = 2
SF1_ORDERS = 31_465
SF1_CUSTOMERS = 19_820
SF1_STORES = 701
SF1_STORE_CONTACTS = 635
SALES_PEOPLE = 17
PARTS = 209
FINISHED_GOODS = 295
MODELS_USED, MODELS = 119, 128
ORDERS_PER_HOUR_SF1 = SF1_ORDERS / 100  # an appended hour adds ~1 % of SF 1
CHUNK_ORDERS = 50_000
FIRST_ORDER_ID = 43_659
FIRST_DAY, DAYS = "2011-05-31", 1127  # through 2014-06-30
IN_PROCESS_FROM = "2014-06-24"  # the last week's orders are not shipped yet (status 1..3)
ENDLESS = "2014-11-30"

TERRITORIES = [  # id, name, country, group, sales ytd, sales last year, weight (real order mix)
    (1, "Northwest", "US", "North America", "7887186.7882", "3298694.4938", 4594),
    (2, "Northeast", "US", "North America", "2402176.8476", "3607148.9371", 352),
    (3, "Central", "US", "North America", "3072175.1180", "3205014.0767", 385),
    (4, "Southwest", "US", "North America", "10510853.8739", "5366575.7098", 6224),
    (5, "Southeast", "US", "North America", "2538667.2515", "3925071.4318", 486),
    (6, "Canada", "CA", "North America", "6771829.1376", "5693988.8600", 4067),
    (7, "France", "FR", "Europe", "4772398.3078", "2396539.7601", 2672),
    (8, "Germany", "DE", "Europe", "3805202.3478", "1307949.7917", 2623),
    (9, "Australia", "AU", "Pacific", "5977814.9154", "2278548.9776", 6843),
    (10, "United Kingdom", "GB", "Europe", "5012905.3656", "1635823.3967", 3219),
]
COUNTRIES = [
    ("US", "United States"), ("CA", "Canada"), ("FR", "France"), ("DE", "Germany"),
    ("AU", "Australia"), ("GB", "United Kingdom"), ("MX", "Mexico"), ("JP", "Japan"),
    ("NZ", "New Zealand"), ("IT", "Italy"), ("ES", "Spain"), ("NL", "Netherlands"),
]  # fmt: skip
PROVINCES = {  # territory -> (code, name); country from the territory
    1: [("WA", "Washington"), ("OR", "Oregon"), ("ID", "Idaho"), ("MT", "Montana"),
        ("WY", "Wyoming"), ("AK", "Alaska")],
    2: [("NY", "New York"), ("MA", "Massachusetts"), ("CT", "Connecticut"), ("ME", "Maine"),
        ("NH", "New Hampshire"), ("VT", "Vermont"), ("RI", "Rhode Island")],
    3: [("IL", "Illinois"), ("OH", "Ohio"), ("MI", "Michigan"), ("IN", "Indiana"),
        ("WI", "Wisconsin"), ("MN", "Minnesota"), ("MO", "Missouri")],
    4: [("CA", "California"), ("AZ", "Arizona"), ("NV", "Nevada"), ("NM", "New Mexico"),
        ("UT", "Utah"), ("TX", "Texas")],
    5: [("FL", "Florida"), ("GA", "Georgia"), ("NC", "North Carolina"), ("SC", "South Carolina"),
        ("VA", "Virginia"), ("TN", "Tennessee")],
    6: [("BC", "British Columbia"), ("ON", "Ontario"), ("QC", "Quebec"), ("AB", "Alberta")],
    7: [("75", "Seine (Paris)"), ("92", "Hauts de Seine"), ("59", "Nord"), ("33", "Gironde")],
    8: [("BY", "Bayern"), ("HE", "Hessen"), ("NW", "Nordrhein-Westfalen"), ("HH", "Hamburg")],
    9: [("NSW", "New South Wales"), ("VIC", "Victoria"), ("QLD", "Queensland"),
        ("SA", "South Australia")],
    10: [("ENG", "England")],
}  # fmt: skip
CATEGORIES = ["Bikes", "Components", "Clothing", "Accessories"]
SUBCATEGORIES = [  # name, category id, model stem
    ("Mountain Bikes", 1, "Mountain"), ("Road Bikes", 1, "Road"), ("Touring Bikes", 1, "Touring"),
    ("Handlebars", 2, "Handlebar"), ("Bottom Brackets", 2, "Bottom Bracket"),
    ("Brakes", 2, "Brake"), ("Chains", 2, "Chain"), ("Cranksets", 2, "Crankset"),
    ("Derailleurs", 2, "Derailleur"), ("Forks", 2, "Fork"), ("Headsets", 2, "Headset"),
    ("Mountain Frames", 2, "Mountain Frame"), ("Pedals", 2, "Pedal"),
    ("Road Frames", 2, "Road Frame"), ("Saddles", 2, "Saddle"),
    ("Touring Frames", 2, "Touring Frame"), ("Wheels", 2, "Wheel"),
    ("Bib-Shorts", 3, "Bib-Shorts"), ("Caps", 3, "Cap"), ("Gloves", 3, "Gloves"),
    ("Jerseys", 3, "Jersey"), ("Shorts", 3, "Shorts"), ("Socks", 3, "Socks"),
    ("Tights", 3, "Tights"), ("Vests", 3, "Vest"), ("Bike Racks", 4, "Bike Rack"),
    ("Bike Stands", 4, "Bike Stand"), ("Bottles and Cages", 4, "Bottle Cage"),
    ("Cleaners", 4, "Cleaner"), ("Fenders", 4, "Fender"), ("Helmets", 4, "Helmet"),
    ("Hydration Packs", 4, "Hydration Pack"), ("Lights", 4, "Light"), ("Locks", 4, "Lock"),
    ("Panniers", 4, "Pannier"), ("Pumps", 4, "Pump"), ("Tires and Tubes", 4, "Tire"),
]  # fmt: skip
PRICE_RANGE = {1: (539.99, 3578.27), 2: (20.24, 1431.50), 3: (8.99, 89.99), 4: (2.29, 159.00)}
SPECIAL_OFFERS = [  # id, description, discount, type, category, min qty, max qty
    (1, "No Discount", "0.00", "No Discount", "No Discount", 0, None),
    (2, "Volume Discount 11 to 14", "0.02", "Volume Discount", "Reseller", 11, 14),
    (3, "Volume Discount 15 to 24", "0.05", "Volume Discount", "Reseller", 15, 24),
    (4, "Volume Discount 25 to 40", "0.10", "Volume Discount", "Reseller", 25, 40),
    (5, "Volume Discount 41 to 60", "0.15", "Volume Discount", "Reseller", 41, 60),
    (6, "Volume Discount over 60", "0.20", "Volume Discount", "Reseller", 61, None),
    (7, "Mountain-100 Clearance Sale", "0.35", "Discontinued Product", "Reseller", 0, None),
    (8, "Sport Helmet Discount-2002", "0.10", "Seasonal Discount", "Reseller", 0, None),
    (9, "Road-650 Overstock", "0.30", "Excess Inventory", "Reseller", 0, None),
    (10, "Mountain Tire Sale", "0.50", "Excess Inventory", "Customer", 0, None),
    (11, "Sport Helmet Discount-2003", "0.15", "Seasonal Discount", "Reseller", 0, None),
    (12, "LL Road Frame Sale", "0.35", "Excess Inventory", "Reseller", 0, None),
    (13, "Touring-3000 Promotion", "0.15", "New Product", "Reseller", 0, None),
    (14, "Touring-1000 Promotion", "0.20", "New Product", "Reseller", 0, None),
    (15, "Half-Price Pedal Sale", "0.50", "Seasonal Discount", "Customer", 0, None),
    (16, "Mountain-500 Silver Clearance Sale", "0.40", "Discontinued Product", "Reseller", 0, None),
]
FIRST_NAMES = (
    "James Mary John Patricia Robert Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy "
    "Matthew Betty Anthony Sandra Mark Ashley Steven Emily Andrew Kimberly Paul Donna Joshua "
    "Michelle Kenneth Carol Kevin Amanda Brian Melissa Timothy Deborah Ronald Stephanie Jason "
    "Rebecca Jacob Laura Ethan Hannah Lucas Chloe Noah Olivia Liam Emma"
).split()
LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
    "Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill "
    "Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Chen Wang Li "
    "Zhang Liu Yang Huang Zhao Wu Schmidt Dupont Martin Bernard Muller Schneider Fischer"
).split()
STREETS = (
    (
        "Napa Ct. Main St. Oak Ave. Pine St. Maple Dr. Cedar Ln. Elm St. Park Blvd. Lake Rd. "
        "Hill St. Sunset Dr. River Rd. Valley View Willow Way Birch Ct. Highland Ave."
    )
    .replace(". ", ".|")
    .split("|")
)
CITIES = (
    "Bothell Seattle Portland Redmond Everett Boston Chicago Columbus Dallas Phoenix Miami "
    "Atlanta Toronto Vancouver Paris Lyon Berlin Munich Hamburg Sydney Melbourne Brisbane "
    "London Bristol Leeds Denver Austin Tampa Orlando Calgary"
).split()
STORE_WORDS = (
    "Next-Door Professional Riders Bike Cycle Mountain Road Trail Urban Coastal Valley Summit "
    "Metro Family Sports Outdoor Wheel Pedal Gear Speed"
).split()
STORE_KINDS = ["Bike Store", "Cycles", "Sports Supply", "Bike Shop", "Outfitters", "Company"]
COLORS = ["Black", "Red", "Silver", "Blue", "Yellow", "Multi"]
PARTS_NOUNS = "Race Nut Bolt Washer Spoke Ring Bearing Cable Seat Stay Lug Plate".split()


@dataclass(frozen=True)
class Plan:
    """Row counts for a scale factor: orders and people scale, dimensions stay fixed."""

    scale: float
    seed: int
    orders: int
    stores: int
    store_contacts: int
    individuals: int

    @property
    def customers(self) -> int:
        return self.stores + self.store_contacts + self.individuals

    @property
    def persons(self) -> int:
        return SALES_PEOPLE + self.store_contacts + self.individuals

    @property
    def first_person_id(self) -> int:
        return self.stores + 1  # stores take BusinessEntityID 1..stores


def plan(scale: float, seed: int) -> Plan:
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    shrink = min(scale, 1.0)
    stores = max(1, round(SF1_STORES * shrink))
    contacts = round(SF1_STORE_CONTACTS * shrink)
    individuals = max(1, round(SF1_CUSTOMERS * scale) - stores - contacts)
    return Plan(scale, seed, max(1, round(SF1_ORDERS * scale)), stores, contacts, individuals)


def fingerprint(scale: float, seed: int) -> str:
    return f"synthetic:v{GENERATOR_VERSION}:sf={scale:g}:seed={seed}"


def source_label(scale: float, seed: int) -> str:
    return f"synthetic:sf={scale:g},seed={seed}"


def _lit(value: str | None) -> str:
    return "null" if value is None else "'" + value.replace("'", "''") + "'"


def _values(rows: list[tuple]) -> str:
    def one(v: object) -> str:
        if v is None:
            return "null"
        if isinstance(v, str):
            return _lit(v)
        return str(v)

    return ", ".join("(" + ", ".join(one(v) for v in row) + ")" for row in rows)


def _list(words: list[str]) -> str:
    return "[" + ", ".join(_lit(w) for w in words) + "]"


def install_macros(con: duckdb.DuckDBPyConnection, seed: int) -> None:
    """Seeded pseudo-random helpers: uniform [0, 1), list pick, GUID; all pure hashes.

    DuckDB combines the arguments of a multi-argument hash() cheaply, so two streams of
    the same key come out correlated; hashing the combined value again decorrelates them.
    """
    seed = int(seed)

    def h(k: int) -> str:
        return f"hash(hash({seed}::bigint, s::varchar, i::bigint, {k}))"

    con.execute(f"create or replace temp macro _u(s, i) as ({h(0)} >> 11) / 9007199254740992.0")
    con.execute(
        "create or replace temp macro _pick(lst, s, i) as "
        "lst[1 + cast(floor(_u(s, i) * len(lst)) as integer)]"
    )
    con.execute(
        "create or replace temp macro _guid(s, i) as printf('%08X-%04X-4%03X-%04X-%012X', "
        f"{h(1)} >> 32, ({h(1)} >> 16) & 65535, {h(1)} & 4095, "
        f"(({h(2)} >> 48) & 16383) | 32768, {h(2)} & 281474976710655)"
    )
    con.execute(
        "create or replace temp macro _geom(u, mean) as "  # floor of an exponential draw
        "cast(floor(-ln(1 - u) * mean) as integer)"
    )


def _meta(loaded_at: datetime, label: str) -> str:
    return (
        f"timestamp '{loaded_at.isoformat(sep=' ')}' as _loaded_at, {_lit(label)} as _source_file"
    )


_BY_NAME = {t.name: t for t in TABLES}


def _stg(name: str) -> str:
    return staging_relation(_BY_NAME[name])


def _raw(name: str) -> str:
    return raw_relation(_BY_NAME[name])


def _dimensions(con: duckdb.DuckDBPyConnection, p: Plan, meta: str) -> None:
    """Fixed-size reference tables plus stores, persons, addresses and customers."""
    territories = [(t[0], t[1], t[2], t[3], t[4], t[5]) for t in TERRITORIES]
    con.execute(
        f"insert into {_stg('CountryRegion')} by name select code as CountryRegionCode, "
        f"name as Name, timestamp '2008-04-30' as ModifiedDate, {meta} "
        f"from (values {_values(COUNTRIES)}) v(code, name)"
    )
    con.execute(
        f"insert into {_stg('SalesTerritory')} by name select id as TerritoryID, name as Name, "
        'cc as CountryRegionCode, grp as "Group", ytd::decimal(19,4) as SalesYTD, '
        "ly::decimal(19,4) as SalesLastYear, 0 as CostYTD, 0 as CostLastYear, "
        f"_guid('territory', id) as rowguid, timestamp '2008-04-30' as ModifiedDate, {meta} "
        f"from (values {_values(territories)}) v(id, name, cc, grp, ytd, ly)"
    )
    provinces = []
    for territory, items in PROVINCES.items():
        country = TERRITORIES[territory - 1][2]
        for k, (code, name) in enumerate(items):
            provinces.append((len(provinces) + 1, code, country, name, territory, k, len(items)))
    con.execute(
        "create or replace temp table _prov as select * from (values "
        f"{_values(provinces)}) v(StateProvinceID, code, cc, name, TerritoryID, k, n)"
    )
    con.execute(
        f"insert into {_stg('StateProvince')} by name select StateProvinceID, "
        "code as StateProvinceCode, cc as CountryRegionCode, "
        "(n = 1 and cc = 'GB') as IsOnlyStateProvinceFlag, name as Name, TerritoryID, "
        f"_guid('province', StateProvinceID) as rowguid, timestamp '2014-02-08 10:17:21.587' "
        f"as ModifiedDate, {meta} from _prov"
    )
    total = sum(t[6] for t in TERRITORIES)
    weights, lo = [], 0
    for t in TERRITORIES:
        weights.append((t[0], lo / total, (lo + t[6]) / total if t is not TERRITORIES[-1] else 1.0))
        lo += t[6]
    con.execute(
        "create or replace temp table _terr_weights as select * from (values "
        f"{_values(weights)}) v(TerritoryID, lo, hi)"
    )
    con.execute(
        f"insert into {_stg('ProductCategory')} by name select i as ProductCategoryID, "
        f"{_list(CATEGORIES)}[i] as Name, _guid('category', i) as rowguid, "
        f"timestamp '2008-04-30' as ModifiedDate, {meta} from range(1, {len(CATEGORIES) + 1}) t(i)"
    )
    subcats = [(i + 1, name, cat, stem) for i, (name, cat, stem) in enumerate(SUBCATEGORIES)]
    con.execute(
        "create or replace temp table _subcat as select * from (values "
        f"{_values(subcats)}) v(ProductSubcategoryID, name, ProductCategoryID, stem)"
    )
    con.execute(
        f"insert into {_stg('ProductSubcategory')} by name select ProductSubcategoryID, "
        "ProductCategoryID, name as Name, _guid('subcategory', ProductSubcategoryID) as rowguid, "
        f"timestamp '2008-04-30' as ModifiedDate, {meta} from _subcat"
    )
    n_sub = len(SUBCATEGORIES)
    con.execute(
        "create or replace temp table _model as select m as ProductModelID, "
        f"case when m <= {MODELS_USED} then 1 + (m - 1) * {n_sub} // {MODELS_USED} end "
        "as ProductSubcategoryID, "
        f"s.stem || '-' || (100 + m) as name from range(1, {MODELS + 1}) t(m) "
        f"join _subcat s on s.ProductSubcategoryID = case when m <= {MODELS_USED} "
        f"then 1 + (m - 1) * {n_sub} // {MODELS_USED} else 1 + m % {n_sub} end"
    )
    con.execute(
        f"insert into {_stg('ProductModel')} by name select ProductModelID, name as Name, "
        "null as CatalogDescription, null as Instructions, _guid('model', ProductModelID) "
        f"as rowguid, timestamp '2013-04-30' as ModifiedDate, {meta} from _model"
    )
    ranges = "[" + ", ".join(f"[{lo}, {hi}]" for _, (lo, hi) in sorted(PRICE_RANGE.items())) + "]"
    con.execute(
        f"""
        create or replace temp table _finished as
        with fg as (
            select {PARTS + 1} + k as ProductID, k,
                1 + (k * {MODELS_USED}) // {FINISHED_GOODS} as ProductModelID
            from range({FINISHED_GOODS}) t(k)
        ), ranked as (
            select fg.*, m.name as model_name, m.ProductSubcategoryID, s.ProductCategoryID,
                row_number() over (partition by fg.ProductModelID order by k) - 1 as j
            from fg join _model m using (ProductModelID)
            join _subcat s using (ProductSubcategoryID)
        )
        select *, round(
            {ranges}[ProductCategoryID][1] + ({ranges}[ProductCategoryID][2]
            - {ranges}[ProductCategoryID][1]) * pow(_u('price', ProductID), 1.5), 2
        )::decimal(19,4) as ListPrice
        from ranked
        """
    )
    con.execute(
        f"""
        insert into {_stg("Product")} by name
        select ProductID,
            model_name || ' ' || {_list(COLORS)}[1 + j % {len(COLORS)}]
                || case when ProductCategoryID = 1 then ', ' || (38 + 4 * (ProductID % 6)) else '' end
                as Name,
            ['BK', 'CM', 'CL', 'AC'][ProductCategoryID] || '-' || lpad(ProductID::varchar, 4, '0')
                || left({_list(COLORS)}[1 + j % {len(COLORS)}], 1) as ProductNumber,
            ProductCategoryID <= 2 as MakeFlag, true as FinishedGoodsFlag,
            {_list(COLORS)}[1 + j % {len(COLORS)}] as Color,
            case when ProductCategoryID = 1 then 100 else 500 end as SafetyStockLevel,
            case when ProductCategoryID = 1 then 75 else 375 end as ReorderPoint,
            round(ListPrice * (0.42 + 0.2 * _u('cost', ProductID)), 4) as StandardCost,
            ListPrice,
            case when ProductCategoryID = 1 then (38 + 4 * (ProductID % 6))::varchar
                 when ProductCategoryID = 3 then ['S', 'M', 'L', 'XL'][1 + ProductID % 4] end as Size,
            case when ProductCategoryID = 1 then 'CM ' end as SizeUnitMeasureCode,
            case when ProductCategoryID = 1 then 'LB ' end as WeightUnitMeasureCode,
            case when ProductCategoryID = 1 then round(13 + 17 * _u('weight', ProductID), 2) end
                as Weight,
            case ProductCategoryID when 1 then 4 when 2 then 1 else 0 end as DaysToManufacture,
            ['M ', 'R ', 'T ', 'S '][1 + ProductSubcategoryID % 4] as ProductLine,
            ['H ', 'M ', 'L '][1 + ProductID % 3] as Class,
            ['U ', 'M ', 'W '][1 + ProductID % 3] as Style,
            ProductSubcategoryID, ProductModelID,
            timestamp '{FIRST_DAY}' as SellStartDate, null as SellEndDate,
            null as DiscontinuedDate, _guid('product', ProductID) as rowguid,
            timestamp '2014-02-08 10:01:36.827' as ModifiedDate, {meta}
        from _finished
        union all by name
        select i as ProductID,
            {_list(PARTS_NOUNS)}[1 + i % {len(PARTS_NOUNS)}] || ' ' || lpad(i::varchar, 3, '0') as Name,
            'PT-' || lpad(i::varchar, 4, '0') as ProductNumber,
            _u('make', i) < 0.5 as MakeFlag, false as FinishedGoodsFlag, null as Color,
            1000 as SafetyStockLevel, 750 as ReorderPoint, 0 as StandardCost, 0 as ListPrice,
            null as Size, null as SizeUnitMeasureCode, null as WeightUnitMeasureCode,
            null as Weight, 0 as DaysToManufacture, null as ProductLine, null as Class,
            null as Style, null as ProductSubcategoryID, null as ProductModelID,
            timestamp '2008-04-30' as SellStartDate, null as SellEndDate,
            null as DiscontinuedDate, _guid('product', i) as rowguid,
            timestamp '2014-02-08 10:01:36.827' as ModifiedDate, {meta}
        from range(1, {PARTS + 1}) t(i)
        """
    )
    offers = [(o[0], o[1], o[2], o[3], o[4], o[5], o[6]) for o in SPECIAL_OFFERS]
    con.execute(
        f"insert into {_stg('SpecialOffer')} by name select id as SpecialOfferID, "
        "descr as Description, pct::decimal(19,4) as DiscountPct, typ as Type, "
        "cat as Category, timestamp '2011-05-01' as StartDate, "
        f"timestamp '{ENDLESS}' as EndDate, minq as MinQty, maxq as MaxQty, "
        f"_guid('offer', id) as rowguid, timestamp '2011-04-01' as ModifiedDate, {meta} "
        f"from (values {_values(offers)}) v(id, descr, pct, typ, cat, minq, maxq)"
    )
    # Popularity: finished goods in a seeded order, rank 0 the best seller; a third have a promo.
    con.execute(
        "create or replace temp table _pop as select "
        "row_number() over (order by _u('popularity', ProductID), ProductID) - 1 as rank, "
        "ProductID, ListPrice, case when _u('has_promo', ProductID) < 0.34 "
        "then 7 + cast(floor(_u('promo', ProductID) * 10) as integer) end as promo_offer "
        "from _finished"
    )
    con.execute(
        f"""
        insert into {_stg("SpecialOfferProduct")} by name
        select SpecialOfferID, ProductID, _guid('offer_product', SpecialOfferID * 100000 + ProductID)
            as rowguid, timestamp '2011-04-01' as ModifiedDate, {meta}
        from (
            select o as SpecialOfferID, ProductID from _pop, range(1, 7) t(o)
            union all
            select promo_offer, ProductID from _pop where promo_offer is not null
        )
        """
    )
    _people(con, p, meta)


def _people(con: duckdb.DuckDBPyConnection, p: Plan, meta: str) -> None:
    """Stores, persons, addresses and customers, keyed so joins need no lookups.

    BusinessEntityID 1..stores are stores; persons follow (17 sales people, then one
    contact per store-contact customer, then one per individual customer), so
    Customer.PersonID = CustomerID + 17. AddressID 1..stores belong to the stores, the
    rest to individuals (AddressID = CustomerID - store_contacts).
    """
    s, sc, ind = p.stores, p.store_contacts, p.individuals
    first_sp = p.first_person_id
    con.execute(
        f"""
        insert into {_stg("Address")} by name
        with a as (
            select i as AddressID, _u('addr_territory', i) as ut, _u('addr_province', i) as up
            from range(1, {s + ind + 1}) t(i)
        ), t as (
            select a.*, w.TerritoryID from a join _terr_weights w on a.ut >= w.lo and a.ut < w.hi
        )
        select t.AddressID,
            (1 + cast(floor(_u('house', t.AddressID) * 9999) as integer))::varchar || ' '
                || _pick({_list(STREETS)}, 'street', t.AddressID) as AddressLine1,
            case when _u('line2', t.AddressID) < 0.02 then 'Unit ' || (1 + t.AddressID % 99) end
                as AddressLine2,
            _pick({_list(CITIES)}, 'city', t.AddressID) as City,
            pv.StateProvinceID,
            lpad((10000 + t.AddressID * 7 % 89999)::varchar, 5, '0') as PostalCode,
            null as SpatialLocation, _guid('address', t.AddressID) as rowguid,
            timestamp '2011-01-01' + to_days(cast(floor(_u('addr_mod', t.AddressID) * 1200) as integer))
                as ModifiedDate, {meta}
        from t join _prov pv on pv.TerritoryID = t.TerritoryID
            and pv.k = cast(floor(t.up * pv.n) as integer)
        """
    )
    con.execute(
        f"""
        insert into {_stg("Store")} by name
        select i as BusinessEntityID,
            _pick({_list(STORE_WORDS)}, 'store_a', i) || ' ' || _pick({_list(STORE_WORDS)}, 'store_b', i)
                || ' ' || _pick({_list(STORE_KINDS)}, 'store_c', i) as Name,
            {first_sp} + cast(floor(_u('store_sp', i) * {SALES_PEOPLE}) as integer) as SalesPersonID,
            '<StoreSurvey xmlns="http://schemas.microsoft.com/sqlserver/2004/07/adventure-works/'
                || 'StoreSurvey"><AnnualSales>' || (300000 + 100000 * (i % 28))
                || '</AnnualSales><NumberEmployees>' || (2 + i % 98)
                || '</NumberEmployees></StoreSurvey>' as Demographics,
            _guid('store', i) as rowguid, timestamp '2014-09-12 11:15:07.497' as ModifiedDate, {meta}
        from range(1, {s + 1}) t(i)
        """
    )
    con.execute(
        f"""
        insert into {_stg("Person")} by name
        select i as BusinessEntityID,
            case when i < {first_sp + SALES_PEOPLE} then 'SP'
                 when i < {first_sp + SALES_PEOPLE + sc} then 'SC' else 'IN' end as PersonType,
            false as NameStyle,
            case when _u('title', i) < 0.05 then _pick(['Mr.', 'Ms.', 'Mrs.'], 'title_v', i) end
                as Title,
            _pick({_list(FIRST_NAMES)}, 'first', i) as FirstName,
            case when _u('middle', i) < 0.55 then chr(65 + cast(floor(_u('middle_v', i) * 26) as integer)) end
                as MiddleName,
            _pick({_list(LAST_NAMES)}, 'last', i) as LastName,
            null as Suffix, cast(floor(_u('promo_mail', i) * 3) as integer) as EmailPromotion,
            null as AdditionalContactInfo,
            '<IndividualSurvey xmlns="http://schemas.microsoft.com/sqlserver/2004/07/adventure-works/'
                || 'IndividualSurvey"><TotalPurchaseYTD>0</TotalPurchaseYTD></IndividualSurvey>'
                as Demographics,
            _guid('person', i) as rowguid,
            timestamp '2011-01-01' + to_days(cast(floor(_u('person_mod', i) * 1200) as integer))
                as ModifiedDate, {meta}
        from range({first_sp}, {first_sp + p.persons}) t(i)
        """
    )
    con.execute(
        f"""
        insert into {_stg("Customer")} by name
        with c as (
            select i as CustomerID,
                case when i > {s} then i + {SALES_PEOPLE} end as PersonID,
                case when i <= {s} then i
                     when i <= {s + sc} then 1 + cast(floor(_u('contact_store', i) * {s}) as integer)
                end as StoreID
            from range(1, {p.customers + 1}) t(i)
        )
        select c.CustomerID, c.PersonID, c.StoreID, pv.TerritoryID,
            'AW' || lpad(c.CustomerID::varchar, 8, '0') as AccountNumber,
            _guid('customer', c.CustomerID) as rowguid,
            timestamp '2014-06-30' as ModifiedDate, {meta}
        from c
        join {_stg("Address")} a on a.AddressID = coalesce(c.StoreID, c.CustomerID - {sc})
        join _prov pv using (StateProvinceID)
        """
    )


def _customer_lookup(con: duckdb.DuckDBPyConnection, p: Plan) -> None:
    con.execute(
        f"""
        create or replace temp table _cust as
        select c.CustomerID, c.TerritoryID, coalesce(c.StoreID, c.CustomerID - {p.store_contacts})
            as AddressID, c.StoreID is not null as is_store, st.SalesPersonID
        from {_stg("Customer")} c left join {_stg("Store")} st on st.BusinessEntityID = c.StoreID
        """
    )


def _stride(n: int) -> int:
    """A multiplier coprime to n, so (i * stride) % n visits every individual customer."""
    for candidate in (1_000_003, 999_983, 999_979, 999_961):
        if math.gcd(candidate, n) == 1:
            return candidate
    return 1


def _emit_orders(
    con: duckdb.DuckDBPyConnection,
    meta: str,
    n_pop: int,
    sod: str,
    soh: str,
    max_store_qty: int = 44,
) -> None:
    """Turn ``_orders`` into order lines and headers and insert them into ``sod``/``soh``.

    Shared by the base generation and hourly appends; ``_orders`` carries SalesOrderID,
    OrderDate, is_store, n_lines, line_base (last SalesOrderDetailID before the order),
    Status, CustomerID, TerritoryID, AddressID, SalesPersonID; ``_pop`` ranks products by
    popularity and ``_offers`` holds the special offers. Store lines of 11+ units get the
    volume offers 2..6, so ``max_store_qty`` 10 keeps an export without them consistent.
    Money stays DECIMAL throughout so LineTotal, SubTotal and TotalDue are exact.
    """
    con.execute(
        f"""
        create or replace temp table _lines as
        with l as (
            select o.SalesOrderID, o.OrderDate, o.is_store, o.line_base + k + 1 as SalesOrderDetailID
            from (select *, unnest(range(n_lines)) as k from _orders) o
        ), picked as (
            select l.*, p.ProductID, p.ListPrice, p.promo_offer,
                case when l.is_store then least({max_store_qty}, 1 + _geom(_u('qty', SalesOrderDetailID), 2.8))
                     else 1 end as OrderQty,
                _u('promo_use', SalesOrderDetailID) as u_promo
            from l join _pop p
                on p.rank = cast(floor({n_pop} * pow(_u('product', l.SalesOrderDetailID), 2.6)) as integer)
        ), offered as (
            select *,
                case when is_store and OrderQty >= 61 then 6 when is_store and OrderQty >= 41 then 5
                     when is_store and OrderQty >= 25 then 4 when is_store and OrderQty >= 15 then 3
                     when is_store and OrderQty >= 11 then 2
                     when promo_offer is not null and u_promo < 0.04 then promo_offer
                     else 1 end as SpecialOfferID,
                (case when is_store then round(ListPrice * 0.6, 4) else ListPrice end)::decimal(19,4)
                    as UnitPrice
            from picked
        )
        select o.SalesOrderID, o.SalesOrderDetailID,
            case when o.is_store then printf('%04X-%04X-%02X', hash(o.SalesOrderID, 1) & 65535,
                hash(o.SalesOrderID, 2) & 65535, hash(o.SalesOrderID, 3) & 255) end
                as CarrierTrackingNumber,
            o.OrderQty::smallint as OrderQty, o.ProductID, o.SpecialOfferID, o.UnitPrice,
            so.DiscountPct as UnitPriceDiscount,
            (o.UnitPrice * (1 - so.DiscountPct) * o.OrderQty)::decimal(38,6) as LineTotal,
            _guid('line', o.SalesOrderDetailID) as rowguid, o.OrderDate as ModifiedDate
        from offered o join _offers so using (SpecialOfferID)
        """
    )
    con.execute(
        f"insert into {sod} by name select *, {meta} from _lines order by SalesOrderDetailID"
    )
    shipped = "case when Status in (1, 2, 3) then null else OrderDate + interval 7 day end"
    con.execute(
        f"""
        insert into {soh} by name
        with totals as (
            select SalesOrderID, round(sum(LineTotal), 4)::decimal(19,4) as SubTotal
            from _lines group by all
        ), priced as (
            select o.*, t.SubTotal, round(t.SubTotal * 0.08, 4)::decimal(19,4) as TaxAmt,
                round(t.SubTotal * 0.025, 4)::decimal(19,4) as Freight
            from _orders o join totals t using (SalesOrderID)
        )
        select SalesOrderID, 8 as RevisionNumber, OrderDate, OrderDate + interval 12 day as DueDate,
            {shipped} as ShipDate, Status, not is_store as OnlineOrderFlag,
            'SO' || SalesOrderID as SalesOrderNumber,
            case when is_store then 'PO' || lpad((hash(SalesOrderID, 'po') % 10000000000)::varchar, 11, '0') end
                as PurchaseOrderNumber,
            (case when is_store then '10-4020-' else '10-4030-' end) || lpad(CustomerID::varchar, 6, '0')
                as AccountNumber,
            CustomerID, case when is_store then SalesPersonID end as SalesPersonID, TerritoryID,
            AddressID as BillToAddressID, AddressID as ShipToAddressID,
            case when is_store then 5 else 1 end as ShipMethodID,
            case when not is_store then 1 + (hash(SalesOrderID, 'card') % 19118)::integer end
                as CreditCardID,
            case when not is_store then (hash(SalesOrderID, 'approval') % 1000000)::varchar || 'Vi'
                || (hash(SalesOrderID, 'approval2') % 100000)::varchar end as CreditCardApprovalCode,
            null as CurrencyRateID, SubTotal, TaxAmt, Freight, SubTotal + TaxAmt + Freight as TotalDue,
            null as Comment, _guid('order', SalesOrderID) as rowguid,
            coalesce({shipped}, OrderDate) as ModifiedDate, {meta}
        from priced order by SalesOrderID
        """
    )


def generate(
    con: duckdb.DuckDBPyConnection,
    scale: float,
    seed: int,
    loaded_at: datetime,
    *,
    progress: bool = False,
) -> Plan:
    """Fill the (empty) staging tables with synthetic data for ``scale`` and ``seed``."""
    from rich.progress import Progress

    p = plan(scale, seed)
    install_macros(con, seed)
    meta = _meta(loaded_at, source_label(scale, seed))
    chunks = [(a, min(a + CHUNK_ORDERS, p.orders)) for a in range(0, p.orders, CHUNK_ORDERS)]
    with Progress(disable=not progress, transient=False) as bar:
        task = bar.add_task(f"generating SF {scale:g}", total=len(chunks) + 1)
        _dimensions(con, p, meta)
        _customer_lookup(con, p)
        con.execute(f"create or replace temp table _offers as select * from {_stg('SpecialOffer')}")
        bar.advance(task)
        individuals_from = p.stores + p.store_contacts + 1
        store_customers = p.stores + p.store_contacts
        stride = _stride(p.individuals)
        sod, soh = _stg("SalesOrderDetail"), _stg("SalesOrderHeader")
        line_start = 0
        for a, b in chunks:
            con.execute(
                f"""
                create or replace temp table _orders as
                with base as (
                    select i, {FIRST_ORDER_ID} + i as SalesOrderID,
                        timestamp '{FIRST_DAY}' + to_days(cast(floor({DAYS}
                            * pow(i / {p.orders}, 0.4)) as integer)) as OrderDate,
                        _u('store_order', i) < 0.121 as is_store, _u('lines', i) as u_lines,
                        _u('status', i) as u_status
                    from range({a}, {b}) t(i)
                ), chosen as (
                    select *,
                        case when is_store then 1 + cast(floor(_u('customer', i) * {store_customers})
                             as integer)
                             else {individuals_from} + (i * {stride}) % {p.individuals} end as CustomerID,
                        case when is_store then least(72, 1 + _geom(u_lines, 15.6))
                             else least(8, 1 + _geom(u_lines, 1.68)) end as n_lines,
                        case when OrderDate >= timestamp '{IN_PROCESS_FROM}' then
                                 case when u_status < 0.6 then 1 when u_status < 0.8 then 2 else 3 end
                             when u_status < 0.004 then 4 when u_status < 0.012 then 6 else 5 end
                            as Status
                    from base
                )
                select ch.*, c.TerritoryID, c.AddressID, c.SalesPersonID,
                    {line_start} + coalesce(sum(n_lines) over (order by i rows between
                        unbounded preceding and 1 preceding), 0) as line_base
                from chosen ch join _cust c using (CustomerID)
                """
            )
            _emit_orders(con, meta, FINISHED_GOODS, sod, soh)
            line_start = fetch_one(con, f"select coalesce(max(SalesOrderDetailID), 0) from {sod}")[
                0
            ]
            bar.advance(task)
    for temp in ("_orders", "_lines", "_cust", "_pop", "_offers", "_prov", "_terr_weights",
                 "_subcat", "_model", "_finished"):  # fmt: skip
        con.execute(f"drop table if exists {temp}")
    return p


@dataclass(frozen=True)
class AppendResult:
    first_hour: datetime
    hours: int
    orders: int
    lines: int
    new_customers: int
    updated_orders: int
    label: str


def append(
    con: duckdb.DuckDBPyConnection, hours: int, scale: float, seed: int, loaded_at: datetime
) -> AppendResult:
    """Append ``hours`` hours of orders after the latest OrderDate, in place, in raw tables.

    Runs inside the caller's transaction. Works on any loaded data (synthetic or a real
    export): products, prices, customers, offers and provinces are read from the raw
    tables. Per hour ~1 % of SF ``scale`` orders: ~20 % from new customers (new person,
    address and customer rows), the rest from customers who ordered before. Earlier
    orders change too: the oldest in-process ones (status 1..3) ship (status 5, ShipDate
    set) and a few recent ones get a freight correction (RevisionNumber + 1). Every row
    written or changed gets ``_loaded_at`` = ``loaded_at``.
    """
    if hours < 1:
        raise MedallionError(f"hours must be >= 1, got {hours}")
    install_macros(con, seed)
    soh, sod = _raw("SalesOrderHeader"), _raw("SalesOrderDetail")
    latest, max_order, max_line = fetch_one(
        con,
        f"select max(OrderDate), max(SalesOrderID), (select max(SalesOrderDetailID) from {sod}) "
        f"from {soh}",
    )
    if latest is None:
        raise MedallionError("no orders to append to: load data first (medallion load)")
    first_hour = fetch_one(
        con, "select date_trunc('hour', ?::timestamp) + interval 1 hour", [latest]
    )[0]
    max_customer = fetch_one(con, f"select coalesce(max(CustomerID), 0) from {_raw('Customer')}")[0]
    max_entity = fetch_one(
        con,
        f"select greatest((select coalesce(max(BusinessEntityID), 0) from {_raw('Person')}), "
        f"(select coalesce(max(BusinessEntityID), 0) from {_raw('Store')}))",
    )[0]
    max_address = fetch_one(con, f"select coalesce(max(AddressID), 0) from {_raw('Address')}")[0]
    label = (
        f"synthetic:append,seed={seed},sf={scale:g},from={first_hour:%Y-%m-%dT%H}:00,hours={hours}"
    )
    meta = _meta(loaded_at, label)
    per_hour = ORDERS_PER_HOUR_SF1 * scale
    epoch = int(first_hour.timestamp())

    con.execute(f"create or replace temp table _offers as select * from {_raw('SpecialOffer')}")
    con.execute(
        f"""
        create or replace temp table _pop as
        select row_number() over (order by count(*) desc, d.ProductID) - 1 as rank,
            d.ProductID, any_value(p.ListPrice) as ListPrice, null::integer as promo_offer
        from {sod} d join {_raw("Product")} p using (ProductID)
        join {_raw("SpecialOfferProduct")} sop on sop.ProductID = d.ProductID and sop.SpecialOfferID = 1
        where p.ListPrice > 0
        group by d.ProductID
        """
    )
    n_pop = fetch_one(con, "select count(*) from _pop")[0]
    if n_pop == 0:
        raise MedallionError(
            "cannot append: no product has sold with special offer 1 (No Discount)"
        )
    con.execute(
        f"""
        create or replace temp table _known as
        select CustomerID, arg_max(TerritoryID, OrderDate) as TerritoryID,
            arg_max(BillToAddressID, OrderDate) as AddressID,
            bool_or(not OnlineOrderFlag) and bool_or(SalesPersonID is not null) as is_store,
            arg_max(SalesPersonID, OrderDate) as SalesPersonID
        from {soh} group by CustomerID
        """
    )
    con.execute(
        "create or replace temp table _known_ranked as select *, row_number() over "
        "(partition by is_store order by CustomerID) - 1 as rk, count(*) over "
        "(partition by is_store) as n from _known"
    )
    n_store = fetch_one(con, "select count(*) from _known where is_store")[0]
    con.execute(
        f"""
        create or replace temp table _provs as
        select StateProvinceID, TerritoryID, row_number() over (order by StateProvinceID) - 1 as rk
        from {_raw("StateProvince")} where TerritoryID is not null
        """
    )
    n_provs = fetch_one(con, "select count(*) from _provs")[0]
    con.execute(
        f"""
        create or replace temp table _new_orders as
        with hrs as (
            select h, timestamp '{first_hour:%Y-%m-%d %H:%M:%S}' + to_hours(h) as hour_start,
                greatest(1, round({per_hour} * (0.85 + 0.3 * _u('hour_volume', {epoch} + h * 3600))))::integer as n
            from range({hours}) t(h)
        ), o as (
            select h, hour_start, n, k from (select *, unnest(range(n)) as k from hrs)
        ), numbered as (
            select {max_order} + row_number() over (order by h, k) as SalesOrderID,
                hour_start + to_seconds(cast(floor(3600 * k / n) as integer)) as OrderDate
            from o
        )
        select *, _u('a_new_customer', SalesOrderID) < 0.2 as is_new,
            {n_store} > 0 and _u('a_store', SalesOrderID) < 0.121 as want_store
        from numbered
        """
    )
    con.execute(
        f"""
        create or replace temp table _fresh as
        select SalesOrderID, OrderDate, row_number() over (order by SalesOrderID) as m,
            pv.StateProvinceID, pv.TerritoryID
        from _new_orders o join _provs pv
            on pv.rk = cast(floor(_u('a_province', o.SalesOrderID) * {n_provs}) as integer)
        where o.is_new and {n_provs} > 0
        """
    )
    new_customers = fetch_one(con, "select count(*) from _fresh")[0]
    con.execute(
        f"""
        insert into {_raw("Person")} by name
        select {max_entity} + m as BusinessEntityID, 'IN' as PersonType, false as NameStyle,
            null as Title, _pick({_list(FIRST_NAMES)}, 'first', {max_entity} + m) as FirstName,
            null as MiddleName, _pick({_list(LAST_NAMES)}, 'last', {max_entity} + m) as LastName,
            null as Suffix, 0 as EmailPromotion, null as AdditionalContactInfo,
            null as Demographics, _guid('person', {max_entity} + m) as rowguid,
            OrderDate as ModifiedDate, {meta}
        from _fresh
        """
    )
    con.execute(
        f"""
        insert into {_raw("Address")} by name
        select {max_address} + m as AddressID,
            (1 + cast(floor(_u('house', {max_address} + m) * 9999) as integer))::varchar || ' '
                || _pick({_list(STREETS)}, 'street', {max_address} + m) as AddressLine1,
            null as AddressLine2, _pick({_list(CITIES)}, 'city', {max_address} + m) as City,
            StateProvinceID, lpad((10000 + m * 7 % 89999)::varchar, 5, '0') as PostalCode,
            null as SpatialLocation, _guid('address', {max_address} + m) as rowguid,
            OrderDate as ModifiedDate, {meta}
        from _fresh
        """
    )
    con.execute(
        f"""
        insert into {_raw("Customer")} by name
        select {max_customer} + m as CustomerID, {max_entity} + m as PersonID, null as StoreID,
            TerritoryID, 'AW' || lpad(({max_customer} + m)::varchar, 8, '0') as AccountNumber,
            _guid('customer', {max_customer} + m) as rowguid, OrderDate as ModifiedDate, {meta}
        from _fresh
        """
    )
    con.execute(
        f"""
        create or replace temp table _orders as
        with chosen as (
            select o.SalesOrderID, o.OrderDate,
                coalesce(f.m is null and o.want_store, false) as is_store,
                f.m, f.TerritoryID as new_territory,
                _u('a_customer', o.SalesOrderID) as u_customer,
                _u('a_lines', o.SalesOrderID) as u_lines, _u('a_status', o.SalesOrderID) as u_status
            from _new_orders o left join _fresh f using (SalesOrderID)
        ), known as (
            select c.*, k.CustomerID as known_customer, k.TerritoryID as known_territory,
                k.AddressID as known_address, k.SalesPersonID
            from chosen c left join _known_ranked k
                on c.m is null and k.is_store = c.is_store
                and k.rk = cast(floor(c.u_customer * k.n) as integer)
        ), resolved as (
            select SalesOrderID, OrderDate, is_store,
                coalesce({max_customer} + m, known_customer) as CustomerID,
                coalesce(new_territory, known_territory) as TerritoryID,
                coalesce({max_address} + m, known_address) as AddressID, SalesPersonID,
                case when is_store then least(72, 1 + _geom(u_lines, 15.6))
                     else least(8, 1 + _geom(u_lines, 1.68)) end as n_lines,
                case when u_status < 0.3 then 1 when u_status < 0.305 then 4
                     when u_status < 0.315 then 6 else 5 end as Status
            from known
        )
        select *, {max_line} + coalesce(sum(n_lines) over (order by SalesOrderID rows between
            unbounded preceding and 1 preceding), 0) as line_base
        from resolved where CustomerID is not null
        """
    )
    _emit_orders(con, meta, n_pop, sod, soh, max_store_qty=10)
    orders, lines = fetch_one(con, "select count(distinct SalesOrderID), count(*) from _lines")
    end = fetch_one(con, f"select timestamp '{first_hour:%Y-%m-%d %H:%M:%S}' + to_hours({hours})")[
        0
    ]
    ship = max(1, round(0.05 * orders))
    revise = max(1, round(0.02 * orders))
    stamp = f"timestamp '{end:%Y-%m-%d %H:%M:%S}'"
    loaded = f"timestamp '{loaded_at.isoformat(sep=' ')}'"
    shipped = fetch_one(
        con,
        f"""
        update {soh} set Status = 5, ShipDate = {stamp}, ModifiedDate = {stamp},
            _loaded_at = {loaded}, _source_file = {_lit(label)}
        where SalesOrderID in (
            select SalesOrderID from {soh}
            where Status in (1, 2, 3) and OrderDate < timestamp '{first_hour:%Y-%m-%d %H:%M:%S}'
            order by OrderDate, SalesOrderID limit {ship}
        )
        """,
    )[0]
    revised = fetch_one(
        con,
        f"""
        update {soh} set RevisionNumber = RevisionNumber + 1,
            Freight = round(Freight * 1.1, 4), TotalDue = SubTotal + TaxAmt + round(Freight * 1.1, 4),
            ModifiedDate = {stamp}, _loaded_at = {loaded}, _source_file = {_lit(label)}
        where SalesOrderID in (
            select SalesOrderID from {soh}
            where Status = 5 and ModifiedDate < timestamp '{first_hour:%Y-%m-%d %H:%M:%S}'
                and OrderDate >= timestamp '{first_hour:%Y-%m-%d %H:%M:%S}' - interval 30 day
            order by _u('a_revise', SalesOrderID + {epoch}) limit {revise}
        )
        """,
    )[0]
    for temp in ("_orders", "_lines", "_pop", "_offers", "_known", "_known_ranked", "_provs",
                 "_new_orders", "_fresh"):  # fmt: skip
        con.execute(f"drop table if exists {temp}")
    return AppendResult(first_hour, hours, orders, lines, new_customers, shipped + revised, label)
