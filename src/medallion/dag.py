"""# dbt_transform: the medallion pipeline, bronze -> silver -> gold, every hour

```
 raw schemas (sales, production, person; loaded by `medallion load`)
      |
 [bronze]  dbt_run_bronze >> dbt_test_bronze >> publish_bronze   typed views over the sources
      |                                          + source freshness on _loaded_at
 [silver]  dbt_run_silver >> dbt_test_silver >> publish_silver   conformed entities;
      |                                                            bad rows -> *_quarantine
 [gold]    dbt_run_gold   >> dbt_test_gold   >> publish_gold     fct_sales_daily, fct_product_sales,
                                                  dim_customer_value (the published contract)
```

**Write-audit-publish.** `dbt_run_<layer>` builds silver and gold into audit schemas
(`silver_audit`, `gold_audit`), `dbt_test_<layer>` tests them there, and only then
`publish_<layer>` makes the candidate visible in `silver` / `gold` in one transaction (the
orders, lines and gold groups that changed; small dimensions whole). A failed test leaves the
published relations exactly as the last good run left them, and the candidate inspectable in
the audit schema. Gold is built from published silver. Bronze is views over raw: its publish
task runs nothing.

**Layers and materializations** are defined in `dbt/dbt_project.yml` (set once per folder);
every model is tagged with its layer, and each task selects `tag:<layer>`.

**Quality gates.** `dbt_test_<layer>` runs the layer's tests
(`--indirect-selection buildable`: a relationship test runs once both ends are built).
Bronze: primary keys, foreign keys, types, no future dates, source freshness.
Silver: business rules (positive quantities and prices, discount range, line totals,
ship >= order date, accepted statuses). Gold: keys, grain, relationships, and totals that
reconcile to the cent with silver. A failing test fails its task at once (no retry: data
does not fix itself) and every later layer is `upstream_failed`: consumers keep the last good
gold.

**Errors and retries.** Infrastructure failures (warehouse locked, connection lost, dbt
crash) are retried: 2 retries, 5 min then 10 min (exponential, x2, capped at 30 min), each
try limited to 30 min. A retry re-runs only the nodes the failed try left failed or skipped,
planned from that try's results in Airflow object storage (`MEDALLION_STATE_URL`; XComs are
cleared when a try starts). Failures that waiting cannot fix fail at once: a missing
source table or column (`SourceStructureError`), a compile error or a relation a model reads
that does not exist (`DbtProjectError`), a bad setting. The CLI and the GitHub workflows use
the same classes (exit 1 data, 2 permanent, 75 transient; `medallion.errors`). Every dbt task holds the warehouse's pipeline lock
(`medallion.lock`). Alerts go to the log and to every configured channel (Slack, email,
JSON webhook): failure with the failing dbt nodes and next steps, retry notices,
"recovered after n tries", per-task SLA (20 min) misses, and a DAG-run deadline (run not
finished 1 h after it was queued). The run itself times out after 2 h.

**How to operate it.**
- Trigger with `{"full_refresh": true}` to rebuild incremental models from scratch.
- The quality gates read the batch (what changed since each layer last published); trigger
  with `{"full_check": true}` to test every row, as the scheduled run at
  `MEDALLION_FULL_CHECK_HOURS` (00:00 UTC) does (docs/DATA_QUALITY.md).
- Reproduce one task locally: `medallion layer run|test|publish <layer>`; artifacts of every try
  (run_results.json, dbt.log) are under `$MEDALLION_ARTIFACTS_DIR/dbt_transform/<run>/<task>/try_<n>/`.
- Each task pushes a compact JSON summary of its dbt nodes to XCom key `dbt_summary`.
- All timings come from `MEDALLION_*` settings (docs/CONFIGURATION.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from medallion.config import RetryPolicy, Settings
from medallion.names import DAG_ID, LAYERS, RECORD_TASK, STEPS, task_name

if TYPE_CHECKING:
    from airflow.sdk import DAG

OWNER = "data-platform"
TAGS = ["medallion", "dbt", "adventureworks"]
START_DATE = datetime(2024, 1, 1, tzinfo=UTC)
SCHEDULE = "@hourly"
# Airflow 3 treats retry_exponential_backoff as a multiplier (True would mean x1, no backoff).
BACKOFF_MULTIPLIER = 2.0

_LAYER_DOCS = {
    "bronze": "typed, renamed 1:1 copies of the raw source tables, with load metadata",
    "silver": "conformed entities (orders, lines, customers, products, territories); rows "
    "breaking a row-level rule go to `silver.*_quarantine`",
    "gold": "the published marts `gold.fct_sales_daily`, `gold.fct_product_sales`, "
    "`gold.dim_customer_value`",
}


RECORD_DOC = (
    "### record_run\nWrites this run and every dbt node of it into the warehouse's `ops` "
    "schema (`ops.pipeline_runs`, `ops.task_runs`, `ops.node_runs`, `ops.relation_rows`, "
    "`ops.quarantine_reasons`) from the tasks' XCom summaries, on success and on failure: "
    "a teardown, so it runs whatever happened and never changes the run's state.\n\n"
    "`medallion report --run-id <run id>` turns a recorded run into an HTML report."
)


def retry_schedule(policy: RetryPolicy) -> list[timedelta]:
    """Minimum wait before each retry: the 5 -> 10 -> 20 min intent, capped at the maximum.

    Airflow computes ``retry_delay * multiplier ** (try_number - 1)`` and adds a deterministic
    jitter of up to that much again, then caps the result at ``max_retry_delay``.
    """
    multiplier = BACKOFF_MULTIPLIER if policy.backoff else 1.0
    return [
        timedelta(seconds=min(policy.retry_delay_s * multiplier**n, policy.max_retry_delay_s))
        for n in range(policy.retries)
    ]


def default_args(policy: RetryPolicy) -> dict[str, Any]:
    """Task defaults: retries, backoff, timeouts and the alerting callbacks."""
    from medallion import callbacks

    return {
        "owner": OWNER,
        "retries": policy.retries,
        "retry_delay": timedelta(seconds=policy.retry_delay_s),
        "retry_exponential_backoff": BACKOFF_MULTIPLIER if policy.backoff else 0,
        "max_retry_delay": timedelta(seconds=policy.max_retry_delay_s),
        "execution_timeout": timedelta(seconds=policy.execution_timeout_s),
        "on_failure_callback": callbacks.task_failed,
        "on_retry_callback": callbacks.task_retrying,
        "on_success_callback": callbacks.task_succeeded,
    }


def task_doc(step: str, layer: str) -> str:
    if step == "run":
        return (
            f"### dbt_run_{layer}\n`dbt run --select tag:{layer}`: builds the {layer} layer - "
            f"{_LAYER_DOCS[layer]}.\n\nRetried on infrastructure errors (lock, connection, "
            f"crash). `full_refresh` param adds `--full-refresh`.\n\nReproduce: "
            f"`medallion layer run {layer}`."
        )
    if step == "publish":
        if layer == "bronze":
            return (
                "### publish_bronze\nNothing to publish: bronze is views over the raw tables, "
                "built where consumers read them. The task keeps every layer's shape "
                "run >> test >> publish.\n\nReproduce: `medallion layer publish bronze`."
            )
        return (
            f"### publish_{layer}\n`dbt run-operation publish_layer --args "
            f"'{{layer: {layer}}}'`: makes the {layer} candidate that passed "
            f"`dbt_test_{layer}` visible, copying from `{layer}_audit` into `{layer}` in one "
            f"transaction the rows that changed since the last publish (everything on the "
            f"first publish or with `full_refresh`). Runs only after the tests passed; a "
            f"retry re-publishes nothing already published.\n\nReproduce: "
            f"`medallion layer publish {layer}`."
        )
    extra = " Also runs `dbt source freshness` on the raw sources." if layer == "bronze" else ""
    return (
        f"### dbt_test_{layer}\n`dbt test --select tag:{layer} --indirect-selection buildable`"
        f": the {layer} quality gate, on the rows changed since the last publish (with "
        f"`--vars '{{gate_scope: batch}}'`; every row with `full_check`, `full_refresh` and "
        f"at `MEDALLION_FULL_CHECK_HOURS`).{extra}\n\nA failing test fails this task without retry "
        f"and blocks every later layer; the alert lists the failing tests and their failing "
        f"row counts.\n\nReproduce: `medallion layer test {layer}`."
    )


def gate_scope(settings: Settings, params: Mapping[str, Any], dag_run: Any) -> str:
    """What this run's quality gates read: ``full`` (every row) with ``full_refresh`` or
    ``full_check``, and for a scheduled run whose interval ends at one of
    ``MEDALLION_FULL_CHECK_HOURS`` (UTC; the periodic full check, daily at 00:00 by default);
    else ``batch``, what changed since each layer's last publish."""
    if params.get("full_refresh") or params.get("full_check"):
        return "full"
    run_type = str(getattr(dag_run, "run_type", "") or "").lower()
    ends = getattr(dag_run, "data_interval_end", None)
    if run_type.endswith("scheduled") and ends is not None:
        if ends.astimezone(UTC).hour in settings.full_check_hours:
            return "full"
    return "batch"


def dbt_step_task(layer: str, step: str, **context: Any) -> None:
    """Task callable: run one layer step through the runner, push its summary to XCom.

    Only a :class:`~medallion.errors.TransientError` stays retriable; every other failure
    (data quality, project, configuration) becomes ``AirflowFailException`` (fail now). The summary goes to XCom key ``dbt_summary`` on every try,
    failed or not, so the report and ops tasks never need this worker's disk.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from medallion import dbt, try_state
    from medallion.errors import MedallionError, TransientError
    from medallion.lock import pipeline_lock

    ti = context["ti"]
    params = context.get("params") or {}
    settings = Settings.from_env()
    scope = gate_scope(settings, params, context.get("dag_run"))
    artifacts = dbt.task_artifacts_dir(settings, ti.dag_id, ti.run_id, ti.task_id, ti.try_number)
    key = try_state.TryKey.of(ti)
    try:
        with pipeline_lock(settings, owner=f"{ti.dag_id}.{ti.task_id} {ti.run_id}"):
            result = dbt.run_step(
                settings, step, layer, artifacts=artifacts,
                full_refresh=bool(params.get("full_refresh", False)), gate_scope=scope,
                previous=try_state.previous_try(settings, key), previous_try=key.try_number - 1,
                on_progress=try_state.progress_recorder(settings, key),
            )  # fmt: skip
    except MedallionError as exc:
        result = getattr(exc, "result", None)
        final = not isinstance(exc, TransientError)
        if result is not None:
            ti.xcom_push(key=dbt.SUMMARY_XCOM_KEY, value=result.to_dict())
            will_retry = not final and ti.try_number <= (getattr(ti, "max_tries", 0) or 0)
            try_state.save_try(settings, key, result, expects_retry=will_retry)
        if final:
            raise AirflowFailException(str(exc)) from exc
        raise
    ti.xcom_push(key=dbt.SUMMARY_XCOM_KEY, value=result.to_dict())
    try_state.save_try(settings, key, result, expects_retry=False)


def build_dag(settings: Settings | None = None) -> DAG:
    """The ``dbt_transform`` DAG. Cheap: no dbt import, no database, no Variable/Connection."""
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import (
        DAG,
        AsyncCallback,
        DeadlineAlert,
        DeadlineReference,
        Param,
        TaskGroup,
    )

    from medallion import callbacks, retention
    from medallion.assets import gold_assets

    settings = settings or Settings.from_env()
    policy = settings.retry
    with DAG(
        dag_id=DAG_ID,
        description="dbt medallion pipeline over AdventureWorks: bronze -> silver -> gold",
        doc_md=__doc__,
        schedule=SCHEDULE,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        dagrun_timeout=timedelta(seconds=policy.dagrun_timeout_s),
        default_args=default_args(policy),
        tags=TAGS,
        params={
            "full_refresh": Param(
                False, type="boolean", description="Rebuild incremental models from scratch."
            ),
            "full_check": Param(
                False,
                type="boolean",
                description="Quality gates read every row, not just the batch (as the "
                "scheduled runs at MEDALLION_FULL_CHECK_HOURS do).",
            ),
        },
        deadline=DeadlineAlert(
            reference=DeadlineReference.DAGRUN_QUEUED_AT,
            interval=timedelta(seconds=policy.dagrun_deadline_s),
            callback=AsyncCallback(callbacks.dag_run_deadline_missed),
        )
        if policy.dagrun_deadline_s > 0
        else None,
    ) as dag:
        groups = []
        for layer in LAYERS:
            with TaskGroup(group_id=layer, tooltip=_LAYER_DOCS[layer]) as group:
                # gold's Assets are updated only once gold passed its tests and consumers
                # can read it
                assets = gold_assets(settings) if layer == "gold" else []
                run, test, publish = (
                    PythonOperator(
                        task_id=task_name(layer, step),
                        python_callable=dbt_step_task,
                        op_kwargs={"layer": layer, "step": step},
                        doc_md=task_doc(step, layer),
                        outlets=assets if step == "publish" else [],
                    )
                    for step in STEPS
                )
                run >> test >> publish
            if groups:
                groups[-1] >> group
            groups.append(group)
        # A teardown, not an all_done leaf: it always runs, yet the run's state still comes
        # from the dbt tasks (a succeeding leaf would turn a failed run green).
        record_run = PythonOperator(
            task_id=RECORD_TASK, python_callable=retention.record_task, doc_md=RECORD_DOC
        )
        groups >> record_run.as_teardown()
    return dag
