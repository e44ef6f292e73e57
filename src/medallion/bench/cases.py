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
FLOOR_DAG_ID = "medallion_airflow_floor"
DEFAULT_SCALES = (1.0, 10.0)
SF30 = 30.0
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
}
COSMOS_CASES = frozenset({"cosmos_dag", "parse_cosmos", "parse_cosmos_nocache"})
DAG_CASES = ("dbt_build", "airflow_floor", "our_dag", "cosmos_dag")
PARSE_CASES = ("parse_ours", "parse_cosmos", "parse_cosmos_nocache")
HOURLY_CASES = ("incremental_hour", "full_refresh")

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
