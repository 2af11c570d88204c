"""selinon_plot: one file per flow in the asked format, styles, refusals that write nothing.

These tests need graphviz's ``dot``; they fail (not skip) without it, because plotting is a
feature the project promises.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError
from django.test import override_settings

from selinon_django.revisions import load_revision
from tests.unit.commands.helpers import EXAMPLE_NAMES, FIXTURES, FLOWS_DIR, NODES, example_paths, fixture_config

pytestmark = pytest.mark.django_db

FILES = ("-n", str(NODES), "-f", str(FLOWS_DIR))


def plot(*args: str) -> str:
    out = io.StringIO()
    call_command("selinon_plot", *args, stdout=out)
    return out.getvalue()


def test_dot_is_installed() -> None:
    assert shutil.which("dot"), "graphviz's dot program is required (apt-get install graphviz)"


def test_svg_one_file_per_flow(tmp_path: Path) -> None:
    output = plot(*FILES, "-o", str(tmp_path), "--format", "svg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["items.svg", "main.svg"]
    assert sorted(output.split()) == [str(tmp_path / "items.svg"), str(tmp_path / "main.svg")]
    svg = (tmp_path / "main.svg").read_text()
    assert "<svg" in svg
    assert "fieldEqual" in svg


def test_png_one_file_per_flow(tmp_path: Path) -> None:
    plot(*FILES, "-o", str(tmp_path / "png"), "--format", "png")
    files = sorted((tmp_path / "png").iterdir())
    assert [p.name for p in files] == ["items.png", "main.png"]
    assert all(p.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") for p in files)


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_examples_plot(name: str, tmp_path: Path) -> None:
    nodes, flows = example_paths(name)
    plot("-n", str(nodes), "-f", str(flows), "-o", str(tmp_path))
    assert all(p.stat().st_size > 0 for p in tmp_path.iterdir())
    assert len(list(tmp_path.iterdir())) >= 2


def test_one_flow(tmp_path: Path) -> None:
    plot(*FILES, "-o", str(tmp_path), "--flow", "items")
    assert [p.name for p in tmp_path.iterdir()] == ["items.svg"]


def test_current_revision_without_files(tmp_path: Path) -> None:
    load_revision(fixture_config())
    plot("-o", str(tmp_path), "--format", "dot")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["items.dot", "main.dot"]


def test_style_file_overrides(tmp_path: Path) -> None:
    plot(*FILES, "-o", str(tmp_path), "--format", "dot", "--style", str(FIXTURES / "style.yaml"), "--flow", "main")
    source = (tmp_path / "main.dot").read_text()
    assert "#123456" in source  # task fill colour
    assert "rankdir=LR" in source
    assert "arrowhead=vee" in source
    assert "box3d" in source  # what the file does not change keeps its default


def test_settings_style_then_file(tmp_path: Path) -> None:
    with override_settings(
        SELINON_DJANGO={"GRAPH_STYLE": {"flow": {"fillcolor": "#abcdef"}, "task": {"shape": "box"}}}
    ):
        plot(*FILES, "-o", str(tmp_path), "--format", "dot", "--style", str(FIXTURES / "style.yaml"), "--flow", "main")
    source = (tmp_path / "main.dot").read_text()
    assert "#abcdef" in source
    assert "#123456" in source


def refused(tmp_path: Path, *args: str, match: str) -> None:
    target = tmp_path / "out"
    with pytest.raises(CommandError, match=match):
        plot(*args, "-o", str(target))
    assert not target.exists()


def test_unknown_flow(tmp_path: Path) -> None:
    refused(
        tmp_path,
        *FILES,
        "--flow",
        "main",
        "--flow",
        "nope",
        match=r"unknown flow 'nope' in files .*\(flows: items, main\)",
    )


def test_unknown_format(tmp_path: Path) -> None:
    refused(tmp_path, *FILES, "--format", "docx", match="unknown graph format 'docx'")


def test_missing_style_file(tmp_path: Path) -> None:
    refused(tmp_path, *FILES, "--style", str(tmp_path / "none.yaml"), match="none.yaml: cannot read the style file")


def test_bad_style_key(tmp_path: Path) -> None:
    style = tmp_path / "style.yaml"
    style.write_text("nodes:\n  color: red\n")
    refused(tmp_path, *FILES, "--style", str(style), match="nodes: unknown style key")


def test_missing_definition_file(tmp_path: Path) -> None:
    refused(tmp_path, "-n", str(tmp_path / "nodes.yaml"), "-f", str(FLOWS_DIR), match="nodes definition file not found")


def test_no_revision(tmp_path: Path) -> None:
    refused(tmp_path, match="no configuration revision is loaded yet")


def test_missing_dot_program(tmp_path: Path) -> None:
    with override_settings(SELINON_DJANGO={"DOT_PROGRAM": str(tmp_path / "no-dot")}):
        refused(tmp_path, *FILES, match="no-dot' not found")


def test_help_documents_every_option() -> None:
    command = load_command_class("selinon_django", "selinon_plot")
    text = command.create_parser("manage.py", "selinon_plot").format_help()
    for option in (
        "--nodes-definition",
        "--flow-definitions",
        "--revision",
        "--output-dir",
        "--format",
        "--style",
        "--flow",
        "fallback_edge",
        "condition_foreach",
    ):
        assert option in text
