"""The documentation site: built offline with warnings as errors, and in step with the code.

``mkdocs build --strict`` fails on any warning: a broken relative link, a link to an anchor a page
does not have, a page missing from the navigation, a docstring the API reference cannot render,
a snippet whose file is gone. The other tests check that the reference pages name what the code
has, so a new setting, check, command, YAML key, predicate, strategy, trace event or endpoint
cannot land undocumented.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from selinon_django import __version__
from selinon_django.conf import SelinonSettings
from selinon_django.predicates import BUILTIN_PREDICATES
from selinon_django.strategies import STRATEGIES
from selinon_django.trace.events import EVENT_NUMBERS
from tests.docs import pages

REPO = pages.REPO
PACKAGE = REPO / "selinon_django"


def test_the_site_builds_offline_with_warnings_as_errors(tmp_path: Path) -> None:
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's banner about its successor, not ours
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(REPO / "mkdocs.yml"),
         "--site-dir", str(site)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    # the generated pieces are there: the API reference from docstrings, the schema rendered offline
    api = (site / "reference" / "python-api" / "index.html").read_text()
    assert "run_flow_selective" in api and "parent_task_result" in api and "IMPORT_PREFIXES" in api
    assert ":class:" not in api  # reST roles shown as code (docs/hooks/rst_roles.py)
    schema = (site / "reference" / "openapi.html").read_text()
    assert '"openapi"' in schema and 'src="redoc.standalone.js"' in schema and "http" not in schema.split(
        "<script id=\"schema\"")[0]
    assert (site / "reference" / "redoc.standalone.js").stat().st_size > 100_000
    assert (site / "reference" / "openapi.yaml").read_text() == (PACKAGE / "api" / "openapi.yaml").read_text()
    changelog = (site / "project" / "changelog" / "index.html").read_text()
    assert "Unreleased" in changelog and "Keep a Changelog" in changelog


def _names_missing(names: set[str], page: str) -> list[str]:
    text = pages.page(page)
    return sorted(name for name in names if f"`{name}`" not in text and f"`{name}:" not in text)


def test_every_setting_is_in_the_settings_reference() -> None:
    assert _names_missing({f.name for f in fields(SelinonSettings)}, "reference/settings.md") == []


def test_every_system_check_is_in_the_settings_reference() -> None:
    source = "".join(path.read_text() for path in PACKAGE.glob("*.py"))
    ids = set(re.findall(r"selinon_django\.[EW]\d{3}", source))
    assert len(ids) >= 20
    assert _names_missing(ids, "reference/settings.md") == []


def test_every_command_is_in_the_commands_reference() -> None:
    commands = {p.stem for p in (PACKAGE / "management" / "commands").glob("selinon_*.py")}
    text = pages.page("reference/commands.md")
    assert sorted(c for c in commands if f"| `{c}" not in text) == []


def _schema_keys(node: object) -> set[str]:
    keys: set[str] = set()
    if isinstance(node, dict):
        properties = node.get("properties")
        if isinstance(properties, dict):
            keys |= set(properties)
        for value in node.values():
            keys |= _schema_keys(value)
    elif isinstance(node, list):
        for value in node:
            keys |= _schema_keys(value)
    return keys


def test_every_yaml_key_predicate_and_strategy_is_in_the_yaml_reference() -> None:
    schema = yaml.safe_load((PACKAGE / "config" / "schema.json").read_text())
    assert _names_missing(_schema_keys(schema), "reference/yaml.md") == []
    assert _names_missing(set(BUILTIN_PREDICATES), "reference/yaml.md") == []
    assert _names_missing(set(STRATEGIES), "reference/yaml.md") == []


def test_every_trace_event_is_in_the_events_reference() -> None:
    assert _names_missing(set(EVENT_NUMBERS), "reference/events-and-metrics.md") == []


def test_every_endpoint_is_in_the_rest_reference() -> None:
    schema = yaml.safe_load((PACKAGE / "api" / "openapi.yaml").read_text())

    def shape(path: str) -> str:
        return re.sub(r"\{[^}]*\}", "{}", path)

    text = shape(pages.page("reference/rest-api.md"))
    assert sorted(p for p in schema["paths"] if f"`{shape(p)}" not in text) == []


def test_every_screenshot_is_shown_on_a_page() -> None:
    text = "".join(p.read_text() for p in pages.DOCS.rglob("*.md"))
    shots = sorted(p.name for p in (pages.DOCS / "screenshots").glob("*.png"))
    assert shots
    assert [name for name in shots if f"screenshots/{name})" not in text] == []


def test_the_changelog_keeps_a_changelog() -> None:
    text = (REPO / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert headings[0] == "[Unreleased]"
    assert all(re.fullmatch(r"\[(Unreleased|\d+\.\d+\.\d+)\]( - \d{4}-\d{2}-\d{2})?", h) for h in headings), headings
    assert set(re.findall(r"^### (.+)$", text, re.M)) <= {
        "Upgrading", "Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
    assert f"**{__version__}**" in text or f"## [{__version__}]" in text


@pytest.mark.parametrize("page", ["getting-started.md", "how-to/deploy.md"])
def test_the_tested_pages_keep_the_blocks_the_package_test_applies(page: str) -> None:
    """tests/package/test_wheel.py applies these blocks to a new project: a page that lost its titled
    blocks would make that test vacuous rather than fail here first."""
    titled = [b.title for b in pages.blocks(pages.page(page)) if b.title]
    assert "mysite/settings.py" in titled


def test_the_readme_is_a_landing_page_whose_links_resolve() -> None:
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) < 150
    targets = [t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", text) if "://" not in t]
    assert targets and [t for t in targets if not (REPO / t).exists()] == []
    for page in ("docs/getting-started.md", "docs/how-to/deploy.md", "docs/reference/python-api.md"):
        assert page in targets
