"""Pull requests show what a change does to the data: `medallion diff` and ci.yml's PR path.

A temporary clone of this repository gets a base commit and PR commits on top, as a pull
request would: (b) a refactor (SQL changed, data not), (a) a gold measure's rule (total due
without freight, its reconciliation test changed along), (c) a new column in a silver model.
`medallion diff --base <base>` runs at each commit as a user runs it, against one kept build
of the base. What is expected is computed from the base warehouse itself, not by the diff.

Then ci.yml's `pr-comment` job (and the `diff` job it needs) runs under act with a
`pull_request` event; a receiver on 127.0.0.1 stands in for the GitHub REST API.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import pytest

from medallion import ci
from medallion.devtools.act import ActRun, run_act
from medallion.names import DIFF_COMMENT_MARKER
from tests.ci.cihelpers import REPO, TOKEN

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

MEDALLION = str(Path(sys.executable).with_name("medallion"))
NEW_COLUMN = "is_shipped"
UPDATE_DOCS = os.environ.get("MEDALLION_UPDATE_DOCS") == "1"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def _edit(repo: Path, path: str, old: str, new: str) -> None:
    file = repo / path
    text = file.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{path}: the edit's anchor is gone: {old!r}"
    file.write_text(text.replace(old, new), encoding="utf-8")


@dataclass
class PullRequest:
    repo: Path
    home: Path
    base: str
    commits: dict[str, str] = field(default_factory=dict)  # scenario -> sha

    def diff(self, scenario: str, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict]:
        _git(self.repo, "checkout", "-q", self.commits[scenario])
        out = self.home / "reports" / scenario
        env = {
            **os.environ,
            "MEDALLION_PROJECT_ROOT": str(self.repo),
            "MEDALLION_HOME": str(self.home),
        }
        for name in ("MEDALLION_WAREHOUSE", "MEDALLION_DBT_PROJECT_DIR", "MEDALLION_TARGET"):
            env.pop(name, None)
        proc = subprocess.run(
            [MEDALLION, "diff", "--base", self.base, "--out", str(out), *extra],
            cwd=self.repo, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        report = (
            json.loads((out / "diff.json").read_text()) if (out / "diff.json").is_file() else {}
        )
        return proc, report

    def base_query(self, sql: str) -> list[tuple]:
        [warehouse] = (self.home / "diff").glob(f"base-{self.base[:12]}-*/warehouse.duckdb")
        with duckdb.connect(str(warehouse), read_only=True) as con:
            return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def pull_request(tmp_path_factory: pytest.TempPathFactory) -> PullRequest:
    root = tmp_path_factory.mktemp("pr")
    repo = root / "repo"
    subprocess.run(["git", "clone", "-q", str(REPO), str(repo)], check=True)
    for key, value in (("user.name", "test"), ("user.email", "test@127.0.0.1")):
        _git(repo, "config", key, value)
    pr = PullRequest(repo, root / "home", _git(repo, "rev-parse", "HEAD"))

    daily = "dbt/models/gold/sales/fct_sales_daily.sql"
    _edit(repo, daily, "daily_state as (", "state_rows as (")
    _edit(repo, daily, "from daily_state", "from state_rows")
    _git(repo, "commit", "-qam", "refactor: name the CTE after what it holds")
    pr.commits["refactor"] = _git(repo, "rev-parse", "HEAD")

    _edit(
        repo, "dbt/models/gold/_internal/fct_sales_daily_state.sql",
        "cast(sums_per_group.total_due as decimal(19, 4)) as total_due",
        "cast(sums_per_group.subtotal + sums_per_group.tax_amt as decimal(19, 4)) as total_due",
    )  # fmt: skip
    _edit(
        repo, "dbt/tests/assert_fct_sales_daily_reconciles_with_silver.sql",
        "        sum(total_due) as total_due\n\n    from group_ledger",
        "        sum(subtotal + tax_amt) as total_due\n\n    from group_ledger",
    )  # fmt: skip
    _git(repo, "commit", "-qam", "gold: total due without freight")
    pr.commits["gold_rule"] = _git(repo, "rev-parse", "HEAD")

    _edit(
        repo, "dbt/models/silver/sales/slv_orders.sql",
        "        ship_date,\n",
        f"        ship_date,\n        ship_date is not null as {NEW_COLUMN},\n",
    )  # fmt: skip
    _git(repo, "commit", "-qam", "silver: orders say whether they shipped")
    pr.commits["silver_column"] = _git(repo, "rev-parse", "HEAD")
    return pr


def _by_relation(report: dict) -> dict[str, dict]:
    return {r["relation"]: r for r in report["relations"]}


def test_a_refactor_changes_no_data(pull_request: PullRequest) -> None:
    proc, report = pull_request.diff("refactor", "--fail-on-gold-change")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert report["base_sha"] == pull_request.base
    assert "model.medallion.fct_sales_daily" in report["built"]
    relations = _by_relation(report)
    assert "gold.fct_sales_daily" in relations and "gold.fct_product_sales" in relations
    for relation in report["relations"]:
        assert relation["status"] == "no data change", relation
        assert (relation["added"], relation["removed"], relation["changed"]) == (0, 0, 0) or (
            relation["changed"] is None and relation["added"] == relation["removed"] == 0
        )
    assert not report["gold_changed"]
    markdown = (pull_request.home / "reports" / "refactor" / "diff.md").read_text()
    assert markdown.startswith(DIFF_COMMENT_MARKER) and "**No data change**" in markdown
    assert "no data change in any model" in proc.stdout


def test_a_gold_rule_change_names_its_models_rows_and_new_total(
    pull_request: PullRequest,
) -> None:
    proc, report = pull_request.diff("gold_rule", "--fail-on-gold-change")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "a gold total changed" in proc.stderr
    changed = {r["model"] for r in report["relations"] if r["status"] != "no data change"}
    assert changed == {"fct_sales_daily", "fct_sales_daily_state"}

    [(groups_with_freight, old_total, new_total)] = pull_request.base_query(
        "select count(*) filter (where freight <> 0), sum(total_due), sum(subtotal + tax_amt) "
        "from gold.fct_sales_daily"
    )
    daily = _by_relation(report)["gold.fct_sales_daily"]
    assert groups_with_freight > 0
    assert (daily["added"], daily["removed"], daily["changed"]) == (0, 0, groups_with_freight)
    totals = {m["column"]: m for m in daily["measures"]}
    assert totals["total_due"]["base"] == str(old_total)
    assert totals["total_due"]["head"] == str(new_total)
    assert [c for c, m in totals.items() if m["base"] != m["head"]] == ["total_due"]
    html = (pull_request.home / "reports" / "gold_rule" / "diff.html").read_text()
    assert "gold.fct_sales_daily" in html and f"{new_total:,.2f}" in html


def test_a_new_silver_column_is_a_schema_change(pull_request: PullRequest) -> None:
    proc, report = pull_request.diff("silver_column")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    orders = _by_relation(report)["silver.orders"]
    assert orders["status"] == "schema changed", orders
    assert orders["columns_added"] == [NEW_COLUMN]
    assert orders["columns_removed"] == orders["columns_retyped"] == []
    [(rows,)] = pull_request.base_query("select count(*) from silver.orders")
    assert orders["rows_base"] == orders["rows_head"] == rows and orders["changed"] == 0
    markdown = (pull_request.home / "reports" / "silver_column" / "diff.md").read_text()
    assert f"+{NEW_COLUMN}" in markdown and "`silver.orders`" in markdown


# --------------------------------------------------------------------------- PR comment


@dataclass
class GitHubApi:
    """What a stand-in for GitHub's REST API on 127.0.0.1 received and keeps."""

    url: str = ""
    status: int = 200
    comments: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, auth


@pytest.fixture
def github_api() -> Iterator[GitHubApi]:
    api = GitHubApi()

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(api.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self) -> dict[str, Any]:
            api.requests.append((self.command, self.path, self.headers["Authorization"]))
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length)) if length else {}

        def do_GET(self) -> None:
            self._record()
            self._reply(api.comments if api.status == 200 else {"message": "no"})

        def do_POST(self) -> None:
            body = self._record()
            api.comments.append({"id": 100 + len(api.comments), "body": body["body"]})
            self._reply(api.comments[-1])

        def do_PATCH(self) -> None:
            body = self._record()
            comment_id = int(self.path.rsplit("/", 1)[1])
            next(c for c in api.comments if c["id"] == comment_id)["body"] = body["body"]
            self._reply({"id": comment_id})

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield api
    server.shutdown()
    server.server_close()


def _comment_env(api: GitHubApi, markdown: str) -> dict[str, str]:
    return {
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": "acme/medallion",
        "PR_NUMBER": "7",
        "DIFF_MARKDOWN": markdown,
        "GITHUB_API": api.url,
    }


def test_later_pushes_update_the_one_comment(
    github_api: GitHubApi, capsys: pytest.CaptureFixture[str]
) -> None:
    github_api.comments.append({"id": 1, "body": "LGTM"})  # someone else's comment stays
    first = f"{DIFF_COMMENT_MARKER}\nfirst push"
    assert ci.pr_comment(_comment_env(github_api, first)) == 0
    second = f"{DIFF_COMMENT_MARKER}\nsecond push"
    assert ci.pr_comment(_comment_env(github_api, second)) == 0

    assert github_api.comments == [{"id": 1, "body": "LGTM"}, {"id": 101, "body": second}]
    methods = [(m, p.split("?")[0]) for m, p, _ in github_api.requests]
    assert methods == [
        ("GET", "/repos/acme/medallion/issues/7/comments"),
        ("POST", "/repos/acme/medallion/issues/7/comments"),
        ("GET", "/repos/acme/medallion/issues/7/comments"),
        ("PATCH", "/repos/acme/medallion/issues/comments/101"),
    ]
    assert {auth for _, _, auth in github_api.requests} == {f"Bearer {TOKEN}"}
    out = capsys.readouterr()
    assert "created comment 101" in out.out and "updated comment 101" in out.out
    assert TOKEN not in out.out + out.err


def test_a_read_only_token_warns_and_does_not_fail(
    github_api: GitHubApi, capsys: pytest.CaptureFixture[str]
) -> None:
    github_api.status = 403
    assert ci.pr_comment(_comment_env(github_api, f"{DIFF_COMMENT_MARKER}\nx")) == 0
    assert "may not comment on PR #7 (HTTP 403" in capsys.readouterr().err
    github_api.status = 500
    assert ci.pr_comment(_comment_env(github_api, f"{DIFF_COMMENT_MARKER}\nx")) == 1


def test_ci_pull_request_path_posts_the_diff_under_act(
    pull_request: PullRequest,
    github_api: GitHubApi,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ci.yml's `diff` job builds the merge base and the PR in the runner; `pr-comment` posts
    its Markdown. The PR is the clone at its last commit (all three changes)."""
    repo = pull_request.repo
    _git(repo, "checkout", "-q", pull_request.commits["silver_column"])
    event = tmp_path / "pull_request.json"
    event.write_text(
        json.dumps(
            {
                "number": 7,
                "pull_request": {
                    "number": 7,
                    "head": {"ref": "feature", "sha": pull_request.commits["silver_column"]},
                    "base": {"ref": "main", "sha": pull_request.base},
                },
                "repository": {"full_name": "acme/medallion"},
            }
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("UV", str(REPO / ".local" / "bootstrap" / "bin" / "uv"))
    run = ActRun(
        "ci.yml",
        "pull_request",
        job="pr-comment",
        event_file=event,
        variables={"MEDALLION_GITHUB_API_URL": github_api.url},
        secrets={"GITHUB_TOKEN": TOKEN},
    )
    proc = run_act(run, repo, tmp_path / "act")
    try:
        output, _ = proc.communicate(timeout=840)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output[-6000:]
    assert "Slim CI build and data diff" in output and "post or update the diff comment" in output
    assert len(github_api.comments) == 1, output[-6000:]
    body = github_api.comments[0]["body"]
    assert body.startswith(DIFF_COMMENT_MARKER)
    assert f"`{pull_request.base[:12]}`" in body
    assert "`gold.fct_sales_daily` | **data changed**" in body
    assert f"+{NEW_COLUMN}" in body
    assert {auth for _, _, auth in github_api.requests} == {f"Bearer {TOKEN}"}
    assert TOKEN not in output
    if UPDATE_DOCS:  # README's CI/CD section shows this comment
        readme = REPO / "README.md"
        start, end = "<!-- pr-diff-sample:start -->", "<!-- pr-diff-sample:end -->"
        text = readme.read_text(encoding="utf-8")
        head, rest = text.split(start, 1)
        sample = body.replace(DIFF_COMMENT_MARKER + "\n", "", 1).strip()
        block = f"<details><summary>sample PR comment</summary>\n\n{sample}\n\n</details>"
        readme.write_text(f"{head}{start}\n{block}\n{end}{rest.split(end, 1)[1]}", encoding="utf-8")
