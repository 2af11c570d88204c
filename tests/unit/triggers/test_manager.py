"""fire/update_configuration: recording, scheduling once, sessions apart, YAML defaults."""
from __future__ import annotations

from typing import Any

import pytest

from selinon_django.models import OutboxMessage
from selinon_django.models.triggers import FiredTrigger, TriggerTaskInstance
from selinon_django.triggers.manager import TRIGGER_TASK, TriggerKwargsError, TriggerManager, fire, update_configuration
from selinon_django.triggers.specs import TriggerConfigurationError

pytestmark = pytest.mark.django_db

COLLECT = {"t_collect": {"after": ["first", "second"], "run": "tests.integration.trigger_tasks.CountRuns"}}


def messages() -> list[dict[str, Any]]:
    return list(OutboxMessage.objects.filter(task_name=TRIGGER_TASK).values_list("kwargs", flat=True))


@pytest.mark.parametrize("order", [("first", "second"), ("second", "first")])
def test_task_is_scheduled_once_both_triggers_fired_in_either_order(order: tuple[str, str]) -> None:
    update_configuration("s1", COLLECT)
    assert fire("s1", order[0], {"n": 1}) == []
    assert fire("s1", order[1], {"n": 2}) == ["t_collect"]
    instance = TriggerTaskInstance.objects.get()
    assert instance.status == "scheduled" and instance.kind == "task"
    assert instance.trigger_kwargs == {order[0]: {"n": 1}, order[1]: {"n": 2}}
    assert messages() == [{"instance_id": instance.pk, "attempt": 0}]


def test_firing_again_records_the_trigger_but_never_schedules_again() -> None:
    update_configuration("s1", COLLECT)
    fire("s1", "first")
    fire("s1", "second")
    assert fire("s1", "second", {"again": True}) == []
    assert fire("s1", "first") == []
    assert TriggerTaskInstance.objects.count() == 1
    assert len(messages()) == 1
    assert list(FiredTrigger.objects.values_list("name", flat=True)) == ["first", "second", "second", "first"]
    assert TriggerManager("s1").fired_triggers()["second"] == {"again": True}


def test_sessions_do_not_see_each_others_triggers() -> None:
    update_configuration("a", COLLECT)
    update_configuration("b", COLLECT)
    fire("a", "first")
    assert fire("b", "second") == []
    assert TriggerTaskInstance.objects.count() == 0
    assert fire("a", "second") == ["t_collect"]
    assert TriggerTaskInstance.objects.get().session.key == "a"


def test_configuration_set_after_the_triggers_schedules_at_once() -> None:
    fire("s", "first")
    fire("s", "second")
    assert update_configuration("s", COLLECT) == ["t_collect"]
    assert update_configuration("s", COLLECT) == []


def test_yaml_triggers_apply_to_every_session_and_the_session_overrides(revision: Any) -> None:
    manager = TriggerManager("yaml")
    assert set(manager.get_configuration()) == {"t_collect", "t_flow", "t_after_flow"}
    manager.update_configuration({"t_collect": {"after": ["only"], "run": "tests.integration.trigger_tasks.AddOne"}})
    assert manager.get_configuration()["t_collect"].after == ("only",)
    assert manager.fire("first") == [] and manager.fire("second") == []
    assert manager.fire("only", {"n": 1}) == ["t_collect"]
    # another session still has the YAML definition
    fire("other", "first")
    assert fire("other", "second") == ["t_collect"]


@pytest.mark.parametrize(
    ("session", "name", "kwargs", "message"),
    [
        ("s", "", {}, "a trigger name must be a non-empty string"),
        ("", "x", {}, "a session key must be a non-empty string"),
        ("s", "x", [1], "kwargs of trigger 'x' must be a mapping, not list"),
        ("s", "x", {"f": object()}, "kwargs of trigger 'x' are not JSON data"),
    ],
)
def test_bad_input_is_refused_and_nothing_recorded(session: str, name: str, kwargs: Any, message: str) -> None:
    with pytest.raises(TriggerKwargsError, match=message):
        fire(session, name, kwargs)
    assert FiredTrigger.objects.count() == 0


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(TriggerConfigurationError, match="t: 'run' is a required property"):
        update_configuration("s", {"t": {"after": ["a"]}})
