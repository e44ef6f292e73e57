"""Helpers for the dbt project tests: run the real dbt CLI on a DuckDB file, read its results.

dbt runs as a subprocess of this environment's ``dbt`` so every invocation gets exactly the
environment the test gives it (warehouse path, quarantine ratio, freshness thresholds), and
writes its target/ and logs/ under the test's tmp directory, never inside the repository.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from medallion import dbt
from medallion.config import Settings

REPO = Path(__file__).resolve().parents[2]
DBT_DIR = REPO / "dbt"
DBT_BIN = Path(sys.executable).with_name("dbt")
SHARED_ADVENTUREWORKS = Path(os.environ["MEDALLION_REAL_DATA"])  # set by tests/conftest.py
LAYERS = ("bronze", "silver", "gold")
# The synthetic data every test builds on: small enough for a fast session build.
SCALE = 0.1
SEED = 42
# The catalog name DuckDB gives the file is its stem, and dbt writes it into view
# definitions: every copy of a warehouse keeps this file name (in its own directory).
WAREHOUSE_FILE = "warehouse.duckdb"
# The sqlserver target without a server: what the T-SQL checks and the unit tests' parse use.
SQLSERVER_ENV = {
    # Nothing must connect: 192.0.2.0/24 is TEST-NET-1, never routed.
    "MEDALLION_MSSQL_HOST": "192.0.2.1",
    "MEDALLION_MSSQL_PORT": "1433",
    "MEDALLION_MSSQL_DATABASE": "AdventureWorks",
    "MEDALLION_MSSQL_USER": "medallion_test",
    "MEDALLION_MSSQL_PASSWORD": "not-a-real-password",
}


@dataclass(frozen=True)
class DbtResult:
    """One dbt invocation: exit code, output and the artifacts it wrote, read right away
    (the next invocation in the same work directory overwrites them)."""

    args: tuple[str, ...]
    returncode: int
    output: str
    run_results: dict[str, Any] | None
    sources: dict[str, Any] | None

    def results(self) -> dict[str, dict[str, Any]]:
        """Node results of this invocation (run_results.json) keyed by node name."""
        assert self.run_results is not None, f"no run_results.json: {self.describe()}"
        return {r["unique_id"].split(".")[2]: r for r in self.run_results["results"]}

    def freshness(self) -> dict[str, str]:
        """Source freshness statuses (sources.json) keyed by 'schema.Table'."""
        assert self.sources is not None, f"no sources.json: {self.describe()}"
        return {
            ".".join(r["unique_id"].split(".")[2:]): r["status"] for r in self.sources["results"]
        }

    def statuses(self) -> dict[str, str]:
        return {name: r["status"] for name, r in self.results().items()}

    def describe(self) -> str:
        tail = "\n".join(self.output.splitlines()[-40:])
        return f"dbt {' '.join(self.args)} exited {self.returncode}:\n{tail}"


def dbt_env(
    warehouse: Path, work_dir: Path, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Environment for one dbt call: the variables profiles.yml and the models read."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDALLION_", "DBT_"))}
    env.update(
        {
            "MEDALLION_TARGET": "duckdb",
            "MEDALLION_HOME": str(work_dir / "home"),
            "MEDALLION_WAREHOUSE": str(warehouse),
            "MEDALLION_DUCKDB_THREADS": "2",
            "MEDALLION_DUCKDB_MEMORY_LIMIT": "1GB",
            # Loads and runs follow each other within seconds here: an incremental run reads
            # exactly what was loaded after its last batch.
            "MEDALLION_INCREMENTAL_LOOKBACK_MINUTES": "0",
            "DBT_PROFILES_DIR": str(DBT_DIR),
            "DBT_PROJECT_DIR": str(DBT_DIR),
            "DBT_TARGET_PATH": str(work_dir / "target"),
            "DBT_LOG_PATH": str(work_dir / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_USE_COLORS": "false",
        }
    )
    env.update(extra or {})
    return env


def run_dbt(
    args: Sequence[str],
    *,
    warehouse: Path,
    work_dir: Path,
    env: Mapping[str, str] | None = None,
    timeout: int = 600,
) -> DbtResult:
    """Run ``dbt <args>`` against ``warehouse``; target/ and logs/ go under ``work_dir``."""
    work_dir.mkdir(parents=True, exist_ok=True)
    target = work_dir / "target"
    artifacts = {name: target / name for name in ("run_results.json", "sources.json")}
    for path in artifacts.values():
        path.unlink(missing_ok=True)
    proc = subprocess.run(
        [str(DBT_BIN), *args],
        cwd=work_dir,
        env=dbt_env(warehouse, work_dir, env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    read = {
        name: json.loads(path.read_text()) if path.exists() else None
        for name, path in artifacts.items()
    }
    return DbtResult(
        tuple(args),
        proc.returncode,
        proc.stdout + proc.stderr,
        read["run_results.json"],
        read["sources.json"],
    )


# Options run_dbt supplies itself (DBT_PROJECT_DIR, DBT_TARGET_PATH, ... in dbt_env).
_LOCATION_OPTIONS = ("--project-dir", "--profiles-dir", "--target-path", "--log-path")


def dag_step(
    layer: str, step: str, *, full_refresh: bool = False, gate_scope: str = "full"
) -> list[list[str]]:
    """The dbt commands of DAG task ``<step>_<layer>``, from the runner's own builder
    (`medallion.dbt.layer_commands`), less the paths `run_dbt` sets through the environment."""
    settings = Settings.from_env({"MEDALLION_PROJECT_ROOT": str(REPO)})
    commands = dbt.layer_commands(
        settings, step, layer, target_path=Path("-"), log_path=Path("-"),
        full_refresh=full_refresh, gate_scope=gate_scope,
    )  # fmt: skip
    out = []
    for argv in commands:
        kept: list[str] = []
        skip = False
        for arg in argv:
            if skip:
                skip = False
            elif arg in _LOCATION_OPTIONS:
                skip = True
            else:
                kept.append(arg)
        out.append(kept)
    return out


def run_commands(
    dbt_call: Callable[..., DbtResult], commands: Sequence[Sequence[str]]
) -> DbtResult:
    """Run a DAG step's commands in order as its task does, stopping at the first failure;
    the step's result is that failure, else its first command's (run, or test)."""
    results = []
    for argv in commands:
        results.append(dbt_call(*argv))
        if results[-1].returncode != 0:
            return results[-1]
    return results[0]


PUBLISHED_LAYERS = dbt.PUBLISHED_LAYERS


def run_hourly_step(warehouse: Path, work_dir: Path, layer: str, step: str) -> DbtResult | None:
    """One DAG step as its hourly task runs it (tests scoped to the batch), stopping at the
    first failing command; None for a step that runs nothing (bronze's publish). Tests get a
    work folder of their own: their `--vars` would make dbt parse the project again before
    every other command."""
    work = work_dir / "tests" if step == "test" else work_dir
    result = None
    for argv in dag_step(layer, step, gate_scope="batch"):
        result = run_dbt(argv, warehouse=warehouse, work_dir=work)
        if result.returncode != 0:
            break
    return result


def run_like_the_dag(warehouse: Path, work_dir: Path) -> None:
    """Every layer's run, test and publish, in the DAG's order, as the hourly tasks run them."""
    for layer in LAYERS:
        for step in ("run", "test", "publish"):
            result = run_hourly_step(warehouse, work_dir, layer, step)
            assert result is None or result.returncode == 0, result.describe()


def build_and_publish(
    warehouse: Path, work_dir: Path, *build_args: str, env: Mapping[str, str] | None = None
) -> DbtResult:
    """`dbt build` (every layer, in the audit schemas), then, when it passed, the publish of
    silver and gold: what `medallion build` does (unit tests left out, as there). Returns the
    build's result."""
    build = run_dbt(
        ["build", "--exclude-resource-type", "unit_test", *build_args],
        warehouse=warehouse, work_dir=work_dir, env=env,
    )  # fmt: skip
    if build.returncode == 0:
        full_refresh = "--full-refresh" in build_args
        for layer in PUBLISHED_LAYERS:
            for argv in dag_step(layer, "publish", full_refresh=full_refresh):
                published = run_dbt(argv, warehouse=warehouse, work_dir=work_dir, env=env)
                assert published.returncode == 0, published.describe()
    return build


# Every row the loader writes or changes gets _loaded_at = its load time (UTC): a test that
# changes raw rows by hand stamps them the same way, or an incremental run would not see them.
def loaded_now() -> str:
    """SQL for the current UTC time, as the loader stamps `_loaded_at`."""
    return f"timestamp '{datetime.now(UTC).replace(tzinfo=None).isoformat(sep=' ')}'"


def touched() -> str:
    """SQL for `_loaded_at = now (UTC)`, to append to an UPDATE's SET list."""
    return f"_loaded_at = {loaded_now()}"


BUILD_TIME_COLUMNS = ("_batch_at", "quarantined_at")


def checksums(
    warehouse: Path,
    schemas: Sequence[str] = ("silver", "gold"),
    *,
    exclude: Sequence[str] = BUILD_TIME_COLUMNS,
) -> dict[str, tuple]:
    """(row count, md5 over the ordered rows) per table of ``schemas``. By default the
    build-time columns (when a run wrote the row) are left out; ``exclude=()`` keeps every
    byte."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        marks = ", ".join("?" for _ in schemas)
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            f"where table_schema in ({marks}) and table_type = 'BASE TABLE' order by 1, 2",
            list(schemas),
        ).fetchall()
        out = {}
        for schema, table in tables:
            columns = [
                name
                for (name,) in con.execute(
                    "select column_name from information_schema.columns where table_schema = ? "
                    "and table_name = ? order by ordinal_position",
                    [schema, table],
                ).fetchall()
                if name not in exclude
            ]
            listed = ", ".join(columns)
            out[f"{schema}.{table}"] = con.execute(
                f"select count(*), md5(coalesce(string_agg(md5(cast(row({listed}) as varchar)), "
                f"',' order by {listed}), '')) from {schema}.{table}"
            ).fetchone()
        return out
    finally:
        con.close()


def copy_warehouse(src: Path, dest_dir: Path) -> Path:
    """Copy a closed DuckDB warehouse (and its WAL, if any) into ``dest_dir``."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / WAREHOUSE_FILE
    for suffix in ("", ".wal"):
        source = Path(str(src) + suffix)
        target = Path(str(dest) + suffix)
        if source.exists():
            shutil.copyfile(source, target)
        elif target.exists():
            target.unlink()
    return dest


def query(warehouse: Path, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, list(params or [])).fetchall()
    finally:
        con.close()


def execute(warehouse: Path, *statements: str) -> None:
    """Run write statements in one transaction (to corrupt a copy on purpose)."""
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("begin transaction")
        for sql in statements:
            con.execute(sql)
        con.execute("commit")
    finally:
        con.close()


def scalar(warehouse: Path, sql: str) -> Any:
    rows = query(warehouse, sql)
    assert len(rows) == 1 and len(rows[0]) == 1, f"expected one value from {sql!r}, got {rows}"
    return rows[0][0]


@dataclass(frozen=True)
class BuiltWarehouse:
    path: Path
    build: DbtResult


@dataclass(frozen=True)
class Scratch:
    """A private copy of the built warehouse and a dbt work directory for it."""

    warehouse: Path
    work_dir: Path

    def dbt(self, *args: str, env: dict[str, str] | None = None) -> DbtResult:
        return run_dbt(list(args), warehouse=self.warehouse, work_dir=self.work_dir, env=env)


def _loader_settings(warehouse: Path, home: Path) -> Settings:
    return Settings.from_env(
        {
            "MEDALLION_HOME": str(home),
            "MEDALLION_WAREHOUSE": str(warehouse),
            "MEDALLION_DUCKDB_THREADS": "2",
            "MEDALLION_DUCKDB_MEMORY_LIMIT": "1GB",
        }
    )


def load_into(warehouse: Path, home: Path, *, source: Path | None = None) -> None:
    """Fill ``warehouse`` through the loader API (synthetic SF ``SCALE`` unless ``source``)."""
    from medallion.loading.api import load

    load(_loader_settings(warehouse, home), source=source, scale=SCALE, seed=SEED)


def append_into(warehouse: Path, home: Path, hours: int = 1) -> None:
    """Append ``hours`` hours of synthetic orders (new ones, some updating earlier orders)."""
    from medallion.loading.api import load

    load(_loader_settings(warehouse, home), source=None, scale=SCALE, seed=SEED, append_hours=hours)


def write_export(root: Path, *, source: Path | None = None, drop_every: int = 0) -> Path:
    """A headered CSV export in ``root``: a copy of ``source``, else the synthetic data set
    (SF ``SCALE``). With ``drop_every``, every ``drop_every``-th order (SalesOrderID divisible
    by it) and its lines are left out, as an export taken after upstream hard deletes."""
    from medallion.loading import generator, staging

    if source is not None:
        shutil.copytree(source, root)
    else:
        con = duckdb.connect()
        try:
            staging.create_staging_tables(con)
            generator.generate(con, SCALE, SEED, datetime(2024, 5, 31))
            staging.write_csv_export(con, root)
        finally:
            con.close()
    if drop_every:
        for table in ("SalesOrderHeader", "SalesOrderDetail"):
            path = root / "sales" / f"{table}.csv"
            with path.open(encoding="utf-8", newline="") as fh:
                header, *rows = list(csv.reader(fh))
            key = header.index("SalesOrderID")
            with path.open("w", encoding="utf-8", newline="") as fh:
                writer = csv.writer(fh, lineterminator="\n")
                writer.writerow(header)
                writer.writerows(r for r in rows if int(r[key]) % drop_every)
    return root


def load_export(warehouse: Path, home: Path, export: Path) -> None:
    """A snapshot load of ``export`` through the loader API (replaces every raw table)."""
    from medallion.loading.api import load

    load(_loader_settings(warehouse, home), source=export, force=True)
