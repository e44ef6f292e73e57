"""Retries that mean something, through the real DAG (`airflow dags test`) and real dbt.

A retry re-runs only the nodes the failed try left undone, from state kept in object storage
(not the worker's disk, not XCom, which Airflow clears when the next try starts); and no
retry history can turn a failed dbt invocation into a green task.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from medallion import dbt
from medallion.errors import DbtInvocationError
from tests.dags.dag_support import seed_orders, webhook_posts

pytestmark = pytest.mark.e2e

# A silver model that fails while a marker file exists, and one that depends on it: on try 1
# slv_orders succeeds, slv_fragile errors, slv_fragile_child is skipped.
FRAGILE = """
import os


def model(dbt, session):
    dbt.config(materialized="table")
    marker = os.environ.get("MEDALLION_TEST_FAIL_MARKER", "")
    if marker and os.path.exists(marker):
        raise RuntimeError("injected failure: the warehouse connection dropped")
    return session.sql("select 1 as fragile_id")
"""
FRAGILE_CHILD = "select fragile_id from {{ ref('slv_fragile') }}\n"


def _xcom(pipeline: Any, run_id: str, task_id: str) -> dict[str, Any]:
    db = Path(pipeline.env["MEDALLION_AIRFLOW_HOME"]) / "airflow.db"
    with sqlite3.connect(db) as con:
        [(value,)] = con.execute(
            "select value from xcom where run_id = ? and task_id = ? and key = 'dbt_summary'",
            (run_id, task_id),
        ).fetchall()
    data = json.loads(value)
    return json.loads(data) if isinstance(data, str) else data


def _add_fragile_models(pipeline: Any) -> Path:
    silver = Path(pipeline.env["MEDALLION_DBT_PROJECT_DIR"]) / "models" / "silver"
    (silver / "slv_fragile.py").write_text(FRAGILE)
    (silver / "slv_fragile_child.sql").write_text(FRAGILE_CHILD)
    marker = pipeline.root / "fail-silver"
    marker.touch()
    return marker


def test_retry_reruns_only_failed_and_skipped_nodes_from_shared_state(pipeline, http_receiver):
    """Try 1's local artifacts are deleted before try 2: the retry plan comes from the state
    store (a separate 'shared' location), and only slv_fragile and its child run again."""
    seed_orders(pipeline.settings.warehouse)
    marker = _add_fragile_models(pipeline)
    shared_state = pipeline.root / "shared-object-storage"
    artifacts = pipeline.settings.artifacts_dir

    def on_retry(path: str, payload: Any) -> None:
        if isinstance(payload, dict) and payload.get("kind") == "retry":
            marker.unlink(missing_ok=True)  # the transient cause is gone
            shutil.rmtree(artifacts, ignore_errors=True)  # try 2 lands on "another worker"

    http_receiver.on_post = on_retry
    outcome = pipeline.dags_test(
        MEDALLION_TEST_FAIL_MARKER=str(marker),
        MEDALLION_STATE_URL=shared_state.as_uri(),
        MEDALLION_ALERT_WEBHOOK_URL=http_receiver.url("/hook/x"),
    )

    assert outcome.state == "success", outcome.log_file.read_text()[-5000:]
    assert outcome.tasks["silver.dbt_run_silver"].try_number == 2
    retries = [p for p in webhook_posts(http_receiver) if p["kind"] == "retry"]
    assert [(p["task_id"], p["error_type"]) for p in retries] == [
        ("silver.dbt_run_silver", "DbtInvocationError")
    ]
    run_dir = next(artifacts.glob("dbt_transform/*/silver.dbt_run_silver"))
    assert not (run_dir / "try_1").exists(), "try 1's local artifacts were deleted"
    ran = dbt.read_run_results(run_dir / "try_2" / "run_results.json")
    assert {n.name: n.status for n in ran.nodes} == {
        "slv_fragile": "success",
        "slv_fragile_child": "success",
    }
    summary = _xcom(pipeline, outcome.run_id, "silver.dbt_run_silver")
    assert summary["success"] is True and summary["retry_of"] == 1
    assert summary["carried"] == ["model.medallion.slv_orders"]
    layer_nodes = {n["name"] for inv in summary["invocations"] for n in inv["nodes"]}
    assert layer_nodes == {"slv_orders", "slv_fragile", "slv_fragile_child"}
    try_1 = json.loads(
        next(shared_state.glob("dbt_transform/*/silver.dbt_run_silver/try_1.json")).read_text()
    )
    assert try_1["expects_retry"] is True
    assert {n["name"]: n["status"] for n in try_1["result"]["invocations"][0]["nodes"]} == {
        "slv_orders": "success",
        "slv_fragile": "error",
        "slv_fragile_child": "skipped",
    }
    assert pipeline.query("select fragile_id from silver.slv_fragile_child") == [(1,)]
    assert pipeline.query("select count(*) from gold.fct_sales_daily") == [(1,)]


def test_failed_model_without_a_later_success_is_never_green(pipeline, http_receiver):
    """The fault persists through every try: the task ends failed after its retries, each
    try re-runs the failing node, and gold is never built."""
    seed_orders(pipeline.settings.warehouse)
    _add_fragile_models(pipeline)
    outcome = pipeline.dags_test(
        MEDALLION_TEST_FAIL_MARKER=str(pipeline.root / "fail-silver"),
        MEDALLION_RETRIES="1",
        MEDALLION_ALERT_WEBHOOK_URL=http_receiver.url("/hook/x"),
    )

    assert outcome.state == "failed"
    assert (outcome.tasks["silver.dbt_run_silver"].state,
            outcome.tasks["silver.dbt_run_silver"].try_number) == ("failed", 2)  # fmt: skip
    assert outcome.tasks["gold.dbt_run_gold"].state == "upstream_failed"
    summary = _xcom(pipeline, outcome.run_id, "silver.dbt_run_silver")
    assert summary["success"] is False and summary["retry_of"] == 1
    [failure] = [p for p in webhook_posts(http_receiver) if p["kind"] == "failure"]
    assert [n["name"] for n in failure["failed_nodes"]] == ["slv_fragile"]


def test_retry_whose_selection_runs_nothing_fails(pipeline) -> None:
    """A retry asked to re-run a node dbt no longer knows selects nothing; dbt calls that a
    success, the runner must not."""
    seed_orders(pipeline.settings.warehouse)
    settings = pipeline.settings
    gone = dbt.NodeResult("model.medallion.slv_renamed", "slv_renamed", "model", "error", 0.1)
    previous = dbt.StepResult(
        layer="silver",
        step="run",
        artifacts=pipeline.root / "elsewhere",
        invocations=[dbt.RunSummary(command="run", nodes=(gone,))],
    )
    for layer in ("bronze",):
        dbt.run_step(settings, "run", layer, artifacts=pipeline.root / "a" / layer)

    with pytest.raises(
        DbtInvocationError, match=r"did not run model\.medallion\.slv_renamed"
    ) as info:
        dbt.run_step(
            settings, "run", "silver", artifacts=pipeline.root / "a" / "silver",
            previous=previous, previous_try=1,
        )  # fmt: skip
    result = info.value.result  # type: ignore[attr-defined]
    assert result.success is False and result.retry_of == 1
    assert dbt.read_run_results(pipeline.root / "a" / "silver" / "run_results.json").nodes == ()
    # the next try, seeing a failed try with nothing left to select, rebuilds the whole layer
    plan = dbt.plan_commands(
        settings, "run", "silver", target_path=pipeline.root / "b", log_path=pipeline.root / "b",
        previous=result,
    )  # fmt: skip
    assert [p.argv[p.argv.index("--select") + 1] for p in plan] == ["tag:silver"]


def test_a_killed_try_leaves_its_progress_and_the_retry_runs_only_the_rest(pipeline) -> None:
    """A worker killed mid-command never writes its final record: the progress record it
    rewrote after each finished node is what the retry plans from (`--exclude` of the nodes
    that finished well), through the real object-storage records."""
    from medallion import try_state

    seed_orders(pipeline.settings.warehouse)
    settings = pipeline.settings
    dbt.run_step(settings, "run", "bronze", artifacts=pipeline.root / "k" / "run")
    key = try_state.TryKey("dbt_transform", "manual__killed", "bronze.dbt_test_bronze", 1)
    seen: list[dbt.StepResult] = []

    def progress(so_far: dbt.StepResult) -> None:
        seen.append(so_far)
        if len(seen) == 1:  # the try "dies" here: later records never reach the store
            try_state.save_try(settings, key, so_far, expects_retry=True, in_progress=True)

    whole = dbt.run_step(
        settings, "test", "bronze", artifacts=pipeline.root / "k" / "t1", on_progress=progress
    )
    tests_run = [n.unique_id for n in whole.invocations[0].nodes]
    assert len(tests_run) >= 2 and len(seen) >= len(tests_run)
    [died_after] = [n.unique_id for n in seen[0].nodes]

    retry_key = try_state.TryKey(key.dag_id, key.run_id, key.task_id, 2)
    previous = try_state.previous_try(settings, retry_key)
    assert previous is not None and not previous.success
    assert previous.invocations[0].complete is False
    retry = dbt.run_step(
        settings, "test", "bronze", artifacts=pipeline.root / "k" / "t2",
        previous=previous, previous_try=1,
    )  # fmt: skip
    assert retry.success and retry.retry_of == 1 and retry.carried == [died_after]
    rerun = dbt.read_run_results(pipeline.root / "k" / "t2" / "run_results.json")
    assert sorted(n.unique_id for n in rerun.nodes) == sorted(set(tests_run) - {died_after})
    assert sorted(n.unique_id for n in retry.invocations[0].nodes) == sorted(tests_run)
    # the command the try never reached (source freshness) ran in full
    assert [inv.command for inv in retry.invocations] == [inv.command for inv in whole.invocations]
