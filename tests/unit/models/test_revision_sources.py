"""A revision keeps its output schemas: runs never read schema files, so a moved folder is harmless."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from selinon_django.config import load_config
from selinon_django.models import ConfigRevision
from selinon_django.models.definitions import clear_system_config_cache
from selinon_django.revisions import load_revision
from selinon_django.task import OutputSchemaError, validate_output

NODES = """
tasks:
  - {name: A, import: app.tasks, output_schema: schemas/a.json}
flows: [f]
flow-definitions:
  - name: f
    edges:
      - {from: , to: A}
"""


@pytest.mark.django_db
def test_output_schema_is_stored_in_the_revision_and_survives_a_moved_folder(tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    (folder / "schemas").mkdir(parents=True)
    nodes = folder / "nodes.yaml"
    nodes.write_text(NODES)
    (folder / "schemas" / "a.json").write_text(json.dumps({"type": "object"}))
    revision, created = load_revision(load_config([nodes], []))
    assert created
    shutil.rmtree(folder)  # the folder the configuration was loaded from is gone
    clear_system_config_cache()

    config = ConfigRevision.objects.get(pk=revision.pk).system_config()

    assert [source.path for source in config.sources] == [str(nodes)]
    assert config.tasks["A"].output_schema_document == {"type": "object"}
    validate_output(config.tasks["A"], {"x": 1})
    with pytest.raises(OutputSchemaError):
        validate_output(config.tasks["A"], [1])


@pytest.mark.django_db
def test_a_changed_schema_is_a_new_revision(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    nodes = tmp_path / "nodes.yaml"
    nodes.write_text(NODES)
    schema = tmp_path / "schemas" / "a.json"
    schema.write_text(json.dumps({"type": "object"}))
    first, _ = load_revision(load_config([nodes], []))
    schema.write_text(json.dumps({"type": "array"}))
    second, created = load_revision(load_config([nodes], []))
    assert created and second.number == first.number + 1
