"""The HTML and Markdown the package writes (run report, data diff), as Jinja2 templates
beside this file; one environment, autoescaped for HTML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

_HERE = Path(__file__).parent


def render(name: str, **context: Any) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE),
        autoescape=jinja2.select_autoescape(["html.j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,  # diff.md is appended to $GITHUB_OUTPUT before a delimiter
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template(name).render(**context)
