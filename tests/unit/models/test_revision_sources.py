"""A configuration rebuilt from a revision knows its source files, so relative paths resolve."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from selinon_django.config import load_config
from selinon_django.models import ConfigRevision
from selinon_django.models.definitions import clear_system_config_cache
from selinon_django.revisions import load_revision
from selinon_django.task import SchemaLoader

NODES = """
tasks:
  - {name: A, import: app.tasks, output_schema: ../schemas/a.json}
flows: [f]
flow-definitions:
  - name: f
    edges:
      - {from: , to: A}
"""


@pytest.mark.django_db
def test_output_schema_resolves_from_a_revision(tmp_path: Path) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "schemas").mkdir()
    nodes = tmp_path / "flows" / "nodes.yaml"
    nodes.write_text(NODES)
    (tmp_path / "schemas" / "a.json").write_text(json.dumps({"type": "object"}))
    revision, created = load_revision(load_config([nodes], []))
    assert created
    clear_system_config_cache()

    config = ConfigRevision.objects.get(pk=revision.pk).system_config()

    assert [source.path for source in config.sources] == [str(nodes)]
    assert SchemaLoader.for_config(config)("../schemas/a.json") == {"type": "object"}
