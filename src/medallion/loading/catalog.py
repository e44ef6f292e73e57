"""The raw source tables: names, column order (``instawdb.sql``'s CREATE TABLE order) and types.

This is the contract between the loader, the synthetic generator and dbt's sources
(``dbt/models/bronze/*/_*__sources.yml``): raw tables keep the official column names;
bronze renames them to snake_case. A test checks the sources YAML against this catalog.
"""

from __future__ import annotations

from dataclasses import dataclass

# Logical types, mapped per warehouse in ``warehouse_type``.
INT, SMALLINT, MONEY, DEC_38_6, DEC_8_2, TIMESTAMP, BOOL, TEXT = (
    "int", "smallint", "money", "numeric38_6", "numeric8_2", "timestamp", "bool", "text",
)  # fmt: skip

LOAD_METADATA_COLUMNS = ("_loaded_at", "_source_file")


@dataclass(frozen=True)
class Column:
    name: str
    type: str


@dataclass(frozen=True)
class Table:
    schema: str  # lower-case raw schema: sales, production, person
    name: str  # official table name, e.g. SalesOrderHeader
    columns: tuple[Column, ...]

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _table(schema: str, name: str, spec: str) -> Table:
    cols = []
    for item in spec.split(","):
        col_name, _, col_type = item.strip().partition(":")
        cols.append(Column(col_name, col_type or TEXT))
    return Table(schema, name, tuple(cols))


TABLES: tuple[Table, ...] = (
    _table("sales", "SalesOrderHeader",
           "SalesOrderID:int, RevisionNumber:smallint, OrderDate:timestamp, DueDate:timestamp,"
           " ShipDate:timestamp, Status:smallint, OnlineOrderFlag:bool, SalesOrderNumber,"
           " PurchaseOrderNumber, AccountNumber, CustomerID:int, SalesPersonID:int, TerritoryID:int,"
           " BillToAddressID:int, ShipToAddressID:int, ShipMethodID:int, CreditCardID:int,"
           " CreditCardApprovalCode, CurrencyRateID:int, SubTotal:money, TaxAmt:money,"
           " Freight:money, TotalDue:money, Comment, rowguid, ModifiedDate:timestamp"),
    _table("sales", "SalesOrderDetail",
           "SalesOrderID:int, SalesOrderDetailID:int, CarrierTrackingNumber, OrderQty:smallint,"
           " ProductID:int, SpecialOfferID:int, UnitPrice:money, UnitPriceDiscount:money,"
           " LineTotal:numeric38_6, rowguid, ModifiedDate:timestamp"),
    _table("sales", "Customer",
           "CustomerID:int, PersonID:int, StoreID:int, TerritoryID:int, AccountNumber, rowguid,"
           " ModifiedDate:timestamp"),
    _table("sales", "SalesTerritory",
           "TerritoryID:int, Name, CountryRegionCode, Group, SalesYTD:money, SalesLastYear:money,"
           " CostYTD:money, CostLastYear:money, rowguid, ModifiedDate:timestamp"),
    _table("sales", "Store",
           "BusinessEntityID:int, Name, SalesPersonID:int, Demographics, rowguid,"
           " ModifiedDate:timestamp"),
    _table("sales", "SpecialOffer",
           "SpecialOfferID:int, Description, DiscountPct:money, Type, Category,"
           " StartDate:timestamp, EndDate:timestamp, MinQty:int, MaxQty:int, rowguid,"
           " ModifiedDate:timestamp"),
    _table("sales", "SpecialOfferProduct",
           "SpecialOfferID:int, ProductID:int, rowguid, ModifiedDate:timestamp"),
    _table("production", "Product",
           "ProductID:int, Name, ProductNumber, MakeFlag:bool, FinishedGoodsFlag:bool, Color,"
           " SafetyStockLevel:smallint, ReorderPoint:smallint, StandardCost:money, ListPrice:money,"
           " Size, SizeUnitMeasureCode, WeightUnitMeasureCode, Weight:numeric8_2,"
           " DaysToManufacture:int, ProductLine, Class, Style, ProductSubcategoryID:int,"
           " ProductModelID:int, SellStartDate:timestamp, SellEndDate:timestamp,"
           " DiscontinuedDate:timestamp, rowguid, ModifiedDate:timestamp"),
    _table("production", "ProductCategory",
           "ProductCategoryID:int, Name, rowguid, ModifiedDate:timestamp"),
    _table("production", "ProductSubcategory",
           "ProductSubcategoryID:int, ProductCategoryID:int, Name, rowguid, ModifiedDate:timestamp"),
    _table("production", "ProductModel",
           "ProductModelID:int, Name, CatalogDescription, Instructions, rowguid,"
           " ModifiedDate:timestamp"),
    _table("person", "Person",
           "BusinessEntityID:int, PersonType, NameStyle:bool, Title, FirstName, MiddleName,"
           " LastName, Suffix, EmailPromotion:int, AdditionalContactInfo, Demographics, rowguid,"
           " ModifiedDate:timestamp"),
    _table("person", "Address",
           "AddressID:int, AddressLine1, AddressLine2, City, StateProvinceID:int, PostalCode,"
           " SpatialLocation, rowguid, ModifiedDate:timestamp"),
    _table("person", "StateProvince",
           "StateProvinceID:int, StateProvinceCode, CountryRegionCode,"
           " IsOnlyStateProvinceFlag:bool, Name, TerritoryID:int, rowguid, ModifiedDate:timestamp"),
    _table("person", "CountryRegion", "CountryRegionCode, Name, ModifiedDate:timestamp"),
)  # fmt: skip

SCHEMAS: tuple[str, ...] = ("sales", "production", "person")

_DUCKDB_TYPES = {
    INT: "INTEGER", SMALLINT: "SMALLINT", MONEY: "DECIMAL(19,4)", DEC_38_6: "DECIMAL(38,6)",
    DEC_8_2: "DECIMAL(8,2)", TIMESTAMP: "TIMESTAMP", BOOL: "BOOLEAN", TEXT: "VARCHAR",
}  # fmt: skip
_SQLSERVER_TYPES = {
    INT: "INT", SMALLINT: "SMALLINT", MONEY: "DECIMAL(19,4)", DEC_38_6: "DECIMAL(38,6)",
    DEC_8_2: "DECIMAL(8,2)", TIMESTAMP: "DATETIME2(3)", BOOL: "BIT", TEXT: "NVARCHAR(MAX)",
}  # fmt: skip


def warehouse_type(logical: str, dialect: str) -> str:
    """The column type a logical type gets in a warehouse dialect (duckdb or sqlserver)."""
    mapping = {"duckdb": _DUCKDB_TYPES, "sqlserver": _SQLSERVER_TYPES}[dialect]
    return mapping[logical]


def find(schema: str, name: str) -> Table:
    for table in TABLES:
        if table.schema == schema.lower() and table.name.lower() == name.lower():
            return table
    raise KeyError(f"{schema}.{name} is not a raw table this project loads")
