"""`medallion docs`: dbt's documentation site, with the lineage graph, into `<home>/docs`.

`dbt docs generate --static` writes `static_index.html`, one file with the manifest and the
catalog inlined: it opens straight from disk, no web server needed. The catalog (column
types, row counts) is read from the warehouse, so build the pipeline first.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

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
    return site
