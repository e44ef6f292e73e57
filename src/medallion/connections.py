"""The warehouse connections, defined once: the DuckDB file (the embedded default) and SQL
Server (``MEDALLION_TARGET=sqlserver``). Everything that opens the warehouse comes here, so a
failure reads the same wherever it happens:

- the DuckDB file held by another process: :class:`WarehouseBusyError` (transient, exit 75);
- a read-only open of a DuckDB warehouse that does not exist yet: :class:`ConfigError`;
- SQL Server refusing the login or missing its ODBC driver: :class:`ConfigError`; an
  unreachable server: :class:`TransientError`. The password never appears in a repr, a log
  line or an error.

SQL Server settings (environment): MEDALLION_MSSQL_HOST, _PORT (1433), _DATABASE, _USER,
_PASSWORD, _DRIVER ("ODBC Driver 18 for SQL Server"), _ENCRYPT (true), _TRUST_CERT (false),
_BATCH_SIZE (5000). duckdb and pyodbc are imported only when a connection is opened.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from medallion.config import Settings, env_bool, env_int
from medallion.errors import ConfigError, TransientError, WarehouseBusyError

if TYPE_CHECKING:
    import duckdb


@contextmanager
def connect(settings: Settings, *, read_only: bool = False) -> Iterator[Any]:
    """A DB-API connection to the warehouse of ``settings.target``, closed on exit."""
    conn = (
        connect_sqlserver()
        if settings.target == "sqlserver"
        else connect_duckdb(settings, read_only=read_only)
    )
    try:
        yield conn
    finally:
        conn.close()


def connect_duckdb(settings: Settings, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file with the configured threads and memory limit."""
    import duckdb

    if read_only and not settings.warehouse.exists():
        raise ConfigError(
            f"warehouse {settings.warehouse} does not exist; run `medallion run` first"
        )
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(settings.warehouse), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WarehouseBusyError(
                f"warehouse {settings.warehouse} is in use by another process (a dbt run, a "
                "DAG task or another load?); wait for it to finish and retry"
            ) from exc
        raise
    con.execute(f"set threads = {settings.duckdb_threads}")
    con.execute(f"set memory_limit = '{settings.duckdb_memory_limit}'")
    return con


@dataclass(frozen=True)
class MssqlSettings:
    host: str
    database: str
    user: str
    password: str = field(repr=False)
    port: int = 1433
    driver: str = "ODBC Driver 18 for SQL Server"
    encrypt: bool = True
    trust_cert: bool = False
    batch_size: int = 5000

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> MssqlSettings:
        env = os.environ if env is None else env
        missing = [
            f"MEDALLION_MSSQL_{k}" for k in ("HOST", "DATABASE", "USER", "PASSWORD")
            if not env.get(f"MEDALLION_MSSQL_{k}")
        ]  # fmt: skip
        if missing:
            raise ConfigError(
                f"MEDALLION_TARGET=sqlserver needs {', '.join(missing)}; set them in the "
                "environment (see docs/CONFIGURATION.md)"
            )
        port = env_int(env, "MEDALLION_MSSQL_PORT", 1433, minimum=1)
        batch = env_int(env, "MEDALLION_MSSQL_BATCH_SIZE", 5000, minimum=1)
        return cls(
            host=env["MEDALLION_MSSQL_HOST"],
            database=env["MEDALLION_MSSQL_DATABASE"],
            user=env["MEDALLION_MSSQL_USER"],
            password=env["MEDALLION_MSSQL_PASSWORD"],
            port=port,
            driver=env.get("MEDALLION_MSSQL_DRIVER") or "ODBC Driver 18 for SQL Server",
            encrypt=env_bool(env, "MEDALLION_MSSQL_ENCRYPT", True),
            trust_cert=env_bool(env, "MEDALLION_MSSQL_TRUST_CERT", False),
            batch_size=batch,
        )

    def _parts(self, password: str) -> list[str]:
        def braced(value: str) -> str:
            return "{" + value.replace("}", "}}") + "}"

        return [
            f"DRIVER={braced(self.driver)}",
            f"SERVER=tcp:{self.host},{self.port}",
            f"DATABASE={braced(self.database)}",
            f"UID={braced(self.user)}",
            f"PWD={password}",
            f"Encrypt={'yes' if self.encrypt else 'no'}",
            f"TrustServerCertificate={'yes' if self.trust_cert else 'no'}",
        ]

    def connection_string(self) -> str:
        """The ODBC connection string, password included: pass it to pyodbc, never print it."""
        return ";".join(self._parts("{" + self.password.replace("}", "}}") + "}"))

    def describe(self) -> str:
        """The connection string with the password masked, for messages and logs."""
        return ";".join(self._parts("***"))


ODBC_HELP = (
    "install the ODBC driver manager and Microsoft's driver: `sudo bash "
    "scripts/install_msodbcsql18.sh` (Debian/Ubuntu packages unixodbc, msodbcsql18)"
)


def pyodbc_module() -> Any:
    """pyodbc, imported only once the settings are known good; a missing system library
    (libodbc.so.2 from unixodbc) is an error that names the package, not a traceback."""
    try:
        import pyodbc
    except ImportError as exc:
        raise ConfigError(
            f"MEDALLION_TARGET=sqlserver cannot load the ODBC libraries ({exc}): {ODBC_HELP}"
        ) from None
    return pyodbc


def connect_sqlserver(settings: MssqlSettings | None = None, *, autocommit: bool = False) -> Any:
    """The one way this package opens a SQL Server connection (loader, lock, ops)."""
    settings = settings or MssqlSettings.from_env()
    pyodbc = pyodbc_module()
    try:
        return pyodbc.connect(settings.connection_string(), autocommit=autocommit)
    except pyodbc.Error as exc:
        message = str(exc).replace(settings.password, "***") if settings.password else str(exc)
        state = str(exc.args[0]) if exc.args else ""
        # 28xxx: login refused; IMxxx: the ODBC driver is missing or misnamed. Waiting
        # fixes neither; an unreachable server (08xxx) may come back.
        cls = ConfigError if state.startswith(("28", "IM")) else TransientError
        raise cls(
            f"cannot connect to SQL Server ({settings.describe()}): {message}; check "
            f"MEDALLION_MSSQL_* and that the server is up; if the driver is missing, {ODBC_HELP}"
        ) from None
