"""`medallion docs`: dbt's static docs site, lineage included, from the built warehouse."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import pytest

from medallion.cli import main
from medallion.config import Settings
from medallion.devtools.docs import build_docs
from medallion.errors import MedallionError

if TYPE_CHECKING:
    from tests.report.conftest import RecordedRuns


def test_docs_site_is_one_file_with_manifest_and_catalog(recorded: RecordedRuns) -> None:
    site = build_docs(recorded.settings)
    assert site == recorded.settings.home / "docs" / "static_index.html"
    html = site.read_text(encoding="utf-8")
    # --static inlines manifest and catalog: the lineage graph needs no server
    manifest = json.loads(
        (recorded.settings.home / "docs" / "manifest.json").read_text(encoding="utf-8")
    )
    parents = manifest["parent_map"]["model.medallion.fct_sales_daily"]
    assert parents == ["model.medallion.slv_orders"]
    assert "model.medallion.fct_sales_daily" in html and "parent_map" in html
    catalog = json.loads(
        (recorded.settings.home / "docs" / "catalog.json").read_text(encoding="utf-8")
    )
    assert "model.medallion.fct_sales_daily" in catalog["nodes"]
    assert not re.search(r"<script[^>]+src=[\"']?https?:", html)


def test_docs_need_a_built_warehouse(tmp_path, capsys) -> None:
    settings = Settings.from_env({"MEDALLION_HOME": str(tmp_path)})
    with pytest.raises(MedallionError, match="does not exist"):
        build_docs(settings)
    assert not settings.warehouse.exists()  # no empty warehouse left behind


def test_cli_docs(recorded: RecordedRuns, monkeypatch, capsys) -> None:
    s = recorded.settings
    for name, value in {
        "MEDALLION_HOME": s.home,
        "MEDALLION_WAREHOUSE": s.warehouse,
        "MEDALLION_DBT_PROJECT_DIR": s.dbt_project_dir,
        "MEDALLION_DBT_PROFILES_DIR": s.dbt_profiles_dir,
        "MEDALLION_ARTIFACTS_DIR": s.artifacts_dir,
    }.items():
        monkeypatch.setenv(name, str(value))
    assert main(["docs"]) == 0
    assert str(s.home / "docs" / "static_index.html") in capsys.readouterr().out
