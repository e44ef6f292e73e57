"""`medallion` command line: the user-facing surface; Makefile targets and CI steps call it.

Each sub-command parses its options here and hands off to the module that owns the work,
imported lazily so `medallion --help` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from medallion.config import TARGETS, Settings
from medallion.errors import EXIT_DATA, EXIT_TRANSIENT, ConfigError, MedallionError, exit_code
from medallion.names import LAYERS, STEPS


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        type=Path,
        help="AdventureWorks export folder (headered CSV per schema, or the official "
        "install-script files); default: synthetic data",
    )
    parser.add_argument("--scale", type=float, default=1.0, help="synthetic scale factor (SF)")
    parser.add_argument("--seed", type=int, default=42, help="synthetic data seed")


def _cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    from medallion.loading.api import hourly_feed, load
    from medallion.lock import pipeline_lock

    with pipeline_lock(settings, owner="medallion load"):
        if args.hourly:
            if args.source is not None or args.append_hours:
                raise ConfigError("--hourly chooses the load itself: drop --source/--append-hours")
            report = hourly_feed(settings, scale=args.scale, seed=args.seed)
        else:
            report = load(
                settings,
                source=args.source,
                scale=args.scale,
                seed=args.seed,
                append_hours=args.append_hours,
                force=args.force,
            )
    report.print()
    return 0


def _cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    from medallion.dbt import build_all

    if args.changed_since:
        from medallion.devtools.diff import base_state, build_change, merge_base

        if args.full_refresh:
            raise ConfigError("--changed-since rebuilds the changed models whole already")
        sha = merge_base(settings.project_root, args.changed_since)
        build_change(settings, base_state(settings, sha), empty=args.empty)
        return 0
    if args.empty:
        raise ConfigError("--empty checks the changed models only: add --changed-since REF")
    return 0 if build_all(settings, full_refresh=args.full_refresh).success else 1


def _cmd_diff(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0 when the diff ran, whatever it found; 1 with --fail-on-gold-change and a moved
    gold total, or when the change does not build."""
    from medallion.devtools.diff import run_diff

    report, files = run_diff(
        settings, base_ref=args.base, source=args.source, scale=args.scale, seed=args.seed,
        out_dir=args.out,
    )  # fmt: skip
    report.print()
    for kind, path in files.items():
        print(f"{kind}: {path}")
    if args.fail_on_gold_change and report.gold_changed:
        print("a gold total changed (--fail-on-gold-change)", file=sys.stderr)
        return EXIT_DATA
    return 0


def _cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from medallion.devtools.pipeline import run_pipeline

    return run_pipeline(
        settings,
        source=args.source,
        scale=args.scale,
        seed=args.seed,
        full_refresh=args.full_refresh,
    )


def _cmd_layer(args: argparse.Namespace, settings: Settings) -> int:
    """What DAG task dbt_<step>_<layer> (publish_<layer>) runs, through the same runner; CI
    calls it per step.

    Exit codes as everywhere (`medallion.errors`): 1 the data failed its tests, 2 a permanent
    error, 75 a transient one (the only one worth a retry).
    """
    import logging

    from medallion.dag import gate_scope
    from medallion.dbt import adhoc_artifacts_dir, run_step
    from medallion.lock import pipeline_lock
    from medallion.names import task_name

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    task = task_name(args.layer, args.step)
    artifacts = adhoc_artifacts_dir(settings, task)
    # Like the DAG task: one pipeline at a time on a warehouse.
    with pipeline_lock(settings, owner=f"medallion layer {args.step} {args.layer}"):
        run_step(
            settings, args.step, args.layer, artifacts=artifacts, full_refresh=args.full_refresh,
            gate_scope=gate_scope(
                settings, {"full_check": args.full_check, "full_refresh": args.full_refresh}, None
            ),
        )  # fmt: skip
    return 0


def _cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from medallion.report import report_run

    report_run(settings, args.run_id, last_n=args.last)
    return 0


def _cmd_airflow(args: argparse.Namespace, settings: Settings) -> int:
    from medallion.devtools.local_airflow import serve

    return serve(settings, port=args.port, unpause=args.unpause)


def _cmd_docs(args: argparse.Namespace, settings: Settings) -> int:
    from medallion.devtools.docs import build_docs

    site = build_docs(settings)
    print(f"dbt docs (with lineage): {site}")
    return 0


def _cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0 when every run of every case succeeded (missed targets are reported, not fatal)."""
    from medallion.bench import cases, harness

    # three suites, one page: `airflow dags test` and parse (default), a running scheduler,
    # the hourly cost up to SF 100; each keeps its own results, the page shows the last run
    # of each
    if args.scheduler and args.sf100:
        raise ConfigError("--scheduler and --sf100 are suites of their own: run one at a time")
    main_dir = settings.project_root / "bench"
    sched_dir, hourly_dir = main_dir / "scheduler", main_dir / "hourly"
    if args.scheduler:
        suite, scales, out_dir = ("dbt_build", *cases.SCHED_CASES), args.scales or "10", sched_dir
    elif args.sf100:
        suite, scales, out_dir = cases.HOURLY_SUITE, args.scales or "1,10", hourly_dir
    else:
        suite, scales, out_dir = cases.DEFAULT_SUITE, args.scales or "1,10", main_dir
    options = harness.BenchOptions(
        scales=harness.parse_scales(scales)
        + ((cases.SF30,) if args.sf30 else ())
        + ((cases.SF100,) if args.sf100 else ()),
        repeat=args.repeat,
        seed=args.seed,
        cases=tuple(c.strip() for c in args.cases.split(",") if c.strip())
        if args.cases
        else tuple(c for c in suite if not (args.no_cosmos and c in cases.COSMOS_CASES)),
        out_dir=args.out or out_dir,
        docs_file=args.docs,
        page_suites=None if args.out else (main_dir, sched_dir, hourly_dir),
        work_dir=args.work,
        cosmos_venv=args.cosmos_venv,
        build_cosmos=not args.no_build_cosmos,
        command=f"medallion bench{' --scheduler' if args.scheduler else ''} --scales {scales}"
        f"{' --sf30' if args.sf30 else ''}{' --sf100' if args.sf100 else ''} "
        f"--repeat {args.repeat}{f' --cases {args.cases}' if args.cases else ''}"
        f"{' --no-cosmos' if args.no_cosmos else ''}",
    )
    if args.render_only:
        for path in harness.render_only(options.resolved(settings)):
            print(f"wrote {path}")
        return 0
    from medallion.devtools.local_airflow import sigterm_as_interrupt

    with sigterm_as_interrupt():  # a stopped benchmark stops the Airflows it started
        return 0 if harness.run_bench(settings, options)["ok"] else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="medallion", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--target", choices=TARGETS, help="warehouse target (default: $MEDALLION_TARGET or duckdb)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    load = sub.add_parser("load", help="load an AdventureWorks export or synthetic data")
    _add_data_options(load)
    load.add_argument(
        "--synthetic", action="store_true", help="generate synthetic data (the default)"
    )
    load.add_argument(
        "--append-hours", type=int, default=0, help="append H hours of new synthetic orders"
    )
    load.add_argument("--force", action="store_true", help="reload even if already loaded")
    load.add_argument(
        "--hourly",
        action="store_true",
        help="the scheduled feed: a synthetic base load into an empty warehouse, else one "
        "appended hour (DuckDB)",
    )
    load.set_defaults(handler=_cmd_load)

    build = sub.add_parser("build", help="dbt build of every layer, without Airflow")
    build.add_argument("--full-refresh", action="store_true")
    build.add_argument(
        "--changed-since",
        metavar="REF",
        help="Slim CI: only the models changed since the merge base with REF, and their "
        "children (dbt state:modified+ against that commit's manifest)",
    )
    build.add_argument(
        "--empty",
        action="store_true",
        help="with --changed-since: build with zero rows, no publish",
    )
    build.set_defaults(handler=_cmd_build)

    diff = sub.add_parser(
        "diff",
        help="what the working tree's dbt changes do to the data, against the merge base with "
        "a git ref: terminal table, diff.md (for a PR), diff.html",
    )
    diff.add_argument("--base", required=True, metavar="REF", help="git ref, e.g. origin/main")
    diff.add_argument("--source", type=Path, help="AdventureWorks export (default: synthetic)")
    diff.add_argument("--scale", type=float, default=0.05, help="synthetic SF (default 0.05)")
    diff.add_argument("--seed", type=int, default=42, help="synthetic data seed")
    diff.add_argument("--out", type=Path, help="report folder (default <home>/diff/report)")
    diff.add_argument(
        "--fail-on-gold-change", action="store_true", help="exit 1 when a gold total changed"
    )
    diff.set_defaults(handler=_cmd_diff)

    run = sub.add_parser("run", help="load data, then run the dbt_transform DAG end to end")
    _add_data_options(run)
    run.add_argument("--full-refresh", action="store_true", help="rebuild incremental models")
    run.set_defaults(handler=_cmd_run)

    layer = sub.add_parser(
        "layer",
        help="run, test or publish one layer exactly as the DAG task does "
        "(exit 1: data, 2: permanent error, 75: transient, retry)",
    )
    layer.add_argument("step", choices=STEPS)
    layer.add_argument("layer", choices=LAYERS)
    layer.add_argument("--full-refresh", action="store_true", help="rebuild incremental models")
    layer.add_argument(
        "--full-check",
        action="store_true",
        help="test every row, not just what changed since the last publish (the DAG's hourly "
        "default)",
    )
    layer.set_defaults(handler=_cmd_layer)

    report = sub.add_parser(
        "report", help="HTML report and summary table of a recorded run (from the ops schema)"
    )
    report.add_argument("--run-id", help="DAG run id (default: the latest recorded run)")
    report.add_argument(
        "--last", type=int, default=20, help="runs shown in the trend charts (default 20)"
    )
    report.set_defaults(handler=_cmd_report)

    airflow = sub.add_parser(
        "airflow", help="local Airflow 3 (UI, scheduler, ...) on 127.0.0.1; Ctrl-C stops it"
    )
    airflow.add_argument("--port", type=int, help="API/UI port (default: 8080, else a free one)")
    airflow.add_argument(
        "--unpause", action="store_true", help="unpause dbt_transform so it runs on schedule"
    )
    airflow.set_defaults(handler=_cmd_airflow)

    docs = sub.add_parser("docs", help="dbt docs (static site with lineage) into <home>/docs")
    docs.set_defaults(handler=_cmd_docs)

    bench = sub.add_parser(
        "bench",
        help="benchmark bare dbt build vs the DAG vs astronomer-cosmos; writes "
        "bench/results.json and docs/PERFORMANCE.md",
    )
    bench.add_argument(
        "--scales", help="synthetic scale factors (default 1,10; 10 with --scheduler)"
    )
    bench.add_argument(
        "--scheduler",
        action="store_true",
        help="the real-scheduler suite (LocalExecutor, Celery, cosmos under a scheduler) beside "
        "bare dbt build; writes bench/scheduler/ and its section of docs/PERFORMANCE.md",
    )
    bench.add_argument("--sf30", action="store_true", help="also run SF 30")
    bench.add_argument(
        "--sf100",
        action="store_true",
        help="the hourly-cost suite: our DAG, an appended hour and a full refresh at SF 1, 10 "
        "and 100 (~2 GB warehouse); writes bench/hourly/ and its section of docs/PERFORMANCE.md",
    )
    bench.add_argument("--repeat", type=int, default=3, help="runs per case (default 3)")
    bench.add_argument("--seed", type=int, default=42, help="synthetic data seed")
    bench.add_argument("--cases", help="comma-separated subset of the cases (default: the suite)")
    bench.add_argument("--no-cosmos", action="store_true", help="skip the cosmos cases")
    bench.add_argument("--out", type=Path, help="results folder (default <project>/bench)")
    bench.add_argument("--docs", type=Path, help="docs page (default docs/PERFORMANCE.md)")
    bench.add_argument("--work", type=Path, help="scratch folder (default <out>/.work)")
    bench.add_argument(
        "--cosmos-venv", type=Path, help="cosmos virtualenv (default <home>/bench/cosmos-venv)"
    )
    bench.add_argument(
        "--no-build-cosmos", action="store_true", help="use an existing cosmos env, never build"
    )
    bench.add_argument(
        "--render-only", action="store_true", help="re-render the Markdown from results.json"
    )
    bench.set_defaults(handler=_cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        env = dict(os.environ)
        if args.target:
            env["MEDALLION_TARGET"] = args.target
        settings = Settings.from_env(env)
        return args.handler(args, settings)
    except MedallionError as exc:
        kind = {EXIT_DATA: "data quality failure", EXIT_TRANSIENT: "transient error"}
        code = exit_code(exc)
        print(f"{kind.get(code, 'error')}: {exc}", file=sys.stderr)
        return code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
