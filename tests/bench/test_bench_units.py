"""The harness's pure parts: reading dbt.log, anchoring its clock, the case summary, run
order, and target evaluation (pass / fail with margin / not_run / error) on made-up
results. Made-up numbers here test the arithmetic only; no timing is measured."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from medallion.bench.cases import CASES, validate_results
from medallion.bench.harness import (
    BenchOptions,
    RunRecord,
    _anchor,
    _results_invocation,
    _schedule,
    dbt_log_sections,
    evaluate_targets,
    summarize_case,
    write_page,
)
from medallion.bench.report import render_performance, render_results_md, write_outputs
from medallion.errors import MedallionError

DBT_LOG = """

============================== 07:59:04.214364 | 3249c281-f1fb ==============================
\x1b[0m07:59:04.214364 [info ] [MainThread]: Running with dbt=1.11.16
\x1b[0m07:59:07.522055 [info ] [MainThread]: Found 31 models, 215 data tests, 15 sources
\x1b[0m07:59:07.600000 [debug] [ThreadPool]: Opening a new connection, currently in state init
\x1b[0m07:59:07.650000 [debug] [ThreadPool]: SQL status: OK in 0.050 seconds
\x1b[0m07:59:11.326450 [debug] [MainThread]: Resource report: {"command_name": "build", "command_success": true, "command_wall_clock_time": 7.175873}
============================== 23:59:59.500000 | aaaa-bbbb ==============================
00:00:00.250000 [info ] [MainThread]: Found 3 models, 1 data test
00:00:01.000000 [debug] [MainThread]: Resource report: {"command_wall_clock_time": 1.5}
"""


def test_dbt_log_sections(tmp_path: Path) -> None:
    log = tmp_path / "dbt.log"
    log.write_text(DBT_LOG)
    sections = dbt_log_sections(log)
    first = sections["3249c281-f1fb"]
    assert first["wall_s"] == pytest.approx(7.175873)
    assert first["parse_s"] == pytest.approx(3.307691)
    assert first["connection_s"] == pytest.approx(0.05)
    second = sections["aaaa-bbbb"]  # across midnight
    assert second["parse_s"] == pytest.approx(0.75)
    assert second["wall_s"] == pytest.approx(1.5)
    assert dbt_log_sections(tmp_path / "missing.log") == {}


def test_anchor_picks_the_instant_nearest_the_reference() -> None:
    ref = datetime(2026, 11, 24, 0, 0, 3)
    assert _anchor(23 * 3600 + 59 * 60 + 58.5, ref) == datetime(2026, 11, 23, 23, 59, 58, 500000)
    assert _anchor(2.0, ref) == datetime(2026, 11, 24, 0, 0, 2)


def test_summary_leaves_failed_and_traced_runs_out_of_min_and_median() -> None:
    runs = [
        RunRecord(3.0, 100.0, True),
        RunRecord(1.0, 300.0, True),
        RunRecord(9.0, 50.0, False, "boom"),
        RunRecord(0.5, 80.0, True, detail={"traced": True}),
    ]
    case = summarize_case("our_dag", runs)
    assert (case["min_s"], case["median_s"], case["peak_rss_mb"]) == (1.0, 2.0, 300.0)
    assert case["ok"] is False
    assert summarize_case("our_dag", [RunRecord(1.0, 1.0, False)])["median_s"] is None


def test_schedule_runs_dag_cases_in_rounds_and_one_traced_parse_each() -> None:
    order = _schedule(list(CASES), 2)
    assert order[:8] == [
        ("dbt_build", 0),
        ("airflow_floor", 0),
        ("our_dag", 0),
        ("cosmos_dag", 0),
        ("dbt_build", 1),
        ("airflow_floor", 1),
        ("our_dag", 1),
        ("cosmos_dag", 1),
    ]
    assert [c for c, rep in order if rep < 0] == [
        "parse_ours",
        "parse_cosmos",
        "parse_cosmos_nocache",
    ]
    hourly = [x for x in order if x[0] in ("incremental_hour", "full_refresh")]
    assert hourly == [
        ("incremental_hour", 0),
        ("full_refresh", 0),
        ("incremental_hour", 1),
        ("full_refresh", 1),
    ]
    # then each deployment's cases in rounds, so each deployment starts once; cosmos LOCAL
    # under the scheduler runs once whatever the repetitions
    sched = order[order.index(hourly[-1]) + 1 :]
    assert sched == [
        ("sched_floor", 0),
        ("sched_our_dag", 0),
        ("sched_floor", 1),
        ("sched_our_dag", 1),
        ("sched_our_dag_stock", 0),
        ("sched_our_dag_stock", 1),
        ("sched_cosmos_local", 0),
        ("sched_cosmos_watcher", 0),
        ("sched_cosmos_watcher", 1),
        ("celery_floor", 0),
        ("celery_our_dag", 0),
        ("celery_floor", 1),
        ("celery_our_dag", 1),
    ]


def _case(name: str, seconds: float, *, ok: bool = True, rss: float = 500.0, **detail: Any) -> dict:
    return summarize_case(name, [RunRecord(seconds, rss, ok, None if ok else "failed", detail)])


def _results(cases_by_scale: dict[float, dict[str, dict]]) -> dict[str, Any]:
    results = {
        "schema_version": 1,
        "generated_at": "2026-01-01T00:00:00Z",
        "options": {"scales": list(cases_by_scale), "repeat": 1, "seed": 42, "cases": list(CASES)},
        "machine": {
            "cpu_count": 2,
            "memory_gb": 24.0,
            "load_avg_before": [0.1, 0.1, 0.1],
            "load_avg_after": [0.2, 0.2, 0.2],
        },
        "versions": {"dbt-core": "1.11.16"},
        "settings": {"duckdb_threads": 2, "duckdb_memory_limit": "4GB"},
        "scales": {
            f"{s:g}": {"scale": s, "data": {}, "cases": cases}
            for s, cases in cases_by_scale.items()
        },
        "targets": [],
        "ok": True,
    }
    results["targets"] = evaluate_targets(results)
    return results


def _parse_runs(seconds: float, invocations: list) -> dict:
    return summarize_case(
        "parse_ours",
        [
            RunRecord(seconds, 100.0, True, detail={"tasks": 7}),
            RunRecord(
                seconds,
                100.0,
                True,
                detail={
                    "traced": True,
                    "dbt_invocations": invocations,
                    "dbt_subprocesses": [],
                    "project_files_opened": 0,
                    "dbt_modules_imported": False,
                    "tasks": 7,
                },
            ),
        ],
    )


def test_targets_pass_and_fail_with_margins() -> None:
    results = _results(
        {
            1.0: {
                "dbt_build": _case("dbt_build", 10.0),
                "our_dag": _case("our_dag", 12.0),
                "cosmos_dag": _case("cosmos_dag", 60.0),
                "parse_ours": _parse_runs(0.03, []),
            },
            10.0: {
                "dbt_build": _case("dbt_build", 100.0),
                "our_dag": _case("our_dag", 140.0),
                "cosmos_dag": _case("cosmos_dag", 120.0),
                "incremental_hour": _case("incremental_hour", 10.0),
                "full_refresh": _case("full_refresh", 100.0),
            },
        }
    )
    validate_results(results)
    by = {(t["id"], t["scale"]): t for t in results["targets"]}
    floor = by[("dag_vs_dbt_build", 10.0)]
    assert floor["status"] == "fail" and floor["value"] == pytest.approx(1.4)
    assert "1.40x vs limit 1.3x" in floor["margin"]
    assert by[("dag_faster_than_cosmos", 1.0)]["status"] == "pass"
    assert by[("dag_faster_than_cosmos", 10.0)]["status"] == "fail"
    assert by[("parse", None)]["status"] == "pass"
    assert by[("incremental_vs_full_refresh", 10.0)]["status"] == "pass"
    assert by[("incremental_vs_full_refresh", 10.0)]["value"] == pytest.approx(0.1)
    assert by[("sf30_memory", 30.0)]["status"] == "not_run"
    page = render_performance(results)
    assert "**missed**" in page and "met" in page
    assert "| SF 10 | `our_dag` | 140.00 |" in render_results_md(results)


def test_ratio_targets_show_the_ratio_without_airflows_floor() -> None:
    results = _results(
        {
            10.0: {
                "dbt_build": _case("dbt_build", 10.0),
                "airflow_floor": _case("airflow_floor", 6.0),
                "our_dag": _case("our_dag", 19.0),
                "incremental_hour": _case("incremental_hour", 8.0),
                "full_refresh": _case("full_refresh", 26.0),
            }
        }
    )
    by = {t["id"]: t for t in results["targets"]}
    # the target itself is judged on the whole run; the detail separates Airflow's share
    assert by["dag_vs_dbt_build"]["value"] == pytest.approx(1.9)
    assert "without it 13.0 s / 10.0 s = 1.30x" in by["dag_vs_dbt_build"]["detail"]
    assert by["incremental_vs_full_refresh"]["status"] == "fail"
    assert "without it 2.0 s / 20.0 s = 0.10x" in by["incremental_vs_full_refresh"]["detail"]


def test_incremental_target_shows_the_fixed_cost_outside_sql_execution() -> None:
    profile = {"wall_s": 17.0, "segments": {"airflow_startup": 3.0, "sql_execution": 5.0}}
    results = _results(
        {
            10.0: {
                "incremental_hour": _case("incremental_hour", 17.0, profile=profile),
                "full_refresh": _case("full_refresh", 20.0),
            }
        }
    )
    detail = next(t for t in results["targets"] if t["id"] == "incremental_vs_full_refresh")[
        "detail"
    ]
    assert (
        "spent 12.0 s outside SQL execution (Airflow, task and dbt start-up), 60% of the full refresh"
        in detail
    )


def test_parse_target_fails_when_parsing_invokes_dbt() -> None:
    results = _results({1.0: {"parse_ours": _parse_runs(0.03, [["ls", "--output", "json"]])}})
    parse = next(t for t in results["targets"] if t["id"] == "parse")
    assert parse["status"] == "fail" and "1 dbt invocations" in parse["detail"]


def test_failed_runs_make_targets_error_not_pass() -> None:
    results = _results(
        {10.0: {"dbt_build": _case("dbt_build", 10.0), "our_dag": _case("our_dag", 5.0, ok=False)}}
    )
    floor = next(t for t in results["targets"] if t["id"] == "dag_vs_dbt_build")
    assert floor["status"] == "error" and "our_dag has no successful run" in floor["detail"]


def test_sf30_memory_target() -> None:
    results = _results({30.0: {"our_dag": _case("our_dag", 500.0, rss=5000.0)}})
    sf30 = next(t for t in results["targets"] if t["id"] == "sf30_memory")
    assert sf30["status"] == "fail" and "5000 MB vs 4096 MB" in sf30["margin"]


def test_invalid_results_are_refused() -> None:
    results = _results({1.0: {"our_dag": _case("our_dag", 1.0)}})
    results["scales"]["1"]["cases"]["not_a_case"] = results["scales"]["1"]["cases"]["our_dag"]
    with pytest.raises(MedallionError, match="schema"):
        validate_results(results)


def _sched_run(seconds: float, fixed: list[float], **profile: Any) -> dict:
    tasks = {f"t{i}": {"duration_s": 1.0, "fixed_cost_s": f} for i, f in enumerate(fixed)}
    return _case(
        "sched_our_dag",
        seconds,
        profile={
            "wall_s": seconds,
            "queued_to_first_task_s": 1.0,
            "between_tasks_s": 6.0,
            "tasks": tasks,
            **profile,
        },
    )


def test_real_scheduler_targets_are_judged_against_the_same_runs_peers() -> None:
    results = _results(
        {
            10.0: {
                "dbt_build": _case("dbt_build", 20.0),
                "sched_floor": _case("sched_floor", 12.0),
                "sched_our_dag": _sched_run(50.0, [0.5, 0.8, 1.4]),
                "sched_our_dag_stock": _sched_run(90.0, [6.0, 7.0]),
                "sched_cosmos_local": _case("sched_cosmos_local", 400.0),
                "sched_cosmos_watcher": _case("sched_cosmos_watcher", 40.0),
            }
        }
    )
    by = {t["id"]: t for t in results["targets"]}
    vs_build = by["sched_vs_dbt_build"]
    assert vs_build["status"] == "fail" and vs_build["value"] == pytest.approx(2.5)
    # the miss says how much is Airflow's own floor and where the run's time went
    assert "`sched_floor`" in vs_build["detail"] and "38.0 s / 20.0 s = 1.90x" in vs_build["detail"]
    assert "between tasks" in vs_build["detail"]
    assert by["sched_vs_cosmos_local"]["status"] == "pass"
    assert by["sched_vs_cosmos_local"]["value"] == pytest.approx(0.125)
    assert by["sched_faster_than_cosmos_watcher"]["status"] == "fail"
    fixed = by["task_fixed_cost"]
    assert fixed["status"] == "pass" and fixed["value"] == pytest.approx(0.8)
    assert "stock LocalExecutor" in fixed["detail"] and "6.50 s" in fixed["detail"]


def test_real_scheduler_targets_say_not_run_without_their_cases() -> None:
    results = _results({10.0: {"dbt_build": _case("dbt_build", 20.0)}})
    by = {t["id"]: t for t in results["targets"]}
    for tid in (
        "sched_vs_dbt_build",
        "sched_vs_cosmos_local",
        "sched_faster_than_cosmos_watcher",
        "task_fixed_cost",
    ):
        assert by[tid]["status"] == "not_run", by[tid]


def test_one_page_shows_the_three_suites_and_takes_each_verdict_from_its_run(
    tmp_path: Path,
) -> None:
    main = _results(
        {10.0: {"dbt_build": _case("dbt_build", 10.0), "our_dag": _case("our_dag", 12.0)}}
    )
    main["options"]["cases"] = ["dbt_build", "our_dag"]
    sched = _results(
        {
            10.0: {
                "dbt_build": _case("dbt_build", 20.0),
                "sched_our_dag": _sched_run(30.0, [0.5, 0.7]),
                "sched_cosmos_watcher": _case("sched_cosmos_watcher", 90.0),
            }
        }
    )
    sched["options"]["cases"] = ["dbt_build", "sched_our_dag", "sched_cosmos_watcher"]
    sched["generated_at"] = "2026-02-02T00:00:00Z"
    hour_nodes = {"silver": {"model": 2.0, "test": 5.5}}
    hourly = _results(
        {
            1.0: {"incremental_hour": _case("incremental_hour", 16.0)},
            100.0: {
                "our_dag": _case("our_dag", 70.0),
                "incremental_hour": _case(
                    "incremental_hour", 24.0, profile={"node_seconds": hour_nodes}
                ),
                "full_refresh": _case("full_refresh", 80.0),
            },
        }
    )
    hourly["options"]["cases"] = ["our_dag", "incremental_hour", "full_refresh"]
    hourly["generated_at"] = "2026-03-03T00:00:00Z"
    main_dir = tmp_path / "bench"
    sched_dir, hourly_dir = main_dir / "scheduler", main_dir / "hourly"
    opts = BenchOptions(
        out_dir=main_dir,
        docs_file=tmp_path / "docs" / "PERFORMANCE.md",
        page_suites=(main_dir, sched_dir, hourly_dir),
    )
    write_outputs(main, main_dir)
    alone = write_page(opts, main).read_text()  # no other suite's run yet
    assert "## Under a real scheduler" not in alone and "## The hourly cost" not in alone
    assert alone.count("not run for this page") == 2
    write_outputs(sched, sched_dir)
    write_outputs(hourly, hourly_dir)
    # whichever suite ran last, the page is the same
    page = write_page(opts, main).read_text()
    assert write_page(dataclasses.replace(opts, out_dir=sched_dir), sched).read_text() == page
    assert write_page(dataclasses.replace(opts, out_dir=hourly_dir), hourly).read_text() == page
    hour_row = next(r for r in page.splitlines() if r.startswith("| an appended hour <= 25 %"))
    assert "| **missed** |" in hour_row and "median incremental_hour 24.0 s" in hour_row
    growth = next(r for r in page.splitlines() if r.startswith("| the appended hour grows"))
    assert "24.0 s at SF 100 / 16.0 s at SF 1" in growth  # both scales from the hourly run
    hourly_part = page.split("## The hourly cost at scale")[1].split("\n## ")[0]
    assert "at 2026-03-03T00:00:00Z" in hourly_part
    assert "](../bench/hourly/results.json)" in hourly_part
    assert "| SF 100 | silver | 2.00 | 5.50 | 0.00 | - | - |" in hourly_part
    rows = [line for line in page.splitlines() if line.startswith("| DAG under LocalExecutor")]
    assert len(rows) == 3, rows  # one verdict per target, none left "not run" beside it
    assert rows[0].startswith("| DAG under LocalExecutor <= 2 x bare dbt build at SF 10 | met")
    assert "median sched_our_dag 30.0 s / median dbt_build 20.0 s" in rows[0]  # its own build
    assert "cosmos LOCAL" in rows[1] and "| not run |" in rows[1]
    assert "| met |" in rows[2]
    section = page.split("## Under a real scheduler")[1].split("\n## ")[0]
    assert "at 2026-02-02T00:00:00Z" in section
    assert "](../bench/scheduler/results.json)" in section  # links its own run's numbers
    assert "| SF 10 | `sched_our_dag` | 30.00 |" in section
    assert "`our_dag`" not in section


def test_sf100_hourly_targets_judge_the_hour_against_its_full_refresh_and_sf1() -> None:
    hour_nodes = {"silver": {"model": 2.0, "test": 5.5}, "gold": {"model": 1.0, "test": 3.0}}
    results = _results(
        {
            1.0: {"incremental_hour": _case("incremental_hour", 16.0)},
            100.0: {
                "incremental_hour": _case(
                    "incremental_hour", 24.0, rss=7000.0, profile={"node_seconds": hour_nodes}
                ),
                "full_refresh": _case(
                    "full_refresh", 80.0, profile={"node_seconds": {"silver": {"model": 30.0}}}
                ),
            },
        }
    )
    by = {t["id"]: t for t in results["targets"]}
    assert by["hour_vs_full_refresh_sf100"]["status"] == "fail"
    assert by["hour_vs_full_refresh_sf100"]["value"] == pytest.approx(0.3)
    growth = by["hour_growth"]
    assert growth["status"] == "fail" and growth["value"] == pytest.approx(1.5)
    assert "24.0 s at SF 100 / 16.0 s at SF 1" in growth["detail"]
    memory = by["sf100_memory"]  # the largest peak of the cases that ran, named
    assert memory["status"] == "fail" and "7000 MB vs 6144 MB" in memory["margin"]
    assert "incremental_hour succeeded (7000 MB)" in memory["detail"]
    page = render_performance(results)
    table = page.split("## The appended hour's node time by layer")[1].split("\n## ")[0]
    assert "| SF 100 | silver | 2.00 | 5.50 | 0.00 | 30.00 | 0.00 |" in table
    assert "| SF 100 | gold | 1.00 | 3.00 | 0.00 | - | - |" in table
    assert "| SF 1 |" not in table  # that run recorded no node times


def test_node_time_is_summed_by_kind_from_run_results(tmp_path: Path) -> None:
    results = [
        {"unique_id": "model.medallion.a", "execution_time": 1.25, "timing": []},
        {"unique_id": "model.medallion.b", "execution_time": 0.75, "timing": []},
        {"unique_id": "test.medallion.unique_a", "execution_time": 0.5, "timing": []},
        {"unique_id": "unit_test.medallion.a.t", "execution_time": 0.25, "timing": []},
        {"unique_id": "operation.medallion.publish", "execution_time": 2.0, "timing": []},
    ]
    path = tmp_path / "run_results.json"
    path.write_text(
        json.dumps(
            {
                "metadata": {
                    "invocation_id": "x",
                    "generated_at": "2026-01-01T00:00:10Z",
                    "invocation_started_at": "2026-01-01T00:00:04Z",
                },
                "args": {"which": "build", "invocation_command": "dbt build"},
                "results": results,
            }
        )
    )
    inv = _results_invocation(path, {"x": {"start_s": 0.0, "wall_s": 5.0}})
    assert inv is not None
    assert inv.node_seconds == {"model": 2.0, "test": 0.75, "other": 2.0}
