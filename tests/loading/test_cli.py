"""`medallion load` as a user runs it: a real process, the exit code and what it prints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

MEDALLION = Path(sys.executable).parent / "medallion"


def _run(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDALLION_")}
    env |= {
        "MEDALLION_HOME": str(tmp_path / "home"),
        "MEDALLION_ARTIFACTS_DIR": str(tmp_path / "home" / "artifacts"),
        "COLUMNS": "120",
        **extra,
    }
    return subprocess.run(
        [str(MEDALLION), "load", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_synthetic_load_then_skip_then_append(tmp_path):
    first = _run(tmp_path, "--synthetic", "--scale", "0.05", "--seed", "3")
    assert first.returncode == 0, first.stderr
    assert "sales.SalesOrderHeader" in first.stdout and "1,573" in first.stdout

    second = _run(tmp_path, "--synthetic", "--scale", "0.05", "--seed", "3")
    assert second.returncode == 0, second.stderr
    assert "already loaded" in second.stdout

    appended = _run(tmp_path, "--append-hours", "1")
    assert appended.returncode == 0, appended.stderr
    assert "appended 1 hour(s)" in appended.stdout

    con = duckdb.connect(str(tmp_path / "home" / "warehouse.duckdb"), read_only=True)
    assert con.execute("select kind from ops.loads order by load_id").fetchall() == [
        ("synthetic",),
        ("append",),
    ]
    con.close()


def test_bad_source_exits_2_with_file_line_and_column(tmp_path, headered_export):
    path = headered_export / "sales" / "SalesTerritory.csv"
    text = path.read_text().splitlines()
    text[3] = text[3].replace(",North America,", ",North America,not-money-", 1)
    path.write_text("\n".join(text) + "\n")

    result = _run(tmp_path, "--source", str(headered_export))

    assert result.returncode == 2
    assert f"error: file {path}, line 4, column SalesYTD" in result.stderr
    assert not (tmp_path / "home" / "warehouse.duckdb").exists() or _no_raw(tmp_path)


def _no_raw(tmp_path: Path) -> bool:
    con = duckdb.connect(str(tmp_path / "home" / "warehouse.duckdb"), read_only=True)
    tables = con.execute("select count(*) from information_schema.tables").fetchall()[0][0]
    con.close()
    return tables == 0


@pytest.mark.realdata
def test_real_export_from_the_cli(tmp_path, real_data):
    result = _run(tmp_path, "--source", str(real_data))
    assert result.returncode == 0, result.stderr
    assert "121,317" in result.stdout and "headered format" in result.stdout


def test_sqlserver_target_without_settings_says_what_is_missing(tmp_path):
    result = _run(tmp_path, "--synthetic", "--scale", "0.01", MEDALLION_TARGET="sqlserver")
    assert result.returncode == 2
    assert "MEDALLION_MSSQL_HOST" in result.stderr
