"""`medallion diff --base <git ref>`: what a change to the dbt project does to the data.

Both revisions run on the same data in DuckDB:

1. The base is the merge base of ``<ref>`` and HEAD (what a pull request is compared with).
   Its dbt project (``git archive``) is built whole (`medallion.dbt.build_all`) on synthetic
   data, or on ``--source DIR``, into a warehouse of its own. That build, with its manifest,
   is kept per (base commit, data) under ``<home>/diff/`` and reused by the next diff.
2. The change is Slim CI: a copy of the base warehouse gets ``dbt build --select
   state:modified+ --state <base manifest> --full-refresh`` of the working tree's project
   (only the changed models and their children, rebuilt whole), then the usual publish.
3. Both warehouses are attached to one DuckDB connection and compared, for every model the
   build touched and every gold relation: columns added / removed / retyped, row counts,
   rows added / removed / changed by primary key (``meta.publish_key``, else the model's
   ``unique`` or ``unique_combination`` test; without one, rows are compared as a multiset),
   and each gold measure's total. Run metadata (``_``-prefixed columns, ``quarantined_at``)
   differs between any two builds and is left out of the row comparison.

Models are compared where consumers read them: the published relation (``silver.orders``)
for a published model, else the relation dbt built.

Writes ``diff.json``, ``diff.md`` (for a pull request) and ``diff.html`` (self-contained) and
prints a table. Why not Recce: docs/CI.md.
"""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from medallion.config import Settings
from medallion.dbt import StepResult
from medallion.errors import ConfigError, DataQualityError, MedallionError
from medallion.names import DIFF_COMMENT_MARKER, LAYERS

STATE_SELECTOR = "state:modified+"
_NUMERIC = ("DECIMAL", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "DOUBLE", "FLOAT")


def _is_run_metadata(column: str) -> bool:
    """Columns stamped by the load or the run: different in any two builds of the same data."""
    return column.startswith("_") or column == "quarantined_at"


# --------------------------------------------------------------------------- git


def _git(root: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ConfigError(f"git {' '.join(args)} failed in {root}: {proc.stderr.strip()}")
    return proc.stdout.strip()


def merge_base(root: Path, ref: str) -> str:
    """The commit a pull request from HEAD into ``ref`` is compared with."""
    try:
        return _git(root, "merge-base", ref, "HEAD")
    except ConfigError as exc:
        raise ConfigError(
            f"no merge base of {ref!r} and HEAD in {root}: is {ref!r} fetched? (on GitHub: "
            f"actions/checkout with fetch-depth: 0). {exc}"
        ) from None


def export_project(root: Path, sha: str, project: Path, dest: Path) -> Path:
    """The dbt project folder of commit ``sha``, written under ``dest``; returns its path."""
    rel = project.resolve().relative_to(root.resolve()).as_posix()
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", "--format=tar", sha, rel], capture_output=True
    )
    if archive.returncode != 0:
        raise ConfigError(f"{rel}/ is not in commit {sha[:12]}: {archive.stderr.decode().strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    return dest / rel


# --------------------------------------------------------------------------- models


@dataclass(frozen=True)
class Model:
    unique_id: str
    name: str
    layer: str | None
    relation: str  # schema.table where consumers read it
    key: tuple[str, ...]


def _layer(node: dict[str, Any]) -> str | None:
    return next((t for t in node.get("tags", []) if t in LAYERS), None)


def _test_keys(manifest: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """Model id -> the columns its uniqueness test names."""
    keys: dict[str, tuple[str, ...]] = {}
    for node in manifest["nodes"].values():
        meta = node.get("test_metadata") or {}
        attached = node.get("attached_node")
        kwargs = meta.get("kwargs") or {}
        if not attached or attached in keys:
            continue
        if meta.get("name") == "unique" and kwargs.get("column_name"):
            keys[attached] = (kwargs["column_name"],)
        elif meta.get("name") == "unique_combination" and kwargs.get("columns"):
            keys[attached] = tuple(kwargs["columns"])
    return keys


def read_models(manifest_file: Path) -> dict[str, Model]:
    """Every model of a manifest, by unique id, with the relation its consumers read."""
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    test_keys = _test_keys(manifest)
    models: dict[str, Model] = {}
    for uid, node in manifest["nodes"].items():
        if node["resource_type"] != "model":
            continue
        meta = node.get("config", {}).get("meta") or {}
        layer = _layer(node)
        alias = node.get("alias") or node["name"]
        published = layer in ("silver", "gold") and meta.get("publish", True)
        relation = f"{layer}.{alias}" if published else f"{node['schema']}.{alias}"
        key = meta.get("publish_key") or test_keys.get(uid) or ()
        models[uid] = Model(
            uid, node["name"], layer, relation, (key,) if isinstance(key, str) else tuple(key)
        )
    return models


# --------------------------------------------------------------------------- comparison


@dataclass
class Measure:
    relation: str
    column: str
    base: Decimal | int | None
    head: Decimal | int | None

    @property
    def changed(self) -> bool:
        return self.base != self.head


@dataclass
class RelationDiff:
    model: str
    relation: str
    layer: str | None
    status: str = "no data change"
    key: tuple[str, ...] = ()
    rows_base: int | None = None
    rows_head: int | None = None
    added: int = 0
    removed: int = 0
    changed: int | None = 0  # None: no key to pair rows by
    columns_added: list[str] = field(default_factory=list)
    columns_removed: list[str] = field(default_factory=list)
    columns_retyped: list[str] = field(default_factory=list)
    measures: list[Measure] = field(default_factory=list)

    @property
    def schema_changed(self) -> bool:
        return bool(self.columns_added or self.columns_removed or self.columns_retyped)

    @property
    def schema_text(self) -> str:
        parts = [f"+{c}" for c in self.columns_added] + [f"-{c}" for c in self.columns_removed]
        return ", ".join(parts + [f"~{c}" for c in self.columns_retyped])


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(con: Any, catalog: str, relation: str) -> dict[str, str]:
    schema, table = relation.split(".", 1)
    rows = con.execute(
        "select column_name, data_type from duckdb_columns() "
        "where database_name = ? and schema_name = ? and table_name = ? order by column_index",
        [catalog, schema, table],
    ).fetchall()
    return dict(rows)


def compare_relation(con: Any, model: Model, status_if_missing: str | None) -> RelationDiff:
    """One relation in ``base`` and ``head`` (attached catalogs of ``con``)."""
    diff = RelationDiff(model.name, model.relation, model.layer, key=model.key)
    base_cols = _columns(con, "base", model.relation)
    head_cols = _columns(con, "head", model.relation)
    if not base_cols or not head_cols or status_if_missing:
        diff.status = status_if_missing or ("new model" if not base_cols else "removed model")
        if head_cols and diff.status != "removed model":
            diff.rows_head = con.execute(f"select count(*) from head.{model.relation}").fetchone()[
                0
            ]
            diff.added = diff.rows_head
        if base_cols and diff.status != "new model":
            diff.rows_base = con.execute(f"select count(*) from base.{model.relation}").fetchone()[
                0
            ]
            diff.removed = diff.rows_base
        return diff
    diff.columns_added = [c for c in head_cols if c not in base_cols]
    diff.columns_removed = [c for c in base_cols if c not in head_cols]
    diff.columns_retyped = [
        f"{c} {base_cols[c]}→{head_cols[c]}"
        for c in head_cols
        if c in base_cols and base_cols[c] != head_cols[c]
    ]
    base, head = f"base.{model.relation}", f"head.{model.relation}"
    diff.rows_base = con.execute(f"select count(*) from {base}").fetchone()[0]
    diff.rows_head = con.execute(f"select count(*) from {head}").fetchone()[0]
    common = [c for c in head_cols if c in base_cols and not _is_run_metadata(c)]
    key = [c for c in model.key if c in common]
    if key and len(key) == len(model.key):
        values = [c for c in common if c not in key]
        on = " and ".join(f"b.{_q(c)} = h.{_q(c)}" for c in key)
        differs = " or ".join(
            f"b.{_q(c)}::varchar is distinct from h.{_q(c)}::varchar" for c in values
        )
        diff.added, diff.removed, diff.changed = con.execute(
            f"select (select count(*) from {head} h anti join {base} b on {on}), "
            f"(select count(*) from {base} b anti join {head} h on {on}), "
            f"(select count(*) from {base} b join {head} h on {on} where {differs or 'false'})"
        ).fetchone()
    else:
        cols = ", ".join(f"{_q(c)}::varchar" for c in common)
        diff.changed = None
        diff.added, diff.removed = con.execute(
            f"select (select count(*) from (select {cols} from {head} except all "
            f"select {cols} from {base})), (select count(*) from (select {cols} from {base} "
            f"except all select {cols} from {head}))"
        ).fetchone()
    if model.relation.startswith("gold."):  # the contract relations, not internal state
        for column, dtype in head_cols.items():
            numeric = dtype.upper().startswith(_NUMERIC)
            if (
                column in base_cols
                and numeric
                and column not in model.key
                and not (column.endswith("_id") or _is_run_metadata(column))
            ):
                b, h = con.execute(
                    f"select (select sum({_q(column)}) from {base}), "
                    f"(select sum({_q(column)}) from {head})"
                ).fetchone()
                diff.measures.append(Measure(model.relation, column, b, h))
    data_changed = diff.added or diff.removed or diff.changed or diff.rows_base != diff.rows_head
    if diff.schema_changed:
        diff.status = "schema and data changed" if data_changed else "schema changed"
    elif data_changed:
        diff.status = "data changed"
    return diff


# --------------------------------------------------------------------------- report


@dataclass
class DiffReport:
    base_sha: str
    base_ref: str
    head: str
    data: str
    built: list[str]
    relations: list[RelationDiff]

    @property
    def changed(self) -> list[RelationDiff]:
        return [r for r in self.relations if r.status != "no data change"]

    @property
    def measures(self) -> list[Measure]:
        return [m for r in self.relations for m in r.measures]

    @property
    def gold_changed(self) -> bool:
        return any(m.changed for m in self.measures)

    def to_dict(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            return str(value) if isinstance(value, Decimal) else value

        out = dataclasses.asdict(self)
        for rel in out["relations"]:
            for m in rel["measures"]:
                m["base"], m["head"] = plain(m["base"]), plain(m["head"])
        out["gold_changed"] = self.gold_changed
        return out

    def render(self, template: str) -> str:
        from medallion.templates import render

        return render(template, report=self, marker=DIFF_COMMENT_MARKER, num=_num)

    def write(self, out_dir: Path) -> dict[str, Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        files = {
            "json": out_dir / "diff.json",
            "markdown": out_dir / "diff.md",
            "html": out_dir / "diff.html",
        }
        files["json"].write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        files["markdown"].write_text(self.render("diff.md.j2"), encoding="utf-8")
        files["html"].write_text(self.render("diff.html.j2"), encoding="utf-8")
        return files

    def print(self) -> None:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"data diff: {self.base_sha[:12]} ({self.base_ref}) -> {self.head}")
        for column in ("model", "relation", "change", "rows", "added", "removed", "changed"):
            table.add_column(column, justify="right" if column in ("added", "removed") else None)
        table.add_column("schema")
        for r in self.relations:
            table.add_row(
                r.model, r.relation, r.status, f"{_num(r.rows_base)} → {_num(r.rows_head)}",
                _num(r.added), _num(r.removed), _num(r.changed), r.schema_text,
            )  # fmt: skip
        console = Console(width=160)
        console.print(table)
        for m in self.measures:
            if m.changed:
                console.print(f"gold total changed: {m.relation}.{m.column} {m.base} → {m.head}")
        if not self.changed:
            console.print("no data change in any model")


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return str(value)


# --------------------------------------------------------------------------- run


def _side(settings: Settings, folder: Path, project: Path, target: str = "duckdb") -> Settings:
    """Settings of one side: its own warehouse, artifacts and dbt project (DuckDB)."""
    profiles = project if settings.dbt_profiles_dir == settings.dbt_project_dir else None
    return dataclasses.replace(
        settings,
        target=target,
        home=folder,
        warehouse=folder / "warehouse.duckdb",
        artifacts_dir=folder / "artifacts",
        dbt_project_dir=project,
        dbt_profiles_dir=profiles or settings.dbt_profiles_dir,
    )


def _data_tag(source: Path | None, scale: float, seed: int) -> tuple[str, str]:
    """(folder-safe tag, description) of the data both sides are built on."""
    if source is None:
        return f"sf{scale:g}-seed{seed}", f"synthetic AdventureWorks SF {scale:g}, seed {seed}"
    from medallion.loading import readers

    return f"source-{readers.fingerprint(source)[:12]}", f"AdventureWorks export {source}"


def _base_folder(settings: Settings, sha: str, tag: str) -> Path:
    return settings.home / "diff" / f"base-{sha[:12]}-{tag}"


def base_state(settings: Settings, sha: str) -> Path:
    """The base revision's manifest, parsed for ``settings``' target (state:modified compares
    relations too, so both sides must render for the same target); its folder."""
    from medallion.dbt import parsed_manifest

    folder = _base_folder(settings, sha, f"parse-{settings.target}")
    state = folder / "state"
    if not (state / "manifest.json").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        project = export_project(settings.project_root, sha, settings.dbt_project_dir, folder)
        parsed_manifest(_side(settings, folder, project, target=settings.target), state)
    return state


def build_base(
    settings: Settings, sha: str, *, source: Path | None, scale: float, seed: int
) -> tuple[Settings, Path]:
    """The base revision built whole on the data in DuckDB; (its settings, its manifest
    folder). Reused when this commit was already built on this data."""
    from medallion.dbt import build_all
    from medallion.loading.api import load

    folder = _base_folder(settings, sha, _data_tag(source, scale, seed)[0])
    state = folder / "state"
    project = folder / settings.dbt_project_dir.relative_to(settings.project_root)
    side = _side(settings, folder, project)
    if (state / "manifest.json").is_file() and side.warehouse.is_file():
        print(f"base {sha[:12]}: reusing its build in {folder}")
        return side, state
    shutil.rmtree(folder, ignore_errors=True)
    export_project(settings.project_root, sha, settings.dbt_project_dir, folder)
    print(f"base {sha[:12]}: loading data and building every model ({folder})")
    load(side, source=source, scale=scale, seed=seed).print()
    built = build_all(side)
    if not built.success:
        raise MedallionError(
            f"the base revision {sha[:12]} does not build on this data; see "
            f"{built.result.artifacts / 'dbt.log'}"
        )
    state.mkdir(parents=True, exist_ok=True)
    shutil.copy2(built.result.artifacts / "manifest.json", state / "manifest.json")
    return side, state


def build_change(settings: Settings, state: Path, *, empty: bool = False) -> StepResult:
    """Slim CI: the working tree's changed models and their children (``state:modified+``
    against the manifest in ``state``), rebuilt whole and published; or built with zero
    rows and not published (``empty``: does the changed SQL build on this target?)."""
    from medallion.dbt import build_all

    built = build_all(
        settings, full_refresh=not empty, select=STATE_SELECTOR, state=state, empty=empty
    )
    if not built.success:
        raise DataQualityError(
            f"the change does not build: dbt build --select {STATE_SELECTOR} failed; see "
            f"{built.result.artifacts / 'dbt.log'}"
        )
    return built.result


def run_diff(
    settings: Settings,
    *,
    base_ref: str,
    source: Path | None = None,
    scale: float = 0.05,
    seed: int = 42,
    out_dir: Path | None = None,
) -> tuple[DiffReport, dict[str, Path]]:
    import duckdb

    root = settings.project_root
    sha = merge_base(root, base_ref)
    head = _git(root, "rev-parse", "--short=12", "HEAD")
    rel = settings.dbt_project_dir.resolve().relative_to(root.resolve()).as_posix()
    if _git(root, "status", "--porcelain", "--", rel):
        head += " + uncommitted changes"
    base, state = build_base(settings, sha, source=source, scale=scale, seed=seed)
    folder = base.home.with_name(base.home.name.replace("base-", "head-", 1))
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    side = _side(settings, folder, settings.dbt_project_dir)
    shutil.copyfile(base.warehouse, side.warehouse)
    result = build_change(side, state)
    built = [n.unique_id for n in result.nodes if n.unique_id.startswith("model.")]
    base_models = read_models(state / "manifest.json")
    head_models = read_models(result.artifacts / "manifest.json")
    wanted = set(built) | {u for u, m in head_models.items() if m.layer == "gold"}
    wanted |= set(head_models) ^ set(base_models)
    order = {layer: i for i, layer in enumerate(LAYERS)}
    relations = []
    with duckdb.connect() as con:
        con.execute(f"attach '{base.warehouse}' as base (read_only)")
        con.execute(f"attach '{side.warehouse}' as head (read_only)")
        for uid in wanted:
            model = head_models.get(uid) or base_models[uid]
            missing = (
                None
                if uid in head_models and uid in base_models
                else ("new model" if uid in head_models else "removed model")
            )
            relations.append(compare_relation(con, model, missing))
    relations.sort(key=lambda r: (order.get(r.layer or "", 9), r.model))
    shown_ref = base_ref[:12] if base_ref.startswith(sha) else base_ref  # CI passes the sha
    report = DiffReport(sha, shown_ref, head, _data_tag(source, scale, seed)[1], built, relations)
    files = report.write(out_dir or settings.home / "diff" / "report")
    return report, files
