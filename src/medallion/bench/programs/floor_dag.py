"""Airflow DAG medallion_airflow_floor: our DAG's shape (medallion.dag.build_dag: the same task
groups, tasks and teardown) with tasks that return at once. What `airflow dags test` costs
before any work: interpreter, Airflow import, DAG sync, run creation, in-process Execution
API, the task runs, run state, exit. Copied into the benchmark's own dags folder.
"""

from datetime import UTC, datetime
from itertools import pairwise

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, TaskGroup

from medallion.bench.cases import FLOOR_DAG_ID
from medallion.names import LAYERS, RECORD_TASK, STEPS, task_name


def nothing() -> None:
    return None


with DAG(
    FLOOR_DAG_ID, schedule=None, start_date=datetime(2024, 1, 1, tzinfo=UTC), catchup=False
) as dag:
    groups = []
    for layer in LAYERS:
        with TaskGroup(group_id=layer) as group:
            steps = [
                PythonOperator(task_id=task_name(layer, step), python_callable=nothing)
                for step in STEPS
            ]
            for upstream, downstream in pairwise(steps):
                upstream >> downstream
        if groups:
            groups[-1] >> group
        groups.append(group)
    groups >> PythonOperator(task_id=RECORD_TASK, python_callable=nothing).as_teardown()
