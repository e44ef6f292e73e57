"""The one place that builds dbt command lines, invokes dbt and reads what it wrote.

dbt runs in-process through ``dbt.cli.main.dbtRunner`` in the worker's own environment:
no interpreter start-up and no re-import of dbt per task, and a manifest parsed once per
process is handed to every later invocation (under ``airflow dags test`` all tasks share one
process, so parse cost is paid once per run). Where each task runs in its own process
(a real scheduler), :func:`preload` lets the executor parse once for the task processes it
forks (see :mod:`medallion.executors`); otherwise a shared ``partial_parse.msgpack`` seeded
into every task's target directory keeps parsing incremental.

Every invocation writes its artifacts to its own directory
(``<artifacts>/<dag_id>/<run_id>/<task_id>/try_<n>/``), so retries and parallel runs never
overwrite each other's ``run_results.json``.

Outcomes are classified so the DAG can decide whether a retry can help:
tests that fail on data -> :class:`~medallion.errors.DataQualityError` (never retried);
a project dbt cannot build as it stands (compile error, a relation it reads missing) ->
:class:`~medallion.errors.DbtProjectError` (never retried); dbt unable to finish (lock held,
connection lost, crash) -> :class:`~medallion.errors.WarehouseBusyError` /
:class:`~medallion.errors.DbtInvocationError` (retried). See :mod:`medallion.errors`.
A failed invocation always raises: there is no path to a false green.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medallion.config import Settings
from medallion.errors import (
    ConfigError,
    DataQualityError,
    DbtInvocationError,
    DbtProjectError,
    MedallionError,
    SourceStructureError,
    WarehouseBusyError,
)
from medallion.names import LAYERS, STEPS
from medallion.redact import scrub

if TYPE_CHECKING:
    from dbt.contracts.graph.manifest import Manifest

log = logging.getLogger(__name__)

# Layers built in an audit schema and made visible by the publish step (dbt/macros/publish.sql).
PUBLISHED_LAYERS = ("silver", "gold")
SUMMARY_XCOM_KEY = "dbt_summary"
# Statuses meaning "this node did not do its job". "warn" is a pass with a note.
FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})
_MESSAGE_MAX = 500
_BUSY = re.compile(
    r"could not set lock|conflicting lock|database is locked|lock on file|"
    r"resource temporarily unavailable|deadlock",
    re.I,
)
# A relation or column a model reads does not exist (DuckDB, SQL Server): a schema change.
_STRUCTURAL = re.compile(
    r"Table with name \S+ does not exist|Referenced column \S+ not found|"
    r"Invalid object name|Invalid column name",
    re.I,
)
# dbt cannot build the project as it stands: waiting will not change that.
_PERMANENT = re.compile(
    r"Compilation Error|Parsing Error|Could not find profile|Env var required but not provided|"
    r"Catalog Error|Binder Error|Parser Error|Invalid object name|Invalid column name",
    re.I,
)
_INVOKE_LOCK = threading.Lock()
_MANIFESTS: dict[str, Manifest] = {}


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class NodeResult:
    """One dbt node's outcome, as dbt recorded it in run_results.json / sources.json."""

    unique_id: str
    name: str
    resource_type: str
    status: str
    execution_time_s: float
    rows_affected: int | None = None
    failures: int | None = None
    message: str | None = None

    @property
    def failed(self) -> bool:
        return self.status in FAILED_STATUSES


@dataclass(frozen=True)
class RunSummary:
    """What one dbt invocation did: the typed content of its run_results.json."""

    command: str
    nodes: tuple[NodeResult, ...]
    elapsed_s: float | None = None
    invocation_id: str | None = None
    generated_at: str | None = None
    # False while dbt is still running it (a progress record): ``nodes`` are those finished
    complete: bool = True

    @property
    def failed_nodes(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.failed]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for node in self.nodes:
            counts[node.status] = counts.get(node.status, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "elapsed_s": self.elapsed_s,
            "invocation_id": self.invocation_id,
            "generated_at": self.generated_at,
            "complete": self.complete,
            "counts": self.counts(),
            "nodes": [asdict(n) for n in self.nodes],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSummary:
        return cls(
            command=data.get("command", ""),
            nodes=tuple(NodeResult(**n) for n in data.get("nodes", ())),
            elapsed_s=data.get("elapsed_s"),
            invocation_id=data.get("invocation_id"),
            generated_at=data.get("generated_at"),
            complete=bool(data.get("complete", True)),
        )


def _node_name(unique_id: str) -> tuple[str, str]:
    """(resource_type, name) from a unique_id such as ``test.medallion.not_null_x.3f2a1b``."""
    parts = unique_id.split(".")
    resource_type = parts[0] if parts else "unknown"
    if resource_type == "test" and len(parts) >= 3:
        return resource_type, parts[2]
    return resource_type, ".".join(parts[2:]) or unique_id


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def node_finished(event: Any) -> NodeResult | None:
    """The node result in one of dbt's ``NodeFinished`` events (else None), as it will
    appear in run_results.json, so a try's progress is known before dbt writes that file."""
    if event.info.name != "NodeFinished":
        return None
    unique_id = event.data.node_info.unique_id
    resource_type, name = _node_name(unique_id)
    result = event.data.run_result
    rows = None
    with contextlib.suppress(Exception):
        rows = _int_or_none(result.adapter_response["rows_affected"])
    return NodeResult(
        unique_id=unique_id,
        name=name,
        resource_type=resource_type,
        status=str(result.status),
        execution_time_s=round(float(result.execution_time or 0.0), 3),
        rows_affected=rows,
        failures=_int_or_none(result.num_failures) if resource_type == "test" else None,
        message=scrub(result.message)[:_MESSAGE_MAX] if result.message else None,
    )


def read_run_results(path: str | Path) -> RunSummary:
    """Read dbt's ``run_results.json`` (or ``sources.json`` of ``source freshness``).

    Public on purpose: the run report, the ``ops`` tables and the CI notifier read dbt's
    results through this function, so a change of dbt's artifact schema is handled here once.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DbtInvocationError(f"dbt wrote no results file at {path}") from None
    except json.JSONDecodeError as exc:
        raise DbtInvocationError(f"{path} is not valid JSON ({exc}); was dbt killed?") from None
    metadata = data.get("metadata") or {}
    args = data.get("args") or {}
    nodes = []
    for item in data.get("results") or ():
        unique_id = item.get("unique_id", "")
        resource_type, name = _node_name(unique_id)
        response = item.get("adapter_response") or {}
        message = item.get("message") or item.get("error")
        nodes.append(
            NodeResult(
                unique_id=unique_id,
                name=name,
                resource_type=resource_type,
                status=str(item.get("status", "unknown")),
                execution_time_s=round(float(item.get("execution_time") or 0.0), 3),
                rows_affected=_int_or_none(response.get("rows_affected")),
                failures=_int_or_none(item.get("failures")),
                message=scrub(str(message))[:_MESSAGE_MAX] if message else None,
            )
        )
    command = args.get("which") or ("source freshness" if path.name == "sources.json" else "")
    elapsed = data.get("elapsed_time")
    return RunSummary(
        command=str(command),
        nodes=tuple(nodes),
        elapsed_s=round(float(elapsed), 3) if elapsed is not None else None,
        invocation_id=metadata.get("invocation_id"),
        generated_at=metadata.get("generated_at"),
    )


@dataclass
class StepResult:
    """One DAG task's worth of dbt (``run`` or ``test`` of a layer): what XCom carries."""

    layer: str | None
    step: str
    artifacts: Path
    invocations: list[RunSummary] = field(default_factory=list)
    error: str | None = None
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    duration_s: float = 0.0
    # On an automatic retry: the try whose failed and skipped nodes this one re-ran, and the
    # unique_ids of that try's successful nodes, listed in ``invocations`` but not re-run.
    retry_of: int | None = None
    carried: list[str] = field(default_factory=list)

    @property
    def nodes(self) -> list[NodeResult]:
        return [n for inv in self.invocations for n in inv.nodes]

    @property
    def failed_nodes(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.failed]

    @property
    def success(self) -> bool:
        return self.error is None and not self.failed_nodes

    def to_dict(self) -> dict[str, Any]:
        """Compact, JSON-safe summary; no local paths needed to use it on another worker."""
        return {
            "layer": self.layer,
            "step": self.step,
            "success": self.success,
            "error": self.error,
            "started_at": self.started_at,
            "duration_s": round(self.duration_s, 3),
            "artifacts": str(self.artifacts),
            "retry_of": self.retry_of,
            "carried": list(self.carried),
            "invocations": [inv.to_dict() for inv in self.invocations],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepResult:
        return cls(
            layer=data.get("layer"),
            step=data.get("step", ""),
            artifacts=Path(data.get("artifacts", ".")),
            invocations=[RunSummary.from_dict(i) for i in data.get("invocations", ())],
            error=data.get("error"),
            started_at=data.get("started_at", ""),
            duration_s=float(data.get("duration_s") or 0.0),
            retry_of=data.get("retry_of"),
            carried=list(data.get("carried") or ()),
        )


# --------------------------------------------------------------------------- argv


def dbt_argv(
    command: str,
    settings: Settings,
    *,
    target_path: Path,
    log_path: Path,
    layer: str | None = None,
    select: str | None = None,
    full_refresh: bool = False,
    indirect_selection: str | None = None,
    state: Path | None = None,
    empty: bool = False,
) -> list[str]:
    """The dbt command line for ``command`` (``run``, ``test``, ``build``, ``source freshness``...).

    ``layer`` selects ``tag:<layer>``; ``select`` overrides it. Project, profiles and target
    always come from ``settings`` so the DAG, the CLI and CI run exactly the same thing.
    ``state``: the folder of another revision's manifest, for ``state:modified`` selectors;
    ``empty``: build with zero rows (dbt's ``--empty``), to check that the SQL builds.
    """
    if layer is not None and layer not in LAYERS:
        raise ConfigError(f"unknown layer {layer!r}; expected one of {', '.join(LAYERS)}")
    argv = command.split()
    argv += [
        "--project-dir", str(settings.dbt_project_dir),
        "--profiles-dir", str(settings.dbt_profiles_dir),
        "--target", settings.target,
        "--target-path", str(target_path),
        "--log-path", str(log_path),
    ]  # fmt: skip
    selection = select or (f"tag:{layer}" if layer else None)
    if selection:
        argv += ["--select", selection]
    if full_refresh and argv[0] in ("run", "build", "seed"):
        argv.append("--full-refresh")
    if argv[0] in ("test", "build"):
        # Unit tests check the project's code on fixed rows (`make test`, CI), not the data:
        # the pipeline's runs leave them out.
        argv += ["--exclude-resource-type", "unit_test"]
    if indirect_selection:
        argv += ["--indirect-selection", indirect_selection]
    if state is not None:
        argv += ["--state", str(state)]
    if empty and argv[0] in ("run", "build"):
        argv.append("--empty")
    return argv


# What a layer's tests read: the batch (the hourly path) or everything (dbt's default)
GATE_SCOPES = ("batch", "full")
GATE_SCOPE_DOCS = {
    "batch": "batch (the rows changed since the layer's last publish)",
    "full": "full (every row)",
}


def layer_commands(
    settings: Settings,
    step: str,
    layer: str,
    *,
    target_path: Path,
    log_path: Path,
    full_refresh: bool = False,
    gate_scope: str = "full",
) -> list[list[str]]:
    """What the DAG task ``dbt_<step>_<layer>`` runs; the CLI's ``medallion layer`` runs the same.

    ``test`` uses ``--indirect-selection buildable`` so a relationship test between layers runs
    with the later layer, once both ends exist. Bronze's test step also checks source freshness.
    ``publish`` (write-audit-publish) copies the layer's tested candidate from its audit schema
    into the schema consumers read, in one transaction; bronze is views over raw, built where
    it is read, so its publish step runs nothing. ``gate_scope`` ``batch`` scopes the tests
    to what changed since the layer's last publish (dbt/macros/gate_scope.sql); ``full``
    tests everything.
    """
    if step not in STEPS:
        raise ConfigError(f"unknown step {step!r}; expected one of {', '.join(STEPS)}")
    common = {"target_path": target_path, "log_path": log_path}
    if step == "run":
        return [dbt_argv("run", settings, layer=layer, full_refresh=full_refresh, **common)]
    if step == "publish":
        if layer not in PUBLISHED_LAYERS:
            return []
        args = json.dumps({"layer": layer, "full_refresh": full_refresh})
        return [[*dbt_argv("run-operation publish_layer", settings, **common), "--args", args]]
    if gate_scope not in GATE_SCOPES:
        raise ConfigError(f"unknown gate scope {gate_scope!r}; expected one of {GATE_SCOPES}")
    test = dbt_argv("test", settings, layer=layer, indirect_selection="buildable", **common)
    if gate_scope == "batch":
        test += ["--vars", json.dumps({"gate_scope": "batch"})]
    commands = [test]
    if layer == "bronze":
        commands.append(dbt_argv("source freshness", settings, select="source:*", **common))
    return commands


# --------------------------------------------------------------------------- retries

_REDO_STATUSES = FAILED_STATUSES | {"skipped"}
_SELECTABLE = frozenset({"model", "test", "seed", "snapshot"})


@dataclass(frozen=True)
class PlannedCommand:
    """One dbt invocation of a try, and what a retry must see it do.

    ``expected``: on a retry, the unique_ids dbt must report as run (the previous try's failed
    and skipped nodes); anything missing fails the try rather than pass unbuilt nodes off as
    green. ``carried``: the previous try's nodes that already succeeded and are not re-run.
    An empty ``argv`` means nothing of this command needs re-running.
    """

    argv: list[str]
    expected: frozenset[str] = frozenset()
    carried: tuple[NodeResult, ...] = ()


def _selector(node: NodeResult) -> str:
    """The dbt selector of one node: models and tests by name (unique in a project)."""
    if node.resource_type == "source":
        return "source:" + ".".join(node.unique_id.split(".")[2:])
    return node.name


def plan_commands(
    settings: Settings,
    step: str,
    layer: str,
    *,
    target_path: Path,
    log_path: Path,
    full_refresh: bool = False,
    gate_scope: str = "full",
    previous: StepResult | None = None,
) -> list[PlannedCommand]:
    """The invocations of a layer step; on a retry, only what the failed try left undone.

    The equivalent of ``dbt retry``, computed from the previous try's results (which travel
    through object storage, see :mod:`medallion.try_state`) instead of a run_results.json on
    the local disk: each command the previous try completed re-runs only its failed and
    skipped nodes (``--select <names>``), a command it never reached runs in full, and a
    command with nothing left to do is skipped. A command the try died in (its worker was
    killed: the progress record says it was incomplete) runs again without the nodes that
    had finished well (``--exclude <names>``). When the previous try failed without any
    failed node (dbt crashed, could not connect), everything runs again.
    """
    commands = layer_commands(
        settings, step, layer, target_path=target_path, log_path=log_path,
        full_refresh=full_refresh, gate_scope=gate_scope,
    )  # fmt: skip
    full = [PlannedCommand(argv) for argv in commands]
    if previous is None or previous.success:
        return full
    planned: list[PlannedCommand] = []
    for i, argv in enumerate(commands):
        if i >= len(previous.invocations) or argv[0] == "source" or "--select" not in argv:
            planned.append(PlannedCommand(argv))
            continue
        nodes = previous.invocations[i].nodes
        redo = [n for n in nodes if n.status in _REDO_STATUSES]
        kept = tuple(n for n in nodes if n.status not in _REDO_STATUSES)
        if not previous.invocations[i].complete:
            done = sorted({_selector(n) for n in kept if n.resource_type in _SELECTABLE})
            planned.append(
                PlannedCommand([*argv, "--exclude", " ".join(done)] if done else argv, carried=kept)
            )
            continue
        if not redo:
            planned.append(PlannedCommand([], carried=kept))
            continue
        if any(n.resource_type not in _SELECTABLE for n in redo):  # e.g. a failed hook
            planned.append(PlannedCommand(argv))
            continue
        retry_argv = list(argv)
        retry_argv[retry_argv.index("--select") + 1] = " ".join(
            sorted({_selector(n) for n in redo})
        )
        planned.append(PlannedCommand(retry_argv, frozenset(n.unique_id for n in redo), kept))
    if not any(p.argv for p in planned):
        return full
    return planned


def _check_retry_ran(planned: PlannedCommand, summary: RunSummary) -> None:
    """No false green: a retry must have re-run every node the failed try left undone."""
    if not planned.expected:
        return
    ran = {n.unique_id for n in summary.nodes}
    missing = sorted(planned.expected - ran)
    if missing:
        raise DbtInvocationError(
            f"dbt {planned.argv[0]} was asked to re-run {len(planned.expected)} node(s) of the "
            f"failed try but did not run {', '.join(missing[:10])}; the layer is not built. "
            "The next try rebuilds the whole layer."
        )


# --------------------------------------------------------------------------- paths


def safe_path_part(value: str) -> str:
    """Filesystem-safe form of a run id or task id (``manual__2024-01-01T00:00:00+00:00``)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", value).strip("._")
    return cleaned or "_"


def task_artifacts_dir(
    settings: Settings, dag_id: str, run_id: str, task_id: str, try_number: int
) -> Path:
    """``<artifacts>/<dag_id>/<run_id>/<task_id>/try_<n>/``: dbt's target-path and log-path."""
    return (
        settings.artifacts_dir
        / safe_path_part(dag_id)
        / safe_path_part(run_id)
        / safe_path_part(task_id)
        / f"try_{int(try_number)}"
    )


def adhoc_artifacts_dir(settings: Settings, name: str) -> Path:
    """Artifacts of a run outside Airflow (CLI, CI steps): ``<artifacts>/cli/<utc stamp>/<name>``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return settings.artifacts_dir / "cli" / stamp / safe_path_part(name)


def _partial_parse_cache(settings: Settings) -> Path:
    return settings.artifacts_dir / ".partial_parse" / settings.target / "partial_parse.msgpack"


def _seed_partial_parse(settings: Settings, target_path: Path) -> None:
    cached = _partial_parse_cache(settings)
    if cached.is_file() and not (target_path / cached.name).exists():
        shutil.copy2(cached, target_path / cached.name)


def _keep_partial_parse(settings: Settings, target_path: Path) -> None:
    produced = target_path / "partial_parse.msgpack"
    if not produced.is_file():
        return
    cached = _partial_parse_cache(settings)
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".{os.getpid()}.tmp")
    shutil.copy2(produced, tmp)
    os.replace(tmp, cached)


# --------------------------------------------------------------------------- invocation


@contextlib.contextmanager
def _exported(env: Mapping[str, str]) -> Iterator[None]:
    """Expose ``env`` to dbt's ``env_var()`` for one invocation, then restore the process env."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _dbt_env(settings: Settings) -> dict[str, str]:
    return {
        **settings.dbt_env(),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_USE_COLORS": "false",
    }


def _project_fingerprint(settings: Settings) -> str:
    """Changes whenever a project file or the environment dbt renders into the manifest changes."""
    digest = hashlib.sha256()
    for key, value in sorted(_dbt_env(settings).items()):
        digest.update(f"{key}={value}\n".encode())
    digest.update(f"{settings.dbt_profiles_dir}|{settings.target}\n".encode())
    skip = {"target", "logs", "dbt_packages", ".user.yml"}
    root = settings.dbt_project_dir
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in skip and not d.startswith("."))
        for name in sorted(filenames):
            st = (Path(dirpath) / name).stat()
            digest.update(f"{dirpath}/{name}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    profiles = settings.dbt_profiles_dir / "profiles.yml"
    if profiles.is_file():
        digest.update(str(profiles.stat().st_mtime_ns).encode())
    return digest.hexdigest()


def _classify_text(text: str) -> type[MedallionError]:
    """The failure class of an error text: busy and unknown faults are transient."""
    if _BUSY.search(text or ""):
        return WarehouseBusyError
    if _PERMANENT.search(text or "") or _STRUCTURAL.search(text or ""):
        return DbtProjectError
    return DbtInvocationError


def _release_warehouse() -> None:
    """Close the DuckDB file dbt-duckdb keeps open in this process after an invocation.

    dbt-duckdb caches its database handle at class level; in-process, that would hold the
    warehouse's file lock after the task and block every other process (loader, report,
    the next task's worker) until this one exits.
    """
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # dbt-duckdb not installed: nothing held
        return
    with DuckDBConnectionManager._LOCK:
        env = DuckDBConnectionManager._ENV
        DuckDBConnectionManager._ENV = None
        if env is not None:
            with contextlib.suppress(Exception):
                env.close()


def parsed_manifest(settings: Settings, work_dir: Path) -> Manifest | None:
    """This process's parsed manifest for the project, parsing (partially) when it changed."""
    from dbt.cli.main import dbtRunner

    key = _project_fingerprint(settings)
    if key in _MANIFESTS:
        return _MANIFESTS[key]
    work_dir.mkdir(parents=True, exist_ok=True)
    _seed_partial_parse(settings, work_dir)
    argv = dbt_argv("parse", settings, target_path=work_dir, log_path=work_dir)
    with _exported(_dbt_env(settings)):
        res = dbtRunner().invoke(argv)
    if not res.success or res.result is None:
        detail = scrub(str(res.exception or "dbt parse failed"))
        raise DbtInvocationError(
            f"dbt could not parse the project {settings.dbt_project_dir}: {detail}. "
            f"See {work_dir / 'dbt.log'}."
        )
    _keep_partial_parse(settings, work_dir)
    _MANIFESTS.clear()
    _MANIFESTS[key] = res.result
    return res.result


def preload(settings: Settings) -> None:
    """Import dbt and the target's adapter and parse the project into this process's manifest
    cache, so processes forked from this one start with both (see medallion.executors)."""
    import importlib
    import tempfile

    started = time.monotonic()
    importlib.import_module(f"dbt.adapters.{settings.target}")
    # the manifest is kept in memory and partial_parse.msgpack in the shared cache: the
    # parse's own folder is not needed afterwards
    with _INVOKE_LOCK, tempfile.TemporaryDirectory(prefix="medallion-preload-") as work:
        parsed_manifest(settings, Path(work))
        _release_warehouse()
    log.info("dbt preloaded for forked tasks in %.1fs", time.monotonic() - started)


def invoke(
    argv: Sequence[str],
    settings: Settings,
    *,
    reuse_manifest: bool = True,
    on_node: Callable[[NodeResult], None] | None = None,
) -> RunSummary:
    """Run one dbt command in-process and return its results; raise if dbt could not run.

    ``on_node`` is called with each node's result as soon as dbt finishes it (from dbt's
    worker threads).

    Raises :class:`DbtInvocationError` / :class:`WarehouseBusyError` when dbt produced no
    results (it crashed, could not connect, could not compile). Node-level failures are
    returned, not raised: the caller decides what they mean.
    """
    from dbt.cli.main import dbtRunner

    argv = list(argv)
    if reuse_manifest and "--no-write-json" not in argv:
        # The reused manifest is already on disk (the parse directory): re-serialising it
        # costs ~0.1-0.3 s per invocation. The results file is written below instead.
        argv.append("--no-write-json")
    target_path = Path(argv[argv.index("--target-path") + 1])
    target_path.mkdir(parents=True, exist_ok=True)
    results_file = target_path / (
        "sources.json" if argv[:2] == ["source", "freshness"] else "run_results.json"
    )
    results_file.unlink(missing_ok=True)
    callbacks = []
    if on_node is not None:

        def node_callback(event: Any) -> None:
            node = node_finished(event)
            if node is not None:
                on_node(node)

        callbacks.append(node_callback)
    with _INVOKE_LOCK:
        manifest = None
        if reuse_manifest:
            manifest = parsed_manifest(settings, target_path / "parse")
        else:
            _seed_partial_parse(settings, target_path)
        log.info("dbt %s", " ".join(argv))
        started = time.monotonic()
        with _exported(_dbt_env(settings)):
            try:
                res = dbtRunner(manifest=manifest, callbacks=callbacks).invoke(argv)
            except Exception as exc:  # dbt raised past its own handler
                raise _classify_text(str(exc))(f"dbt {argv[0]} crashed: {scrub(str(exc))}") from exc
            finally:
                _release_warehouse()
        if not reuse_manifest:
            _keep_partial_parse(settings, target_path)
    log.info(
        "dbt %s finished in %.1fs (success=%s)", argv[0], time.monotonic() - started, res.success
    )
    if res.exception is None and not results_file.is_file() and hasattr(res.result, "write"):
        res.result.write(str(results_file))
    if res.exception is not None or not results_file.is_file():
        detail = scrub(str(res.exception or "no results written"))
        raise _classify_text(detail)(
            f"dbt {' '.join(argv[:2] if argv[0] == 'source' else argv[:1])} could not run: "
            f"{detail}. Full log: {target_path / 'dbt.log'}"
        )
    summary = read_run_results(results_file)
    if not res.success and not summary.failed_nodes:
        raise DbtInvocationError(
            f"dbt {argv[0]} reported failure but no failed node; see {target_path / 'dbt.log'}"
        )
    return summary


# --------------------------------------------------------------------------- steps


_SAMPLE_ROWS = 3


def _failing_rows(settings: Settings, sql: str) -> list[dict[str, Any]]:
    """The first rows a failing test returned, read again from the warehouse (DuckDB)."""
    import duckdb

    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        cursor = con.execute(f"select * from ({sql}) as failing limit {_SAMPLE_ROWS}")
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def _compiled_sql(artifacts: Path) -> dict[str, str]:
    """Each node's compiled SQL in the step's run_results.json, read once per step."""
    try:
        data = json.loads((artifacts / "run_results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {
        r["unique_id"]: r["compiled_code"]
        for r in data.get("results") or ()
        if r.get("unique_id") and r.get("compiled_code")
    }


def _compiled_path(artifacts: Path, unique_id: str) -> Path | None:
    """Where dbt wrote a test's compiled SQL under the step's target path."""
    name = unique_id.split(".")[2] if unique_id.count(".") >= 2 else unique_id
    return next(iter(sorted((artifacts / "compiled").rglob(f"{name}.sql"))), None)


def explain_failures(settings: Settings, result: StepResult) -> None:
    """Give each failing test's message its numbers and where to look: the first failing
    rows (DuckDB; each column with its value) and the file with the test's SQL, to run
    against the warehouse for every failing row. Best effort: a failure to explain never
    hides the failure itself."""
    compiled = _compiled_sql(result.artifacts)
    for index, summary in enumerate(result.invocations):
        nodes = []
        for node in summary.nodes:
            if node.resource_type == "test" and node.status == "fail":
                sql = compiled.get(node.unique_id)
                path = _compiled_path(result.artifacts, node.unique_id)
                notes = []
                if sql and settings.target == "duckdb":
                    try:
                        rows = _failing_rows(settings, sql)
                    except Exception as exc:
                        log.warning("could not read the failing rows of %s: %s", node.name, exc)
                        rows = []
                    if rows:
                        shown = "; ".join(
                            ", ".join(f"{k}={v}" for k, v in row.items()) for row in rows
                        )
                        notes.append(f"failing rows: {shown}")
                if path:
                    notes.append(f"all failing rows: run {path}")
                if notes:
                    message = "; ".join([node.message or "", *notes]).strip("; ")
                    node = replace(node, message=scrub(message)[: _MESSAGE_MAX * 2])
            nodes.append(node)
        result.invocations[index] = replace(summary, nodes=tuple(nodes))


def format_summary(result: StepResult) -> str:
    """A per-model / per-test table for the task log."""
    rows = [("type", "node", "status", "time_s", "rows", "failures")]
    for node in result.nodes:
        rows.append(
            (
                node.resource_type,
                node.name,
                node.status,
                f"{node.execution_time_s:.2f}",
                "" if node.rows_affected is None else str(node.rows_affected),
                "" if node.failures is None else str(node.failures),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        f"dbt {result.step} {result.layer or ''}: {len(result.nodes)} nodes, "
        f"{len(result.failed_nodes)} failed, {result.duration_s:.1f}s; artifacts {result.artifacts}"
    ]
    for i, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    for node in result.failed_nodes:
        lines.append(f"FAILED {node.resource_type} {node.name}: {node.message or node.status}")
    return "\n".join(lines)


def _failure_detail(nodes: Sequence[NodeResult]) -> str:
    parts = []
    for node in nodes[:10]:
        count = f" ({node.failures} failing rows)" if node.failures else ""
        why = f" [{node.message}]" if node.message and node.resource_type == "test" else ""
        parts.append(f"{node.resource_type} {node.name}: {node.status}{count}{why}")
    more = f"; and {len(nodes) - 10} more" if len(nodes) > 10 else ""
    return "; ".join(parts) + more


def raise_for_result(result: StepResult) -> None:
    """Turn a failed step into the exception that tells the DAG whether to retry.

    Failing or erroring tests and freshness errors are data problems
    (:class:`DataQualityError`); a model that errored, or dbt unable to run at all, is an
    infrastructure problem (:class:`DbtInvocationError` or :class:`WarehouseBusyError`).
    The exception carries ``result`` so callbacks can list the failing nodes.
    """
    if result.success:
        return
    error: MedallionError
    failed = result.failed_nodes
    infra = [
        n
        for n in failed
        if n.resource_type not in ("test", "source")
        or n.status == "runtime error"
        or _BUSY.search(n.message or "")
    ]
    where = f"{result.layer} {result.step}" if result.layer else result.step
    if result.error is not None:
        error = _classify_text(result.error)(result.error)
    elif (
        result.layer == "bronze"  # the layer reading sources; elsewhere it is a project bug
        and infra
        and all(_STRUCTURAL.search(n.message or "") for n in infra)
    ):
        error = SourceStructureError(
            f"dbt {where}: the source structure changed: {_failure_detail(infra)}: "
            f"{infra[0].message}. Retrying cannot help: restore the table or column, or "
            "change the bronze model and its sources YAML to match."
        )
    elif infra:
        classes = {_classify_text(n.message or "") for n in infra}
        cls = (
            WarehouseBusyError
            if WarehouseBusyError in classes
            else DbtInvocationError
            if DbtInvocationError in classes
            else DbtProjectError
        )
        hint = (
            "Retrying may help if the cause is transient"
            if cls is not DbtProjectError
            else "Retrying cannot help: fix the model, or build and publish the layer it "
            "reads first"
        )
        error = cls(
            f"dbt {where} failed to build: {_failure_detail(infra)}: {infra[0].message}. "
            f"{hint}; see {result.artifacts / 'dbt.log'}"
        )
    else:
        error = DataQualityError(
            f"dbt {where}: data quality checks failed: {_failure_detail(failed)}. "
            "Each failing test names the file with its SQL: run it against the warehouse "
            "to list every failing row."
        )
    error.result = result  # type: ignore[attr-defined]
    raise error


def run_step(
    settings: Settings,
    step: str,
    layer: str,
    *,
    artifacts: Path,
    full_refresh: bool = False,
    gate_scope: str = "full",
    previous: StepResult | None = None,
    previous_try: int | None = None,
    on_progress: Callable[[StepResult], None] | None = None,
) -> StepResult:
    """Run what the DAG task ``dbt_<step>_<layer>`` runs, log the table, raise on failure.

    ``previous``: the failed try this one retries; only its failed and skipped nodes run.
    ``on_progress``: called after every finished node with what this try has done so far
    (unfinished: ``error`` set, the running command ``complete=False``), so a try that is
    killed leaves its progress for the retry.
    """
    artifacts.mkdir(parents=True, exist_ok=True)
    result = StepResult(layer=layer, step=step, artifacts=artifacts)
    started = time.monotonic()
    planned = plan_commands(
        settings, step, layer, target_path=artifacts, log_path=artifacts,
        full_refresh=full_refresh, gate_scope=gate_scope, previous=previous,
    )  # fmt: skip
    if step == "test":
        log.info("gate scope: %s", GATE_SCOPE_DOCS[gate_scope])
    if previous is not None and not previous.success:
        result.retry_of = previous_try
        log.info(
            "retry of try %s: %s",
            previous_try,
            "; ".join(
                "dbt " + " ".join(p.argv[: p.argv.index("--project-dir")]) if p.argv else "(done)"
                for p in planned
            ),
        )
    try:
        for plan in planned:
            # one summary per command, carried nodes included, so the next try (and ops)
            # sees the whole layer
            result.carried += [n.unique_id for n in plan.carried]
            if not plan.argv:
                result.invocations.append(RunSummary(command=step, nodes=plan.carried))
                continue
            summary = invoke(
                plan.argv,
                settings,
                on_node=_progress(result, plan, on_progress) if on_progress else None,
            )
            result.invocations.append(
                RunSummary(
                    command=summary.command,
                    nodes=plan.carried + summary.nodes,
                    elapsed_s=summary.elapsed_s,
                    invocation_id=summary.invocation_id,
                    generated_at=summary.generated_at,
                )
            )
            if summary.failed_nodes:
                break
            _check_retry_ran(plan, summary)
    except (DbtInvocationError, WarehouseBusyError) as exc:
        result.error = str(exc)
    finally:
        result.duration_s = time.monotonic() - started
    if result.failed_nodes:
        explain_failures(settings, result)
    log.info("%s", format_summary(result))
    if result.error:
        log.error("%s", result.error)
    raise_for_result(result)
    return result


def _progress(
    result: StepResult, plan: PlannedCommand, report: Callable[[StepResult], None]
) -> Callable[[NodeResult], None]:
    """The ``on_node`` of one planned command: report the try so far after each node."""
    finished: list[NodeResult] = []
    lock = threading.Lock()

    def on_node(node: NodeResult) -> None:
        with lock:  # dbt's threads
            finished.append(node)
            running = RunSummary(
                command=plan.argv[0], nodes=plan.carried + tuple(finished), complete=False
            )
            report(
                replace(
                    result,
                    invocations=[*result.invocations, running],
                    error="this try has not finished",
                )
            )

    return on_node


@dataclass(frozen=True)
class BuildResult:
    """Outcome of :func:`build_all`; ``success`` drives ``medallion build``'s exit code."""

    success: bool
    result: StepResult


def build_all(
    settings: Settings,
    full_refresh: bool = False,
    *,
    select: str | None = None,
    state: Path | None = None,
    empty: bool = False,
) -> BuildResult:
    """``dbt build`` of every layer, then, if every model and test passed, the publish of each
    published layer: the CLI's ``medallion build``.

    ``dbt build`` alone builds and tests silver and gold in their audit schemas (gold from the
    silver candidate it just tested); nothing reaches the published schemas until publish.
    ``select``/``state`` narrow the build (Slim CI: ``state:modified+`` against a base
    manifest); an ``empty`` build only proves the SQL builds, so nothing is published.
    """
    artifacts = adhoc_artifacts_dir(settings, "build")
    result = StepResult(layer=None, step="build", artifacts=artifacts)
    started = time.monotonic()
    argv = dbt_argv(
        "build", settings, target_path=artifacts, log_path=artifacts, full_refresh=full_refresh,
        select=select, state=state, empty=empty,
    )  # fmt: skip
    try:
        result.invocations.append(invoke(argv, settings, reuse_manifest=False))
        for layer in PUBLISHED_LAYERS if result.success and not empty else ():
            for publish in layer_commands(
                settings, "publish", layer, target_path=artifacts, log_path=artifacts,
                full_refresh=full_refresh,
            ):  # fmt: skip
                result.invocations.append(invoke(publish, settings))
    except (DbtInvocationError, WarehouseBusyError) as exc:
        result.error = str(exc)
    result.duration_s = time.monotonic() - started
    log.info("%s", format_summary(result))
    print(format_summary(result))
    return BuildResult(success=result.success, result=result)
