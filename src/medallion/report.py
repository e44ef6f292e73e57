"""What a run did, for people: a terminal summary table and a self-contained HTML report.

Both read the run history in the warehouse's `ops` schema (see `medallion.ops`), so any
recorded run can be reported again later, and the trend charts come from the same place.
The HTML inlines plotly.js once and references nothing outside the file: it can be mailed,
archived as a CI artifact or opened offline.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medallion.connections import connect
from medallion.dbt import safe_path_part
from medallion.names import LAYERS, SILVER_CANDIDATE_SCHEMA, task_id
from medallion.ops import QUARANTINE_SUFFIX, RunHistory, load_history

if TYPE_CHECKING:
    from rich.console import Console

    from medallion.config import Settings

FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})
TEST_PASSED = frozenset({"pass", "success"})
COLORS = {"bronze": "#b07a3b", "silver": "#8a929b", "gold": "#d4a017", "other": "#5b7fa3"}
_BAD = "#c62828"
_GOOD = "#2e7d32"
_WARN = "#ef6c00"


@dataclass(frozen=True)
class LayerSummary:
    layer: str
    status: str
    duration_s: float | None
    models_ok: int
    models: int
    tests_passed: int
    tests_failed: int
    tests_warned: int
    rows: int | None


def _layer_status(nodes: list[dict[str, Any]], tasks: list[dict[str, Any]]) -> str:
    statuses = {str(n["status"]).lower() for n in nodes}
    states = {str(t["state"]) for t in tasks if t.get("state")}
    if statuses & FAILED_STATUSES or "failed" in states:
        return "failed"
    if not nodes:
        if "upstream_failed" in states:
            return "upstream failed"
        return "skipped" if "skipped" in states else "not run"
    if "warn" in statuses:
        return "warn"
    if statuses <= {"skipped"}:
        return "skipped"
    return "success"


def _layer_duration(nodes: list[dict[str, Any]], tasks: list[dict[str, Any]]) -> float | None:
    """Time the layer's tasks spent in dbt; the sum of node times when tasks carry none."""
    timed = [t["duration_s"] for t in tasks if t.get("duration_s") is not None]
    if timed:
        return float(sum(timed))
    if not nodes:
        return None
    return float(sum(n["duration_s"] or 0.0 for n in nodes))


def layer_summaries(history: RunHistory) -> list[LayerSummary]:
    """One line per layer (pure: the terminal table and the HTML report share it)."""
    by_layer: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for node in history.nodes:
        by_layer[node["layer"]].append(node)
    tasks_by_layer: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for task in history.tasks:
        tasks_by_layer[task["layer"]].append(task)
    rows_by_layer: dict[str, int] = defaultdict(int)
    for rel in history.relations:
        if not rel["relation"].endswith(QUARANTINE_SUFFIX):
            rows_by_layer[rel["layer"]] += int(rel["row_count"])
    layers = [*LAYERS, *sorted(set(by_layer) - set(LAYERS))]
    out = []
    for layer in layers:
        nodes = by_layer.get(layer, [])
        tasks = tasks_by_layer.get(layer, [])
        if layer not in LAYERS and not nodes:
            continue
        models = [n for n in nodes if n["node_type"] in ("model", "seed", "snapshot")]
        tests = [n for n in nodes if n["node_type"] == "test"]
        out.append(
            LayerSummary(
                layer=layer,
                status=_layer_status(nodes, tasks),
                duration_s=_layer_duration(nodes, tasks),
                models_ok=sum(1 for m in models if m["status"] == "success"),
                models=len(models),
                tests_passed=sum(1 for t in tests if t["status"] in TEST_PASSED),
                tests_failed=sum(1 for t in tests if t["status"] in FAILED_STATUSES),
                tests_warned=sum(1 for t in tests if t["status"] == "warn"),
                rows=rows_by_layer.get(layer),
            )
        )
    return out


def unpublished_quarantine(history: RunHistory) -> list[dict[str, Any]]:
    """Silver's candidate quarantine relations (rows and reasons) when the run built silver
    but did not publish it, its gate having failed: what that gate saw, kept in the audit
    schema; empty otherwise (then the candidate is what was published)."""
    states = {t["task_id"]: t["state"] for t in history.tasks}
    if states.get(task_id("silver", "run")) != "success" or (
        states.get(task_id("silver", "publish")) == "success"
    ):
        return []
    reasons: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for q in history.quarantine:
        reasons[q["relation"]].append(q)
    return [
        {**r, "reasons": reasons[r["relation"]]}
        for r in history.relations
        if r["layer"] == SILVER_CANDIDATE_SCHEMA and r["row_count"]
    ]


def _reasons_text(reasons: list[dict[str, Any]]) -> str:
    return ", ".join(f"{q['reason'] or '(none)'}: {_fmt_n(q['row_count'])}" for q in reasons)


def _fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(round(seconds), 60)
    return f"{minutes}m{sec:02d}s"


def _fmt_ts(ts: datetime | None) -> str:
    return "-" if ts is None else ts.strftime("%Y-%m-%d %H:%M:%S UTC")


def _fmt_n(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


# --- terminal ------------------------------------------------------------------------------


def summary_table(history: RunHistory) -> Any:
    """A rich Table: layer, status, duration, models, tests passed/failed, rows."""
    from rich.table import Table

    run = history.run
    table = Table(
        title=f"dbt_transform {run['run_id']}: {run['status']} in {_fmt_s(run['duration_s'])}",
        title_justify="left",
    )
    for name, justify in (
        ("layer", "left"),
        ("status", "left"),
        ("duration", "right"),
        ("models", "right"),
        ("tests passed", "right"),
        ("tests failed", "right"),
        ("rows", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    style = {"success": "green", "failed": "bold red", "warn": "yellow"}
    for s in layer_summaries(history):
        table.add_row(
            s.layer,
            f"[{style.get(s.status, 'dim')}]{s.status}[/]",
            _fmt_s(s.duration_s),
            f"{s.models_ok}/{s.models}",
            str(s.tests_passed),
            f"[bold red]{s.tests_failed}[/]" if s.tests_failed else "0",
            _fmt_n(s.rows),
        )
    return table


def load_run(settings: Settings, run_id: str | None = None, *, last_n: int = 20) -> RunHistory:
    """A recorded run (default: the latest) and the `last_n` runs up to it, from `ops`."""
    with connect(settings, read_only=True) as conn:
        return load_history(conn, run_id, last_n=last_n)


def report_path(settings: Settings, run_id: str) -> Path:
    """`<home>/reports/<run_id>.html`, with characters unsafe in file names replaced."""
    return settings.home / "reports" / f"{safe_path_part(run_id)}.html"


def write_report(settings: Settings, history: RunHistory) -> Path:
    """Write the HTML report of a run atomically and return its path."""
    path = report_path(settings, history.run["run_id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render_html(history), encoding="utf-8")
    tmp.replace(path)
    return path


def report_run(
    settings: Settings,
    run_id: str | None = None,
    *,
    last_n: int = 20,
    console: Console | None = None,
) -> Path:
    """`medallion report` and the end of `medallion run`: write the HTML, print the table."""
    from rich.console import Console

    history = load_run(settings, run_id, last_n=last_n)
    path = write_report(settings, history)
    # Piped into a file or a CI log there is no terminal width: never wrap at 80 columns.
    console = console or Console(width=None if sys.stdout.isatty() else 200)
    console.print(summary_table(history))
    for r in unpublished_quarantine(history):
        console.print(
            f"not published, silver's gate failed: {r['relation']} holds "
            f"{_fmt_n(r['row_count'])} quarantined rows ({_reasons_text(r['reasons'])}); "
            f"query: select * from {r['relation']}",
            soft_wrap=True, markup=False, highlight=False,
        )  # fmt: skip
    console.print(f"report: {path}", soft_wrap=True, highlight=False)  # a path to copy, unbroken
    return path


# --- HTML ------------------------------------------------------------------------------------


class _Figures:
    """Renders plotly figures as HTML fragments, inlining plotly.js in the first one only."""

    def __init__(self) -> None:
        self._first = True

    def __call__(self, fig: Any, div_id: str) -> str:
        fig.update_layout(
            margin={"l": 10, "r": 10, "t": 40, "b": 10},
            template="plotly_white",
            font={"family": "system-ui, sans-serif", "size": 12},
        )
        out = fig.to_html(
            full_html=False,
            include_plotlyjs=self._first,
            div_id=div_id,
            config={"displaylogo": False, "responsive": True},
        )
        self._first = False
        return f'<div class="plot">{out}</div>'


def _task_gantt(history: RunHistory) -> Any | None:
    """The run's tasks on a time line (a Gantt): which layer ran when, and for how long."""
    import plotly.graph_objects as go

    tasks = [t for t in history.tasks if t.get("started_at") and t.get("duration_s") is not None]
    if not tasks:
        return None
    fig = go.Figure()
    for layer in [*LAYERS, "other"]:
        items = [t for t in tasks if t["layer"] == layer]
        if not items:
            continue
        fig.add_trace(
            go.Bar(
                name=layer,
                orientation="h",
                y=[t["task_id"] for t in items],
                x=[max(t["duration_s"], 0.05) * 1000 for t in items],
                base=[t["started_at"].isoformat() for t in items],
                marker_color=COLORS.get(layer, COLORS["other"]),
                text=[_fmt_s(t["duration_s"]) for t in items],
                textposition="auto",
                customdata=[t["state"] or "" for t in items],
                hovertemplate="%{y} (%{customdata}): %{text}<extra></extra>",
            )
        )
    fig.update_xaxes(type="date", title="time (UTC)")
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(title="tasks over time", barmode="overlay", height=120 + 34 * len(tasks))
    return fig


def _model_figure(history: RunHistory) -> Any:
    """dbt execution time of every model (and source freshness check), by layer colour."""
    import plotly.graph_objects as go

    nodes = sorted(
        (n for n in history.nodes if n["node_type"] in ("model", "seed", "snapshot")),
        key=lambda n: n["duration_s"] or 0.0,
    )
    fig = go.Figure(
        go.Bar(
            orientation="h",
            y=[f"{n['layer']} · {n['name']}" for n in nodes],
            x=[n["duration_s"] or 0.0 for n in nodes],
            marker_color=[
                _BAD if n["status"] in FAILED_STATUSES else COLORS.get(n["layer"], COLORS["other"])
                for n in nodes
            ],
            customdata=[n["status"] for n in nodes],
            hovertemplate="%{y} (%{customdata}): %{x:.2f} s<extra></extra>",
        )
    )
    fig.update_xaxes(title="seconds")
    fig.update_layout(title="dbt model durations", height=max(320, 22 * len(nodes) + 120))
    return fig


def _layer_figure(summaries: list[LayerSummary]) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure(
        go.Bar(
            x=[s.layer for s in summaries],
            y=[s.duration_s or 0.0 for s in summaries],
            marker_color=[COLORS.get(s.layer, COLORS["other"]) for s in summaries],
            text=[_fmt_s(s.duration_s) for s in summaries],
            textposition="auto",
        )
    )
    fig.update_layout(title="duration per layer", yaxis_title="seconds", height=320)
    return fig


def _gold_rows_figure(history: RunHistory) -> Any:
    import plotly.graph_objects as go

    gold = [r for r in history.relations if r["layer"] == "gold"]
    fig = go.Figure(
        go.Bar(
            x=[r["relation"] for r in gold],
            y=[r["row_count"] for r in gold],
            marker_color=COLORS["gold"],
            text=[_fmt_n(r["row_count"]) for r in gold],
            textposition="auto",
        )
    )
    fig.update_layout(title="rows per gold relation", yaxis_title="rows", height=320)
    return fig


def _quarantine_figure(history: RunHistory) -> Any | None:
    import plotly.graph_objects as go

    shown = {r["relation"] for r in unpublished_quarantine(history)}
    quarantine = [
        q
        for q in history.quarantine
        if not q["relation"].startswith(f"{SILVER_CANDIDATE_SCHEMA}.") or q["relation"] in shown
    ]
    if not quarantine:
        return None
    fig = go.Figure()
    for relation in sorted({q["relation"] for q in quarantine}):
        items = [q for q in quarantine if q["relation"] == relation]
        fig.add_trace(
            go.Bar(
                name=relation,
                x=[q["reason"] or "(no reason)" for q in items],
                y=[q["row_count"] for q in items],
            )
        )
    fig.update_layout(title="quarantined rows by reason", yaxis_title="rows", height=320)
    return fig


def _trend_figures(history: RunHistory) -> tuple[Any, Any]:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    runs = history.recent_runs
    labels = [_run_label(r) for r in runs]
    duration = go.Figure(
        go.Scatter(
            x=labels,
            y=[r["duration_s"] for r in runs],
            mode="lines+markers",
            marker={
                "color": [_GOOD if r["status"] == "success" else _BAD for r in runs],
                "size": 9,
            },
            line={"color": "#5b7fa3"},
            text=[f"{r['run_id']} ({r['status']})" for r in runs],
            hovertemplate="%{text}<br>%{y:.1f} s<extra></extra>",
        )
    )
    duration.update_layout(
        title=f"run duration, last {_runs(len(runs))}", yaxis_title="seconds", height=320
    )
    duration.update_xaxes(type="category")
    by_run = {r["run_id"]: label for r, label in zip(runs, labels, strict=True)}
    series: dict[str, dict[str, int]] = defaultdict(dict)
    for rel in history.recent_relations:
        if rel["layer"] == "gold" or (
            rel["layer"] == "silver" and rel["relation"].endswith(QUARANTINE_SUFFIX)
        ):
            series[rel["relation"]][by_run[rel["run_id"]]] = rel["row_count"]
    rows = make_subplots(specs=[[{"secondary_y": False}]])
    for relation, points in sorted(series.items()):
        rows.add_trace(
            go.Scatter(
                name=relation,
                x=[label for label in labels if label in points],
                y=[points[label] for label in labels if label in points],
                mode="lines+markers",
            )
        )
    rows.update_xaxes(type="category")
    rows.update_layout(title="rows per gold / quarantine relation", yaxis_title="rows", height=360)
    return duration, rows


def _runs(n: int) -> str:
    return f"{n} run" if n == 1 else f"{n} runs"


def _run_label(run: dict[str, Any]) -> str:
    ts = run.get("started_at") or run.get("recorded_at")
    return ts.strftime("%Y-%m-%d %H:%M:%S") if isinstance(ts, datetime) else str(run["run_id"])


def _test_groups(history: RunHistory) -> list[dict[str, Any]]:
    """Per layer, its tests and source freshness checks, failures first."""
    tests = [n for n in history.nodes if n["node_type"] in ("test", "source")]
    groups = []
    for layer in [*LAYERS, "other"]:
        items = [t for t in tests if t["layer"] == layer]
        if not items:
            continue
        items.sort(key=lambda t: (t["status"] in TEST_PASSED, t["node"]))
        rows = [
            {
                **t,
                "cls": "bad"
                if t["status"] in FAILED_STATUSES
                else "warn"
                if t["status"] == "warn"
                else "",
            }
            for t in items
        ]
        failed = sum(1 for t in items if t["status"] in FAILED_STATUSES)
        groups.append({"layer": layer, "tests": rows, "failed": failed, "checks": _checks(items)})
    return groups


def _checks(items: list[dict[str, Any]]) -> str:
    tests = sum(1 for t in items if t["node_type"] == "test")
    fresh = len(items) - tests
    return f"{tests} tests" + (f" + {fresh} source freshness checks" if fresh else "")


def render_html(history: RunHistory) -> str:
    """The whole report as one HTML document (pure: history in, text out), rendered from
    templates/report.html.j2."""
    from markupsafe import Markup

    from medallion.templates import render

    run = history.run
    summaries = layer_summaries(history)
    figure = _Figures()
    status = str(run["status"])
    failed_nodes = [n for n in history.nodes if n["status"] in FAILED_STATUSES]
    headline = (
        f"Run {status.upper()}"
        + (f": {len(failed_nodes)} failing dbt node(s)" if failed_nodes else "")
        + f" in {_fmt_s(run['duration_s'])}"
    )
    duration_trend, rows_trend = _trend_figures(history)
    quarantine_fig = _quarantine_figure(history)
    gantt = _task_gantt(history)
    # In page order: plotly.js is inlined in the first figure only.
    figures = {
        "layers": figure(_layer_figure(summaries), "plot-layers"),
        "gold_rows": figure(_gold_rows_figure(history), "plot-gold-rows"),
        "gantt": figure(gantt, "plot-gantt") if gantt is not None else "",
        "models": figure(_model_figure(history), "plot-models"),
        "quarantine": (
            figure(quarantine_fig, "plot-quarantine") if quarantine_fig is not None else ""
        ),
        "trend_duration": figure(duration_trend, "plot-trend-duration"),
        "trend_rows": figure(rows_trend, "plot-trend-rows"),
    }
    reasons: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for q in history.quarantine:
        reasons[q["relation"]].append(q)
    return render(
        "report.html.j2",
        run=run,
        status=status,
        banner_cls=status if status in ("success", "failed") else "other",
        headline=headline,
        summaries=summaries,
        figures={k: Markup(v) for k, v in figures.items()},
        test_groups=_test_groups(history),
        published_quarantine=[
            r
            for r in history.relations
            if r["layer"] != SILVER_CANDIDATE_SCHEMA and r["relation"].endswith(QUARANTINE_SUFFIX)
        ],
        candidate_quarantine=unpublished_quarantine(history),
        reasons_text=lambda relation: _reasons_text(reasons[relation]),
        runs=_runs(len(history.recent_runs)),
        fmt_s=_fmt_s,
        fmt_n=_fmt_n,
        fmt_ts=_fmt_ts,
    )
