"""`medallion docs`: dbt's documentation site, with the lineage graph, into `<home>/docs`.

`dbt docs generate --static` writes `static_index.html`, one file with the manifest and the
catalog inlined: it opens straight from disk, no web server needed. The catalog (column
types, row counts) is read from the warehouse, so build the pipeline first.

dbt documents each model where it was built; for a published model that is the audit
schema (`gold_audit.fct_sales_daily`), which consumers never query. The site is therefore
rewritten to name the published relation (`gold.fct_sales_daily`, same columns and rows),
and the page is inlined again the way dbt inlines it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medallion.errors import MedallionError

if TYPE_CHECKING:
    from medallion.config import Settings


def docs_dir(settings: Settings) -> Path:
    return settings.home / "docs"


def build_docs(settings: Settings) -> Path:
    """Generate the docs site; returns the path of the self-contained `static_index.html`."""
    from medallion import dbt

    if settings.target == "duckdb" and not settings.warehouse.is_file():
        raise MedallionError(
            f"warehouse {settings.warehouse} does not exist: dbt's catalog is read from it. "
            "Run `make run` (or `medallion run`) first."
        )
    out = docs_dir(settings)
    argv = dbt.dbt_argv("docs generate", settings, target_path=out, log_path=out)
    dbt.invoke([*argv, "--static"], settings, reuse_manifest=False)
    site = out / "static_index.html"
    if not site.is_file():
        raise MedallionError(f"dbt docs generate wrote no {site}; see {out / 'dbt.log'}")
    _name_published_relations(out)
    return site


def _name_published_relations(out: Path) -> None:
    """Point every published model's docs at the relation consumers read."""
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    catalog = json.loads((out / "catalog.json").read_text(encoding="utf-8"))
    published = {audit: layer for layer, audit in _audit_schemas(manifest).items()}
    for uid, node in manifest["nodes"].items():
        meta = (node.get("config") or {}).get("meta") or {}
        layer = published.get(node.get("schema"))
        if node["resource_type"] != "model" or layer is None or meta.get("publish") is False:
            continue
        audit = node["schema"]
        node["schema"] = layer
        if node.get("relation_name"):
            node["relation_name"] = node["relation_name"].replace(f'"{audit}"', f'"{layer}"')
        entry = catalog["nodes"].get(uid)
        if entry:  # publish copies the candidate (a view, for gold) into a table
            entry["metadata"].update(schema=layer, type="BASE TABLE")
    manifest_text, catalog_text = json.dumps(manifest), json.dumps(catalog)
    (out / "manifest.json").write_text(manifest_text, encoding="utf-8")
    (out / "catalog.json").write_text(catalog_text, encoding="utf-8")
    # dbt's --static: index.html with the two placeholders replaced by the JSON documents
    page = (out / "index.html").read_text(encoding="utf-8")
    page = page.replace('"MANIFEST.JSON INLINE DATA"', manifest_text)
    page = page.replace('"CATALOG.JSON INLINE DATA"', catalog_text)
    (out / "static_index.html").write_text(page, encoding="utf-8")


def _audit_schemas(manifest: dict[str, Any]) -> dict[str, str]:
    """Layer -> audit schema, from the project's var('audit_schemas') as the models used it:
    a model tagged with a layer and built outside that layer's schema."""
    found: dict[str, str] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model":
            continue
        for layer in node.get("tags", []):
            if node.get("config", {}).get("schema") == layer and node["schema"] != layer:
                found[layer] = node["schema"]
    return found
