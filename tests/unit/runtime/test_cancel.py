"""``cancel_flow`` announces the end of every run it revokes, as the dispatcher does for a run that
ends by itself: Celery's result backend says REVOKED and ``flow_finished`` is sent after the commit."""
from __future__ import annotations

from typing import Any

import pytest
from celery.result import AsyncResult

from selinon_django.config import SourceFile, load_config_from_sources
from selinon_django.models import ConfigRevision, FlowRun
from selinon_django.revisions import load_revision
from selinon_django.runtime.api import cancel_flow, run_flow
from selinon_django.runtime.configs import forget_configs
from selinon_django.signals import flow_finished

CONFIG = """\
tasks:
  - {name: A, import: demo_project.tasks.never_imported}
flows: [main]
flow-definitions:
  - name: main
    edges:
      - {from: , to: A}
"""


@pytest.fixture
def revision(db: None) -> ConfigRevision:
    forget_configs()  # another test's revision may have had the same id
    return load_revision(load_config_from_sources([SourceFile("all.yaml", "nodes", CONFIG)]))[0]


def test_cancel_sends_flow_finished_and_stores_revoked(
    revision: ConfigRevision, django_capture_on_commit_callbacks: Any
) -> None:
    seen: list[tuple[str, str]] = []

    def receiver(sender: Any, run: FlowRun, status: str, **kwargs: Any) -> None:
        seen.append((run.pk, status))

    flow_finished.connect(receiver, weak=False)
    try:
        run_id = run_flow("main", {"x": 1})
        with django_capture_on_commit_callbacks(execute=True):
            cancel_flow(run_id)
    finally:
        flow_finished.disconnect(receiver)

    assert seen == [(run_id, "revoked")]
    assert FlowRun.objects.get(pk=run_id).status == "revoked"
    assert AsyncResult(run_id).state == "REVOKED"
