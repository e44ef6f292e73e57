"""What the benchmark measures, shared by the harness and the report: the cases, the
profile segments, the results schema (results.schema.json beside this file, the one copy).

Light to import: the floor DAG reads its id from here at parse time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from medallion.errors import MedallionError

SCHEMA_FILE = Path(__file__).with_name("results.schema.json")

SCHEMA_VERSION = 1
COSMOS_VERSION = "1.15.1"  # newest release; supports Airflow 3 (>= 1.10) and dbt-core 1.11
COSMOS_DAG_ID = "cosmos_dbt_transform"
COSMOS_WATCHER_DAG_ID = "cosmos_dbt_transform_watcher"
FLOOR_DAG_ID = "medallion_airflow_floor"
DEFAULT_SCALES = (1.0, 10.0)
SF30 = 30.0
SF100 = 100.0
# Scales that check the pipeline's own cost and memory at size: no cosmos, no scheduler there
LARGE_SCALES = frozenset({SF30, SF100})
RUN_TIMEOUT_S = 3 * 3600

CASES: dict[str, str] = {
    "dbt_build": "bare `dbt build` of the whole project (the venv's dbt CLI): the floor",
    "airflow_floor": "a DAG of our DAG's shape (same task groups, tasks and teardown) whose "
    "tasks do nothing, end to end: `airflow dags test`. What Airflow alone costs per run",
    "our_dag": "this project's DAG end to end: `airflow dags test dbt_transform`",
    "cosmos_dag": "astronomer-cosmos DbtDag (ExecutionMode.LOCAL, default test behaviour "
    "AFTER_EACH; tests with several parents detached, write-audit-publish off) end to end: "
    "`airflow dags test`",
    "parse_ours": "DagBag import of airflow/dags/dbt_dag.py in a fresh interpreter",
    "parse_cosmos": "DagBag import of the cosmos DAG file in a fresh interpreter "
    "(cosmos defaults: dbt ls output cached in an Airflow Variable)",
    "parse_cosmos_nocache": "the same with cosmos' dbt ls cache off "
    "(what every change of the dbt project costs)",
    "incremental_hour": "one appended hour, then our DAG (incremental models)",
    "full_refresh": "one appended hour, then our DAG with conf full_refresh=true",
    "sched_floor": "the floor DAG triggered through the REST API of a running Airflow "
    "(api-server, scheduler with medallion.executors.LocalExecutor, dag-processor, "
    "triggerer): from queued to finished, as Airflow recorded them",
    "sched_our_dag": "this project's DAG the same way: each task process is forked from an "
    "executor worker that has dbt imported and the project parsed",
    "sched_our_dag_stock": "this project's DAG under Airflow's stock LocalExecutor: each task "
    "process imports dbt and loads the manifest itself",
    "sched_cosmos_local": "cosmos as in `cosmos_dag` (ExecutionMode.LOCAL), triggered in an "
    "Airflow of its own run from its virtualenv (stock LocalExecutor), one task at a time: "
    "DuckDB admits one writing process",
    "sched_cosmos_watcher": "cosmos ExecutionMode.WATCHER in the same Airflow: one `dbt build` "
    "in a producer task, one deferrable sensor per model (in the triggerer)",
    "celery_floor": "the floor DAG on the Celery deployment of docs/DEPLOYMENT.md (PostgreSQL, "
    "Redis, two workers preloading dbt): from queued to finished",
    "celery_our_dag": "this project's DAG on the same Celery deployment",
}
COSMOS_CASES = frozenset(
    {"cosmos_dag", "parse_cosmos", "parse_cosmos_nocache", "sched_cosmos_local",
     "sched_cosmos_watcher"}
)  # fmt: skip
DAG_CASES = ("dbt_build", "airflow_floor", "our_dag", "cosmos_dag")
PARSE_CASES = ("parse_ours", "parse_cosmos", "parse_cosmos_nocache")
HOURLY_CASES = ("incremental_hour", "full_refresh")
# Triggered in a running Airflow; grouped by the deployment they need, started once per bench.
SCHED_STACKS: dict[str, tuple[str, ...]] = {
    "local": ("sched_floor", "sched_our_dag"),
    "stock": ("sched_our_dag_stock",),
    "cosmos": ("sched_cosmos_local", "sched_cosmos_watcher"),
    "celery": ("celery_floor", "celery_our_dag"),
}
SCHED_CASES = tuple(c for cases in SCHED_STACKS.values() for c in cases)
# `medallion bench` runs the rest by default; `medallion bench --scheduler` runs these beside
# dbt_build, into results of their own (one docs page shows both): each suite is long enough
# on 2 cores.
DEFAULT_SUITE = tuple(c for c in CASES if c not in SCHED_CASES)
# `medallion bench --sf100`: what an appended hour costs as the history grows, at SF 1, 10
# and 100 in one run, into results of its own. Our DAG builds the warehouse the hourly pair
# starts from; the floor DAG says how much of an hour is Airflow's.
HOURLY_SUITE = ("airflow_floor", "our_dag", *HOURLY_CASES)
# Run once whatever --repeat says: ~105 task processes, one at a time, in every run; its
# target's margin is reported with the single run.
SINGLE_RUN_CASES = frozenset({"sched_cosmos_local"})

# The partition of one DAG run's wall time (see profile_dag_run); order = timeline order.
PROFILE_SEGMENTS: dict[str, str] = {
    "airflow_startup": "`airflow dags test` start-up: interpreter, Airflow import, DAG parse, "
    "DAG run creation (process start to first task start)",
    "task_startup": "Airflow task start-up: task runner and Execution API, importing dbt "
    "(task start to its first dbt invocation)",
    "dbt_parse": "dbt parse / manifest load (invocation start to dbt's 'Found N models')",
    "dbt_startup": "dbt start-up after parse: adapter, warehouse connection, schemas, cache "
    "('Found N models' to the first node)",
    "sql_execution": "SQL execution: first node start to last node end (models and tests)",
    "dbt_finish": "dbt finish: writing artifacts, closing (last node end to end of invocation)",
    "task_finish": "task finish: XCom push, callbacks, state update, gaps between invocations",
    "non_dbt_tasks": "tasks that run no dbt (record_run writing the ops tables; publish_bronze)",
    "between_tasks": "between tasks (dags test scheduling the next task)",
    "airflow_shutdown": "after the last task: run state, process exit",
}


def results_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def validate_results(results: Mapping[str, Any]) -> None:
    """Check results against results.schema.json; raise MedallionError naming the first problem."""
    import jsonschema

    try:
        jsonschema.validate(results, results_schema())
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        raise MedallionError(
            f"bench results do not match the schema at {where}: {exc.message}"
        ) from None
