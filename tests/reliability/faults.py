"""Fault injection for the reliability suite: a source export to corrupt, and the world it runs in.

* :func:`write_source_export` writes the suite's source as a headered CSV export
  (``<schema>/<Table>.csv``), the format `medallion load --source` reads: a slice of the real
  AdventureWorks export whenever it is present (``MEDALLION_RELIABILITY_SOURCE``, else
  ``MEDALLION_REAL_DATA``): every table whole but the orders, of which every
  ``MEDALLION_RELIABILITY_ORDER_STEP``-th (default 30, about 1,050 orders across 2011-2014)
  is kept with its lines; else the synthetic data at ``MEDALLION_RELIABILITY_SCALE``.
* :class:`Export` is a writable copy of it with row-level edits by business key.
* :class:`World` is one pipeline home for the whole session (warehouse, artifacts, state,
  shared AIRFLOW_HOME): a baseline DAG run on clean data is kept as a pristine warehouse,
  and every scenario starts from a copy of it, so "published relations unchanged" has a
  baseline to compare with. The warehouse path stays the same for every scenario so dbt's
  partial parse carries over (a new path would mean a full re-parse per run).
"""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from medallion.config import Settings
from medallion.devtools.pipeline import DagRunOutcome, dags_test_env, run_dag
from medallion.loading import generator, staging
from medallion.loading.catalog import TABLES
from tests.dags.dag_support import SENTINELS, xcom_summaries

SCALE = float(os.environ.get("MEDALLION_RELIABILITY_SCALE") or 0.03)
SEED = 7
BASELINE_DATE = "2024-06-01T00:00:00+00:00"
GOLD = ("gold.dim_customer_value", "gold.fct_product_sales", "gold.fct_sales_daily")
QUARANTINES = (
    "silver.orders_quarantine",
    "silver.order_lines_quarantine",
    "silver.customers_quarantine",
    "silver.products_quarantine",
)
MSSQL_PASSWORD = "SENTINEL-MSSQL-PASSWORD-3d9b"
# Every secret a run sees: alert-channel credentials (dag_support.SENTINELS) and the SQL
# Server password, set although DuckDB never needs it.
SECRETS = {**SENTINELS, "mssql": MSSQL_PASSWORD}


# --------------------------------------------------------------------------- export


def real_export() -> Path | None:
    """The real export the suite runs on, when there is one."""
    for candidate in (
        os.environ.get("MEDALLION_RELIABILITY_SOURCE"),
        os.environ.get("MEDALLION_REAL_DATA"),
    ):
        if candidate and (Path(candidate) / "sales" / "SalesOrderHeader.csv").is_file():
            return Path(candidate)
    return None


def write_source_export(root: Path) -> Path:
    """The suite's source export in ``root``: the real slice, else synthetic data."""
    real = real_export()
    if real is None:
        return write_synthetic_export(root)
    step = int(os.environ.get("MEDALLION_RELIABILITY_ORDER_STEP") or 30)
    for table in TABLES:
        target = root / table.schema / f"{table.name}.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(real / table.schema / f"{table.name}.csv", target)
    export = Export(root)
    header, rows = export.read("sales.SalesOrderHeader")
    key = header.index("SalesOrderID")
    kept = [r for r in rows if int(r[key]) % step == 0]
    export.write("sales.SalesOrderHeader", header, kept)
    orders = {r[key] for r in kept}
    header, rows = export.read("sales.SalesOrderDetail")
    key = header.index("SalesOrderID")
    export.write("sales.SalesOrderDetail", header, [r for r in rows if r[key] in orders])
    return root


def write_synthetic_export(root: Path, scale: float = SCALE, seed: int = SEED) -> Path:
    """The synthetic data set as a headered CSV export in ``root``."""
    con = duckdb.connect()
    try:
        staging.create_staging_tables(con)
        generator.generate(con, scale, seed, datetime(2024, 5, 31))
        return staging.write_csv_export(con, root)
    finally:
        con.close()


@dataclass
class Export:
    """A writable copy of a headered export, edited table by table."""

    root: Path

    def path(self, qualified: str) -> Path:
        schema, name = qualified.split(".")
        return self.root / schema / f"{name}.csv"

    def read(self, qualified: str) -> tuple[list[str], list[list[str]]]:
        with self.path(qualified).open(encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        return rows[0], rows[1:]

    def write(self, qualified: str, header: list[str], rows: Iterable[list[str]]) -> None:
        with self.path(qualified).open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)

    def records(self, qualified: str) -> list[dict[str, str]]:
        header, rows = self.read(qualified)
        return [dict(zip(header, r, strict=True)) for r in rows]

    def update(
        self, qualified: str, key: str, value: str, changes: Mapping[str, str]
    ) -> dict[str, str]:
        """Set ``changes`` on the one row whose ``key`` is ``value``; returns the old row."""
        header, rows = self.read(qualified)
        k = header.index(key)
        [row] = [r for r in rows if r[k] == value]
        old = dict(zip(header, row, strict=True))
        for column, new in changes.items():
            row[header.index(column)] = new
        self.write(qualified, header, rows)
        return old

    def update_many(
        self, qualified: str, where: Callable[[dict[str, str]], bool], changes: Mapping[str, str]
    ) -> list[dict[str, str]]:
        header, rows = self.read(qualified)
        touched = []
        for row in rows:
            record = dict(zip(header, row, strict=True))
            if where(record):
                touched.append(record)
                for column, new in changes.items():
                    row[header.index(column)] = new
        self.write(qualified, header, rows)
        return touched

    def append_copy(self, qualified: str, key: str, value: str) -> dict[str, str]:
        """Duplicate the row whose ``key`` is ``value`` (a duplicate primary key)."""
        header, rows = self.read(qualified)
        k = header.index(key)
        [row] = [r for r in rows if r[k] == value]
        self.write(qualified, header, [*rows, list(row)])
        return dict(zip(header, row, strict=True))

    def drop_table(self, qualified: str) -> None:
        self.path(qualified).unlink()

    def rename_column(self, qualified: str, old: str, new: str) -> None:
        header, rows = self.read(qualified)
        header[header.index(old)] = new
        self.write(qualified, header, rows)

    def add_column(self, qualified: str, name: str, value: str) -> None:
        header, rows = self.read(qualified)
        self.write(qualified, [*header, name], ([*r, value] for r in rows))


# --------------------------------------------------------------------------- picking rows


def clean_orders(export: Export, n: int, *, exclude: Iterable[str] = ()) -> list[str]:
    """Shipped (status 5) orders with 2 or 3 lines and customers of their own among the picks."""
    excluded = set(exclude)
    lines: dict[str, int] = {}
    for line in export.records("sales.SalesOrderDetail"):
        lines[line["SalesOrderID"]] = lines.get(line["SalesOrderID"], 0) + 1
    picked: list[str] = []
    customers: set[str] = set()
    for order in export.records("sales.SalesOrderHeader"):
        oid = order["SalesOrderID"]
        if (
            order["Status"] == "5"
            and order["ShipDate"]
            and 2 <= lines.get(oid, 0) <= 3
            and oid not in excluded
            and order["CustomerID"] not in customers
        ):
            picked.append(oid)
            customers.add(order["CustomerID"])
        if len(picked) == n:
            return picked
    raise AssertionError(f"only {len(picked)} orders fit the scenario")


def lines_of(export: Export, order_id: str) -> list[str]:
    return [
        line["SalesOrderDetailID"]
        for line in export.records("sales.SalesOrderDetail")
        if line["SalesOrderID"] == order_id
    ]


def whole_order(
    export: Export, order_id: str, bad_lines: Mapping[str, str] | None = None, header: str = ""
) -> dict[str, dict[int, str]]:
    """What quarantine must hold for one order, by the project's whole-order rule: bad lines
    with their reasons, their siblings and header as `order_has_quarantined_lines`; a bad
    header with its reasons and every line as `order_quarantined`."""
    bad_lines = dict(bad_lines or {})
    if header:
        lines = {int(i): "order_quarantined" for i in lines_of(export, order_id)}
        return {"orders_quarantine": {int(order_id): header}, "order_lines_quarantine": lines}
    lines = {
        int(i): bad_lines.get(i, "order_has_quarantined_lines") for i in lines_of(export, order_id)
    }
    return {
        "orders_quarantine": {int(order_id): "order_has_quarantined_lines"},
        "order_lines_quarantine": lines,
    }


def merge(*parts: dict[str, dict[int, str]]) -> dict[str, dict[int, str]]:
    out: dict[str, dict[int, str]] = {}
    for part in parts:
        for relation, rows in part.items():
            out.setdefault(relation, {}).update(rows)
    return out


# --------------------------------------------------------------------------- the world


def checksums(warehouse: Path, relations: Iterable[str]) -> dict[str, tuple[int, str] | None]:
    """Row count and content digest per relation (None when it does not exist)."""
    out: dict[str, tuple[int, str] | None] = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for relation in relations:
            try:
                out[relation] = con.execute(
                    "select count(*), md5(coalesce(string_agg(t::varchar, '|' "
                    f"order by t::varchar), '')) from {relation} t"
                ).fetchone()
            except duckdb.CatalogException:
                out[relation] = None
    return out


@dataclass
class World:
    """The session's pipeline home; see the module docstring."""

    root: Path
    env: dict[str, str]
    source: Path
    baseline: dict[str, Any] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        return Settings.from_env(self.env)

    @property
    def warehouse(self) -> Path:
        return self.settings.warehouse

    @property
    def pristine(self) -> Path:
        return self.root / "pristine" / self.warehouse.name

    def export(self, name: str) -> Export:
        target = self.root / "exports" / name
        shutil.rmtree(target, ignore_errors=True)
        return Export(Path(shutil.copytree(self.source, target)))

    def reset(self) -> None:
        """The warehouse as the baseline run left it."""
        for leftover in self.warehouse.parent.glob(self.warehouse.name + "*"):
            if leftover.name != self.warehouse.name + ".pipeline.lock":
                leftover.unlink()
        shutil.copy2(self.pristine, self.warehouse)

    def load(self, export: Export | Path) -> Any:
        from medallion.loading.api import load

        root = export.root if isinstance(export, Export) else export
        return load(self.settings, source=root, force=True)

    def run(
        self, extra_env: Mapping[str, str] | None = None, logical_date: str | None = None
    ) -> DagRunOutcome:
        env = {**self.env, **(extra_env or {})}
        settings = Settings.from_env(env)
        return run_dag(
            settings, env=dags_test_env(settings, base=env), echo=False, logical_date=logical_date
        )

    def checksums(self, relations: Iterable[str]) -> dict[str, tuple[int, str] | None]:
        return checksums(self.warehouse, relations)

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def quarantine(self) -> dict[str, dict[int, str]]:
        """Each quarantine relation's rows: business key -> reasons."""
        keys = {
            "orders_quarantine": "sales_order_id",
            "order_lines_quarantine": "sales_order_detail_id",
            "customers_quarantine": "customer_id",
            "products_quarantine": "product_id",
        }
        return {
            relation: dict(self.query(f"select {key}, quarantine_reasons from silver.{relation}"))
            for relation, key in keys.items()
        }

    def summaries(self, run_id: str) -> dict[str, dict[str, Any]]:
        """The `dbt_summary` XCom of every dbt task of a run (its last try)."""
        return xcom_summaries(self.settings.airflow_home, run_id)
