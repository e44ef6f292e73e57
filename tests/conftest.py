"""Suite-wide rules: required components, and where the real AdventureWorks export is.

``MEDALLION_REQUIRE`` (comma-separated; `make test` sets it under CI) names components whose
absence must fail the run instead of skipping tests silently:

- ``chromium``: tests marked ``ui`` (a real headless browser);
- ``real-data``: tests marked ``realdata`` (the real export, at ``MEDALLION_REAL_DATA``).

``MEDALLION_REAL_DATA`` is the real export's folder; by default ``shared/adventureworks``
beside the checkout, the layout of this project's workspace.

`make test` runs the suite on two pytest-xdist workers (``--dist loadgroup``): each test
folder is one group, so a folder's shared fixtures (a built warehouse, an Airflow home, a
recorded run) are built once, on one worker; a few heavy modules (OWN_GROUPS) are groups of
their own.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REQUIREMENTS = {"ui": "chromium", "realdata": "real-data"}
# At import: the folders' conftests and helper modules read it while they are loaded.
os.environ.setdefault("MEDALLION_REAL_DATA", str(REPO.parent / "shared" / "adventureworks"))


def pytest_configure(config: pytest.Config) -> None:
    unknown = _required() - set(REQUIREMENTS.values())
    if unknown:
        raise pytest.UsageError(
            f"MEDALLION_REQUIRE names unknown component(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(REQUIREMENTS.values()))}"
        )


def _required() -> set[str]:
    return {c.strip() for c in os.environ.get("MEDALLION_REQUIRE", "").split(",") if c.strip()}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """A skip of a test whose component is required becomes a failure that says why."""
    report = yield
    if report.skipped and not hasattr(report, "wasxfail"):
        needed = {REQUIREMENTS[m.name] for m in item.iter_markers() if m.name in REQUIREMENTS}
        missing = needed & _required()
        if missing:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
            report.outcome = "failed"
            report.longrepr = (
                f"{', '.join(sorted(missing))} is required (MEDALLION_REQUIRE) but the test "
                f"was skipped: {reason}"
            )
    return report


# Modules that get an xdist group of their own, so they can run beside their folder: the
# act workflows, and the dbt tests over the real export (their own warehouses).
OWN_GROUPS = {
    "test_act.py": "act",
    "test_diff.py": "diff",
    "test_dbt_realdata.py": "dbt-real",
    "test_dbt_snapshots.py": "dbt-real",
}


# The order the groups start in (`--no-loadscope-reorder`: xdist's default starts the groups
# with the most tests first, which left the act workflows running alone at the end): the
# longest first, so the short ones fill in at the end (the per-test durations `make test`
# prints are where these ranks come from). Groups not listed start last.
GROUP_ORDER = (
    "dbt",
    "reliability",
    "dbt-real",
    "deploy",
    "bench",
    "act",
    "diff",
    "ui",
    "dags",
    "report",
)


def _group_rank(item: pytest.Item) -> int:
    marker = item.get_closest_marker("xdist_group")
    group = marker.args[0] if marker and marker.args else ""
    return GROUP_ORDER.index(group) if group in GROUP_ORDER else len(GROUP_ORDER)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Groups in GROUP_ORDER; a group's tests keep their order (a stable sort)."""
    items.sort(key=_group_rank)


def pytest_itemcollected(item: pytest.Item) -> None:
    """One xdist group per test folder (and the few of OWN_GROUPS): see the module doc.
    Marked as each test is collected, before xdist reads the groups."""
    path = Path(str(item.fspath)).relative_to(REPO / "tests")
    group = OWN_GROUPS.get(path.name, path.parts[0])
    item.add_marker(pytest.mark.xdist_group(group))
