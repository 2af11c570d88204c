"""selinon_export: YAML that loads back to the same content hash; refusals write nothing."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError

from selinon_django.config import content_hash, load_config
from selinon_django.models import ConfigRevision
from selinon_django.revisions import load_revision
from tests.unit.commands.helpers import EXAMPLE_NAMES, example_config, fixture_config, row_counts

pytestmark = pytest.mark.django_db


def export(*args: str) -> str:
    out = io.StringIO()
    call_command("selinon_export", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("name", ["fixture", *EXAMPLE_NAMES])
def test_export_loads_back_to_the_same_hash(name: str, tmp_path: Path) -> None:
    config = fixture_config() if name == "fixture" else example_config(name)
    revision, _ = load_revision(config)
    output = export("-o", str(tmp_path / "out"))
    assert f"Exported revision 1 (hash {revision.content_hash})" in output
    exported = load_config([tmp_path / "out" / "nodes.yaml"], [tmp_path / "out" / "flows.yaml"])
    assert content_hash(exported) == revision.content_hash

    before = row_counts()
    loaded = io.StringIO()
    call_command(
        "selinon_load",
        "-n",
        str(tmp_path / "out" / "nodes.yaml"),
        "-f",
        str(tmp_path / "out" / "flows.yaml"),
        stdout=loaded,
    )
    assert "equals the current revision 1" in loaded.getvalue()
    assert row_counts() == before


def test_export_an_older_revision(tmp_path: Path) -> None:
    one, _ = load_revision(example_config("docs_flow1"))
    load_revision(fixture_config())
    export("-o", str(tmp_path), "--revision", "1")
    exported = load_config([tmp_path / "nodes.yaml"], [tmp_path / "flows.yaml"])
    assert content_hash(exported) == one.content_hash


def test_unknown_revision(tmp_path: Path) -> None:
    load_revision(fixture_config())
    with pytest.raises(CommandError, match="configuration revision 3 does not exist"):
        export("-o", str(tmp_path / "out"), "--revision", "3")
    assert not (tmp_path / "out").exists()


def test_nothing_loaded(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no configuration revision is loaded yet"):
        export("-o", str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_existing_files_need_force(tmp_path: Path) -> None:
    load_revision(fixture_config())
    (tmp_path / "flows.yaml").write_text("mine")
    with pytest.raises(CommandError, match=r"flows\.yaml: already exists"):
        export("-o", str(tmp_path))
    assert (tmp_path / "flows.yaml").read_text() == "mine"
    assert not (tmp_path / "nodes.yaml").exists()
    export("-o", str(tmp_path), "--force")
    assert content_hash(load_config([tmp_path / "nodes.yaml"], [tmp_path / "flows.yaml"])) == (
        ConfigRevision.objects.get().content_hash
    )


def test_output_is_a_file(tmp_path: Path) -> None:
    load_revision(fixture_config())
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(CommandError, match="exists and is not a directory"):
        export("-o", str(target))


def test_help_documents_every_option() -> None:
    command = load_command_class("selinon_django", "selinon_export")
    text = command.create_parser("manage.py", "selinon_export").format_help()
    for option in ("--output-dir", "--revision", "--force"):
        assert option in text
