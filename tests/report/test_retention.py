"""Retention: old runs' ops rows, artifacts, reports and logs go; recent ones stay."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from medallion import ops, retention
from medallion.config import Settings
from medallion.dbt import adhoc_artifacts_dir, task_artifacts_dir

NOW = datetime.now(UTC)


def _settings(tmp_path: Path, days: str = "30") -> Settings:
    return Settings.from_env(
        {"MEDALLION_HOME": str(tmp_path / "home"), "MEDALLION_RETENTION_DAYS": days}
    )


def _leave_run(settings: Settings, run_id: str, age: timedelta) -> list[Path]:
    """What one run leaves behind, dated `age` ago; returns its files and folders."""
    started = NOW - age
    ops.record_run(
        settings, run_id=run_id, logical_date=started, status="success", started_at=started,
        ended_at=started + timedelta(minutes=2), task_summaries=[], count_rows=False,
    )  # fmt: skip
    with duckdb.connect(str(settings.warehouse)) as con:  # as if recorded back then
        con.execute(
            "update ops.pipeline_runs set recorded_at = ? where run_id = ?",
            [started.replace(tzinfo=None), run_id],
        )
    run_dir = task_artifacts_dir(settings, "dbt_transform", run_id, "bronze.dbt_run_bronze", 1)
    run_dir.mkdir(parents=True)
    (run_dir / "run_results.json").write_text("{}")
    report = settings.home / "reports" / f"{run_id}.html"
    log = settings.home / "logs" / f"dags_test_{run_id}.log"
    for path in (report, log):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    paths = [run_dir.parents[1], report, log]
    stamp = time.time() - age.total_seconds()
    for path in [*paths, run_dir, run_dir.parent]:
        os.utime(path, (stamp, stamp))
    return paths


def _ops_runs(settings: Settings) -> set[str]:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return {r[0] for r in con.execute("select run_id from ops.pipeline_runs").fetchall()}


def test_prune_removes_old_runs_and_keeps_recent_ones(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    old = _leave_run(settings, "scheduled__old", timedelta(days=45))
    recent = _leave_run(settings, "scheduled__recent", timedelta(days=2))
    cli_old = adhoc_artifacts_dir(settings, "dbt_run_bronze")
    cli_old.mkdir(parents=True)
    stamp = time.time() - timedelta(days=40).total_seconds()
    os.utime(cli_old.parent, (stamp, stamp))
    partial_parse = settings.artifacts_dir / ".partial_parse"
    partial_parse.mkdir(parents=True)
    os.utime(partial_parse, (stamp, stamp))

    report = retention.prune(settings, now=NOW)

    assert report is not None and report.runs == ["scheduled__old"]
    assert _ops_runs(settings) == {"scheduled__recent"}
    assert not any(p.exists() for p in old), [p for p in old if p.exists()]
    assert all(p.exists() for p in recent)
    assert not cli_old.parent.exists()
    assert partial_parse.exists(), "the parse cache is not a run's"
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        orphans = con.execute(
            "select count(*) from ops.task_runs where run_id = 'scheduled__old'"
        ).fetchone()[0]
    assert orphans == 0


def test_retention_zero_keeps_everything(tmp_path: Path) -> None:
    settings = _settings(tmp_path, days="0")
    old = _leave_run(settings, "scheduled__old", timedelta(days=400))
    assert retention.prune(settings, now=NOW) is None
    assert all(p.exists() for p in old) and _ops_runs(settings) == {"scheduled__old"}


def test_a_run_of_an_old_interval_recorded_now_stays(tmp_path: Path) -> None:
    """Under `airflow dags test` a run's start is its logical date: age is when it was recorded."""
    settings = _settings(tmp_path)
    long_ago = NOW - timedelta(days=900)
    ops.record_run(
        settings, run_id="manual__2024", logical_date=long_ago, status="success",
        started_at=long_ago, ended_at=long_ago, task_summaries=[], count_rows=False,
    )  # fmt: skip
    assert retention.prune(settings, now=NOW).runs == []
    assert _ops_runs(settings) == {"manual__2024"}
