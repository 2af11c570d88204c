"""The sweeper's rules for resending, against a broker whose answers the test sets: a message
that may wait in its queue is not sent again, one that cannot is sent after ``SWEEP_GRACE``,
everything in flight at once when the broker lost its data, and resends back off."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from selinon_django.config import SourceFile, load_config_from_sources
from selinon_django.models import ConfigRevision, FlowRun, NodeRun
from selinon_django.models.runs import FlowRunStatus, NodeRunStatus
from selinon_django.models.triggers import TriggerSession, TriggerTaskInstance, TriggerTaskStatus
from selinon_django.revisions import load_revision
from selinon_django.runtime import advisory, liveness, sweeper
from selinon_django.runtime.configs import forget_configs
from selinon_django.runtime.messages import DISPATCHER_TASK, NODE_TASK, TRIGGER_TASK
from selinon_django.runtime.wakeups import PENDING

NODES = """\
global:
  default_task_queue: q_tasks
  default_dispatcher_queue: q_dispatch
tasks:
  - {name: A, import: demo_project.tasks.never_imported, classname: A}
flows: [main]
"""
FLOWS = """\
flow-definitions:
  - name: main
    edges:
      - {from: [], to: [A]}
"""


class FakeProbe:
    """A broker whose queue lengths and marker the test sets."""

    def __init__(self, sizes: dict[str, int] | None = None, *, lost: bool = False) -> None:
        self.sizes = sizes or {}
        self.lost = lost
        self.planted = 0

    def queue_size(self, queue: str | None) -> int | None:
        return self.sizes.get(queue or "celery", 0)

    def lost_its_data(self) -> bool:
        return self.lost

    def plant_marker(self) -> None:
        self.planted += 1
        self.lost = False

    def close(self) -> None:
        return None


@pytest.fixture
def revision(db: None) -> ConfigRevision:
    forget_configs()
    sources = [SourceFile("nodes.yaml", "nodes", NODES), SourceFile("flows.yaml", "flows", FLOWS)]
    return load_revision(load_config_from_sources(sources))[0]


@pytest.fixture
def run(revision: ConfigRevision) -> FlowRun:
    return FlowRun.objects.create(id="run-1", flow_name="main", revision=revision, status=FlowRunStatus.RUNNING)


def ago(seconds: float) -> datetime:
    return timezone.now() - timedelta(seconds=seconds)


def sent_node(run: FlowRun, *, sent: float, first_sent: float | None = None, countdown: float | None = None,
              node_id: str = "n1") -> NodeRun:
    """A node whose message went out ``sent`` seconds ago (first issued ``first_sent`` ago)."""
    node = NodeRun.objects.create(id=node_id, flow_run=run, name="A", status=NodeRunStatus.SENT, countdown=countdown)
    NodeRun.objects.filter(pk=node.pk).update(sent_at=ago(sent), updated_at=ago(first_sent or sent))
    return node


def sent(enqueued: list[Any], task_name: str) -> list[Any]:
    found = [m for m in enqueued if m.task_name == task_name]
    enqueued.clear()
    return found


def test_a_task_message_that_may_wait_in_its_queue_is_not_sent_again(run: FlowRun, enqueued: list[Any]) -> None:
    sent_node(run, sent=60)
    assert sweeper.sweep(FakeProbe({"q_tasks": 3})).tasks == 0  # behind 3 others, maybe
    assert sweeper.sweep(FakeProbe({"q_tasks": 0})).tasks == 1  # its queue is empty: it is gone
    [message] = sent(enqueued, NODE_TASK)
    assert message.options["task_id"] == "n1" and message.options["queue"] == "q_tasks"


def test_a_fresh_message_or_one_still_counting_down_is_left_alone(run: FlowRun, enqueued: list[Any]) -> None:
    sent_node(run, sent=2)
    sent_node(run, sent=60, countdown=120, node_id="n2")
    assert sweeper.sweep(FakeProbe()).tasks == 0 and not sent(enqueued, NODE_TASK)


def test_after_lost_task_after_a_message_is_sent_again_whatever_the_queue(run: FlowRun, enqueued: list[Any]) -> None:
    sent_node(run, sent=301)
    assert sweeper.sweep(FakeProbe({"q_tasks": 1000})).tasks == 1
    assert sweeper.sweep().tasks == 0  # (without a broker to ask: by time alone) just resent


def test_resends_back_off(run: FlowRun, enqueued: list[Any]) -> None:
    """A resend waits as long as the message has already waited since it was first issued."""
    sent_node(run, sent=8, first_sent=60)  # issued a minute ago, resent 8 s ago
    assert sweeper.sweep(FakeProbe()).tasks == 0  # 8 s < 52 s waited before that resend
    NodeRun.objects.filter(pk="n1").update(sent_at=ago(53))
    assert sweeper.sweep(FakeProbe()).tasks == 1
    node = NodeRun.objects.get(pk="n1")
    assert node.sent_at is not None and node.sent_at > ago(2)  # the next one waits longer still


def test_a_broker_that_lost_its_data_gets_everything_in_flight_at_once(
    run: FlowRun, enqueued: list[Any], revision: ConfigRevision
) -> None:
    sent_node(run, sent=0.5)  # however fresh
    sent_node(run, sent=10, countdown=60, node_id="n2")  # with what is left of its countdown
    FlowRun.objects.filter(pk=run.pk).update(next_wakeup_at=PENDING)
    session = TriggerSession.objects.create(key="s")
    TriggerTaskInstance.objects.create(id="t1", session=session, name="t", target="x.Y",
                                       kind=TriggerTaskInstance.Kind.TASK, sent_at=timezone.now())
    probe = FakeProbe({"q_tasks": 50, "q_dispatch": 50, "celery": 50}, lost=True)
    report = sweeper.sweep(probe)
    assert report.broker_lost and (report.tasks, report.wakeups, report.triggers) == (2, 1, 1)
    tasks = {m.options["task_id"]: m.options for m in enqueued if m.task_name == NODE_TASK}
    assert set(tasks) == {"n1", "n2"} and "countdown" not in tasks["n1"] and 45 < tasks["n2"]["countdown"] <= 50
    assert [m.kwargs["run_id"] for m in enqueued if m.task_name == DISPATCHER_TASK] == [run.pk]
    assert [m.options["task_id"] for m in enqueued if m.task_name == TRIGGER_TASK] == ["t1"]
    assert probe.planted == 1  # everything resent: the marker goes back
    enqueued.clear()
    assert sweeper.sweep(probe).tasks == 0  # the next sweep: nothing lost any more


def test_a_pending_wakeup_is_sent_again_only_when_it_cannot_be_queued(run: FlowRun, enqueued: list[Any]) -> None:
    FlowRun.objects.filter(pk=run.pk).update(next_wakeup_at=PENDING, updated_at=ago(60))
    assert sweeper.sweep(FakeProbe({"q_dispatch": 40})).wakeups == 0
    assert sweeper.sweep(FakeProbe({"q_dispatch": 0})).wakeups == 1
    assert [m.kwargs["run_id"] for m in sent(enqueued, DISPATCHER_TASK)] == [run.pk]
    assert sweeper.sweep(FakeProbe({"q_dispatch": 0})).wakeups == 0  # just resent
    FlowRun.objects.filter(pk=run.pk).update(updated_at=ago(301))
    assert sweeper.sweep(FakeProbe({"q_dispatch": 40})).wakeups == 1  # LOST_TASK_AFTER: whatever the queue


def test_a_scheduled_trigger_task_whose_message_is_gone_is_sent_again(db: None, enqueued: list[Any]) -> None:
    session = TriggerSession.objects.create(key="s")
    TriggerTaskInstance.objects.create(id="t1", session=session, name="t", target="x.Y", queue="trig",
                                       kind=TriggerTaskInstance.Kind.TASK, sent_at=ago(30), updated_at=ago(30))
    TriggerTaskInstance.objects.create(id="t2", session=session, name="u", target="x.Y", queue="trig",
                                       kind=TriggerTaskInstance.Kind.TASK, status=TriggerTaskStatus.RETRYING,
                                       attempts=1, sent_at=ago(30), countdown=600, updated_at=ago(30))
    assert sweeper.sweep(FakeProbe({"trig": 1})).triggers == 0
    assert sweeper.sweep(FakeProbe({"trig": 0})).triggers == 1  # t2 still counts down its cooldown
    [message] = sent(enqueued, TRIGGER_TASK)
    assert message.kwargs == {"instance_id": "t1", "attempt": 0} and message.options["queue"] == "trig"


def test_a_worker_is_gone_once_its_lock_stayed_free_for_the_grace() -> None:
    silence = liveness.Silence()
    grace = timedelta(seconds=5)
    start = timezone.now()
    held = {advisory.worker_key("alive@h")}
    assert silence.gone({"dead@h", "alive@h"}, held, start, grace) == set()  # first seen free
    assert silence.gone({"dead@h", "alive@h"}, held, start + timedelta(seconds=4), grace) == set()
    assert silence.gone({"dead@h", "alive@h"}, held, start + timedelta(seconds=6), grace) == {"dead@h"}
    # seen held again (it came back after a database outage): the count starts again
    assert silence.gone({"dead@h"}, {advisory.worker_key("dead@h")}, start + timedelta(seconds=7), grace) == set()
    assert silence.gone({"dead@h"}, set(), start + timedelta(seconds=8), grace) == set()
    # a sighting from long ago says nothing about now
    assert silence.gone({"dead@h"}, set(), start + timedelta(seconds=60), grace) == set()


def test_the_sweep_command_asks_the_broker(run: FlowRun, enqueued: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from io import StringIO

    from django.core.management import call_command

    from selinon_django.management.commands import selinon_outbox_sweep

    sent_node(run, sent=1)  # too fresh to resend by time
    monkeypatch.setattr(selinon_outbox_sweep, "BrokerProbe", lambda: FakeProbe(lost=True))
    out = StringIO()
    call_command("selinon_outbox_sweep", stdout=out)
    assert out.getvalue().strip() == ("outbox: 0, wake-ups: 0, task messages: 1, trigger tasks: 0 "
                                      "(the broker had lost its data)")
    assert [m.options["task_id"] for m in sent(enqueued, NODE_TASK)] == ["n1"]
