"""Fixtures for the CI tests: the workflow files, parsed once per session."""

from __future__ import annotations

from typing import Any

import pytest
from cihelpers import load_workflow


@pytest.fixture(scope="session")
def ci() -> dict[str, Any]:
    return load_workflow("ci.yml")


@pytest.fixture(scope="session")
def pipeline() -> dict[str, Any]:
    return load_workflow("pipeline.yml")
