"""Chromium for the UI tests, and where their screenshots go.

Screenshots are always written under pytest's tmp dir; with MEDALLION_UPDATE_SCREENSHOTS=1
(`make screenshots`) they are also copied to docs/, which docs/OPERATIONS.md shows. A plain
`make test` therefore never touches the git tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.browser import find_chromium

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of Chromium; installs Debian's package when missing (root only), else skips."""
    found = find_chromium()
    if found is None and os.geteuid() == 0:
        subprocess.run(
            ["bash", str(REPO / "scripts" / "install_system_deps.sh")],
            check=False,
            timeout=900,
        )
        found = find_chromium()
    if found is None:
        pytest.skip(
            "Chromium is not installed and could not be installed here: run "
            "`sudo bash scripts/install_system_deps.sh` (Debian's `chromium` package)"
        )
    return found


def _publish(shot: Path, name: str) -> Path | None:
    if os.environ.get("MEDALLION_UPDATE_SCREENSHOTS") != "1":
        return None
    DOCS.mkdir(exist_ok=True)
    return Path(shutil.copyfile(shot, DOCS / name))


@pytest.fixture(scope="session")
def publish_screenshot() -> Callable[[Path, str], Path | None]:
    """`publish_screenshot(path, "name.png")`: copy to docs/ when MEDALLION_UPDATE_SCREENSHOTS=1."""
    return _publish
