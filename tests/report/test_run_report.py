"""The HTML report and the terminal summary, rendered from the recorded runs."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from rich.console import Console

from medallion import report
from medallion.cli import main
from medallion.dbt import safe_path_part

if TYPE_CHECKING:
    from tests.report.conftest import RecordedRuns


def _external_refs(html: str) -> list[str]:
    """src/href attributes of script, link, img or iframe tags pointing outside the file."""
    refs = []
    for tag in re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", html, flags=re.I):
        refs += re.findall(r"""(?:src|href)\s*=\s*["']?([^"'\s>]+)""", tag, flags=re.I)
    return [r for r in refs if not r.startswith(("#", "data:"))]


def test_report_of_the_failed_run(recorded: RecordedRuns) -> None:
    history = report.load_run(recorded.settings, recorded.bad.run_id)
    path = report.write_report(recorded.settings, history)
    assert (
        path == recorded.settings.home / "reports" / f"{safe_path_part(recorded.bad.run_id)}.html"
    )
    html = path.read_text(encoding="utf-8")
    assert _external_refs(html) == []
    assert html.count("plotly.js v") == 1  # the library is inlined exactly once
    assert '<div class="banner failed" id="banner">Run FAILED: 1 failing dbt node(s)' in html
    for div in (
        "plot-layers",
        "plot-gold-rows",
        "plot-gantt",
        "plot-models",
        "plot-quarantine",
        "plot-trend-duration",
        "plot-trend-rows",
    ):
        assert f'id="{div}"' in html, div
    # the failing test is highlighted, in the silver group, which is opened
    failing = re.search(r'<tr class="bad"><td>(accepted_values_slv_orders_status[^<]*)</td>', html)
    assert failing, "failing test row not highlighted"
    silver = html[html.index('id="tests-silver"') - 20 :]
    assert silver.startswith('<details open id="tests-silver"') or "open" in silver[:40]
    assert failing.group(1) in silver[: silver.index("</details>")]
    # layer table: gold never ran
    assert re.search(r"<td>gold</td><td class=\"muted\">upstream failed</td>", html)
    # quarantine by reason
    assert "silver.slv_orders_quarantine" in html and "id_out_of_range: 3" in html


def test_report_of_the_green_run_and_trend(recorded: RecordedRuns) -> None:
    history = report.load_run(recorded.settings, recorded.good.run_id)
    # the trend of a run only looks back: the later failed run is not in it
    assert [r["run_id"] for r in history.recent_runs] == [recorded.good.run_id]
    html = report.render_html(history)
    assert '<div class="banner success" id="banner">Run SUCCESS in' in html
    assert 'class="bad"' not in html.replace('class="num bad"', "")
    latest = report.load_run(recorded.settings)
    assert latest.run["run_id"] == recorded.bad.run_id
    assert [r["run_id"] for r in latest.recent_runs] == [
        recorded.good.run_id,
        recorded.bad.run_id,
    ]


def test_layer_summaries(recorded: RecordedRuns) -> None:
    summaries = {
        s.layer: s
        for s in report.layer_summaries(report.load_run(recorded.settings, recorded.bad.run_id))
    }
    assert [summaries[layer].status for layer in ("bronze", "silver", "gold")] == [
        "success",
        "failed",
        "upstream failed",
    ]
    silver = summaries["silver"]
    assert silver.tests_failed == 1 and silver.tests_passed >= 3
    assert silver.models_ok == silver.models >= 1
    assert summaries["bronze"].rows == 55 + 1  # brz_orders + brz_pause (one row)
    assert summaries["gold"].models == 0 and summaries["gold"].duration_s is None


def test_terminal_summary_table(recorded: RecordedRuns) -> None:
    console = Console(record=True, width=140, color_system=None)
    report.report_run(recorded.settings, recorded.bad.run_id, console=console)
    text = console.export_text()
    assert f"dbt_transform {recorded.bad.run_id}: failed" in text
    lines = {line.split()[1]: line for line in text.splitlines() if line.startswith("│ ")}
    assert "failed" in lines["silver"] and "upstream failed" in lines["gold"]
    assert "report: " in text and text.strip().endswith(".html")


def test_cli_report_defaults_to_latest_and_rejects_unknown_run(
    recorded: RecordedRuns, monkeypatch, capsys
) -> None:
    settings = recorded.settings
    for name, value in {
        "MEDALLION_HOME": settings.home,
        "MEDALLION_WAREHOUSE": settings.warehouse,
    }.items():
        monkeypatch.setenv(name, str(value))
    assert main(["report"]) == 0
    out = capsys.readouterr().out
    assert recorded.bad.run_id in out
    # captured, not a terminal: rows are not wrapped at 80 columns
    [gold] = [line for line in out.splitlines() if line.startswith("│ gold ")]
    assert "upstream failed" in gold, out
    assert (settings.home / "reports" / f"{safe_path_part(recorded.bad.run_id)}.html").is_file()
    assert main(["report", "--run-id", "nope"]) == 2
    err = capsys.readouterr().err
    assert "run 'nope' is not in ops.pipeline_runs" in err


@pytest.mark.ui
def test_report_renders_offline_in_chromium(recorded: RecordedRuns, tmp_path) -> None:
    """The inlined plotly draws every chart with no network: a real browser, a file URL."""
    from tests.browser import Chromium, find_chromium

    if find_chromium() is None:
        pytest.skip("Chromium not installed (scripts/install_system_deps.sh installs it)")
    history = report.load_run(recorded.settings, recorded.bad.run_id)
    path = report.write_report(recorded.settings, history)
    with Chromium(width=1400, height=900) as browser:
        browser.goto(path.as_uri(), wait_s=60)
        plots = browser.wait_for(
            "document.querySelectorAll('.plot .js-plotly-plot .main-svg').length >= 7 && "
            "document.querySelectorAll('.plot .js-plotly-plot .main-svg').length",
            timeout_s=60,
            what="plotly charts",
        )
        assert plots >= 7
        assert browser.evaluate("typeof Plotly") == "object"
        assert browser.evaluate("document.getElementById('banner').innerText").startswith(
            "Run FAILED"
        )
        # every request the page made was for the file itself or inline data
        resources = browser.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
        assert [r for r in resources if not r.startswith(("file:", "data:", "blob:"))] == []
        shot = browser.screenshot(tmp_path / "report.png")
    assert shot.stat().st_size > 20_000
