"""The SQL Server writer, as far as it goes without a server: the T-SQL it emits, type
mapping, batching, the connection string's secrecy, and the order of its statements."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import datetime

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from medallion.errors import ConfigError, MedallionError
from medallion.loading import generator, staging
from medallion.loading import sqlserver as mssql
from medallion.loading.catalog import TABLES, warehouse_type
from medallion.loading.warehouse import LoadRecord

SECRET = "S3ntinel-Pa55}word;"
ENV = {
    "MEDALLION_MSSQL_HOST": "127.0.0.1",
    "MEDALLION_MSSQL_DATABASE": "AdventureWorks",
    "MEDALLION_MSSQL_USER": "loader",
    "MEDALLION_MSSQL_PASSWORD": SECRET,
}


def _parse(sql: str) -> exp.Expression:
    tree = sqlglot.parse_one(sql, read="tsql")
    assert not isinstance(tree, exp.Command), f"sqlglot could not structure: {sql}"
    return tree


def test_every_statement_parses_as_tsql():
    statements = [
        mssql.schemas_sql(),
        mssql.create_schema_sql("sales"),
        mssql.object_id_sql("ops", "loads"),
        mssql.loads_ddl_sql(),
        mssql.insert_load_sql(),
        mssql.last_base_load_sql(),
        mssql.raw_tables_sql(),
    ]
    for table in TABLES:
        statements += [
            mssql.create_table_sql(table, staging.STAGE_PREFIX + table.name),
            mssql.insert_sql(table, staging.STAGE_PREFIX + table.name),
            *mssql.swap_sql(table),
        ]
    for sql in statements:
        _parse(sql)


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.qualified)
def test_create_table_has_catalog_columns_types_and_metadata(table):
    tree = _parse(mssql.create_table_sql(table))
    columns = [(c.name, c.args["kind"].sql("tsql")) for c in tree.find_all(exp.ColumnDef)]
    expected = [
        (
            c.name,
            sqlglot.parse_one(
                f"CAST(x AS {warehouse_type(c.type, 'sqlserver')})", read="tsql"
            ).to.sql("tsql"),
        )
        for c in table.columns
    ]
    assert columns[:-2] == expected
    assert [name for name, _ in columns[-2:]] == ["_loaded_at", "_source_file"]
    assert tree.find(exp.Table).db == table.schema


def test_type_mapping_for_sqlserver():
    assert {
        logical: warehouse_type(logical, "sqlserver")
        for logical in ("int", "smallint", "money", "numeric38_6", "numeric8_2", "timestamp", "bool", "text")
    } == {
        "int": "INT", "smallint": "SMALLINT", "money": "DECIMAL(19,4)",
        "numeric38_6": "DECIMAL(38,6)", "numeric8_2": "DECIMAL(8,2)",
        "timestamp": "DATETIME2(3)", "bool": "BIT", "text": "NVARCHAR(MAX)",
    }  # fmt: skip


def test_insert_has_one_marker_per_column_and_keywords_are_bracketed():
    territory = next(t for t in TABLES if t.name == "SalesTerritory")
    sql = mssql.insert_sql(territory, "_stg_SalesTerritory")
    tree = _parse(sql)
    assert sql.count("?") == len(territory.columns) + 2
    assert "[Group]" in sql  # a reserved word as a column name
    assert tree.this.this.name == "_stg_SalesTerritory"


def test_swap_renames_staging_over_the_raw_table():
    header = TABLES[0]
    drop, rename = mssql.swap_sql(header)
    assert _parse(drop).find(exp.Table).name == "SalesOrderHeader"
    assert rename == "EXEC sp_rename N'sales._stg_SalesOrderHeader', N'SalesOrderHeader'"


@pytest.mark.parametrize(
    ("n", "size", "expected"),
    [(12, 5, [5, 5, 2]), (10, 5, [5, 5]), (3, 1, [1, 1, 1]), (0, 4, []), (4, 100, [4])],
)
def test_batches_split_rows_in_order(n, size, expected):
    rows = [(i,) for i in range(n)]
    got = list(mssql.batches(iter(rows), size))
    assert [len(b) for b in got] == expected
    assert [r for b in got for r in b] == rows


def test_batch_size_must_be_positive():
    with pytest.raises(ValueError):
        list(mssql.batches([(1,)], 0))
    with pytest.raises(ConfigError, match="BATCH_SIZE"):
        mssql.MssqlSettings.from_env(ENV | {"MEDALLION_MSSQL_BATCH_SIZE": "0"})


def test_connection_settings_from_env_and_password_secrecy(caplog):
    settings = mssql.MssqlSettings.from_env(ENV)

    conn = settings.connection_string()
    assert "DRIVER={ODBC Driver 18 for SQL Server}" in conn
    assert "SERVER=tcp:127.0.0.1,1433" in conn
    assert "Encrypt=yes" in conn and "TrustServerCertificate=no" in conn
    assert "PWD={S3ntinel-Pa55}}word;}" in conn  # braced, so ';' and '}' cannot break out
    writer = mssql.SqlServerWriter(settings)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").info(
            "writer %r settings %r %s", writer, settings, settings.describe()
        )
    for text in (repr(settings), repr(writer), settings.describe(), caplog.text):
        assert SECRET not in text and "S3ntinel" not in text
    assert "PWD=***" in settings.describe()

    custom = mssql.MssqlSettings.from_env(
        ENV
        | {
            "MEDALLION_MSSQL_PORT": "14333",
            "MEDALLION_MSSQL_ENCRYPT": "false",
            "MEDALLION_MSSQL_TRUST_CERT": "true",
            "MEDALLION_MSSQL_BATCH_SIZE": "250",
        }
    )
    assert "SERVER=tcp:127.0.0.1,14333" in custom.connection_string()
    assert "Encrypt=no;TrustServerCertificate=yes" in custom.connection_string()
    assert custom.batch_size == 250


def test_missing_connection_settings_are_named():
    with pytest.raises(ConfigError, match="MEDALLION_MSSQL_HOST, MEDALLION_MSSQL_PASSWORD"):
        mssql.MssqlSettings.from_env({"MEDALLION_MSSQL_DATABASE": "x", "MEDALLION_MSSQL_USER": "u"})


def test_connection_failure_message_hides_the_password():
    settings = mssql.MssqlSettings.from_env(ENV | {"MEDALLION_MSSQL_DRIVER": "No Such Driver 99"})
    with pytest.raises(MedallionError) as info:
        mssql.SqlServerWriter(settings).connect()
    assert "No Such Driver 99" in str(info.value)
    assert "S3ntinel" not in str(info.value)


class RecordingConnection:
    """Stands in for a pyodbc connection (no server can run here): records what is sent."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.log: list[tuple] = []
        self.fail_on = fail_on

    def cursor(self):
        return self

    def execute(self, sql, *params):
        self.log.append(("execute", sql))
        if self.fail_on and self.fail_on in sql:
            raise RuntimeError("server said no")
        self._result = [(None,)] if sql.startswith("SELECT OBJECT_ID") else []
        return self

    def fetchall(self):
        return self._result

    def fetchone(self):
        return self._result[0] if self._result else None

    def executemany(self, sql, rows):
        self.log.append(("executemany", sql, len(rows)))

    def commit(self):
        self.log.append(("commit",))

    def rollback(self):
        self.log.append(("rollback",))


@pytest.fixture(scope="module")
def stage():
    con = duckdb.connect()
    staging.create_staging_tables(con)
    generator.generate(con, 0.01, 3, datetime(2024, 1, 1))
    yield con
    con.close()


def _writer(conn, batch: int = 100) -> mssql.SqlServerWriter:
    writer = mssql.SqlServerWriter(
        mssql.MssqlSettings.from_env(ENV | {"MEDALLION_MSSQL_BATCH_SIZE": str(batch)})
    )
    writer._conn = conn
    return writer


def test_publish_copies_in_batches_then_swaps_everything_in_one_commit(stage):
    conn = RecordingConnection()
    record = LoadRecord("synthetic", "fp", datetime(2024, 1, 1), "test")

    _writer(conn, batch=100).publish(stage, record)

    header_rows = stage.execute('select count(*) from sales."_stg_SalesOrderHeader"').fetchall()[0][
        0
    ]
    batches = [e[2] for e in conn.log if e[0] == "executemany" and "_stg_SalesOrderHeader" in e[1]]
    assert sum(batches) == header_rows and max(batches) == 100
    assert record.row_counts["sales.SalesOrderHeader"] == header_rows
    created = [e[1] for e in conn.log if e[0] == "execute" and e[1].startswith("CREATE SCHEMA")]
    assert created == [
        "CREATE SCHEMA [sales]",
        "CREATE SCHEMA [production]",
        "CREATE SCHEMA [person]",
        "CREATE SCHEMA [ops]",
    ]
    last_commit = max(i for i, e in enumerate(conn.log) if e[0] == "commit")
    previous_commit = max(i for i, e in enumerate(conn.log[:last_commit]) if e[0] == "commit")
    swap = [e[1] for e in conn.log[previous_commit + 1 : last_commit]]
    assert len([s for s in swap if s.startswith("EXEC sp_rename")]) == len(TABLES)
    assert swap[-1].startswith("INSERT INTO [ops].[loads]")
    assert not any(e[0] == "rollback" for e in conn.log)


def test_publish_failure_rolls_back_and_drops_staging(stage):
    conn = RecordingConnection(fail_on="sp_rename N'person._stg_Address'")
    record = LoadRecord("synthetic", "fp", datetime(2024, 1, 1), "test")

    with pytest.raises(RuntimeError):
        _writer(conn).publish(stage, record)

    rollback = conn.log.index(("rollback",))
    after = [e[1] for e in conn.log[rollback:] if e[0] == "execute"]
    assert after == [mssql.drop_table_sql(t.schema, "_stg_" + t.name) for t in TABLES]
    assert not any(e[0] == "execute" and "INSERT INTO [ops]" in e[1] for e in conn.log)


# Stands in for a machine without unixodbc: importing pyodbc fails the way it does there.
NO_LIBODBC = (
    'raise ImportError("libodbc.so.2: cannot open shared object file: No such file or directory")\n'
)


@pytest.mark.parametrize("command", [["load", "--synthetic"], ["run"]])
def test_missing_odbc_library_is_an_error_that_names_the_fix(tmp_path, command):
    fake = tmp_path / "no_libodbc"
    fake.mkdir()
    (fake / "pyodbc.py").write_text(NO_LIBODBC)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDALLION_")}
    env.update(PYTHONPATH=str(fake), MEDALLION_TARGET="sqlserver", MEDALLION_HOME=str(tmp_path))
    medallion = [sys.executable, "-m", "medallion.cli", *command]

    unset = subprocess.run(medallion, env=env, capture_output=True, text=True, timeout=120)
    # settings are checked before any driver is loaded
    assert unset.returncode == 2, unset.stderr
    assert "MEDALLION_MSSQL_HOST" in unset.stderr and "libodbc" not in unset.stderr

    env.update(
        MEDALLION_MSSQL_HOST="127.0.0.1", MEDALLION_MSSQL_DATABASE="AdventureWorks",
        MEDALLION_MSSQL_USER="sa", MEDALLION_MSSQL_PASSWORD="not-a-secret-3f1c",
    )  # fmt: skip
    missing = subprocess.run(medallion, env=env, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2, missing.stderr
    assert "Traceback" not in missing.stderr
    assert "libodbc.so.2" in missing.stderr
    assert "unixodbc" in missing.stderr and "scripts/install_msodbcsql18.sh" in missing.stderr
    assert "not-a-secret-3f1c" not in missing.stderr
