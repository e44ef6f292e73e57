"""Every name the pipeline's parts share, defined once: the DAG, its layers, steps and task
ids, and the GitHub workflow's step names that mirror them.

Cheap to import (no Airflow, no dbt): the CLI's ``--help`` and the DAG file both read it.
"""

from __future__ import annotations

DAG_ID = "dbt_transform"
LAYERS = ("bronze", "silver", "gold")
# Per layer, in order: build the candidate, test it, make it visible to consumers.
STEPS = ("run", "test", "publish")
RECORD_TASK = "record_run"
# The gold contract (dbt/models/gold/<domain>/) as consumers query it; the publish task's
# Airflow Assets are named by them. Adding a gold mart adds its relation here.
GOLD_RELATIONS = ("gold.fct_sales_daily", "gold.fct_product_sales", "gold.dim_customer_value")
# Where silver's candidate is built and tested before publish (dbt_project.yml, var
# audit_schemas): its quarantine there is what a failed gate saw.
SILVER_CANDIDATE_SCHEMA = "silver_audit"


def task_name(layer: str, step: str) -> str:
    """The task id inside the layer's TaskGroup: dbt_run_silver, dbt_test_silver, publish_silver."""
    return f"publish_{layer}" if step == "publish" else f"dbt_{step}_{layer}"


def task_id(layer: str, step: str) -> str:
    """The full task id Airflow records: silver.dbt_run_silver."""
    return f"{layer}.{task_name(layer, step)}"


def layer_step(name: str) -> tuple[str, str] | None:
    """(layer, step) of a layer task id (with or without its group prefix) or of a workflow
    step name (`workflow_step`); None for anything else."""
    short = name.rsplit(".", 1)[-1]
    for layer in LAYERS:
        for step in STEPS:
            if short == task_name(layer, step) or name == workflow_step(layer, step):
                return layer, step
    return None


def workflow_step(layer: str, step: str) -> str:
    """The step name in .github/workflows/pipeline.yml ('silver test'); its id uses '_'."""
    return f"{layer} {step}"


# The first line of the data-diff Markdown (`medallion diff`): finds the pull-request comment
# that later pushes update (`python -m medallion.ci pr-comment`).
DIFF_COMMENT_MARKER = "<!-- medallion-diff -->"
