"""A run that fails eagerly while siblings still wait in the broker revokes them: no node run stays
``sent`` for ever (the run page's timeline grew without end), and their late messages run nothing.
Nodes started ``nowait`` are left to run, as in Selinon."""
from __future__ import annotations

import pytest

from selinon_django.config import SourceFile
from selinon_django.models import FlowRun, NodeRun
from selinon_django.runtime.api import run_flow
from selinon_django.runtime.messages import NODE_TASK
from tests.unit.broker import install

CONFIG = """\
tasks:
  - {name: Boom, import: example_tasks, classname: Fail}
  - {name: Waits, import: example_tasks, classname: Step}
  - {name: Later, import: example_tasks, classname: Step}
flows: [main]
flow-definitions:
  - name: main
    eager_failures: [Boom]
    nowait: [Later]
    edges:
      - {from: , to: [Boom, Waits, Later]}
"""


@pytest.mark.django_db(transaction=True)  # messages are published after the commits, as in production
def test_a_failed_run_revokes_what_never_started(monkeypatch: pytest.MonkeyPatch) -> None:
    broker = install(monkeypatch, [SourceFile("all.yaml", "nodes", CONFIG)])
    run_id = run_flow("main", {"fail": True})
    boom = next(m for m in broker.queue if NodeRun.objects.get(pk=m.options["task_id"]).name == "Boom")
    broker.queue.remove(boom)
    broker.serve(boom)
    while any(m.task_name != NODE_TASK for m in broker.queue):  # dispatcher steps, if any
        message = next(m for m in broker.queue if m.task_name != NODE_TASK)
        broker.queue.remove(message)
        broker.serve(message)
    assert FlowRun.objects.get(pk=run_id).status == "failed"
    statuses = dict(NodeRun.objects.filter(flow_run_id=run_id).values_list("name", "status"))
    assert statuses == {"Boom": "failed", "Waits": "revoked", "Later": "sent"}
    # the late message of the revoked node runs nothing
    broker.drain()
    waits = NodeRun.objects.get(flow_run_id=run_id, name="Waits")
    assert (waits.status, waits.attempts) == ("revoked", 0)
