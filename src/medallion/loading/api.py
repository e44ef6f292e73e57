"""``load()``: the one entry point for getting data into the raw schemas.

Callers (the CLI, ``make run``, the benchmark, tests) pass settings and what to load; this
module decides whether anything needs doing (``ops.loads`` fingerprints), stages the data
(export readers or the generator), and hands the staged tables to the target's writer.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from medallion.config import Settings
from medallion.connections import connect_duckdb
from medallion.errors import ConfigError, MedallionError
from medallion.loading import generator, readers, staging, warehouse
from medallion.loading.warehouse import LoadRecord


@dataclass
class LoadReport:
    """What a load did: raw table -> row count after it, and whether it was skipped."""

    tables: dict[str, int]
    skipped: bool
    description: str
    seconds: float
    details: list[str] = field(default_factory=list)

    def print(self) -> None:
        from rich.console import Console
        from rich.table import Table

        status = (
            "already loaded, nothing to do" if self.skipped else f"loaded in {self.seconds:.1f} s"
        )
        table = Table()
        table.add_column("raw table")
        table.add_column("rows", justify="right")
        for name, rows in self.tables.items():
            table.add_row(name, f"{rows:,}")
        console = Console(width=None if sys.stdout.isatty() else 200)
        console.print(f"{self.description}: {status}", markup=False, highlight=False, style="bold")
        console.print(table)
        for line in self.details:
            console.print(line, markup=False, highlight=False)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _stage_source(source: Path) -> Callable[[duckdb.DuckDBPyConnection, datetime], None]:
    files = readers.source_files(source)

    def fill(con: duckdb.DuckDBPyConnection, loaded_at: datetime) -> None:
        with tempfile.TemporaryDirectory(prefix="medallion-load-") as tmp:
            for sf in files:
                normalized = readers.normalize(sf, Path(tmp))
                staging.stage_file(con, normalized, loaded_at, str(sf.path.resolve()))
                normalized.path.unlink()

    return fill


def _stage_synthetic(
    scale: float, seed: int
) -> Callable[[duckdb.DuckDBPyConnection, datetime], None]:
    def fill(con: duckdb.DuckDBPyConnection, loaded_at: datetime) -> None:
        plan = generator.plan(scale, seed)
        generator.generate(
            con, scale, seed, loaded_at, progress=plan.orders > generator.CHUNK_ORDERS
        )

    return fill


def load(
    settings: Settings,
    *,
    source: Path | None,
    scale: float = 1.0,
    seed: int = 42,
    append_hours: int = 0,
    force: bool = False,
) -> LoadReport:
    """Load an export (``source``) or synthetic data, or append synthetic hours.

    Skips (``skipped=True``) when the last full load had the same fingerprint and every raw
    table is there, unless ``force``. A failed load leaves the raw tables as they were.
    """
    started = time.perf_counter()
    if append_hours < 0:
        raise ConfigError(f"--append-hours must be >= 0, got {append_hours}")
    if not scale > 0:
        raise ConfigError(f"--scale must be > 0, got {scale}")
    if append_hours:
        if source is not None:
            raise ConfigError("--append-hours appends synthetic orders; drop --source")
        return _append(settings, append_hours, scale, seed, started)
    if source is not None:
        source = Path(source).expanduser()
        kind, fp = "source", readers.fingerprint(source)
        description = f"AdventureWorks export {source} ({readers.detect_format(source)} format)"
        fill = _stage_source(source)
    else:
        kind, fp = "synthetic", generator.fingerprint(scale, seed)
        description = f"synthetic AdventureWorks SF {scale:g}, seed {seed}"
        fill = _stage_synthetic(scale, seed)
    loaded_at = _now()
    record = LoadRecord(kind, fp, loaded_at, description)
    if settings.target == "sqlserver":
        return _load_sqlserver(record, fill, force, started)
    con = connect_duckdb(settings)
    try:
        last = warehouse.last_base_load(con)
        if not force and last and last.fingerprint == fp and warehouse.raw_tables_exist(con):
            return LoadReport(
                warehouse.row_counts(con), True, description, time.perf_counter() - started
            )
        staging.create_staging_tables(con)
        try:
            fill(con, loaded_at)
            warehouse.publish(con, record)
        finally:
            staging.drop_staging_tables(con)
        return LoadReport(record.row_counts, False, description, time.perf_counter() - started)
    finally:
        con.close()


def hourly_feed(settings: Settings, *, scale: float = 1.0, seed: int = 42) -> LoadReport:
    """The scheduled workflow's feed on DuckDB: a synthetic base load into a warehouse that
    has no raw data yet, else one appended hour, so each scheduled run processes a real
    incremental hour of the warehouse it keeps between runs."""
    if settings.target != "duckdb":
        raise ConfigError(
            "--hourly feeds the embedded DuckDB warehouse only; on SQL Server the raw schemas "
            "are fed by the production loader"
        )
    loaded = False
    if settings.warehouse.is_file():
        con = connect_duckdb(settings, read_only=True)
        try:
            loaded = warehouse.raw_tables_exist(con)
        finally:
            con.close()
    if loaded:
        return load(settings, source=None, scale=scale, seed=seed, append_hours=1)
    return load(settings, source=None, scale=scale, seed=seed)


def _load_sqlserver(
    record: LoadRecord,
    fill: Callable[[duckdb.DuckDBPyConnection, datetime], None],
    force: bool,
    started: float,
) -> LoadReport:
    from medallion.loading.sqlserver import MssqlSettings, SqlServerWriter

    writer = SqlServerWriter(MssqlSettings.from_env())
    try:
        last = writer.last_base_load()
        if (
            not force
            and last
            and last.fingerprint == record.fingerprint
            and writer.raw_tables_exist()
        ):
            return LoadReport(
                writer.row_counts(), True, record.description, time.perf_counter() - started
            )
        with tempfile.TemporaryDirectory(prefix="medallion-stage-") as tmp:
            stage = duckdb.connect(str(Path(tmp) / "stage.duckdb"))
            try:
                staging.create_staging_tables(stage)
                fill(stage, record.loaded_at)
                writer.publish(stage, record)
            finally:
                stage.close()
        return LoadReport(
            record.row_counts, False, record.description, time.perf_counter() - started
        )
    finally:
        writer.close()


def _append(settings: Settings, hours: int, scale: float, seed: int, started: float) -> LoadReport:
    if settings.target != "duckdb":
        raise ConfigError(
            "--append-hours works on the embedded DuckDB warehouse only (MEDALLION_TARGET=duckdb)"
        )
    con = connect_duckdb(settings)
    try:
        if not warehouse.raw_tables_exist(con):
            raise MedallionError(
                f"nothing to append to in {settings.warehouse}: run `medallion load` first"
            )
        loaded_at = _now()
        con.execute("begin transaction")
        try:
            result = generator.append(con, hours, scale, seed, loaded_at)
            description = f"appended {hours} hour(s) of synthetic orders from {result.first_hour:%Y-%m-%d %H:%M}"
            record = LoadRecord("append", result.label, loaded_at, description)
            record.row_counts = warehouse.row_counts(con)
            warehouse.record_load(con, record)
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
        details = [
            f"+{result.orders:,} orders, +{result.lines:,} lines, +{result.new_customers:,} new "
            f"customers, {result.updated_orders:,} earlier orders updated"
        ]
        return LoadReport(
            record.row_counts, False, description, time.perf_counter() - started, details
        )
    finally:
        con.close()
