"""The DagBag fill of one DAG file, as a DAG processor does it:
`python parse_probe.py <dag file> <dbt project dir> time|trace`; prints `PROBE{json}`.

Run by a fresh interpreter of either virtualenv (ours or cosmos'), so it imports only the
standard library and Airflow. Timed mode measures the fill; trace mode adds an audit hook and
a dbtRunner wrapper to observe what parsing does (subprocesses, dbt invocations, files of the
dbt project opened), kept out of the timed runs because the hook itself costs time.
"""

import importlib.abc
import importlib.util
import json
import sys
import time
from typing import Any


def _trace(project: str, seen: dict[str, Any]) -> None:
    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "subprocess.Popen":
            argv = args[1] if isinstance(args[1], list | tuple) else [args[0]]
            seen["subprocesses"].append(" ".join(str(a) for a in argv)[:300])
        elif event == "open" and isinstance(args[0], str) and args[0].startswith(project):
            seen["project_files"].add(args[0])

    class WrapDbtRunner(importlib.abc.MetaPathFinder):
        """Counts dbtRunner.invoke calls made while the DAG file is parsed."""

        def find_spec(self, name, path=None, target=None):
            if name != "dbt.cli.main":
                return None
            sys.meta_path.remove(self)
            try:
                spec = importlib.util.find_spec(name)
            finally:
                sys.meta_path.insert(0, self)
            if spec is None or spec.loader is None:
                return spec
            exec_module = spec.loader.exec_module

            def exec_and_wrap(module: Any) -> None:
                exec_module(module)
                invoke = module.dbtRunner.invoke

                def recorded(self: Any, args: list[str], **kwargs: Any) -> Any:
                    seen["dbt_invocations"].append([str(a) for a in args][:4])
                    return invoke(self, args, **kwargs)

                module.dbtRunner.invoke = recorded

            spec.loader.exec_module = exec_and_wrap
            return spec

    sys.addaudithook(hook)
    sys.meta_path.insert(0, WrapDbtRunner())


def main() -> None:
    dag_file, project, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    seen: dict[str, Any] = {"subprocesses": [], "project_files": set(), "dbt_invocations": []}
    if mode == "trace":
        _trace(project, seen)

    import airflow.sdk  # noqa: F401  loaded once by every DAG processor: not a DAG file's cost
    from airflow.dag_processing.dagbag import DagBag

    started = time.perf_counter()
    bag = DagBag(dag_folder=dag_file)
    parse_s = time.perf_counter() - started
    dbt_subprocesses = [
        c
        for c in seen["subprocesses"]
        if "dbt" in c.split(" ")[0].rsplit("/", 1)[-1] or " dbt " in f" {c} "
    ]
    out = {
        "parse_s": parse_s,
        "dags": sorted(bag.dags),
        "tasks": sum(len(d.tasks) for d in bag.dags.values()),
        "errors": {k: str(v)[-500:] for k, v in bag.import_errors.items()},
        "dbt_modules_imported": any(m == "dbt" or m.startswith("dbt.") for m in sys.modules),
    }
    if mode == "trace":
        out.update(
            {
                "dbt_invocations": seen["dbt_invocations"],
                "dbt_subprocesses": dbt_subprocesses,
                "subprocesses": len(seen["subprocesses"]),
                "project_files_opened": len(seen["project_files"]),
            }
        )
    print("PROBE" + json.dumps(out))


if __name__ == "__main__":
    main()
