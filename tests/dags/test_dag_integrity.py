"""DagBag integrity of airflow/dags/dbt_dag.py: parses cleanly, fast, with the promised shape.

Parsing happens in a fresh subprocess with no MEDALLION_* / AIRFLOW* variables (the DAG must
not need any), a throwaway HOME/AIRFLOW_HOME, and a secrets backend that records every
Connection/Variable lookup, so "parsing touches no Connection or Variable" is observed, not
assumed. The subprocess reports the DAG's structure as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from medallion.config import RetryPolicy, Settings
from medallion.dag import gate_scope, retry_schedule
from medallion.errors import ConfigError
from tests.dags.dag_support import REPO, clean_env

DAG_FILE = REPO / "airflow" / "dags" / "dbt_dag.py"
LAYERS = ("bronze", "silver", "gold")

_PROBE = r"""
import json, sys, time
import airflow.sdk  # loaded once by every DAG processor; not part of the DAG file's cost
import recording_backend
from airflow.dag_processing.dagbag import DagBag

dag_file = sys.argv[1]
started = time.perf_counter()
bag = DagBag(dag_folder=dag_file)
parse_s = time.perf_counter() - started
# A second, timed import of just the file, as the processor re-parses it.
import importlib.util
spec = importlib.util.spec_from_file_location("dbt_dag_probe", dag_file)
module = importlib.util.module_from_spec(spec)
started = time.perf_counter()
spec.loader.exec_module(module)
import_s = time.perf_counter() - started
dag = bag.dags.get("dbt_transform")
out = {"errors": {k: str(v) for k, v in bag.import_errors.items()}, "parse_s": parse_s,
       "import_s": import_s, "lookups": recording_backend.LOOKUPS,
       "dbt_imported": any(m == "dbt" or m.startswith("dbt.") for m in sys.modules)}
if dag is not None:
    def td(v):
        return None if v is None else v.total_seconds()
    out["dag"] = {
        "dag_id": dag.dag_id, "tags": sorted(dag.tags), "schedule": str(dag.schedule),
        "start_date": dag.start_date.isoformat(), "catchup": dag.catchup,
        "max_active_runs": dag.max_active_runs, "dagrun_timeout": td(dag.dagrun_timeout),
        "doc_md": dag.doc_md or "", "params": {k: dag.params[k] for k in dag.params},
        "deadline": [
            {"reference": type(d.reference).__name__, "interval": td(d.interval),
             "callback": d.callback.path, "callback_type": type(d.callback).__name__}
            for d in (dag.deadline or [])
        ],
        "task_group_ids": sorted(
            g for g, child in dag.task_group.children.items() if hasattr(child, "children")
        ),
        "tasks": {
            t.task_id: {
                "owner": t.owner, "retries": t.retries, "retry_delay": td(t.retry_delay),
                "backoff": t.retry_exponential_backoff, "max_retry_delay": td(t.max_retry_delay),
                "execution_timeout": td(t.execution_timeout), "doc_md": t.doc_md or "",
                "upstream": sorted(t.upstream_task_ids), "downstream": sorted(t.downstream_task_ids),
                "on_failure": [f"{c.__module__}.{c.__name__}" for c in t.on_failure_callback],
                "on_retry": [f"{c.__module__}.{c.__name__}" for c in t.on_retry_callback],
                "on_success": [f"{c.__module__}.{c.__name__}" for c in t.on_success_callback],
                "is_teardown": t.is_teardown, "outlets": sorted(a.name for a in t.outlets),
            }
            for t in dag.tasks
        },
    }
print("PROBE" + json.dumps(out, default=str))
"""

_BACKEND = '''
from airflow.secrets import BaseSecretsBackend

LOOKUPS = []


class RecordingBackend(BaseSecretsBackend):
    """Records every lookup; answers nothing, so Airflow falls through as usual."""

    def get_conn_value(self, conn_id):
        LOOKUPS.append(("connection", conn_id))
        return None

    def get_variable(self, key):
        LOOKUPS.append(("variable", key))
        return None
'''


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("dagbag")
    (work / "recording_backend.py").write_text(_BACKEND)
    env = clean_env()
    env.update(
        {
            "HOME": str(work),
            "PYTHONPATH": os.pathsep.join([str(work), env.get("PYTHONPATH", "")]).rstrip(
                os.pathsep
            ),
            # the one setting the probe itself needs: a place for Airflow's own files
            "AIRFLOW_HOME": str(work / "airflow"),
            "AIRFLOW__SECRETS__BACKEND": "recording_backend.RecordingBackend",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        }
    )
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, str(DAG_FILE)],
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = next((x for x in proc.stdout.splitlines() if x.startswith("PROBE")), None)
    assert line, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(line[len("PROBE") :])


def test_parses_without_errors_env_or_lookups(parsed: dict) -> None:
    assert parsed["errors"] == {}
    assert "dag" in parsed
    assert parsed["lookups"] == []  # no Connection / Variable touched at parse time
    assert parsed["dbt_imported"] is False  # dbt is imported by tasks, never by the parser


def test_dag_settings(parsed: dict) -> None:
    dag = parsed["dag"]
    assert dag["dag_id"] == "dbt_transform"
    assert dag["tags"] == ["adventureworks", "dbt", "medallion"]
    assert dag["schedule"] == "@hourly"
    assert dag["start_date"] == "2024-01-01T00:00:00+00:00"
    assert dag["catchup"] is False
    assert dag["max_active_runs"] == 1
    assert dag["dagrun_timeout"] == 2 * 3600
    assert "bronze" in dag["doc_md"] and "How to operate" in dag["doc_md"]
    assert dag["params"] == {"full_refresh": False, "full_check": False}


def test_deadline_alert_is_configured(parsed: dict) -> None:
    assert parsed["dag"]["deadline"] == [
        {
            "reference": "DagRunQueuedAtDeadline",
            "interval": 3600.0,
            "callback": "medallion.callbacks.dag_run_deadline_missed",
            "callback_type": "AsyncCallback",
        }
    ]


def test_task_ids_groups_and_edges(parsed: dict) -> None:
    tasks = parsed["dag"]["tasks"]
    assert parsed["dag"]["task_group_ids"] == sorted(LAYERS)
    dbt_tasks = [f"{layer}.dbt_{step}_{layer}" for layer in LAYERS for step in ("run", "test")]
    publish_tasks = [f"{layer}.publish_{layer}" for layer in LAYERS]
    assert sorted(tasks) == sorted([*dbt_tasks, *publish_tasks, "record_run"])
    # write-audit-publish: run >> test >> publish in every group; the next layer starts from
    # the published one
    expected_up = {
        "bronze.dbt_run_bronze": [],
        "bronze.dbt_test_bronze": ["bronze.dbt_run_bronze"],
        "bronze.publish_bronze": ["bronze.dbt_test_bronze"],
        "silver.dbt_run_silver": ["bronze.publish_bronze"],
        "silver.dbt_test_silver": ["silver.dbt_run_silver"],
        "silver.publish_silver": ["silver.dbt_test_silver"],
        "gold.dbt_run_gold": ["silver.publish_silver"],
        "gold.dbt_test_gold": ["gold.dbt_run_gold"],
        "gold.publish_gold": ["gold.dbt_test_gold"],
        "record_run": sorted(publish_tasks),
    }
    assert {t: v["upstream"] for t, v in tasks.items()} == expected_up
    assert tasks["gold.publish_gold"]["downstream"] == ["record_run"]


def test_record_task_is_a_teardown_and_gold_declares_its_assets(parsed: dict) -> None:
    tasks = parsed["dag"]["tasks"]
    # a teardown always runs but never decides the run's state
    assert [t for t, v in tasks.items() if v["is_teardown"]] == ["record_run"]
    # gold's Assets change when consumers can read the new gold: after its publish
    assert tasks["gold.publish_gold"]["outlets"] == sorted(
        ["gold.fct_sales_daily", "gold.fct_product_sales", "gold.dim_customer_value"]
    )
    assert all(not v["outlets"] for t, v in tasks.items() if t != "gold.publish_gold")


def test_every_task_has_retries_docs_timeout_and_callbacks(parsed: dict) -> None:
    for task_id, task in parsed["dag"]["tasks"].items():
        assert task["owner"] == "data-platform", task_id
        assert task["retries"] == 2, task_id
        assert task["retry_delay"] == 300, task_id
        assert task["backoff"] == 2.0, task_id  # a multiplier in Airflow 3; True would be x1
        assert task["max_retry_delay"] == 1800, task_id
        assert task["execution_timeout"] == 1800, task_id
        assert task_id.split(".")[-1] in task["doc_md"], task_id
        assert task["on_failure"] == ["medallion.callbacks.task_failed"]
        assert task["on_retry"] == ["medallion.callbacks.task_retrying"]
        assert task["on_success"] == ["medallion.callbacks.task_succeeded"]


def test_backoff_intent_is_5_10_20_minutes_capped_at_30() -> None:
    policy = RetryPolicy(retries=4)
    assert retry_schedule(policy) == [timedelta(minutes=m) for m in (5, 10, 20, 30)]
    assert retry_schedule(RetryPolicy()) == [timedelta(minutes=5), timedelta(minutes=10)]
    assert retry_schedule(RetryPolicy(backoff=False, retries=3)) == [timedelta(minutes=5)] * 3


def test_dag_file_stays_thin() -> None:
    code = Path(DAG_FILE).read_text()
    assert "build_dag()" in code and len(code.splitlines()) < 20
    assert not (REPO / "airflow" / "__init__.py").exists()


@pytest.mark.parametrize(
    ("params", "run_type", "hour", "env", "scope"),
    [
        ({}, "scheduled", 5, {}, "batch"),
        ({}, "scheduled", 0, {}, "full"),  # the daily full check, 00:00 UTC by default
        ({}, "manual", 0, {}, "batch"),  # a manual trigger checks what it asks for
        ({"full_check": True}, "manual", 5, {}, "full"),
        ({"full_refresh": True}, "scheduled", 5, {}, "full"),
        ({}, "scheduled", 6, {"MEDALLION_FULL_CHECK_HOURS": "6, 18"}, "full"),
        ({}, "scheduled", 0, {"MEDALLION_FULL_CHECK_HOURS": ""}, "batch"),  # never
    ],
)
def test_gate_scope_is_the_batch_except_full_refresh_and_the_full_checks(
    params: dict, run_type: str, hour: int, env: dict, scope: str
) -> None:
    class Run:
        data_interval_end = datetime(2026, 12, 6, hour, 0, tzinfo=UTC)

    Run.run_type = run_type
    assert gate_scope(Settings.from_env(env), params, Run()) == scope


@pytest.mark.parametrize("value", ["24", "noon", "-1"])
def test_full_check_hours_must_be_hours(value: str) -> None:
    with pytest.raises(ConfigError, match=f"MEDALLION_FULL_CHECK_HOURS={value!r}"):
        Settings.from_env({"MEDALLION_FULL_CHECK_HOURS": value})
