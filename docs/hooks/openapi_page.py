"""MkDocs hook: the committed OpenAPI schema, served with the site and rendered by Redoc offline.

The REST reference links to ``reference/openapi.yaml`` (the file ``selinon_django/api/openapi.yaml``
as committed, which a test keeps equal to what the code generates) and to
``reference/openapi.html``, a page that renders it with the Redoc bundle drf-spectacular-sidecar
ships. The schema is embedded in the page as JSON rather than fetched, so the page works from a
``file://`` copy of the site and no CDN is asked for anything. The files are added in
``on_files`` so that MkDocs' link validation knows them: a broken link to either fails
``mkdocs build --strict``.
"""
from __future__ import annotations

import html
import json
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "selinon_django" / "api" / "openapi.yaml"
REDOC = "drf_spectacular_sidecar"
REDOC_BUNDLE = ("static", "drf_spectacular_sidecar", "redoc", "bundles", "redoc.standalone.js")

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} - REST API schema</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body {{ margin: 0; }}</style>
</head>
<body>
<div id="redoc"></div>
<script id="schema" type="application/json">{schema}</script>
<script src="redoc.standalone.js"></script>
<script>
Redoc.init(JSON.parse(document.getElementById("schema").textContent), {{}}, document.getElementById("redoc"));
</script>
</body>
</html>
"""


def redoc_page(schema: dict[str, Any]) -> str:
    """The HTML page rendering ``schema``; ``</`` is escaped so no text of the schema ends the script."""
    embedded = json.dumps(schema, sort_keys=False).replace("</", "<\\/")
    title = html.escape(str(schema.get("info", {}).get("title", "API")))
    return PAGE.format(title=title, schema=embedded)


def on_files(files: Files, config: MkDocsConfig, **_: Any) -> Files:
    text = SCHEMA.read_text(encoding="utf-8")
    schema = yaml.safe_load(text)
    bundle = resources.files(REDOC).joinpath(*REDOC_BUNDLE).read_text(encoding="utf-8")
    for uri, content in (
        ("reference/openapi.yaml", text),
        ("reference/openapi.html", redoc_page(schema)),
        ("reference/redoc.standalone.js", bundle),
    ):
        files.append(File.generated(config, uri, content=content))
    return files
