"""Firing triggers and scheduling the trigger tasks that became ready, exactly once.

Every change to a session (a trigger fired, a configuration updated, a cascade) happens in one
transaction that first locks the session row (``select_for_update``). Inside it the decision
"which trigger tasks have all their ``after`` triggers fired and no instance yet" reads rows
that no concurrent fire can change, so the same trigger fired twice, or two triggers fired at
the same moment, schedule a task once. The instance row (unique per session and task name) and
its Celery message (through the runtime's outbox) are written in that transaction and the
message is published after the commit: a rolled-back fire sends nothing.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from selinon_django.config.model import thaw
from selinon_django.errors import SelinonDjangoError
from selinon_django.models.definitions import ConfigRevision
from selinon_django.models.triggers import FiredTrigger, TriggerSession, TriggerTaskInstance, TriggerTaskStatus
from selinon_django.runtime.api import run_flow
from selinon_django.runtime.messages import TRIGGER_TASK, TriggerMessage
from selinon_django.runtime.unit_of_work import UnitOfWork
from selinon_django.triggers.specs import TriggerConfigurationError, TriggerSpec, parse_configuration

__all__ = [
    "TRIGGER_TASK", "TriggerConfigurationError", "TriggerKwargsError", "TriggerManager", "fire", "flows_started_by",
    "update_configuration",
]


MAX_NAME_LENGTH = 255


class TriggerKwargsError(SelinonDjangoError, ValueError):
    """A trigger name or its kwargs cannot be recorded (not a mapping, not JSON...)."""


def _check_trigger(trigger_name: Any, trigger_kwargs: Any) -> dict[str, Any]:
    if not isinstance(trigger_name, str) or not trigger_name.strip():
        raise TriggerKwargsError("a trigger name must be a non-empty string")
    if len(trigger_name) > MAX_NAME_LENGTH:
        raise TriggerKwargsError(f"a trigger name has at most {MAX_NAME_LENGTH} characters")
    if trigger_kwargs is None:
        return {}
    if not isinstance(trigger_kwargs, Mapping):
        raise TriggerKwargsError(
            f"kwargs of trigger '{trigger_name}' must be a mapping, not {type(trigger_kwargs).__name__}"
        )
    kwargs = dict(trigger_kwargs)
    try:
        json.dumps(kwargs, cls=DjangoJSONEncoder)
    except (TypeError, ValueError) as error:
        raise TriggerKwargsError(f"kwargs of trigger '{trigger_name}' are not JSON data: {error}") from error
    return kwargs


def _check_session(session: Any) -> str:
    if not isinstance(session, str) or not session.strip():
        raise TriggerKwargsError("a session key must be a non-empty string")
    if len(session) > MAX_NAME_LENGTH:
        raise TriggerKwargsError(f"a session key has at most {MAX_NAME_LENGTH} characters")
    return session


def _lock_session(key: str) -> TriggerSession:
    """The session row, created if needed, locked until the transaction ends."""
    session, _ = TriggerSession.objects.get_or_create(key=key)
    return TriggerSession.objects.select_for_update().get(pk=session.pk)


def _current_revision_parts() -> tuple[dict[str, Any], frozenset[str]]:
    """The ``triggers:`` of the current revision and its flow names."""
    revision = ConfigRevision.objects.current()
    if revision is None:
        return {}, frozenset()
    config = revision.system_config()
    return thaw(getattr(config, "triggers", {}) or {}), frozenset(config.flows)


def effective_configuration(session: TriggerSession) -> dict[str, TriggerSpec]:
    """The YAML ``triggers:`` of the current revision with the session's own entries laid over."""
    base, _ = _current_revision_parts()
    return parse_configuration({**base, **(session.configuration or {})})


def flows_started_by(session_key: str, trigger_name: str) -> list[str]:
    """Trigger tasks of ``session_key`` that run a flow and wait for ``trigger_name`` (sorted).

    Firing that trigger may start those flows (once their other ``after`` triggers have fired),
    so whoever fires it needs the permission to start runs (the REST API asks for it).
    """
    session = TriggerSession.objects.filter(key=session_key).first()
    specs = effective_configuration(session or TriggerSession(key=session_key))
    _, flows = _current_revision_parts()
    return sorted(spec.name for spec in specs.values() if trigger_name in spec.after and spec.run in flows)


def latest_kwargs(session: TriggerSession, names: tuple[str, ...] | list[str]) -> dict[str, dict[str, Any]]:
    """``{trigger name: kwargs of its latest firing}`` for the fired ones of ``names``."""
    found: dict[str, dict[str, Any]] = {}
    rows = FiredTrigger.objects.filter(session=session, name__in=list(names)).order_by("fired_at", "id")
    for name, kwargs in rows.values_list("name", "kwargs"):
        found[name] = kwargs or {}
    return found


def _schedule_ready(session: TriggerSession, unit: UnitOfWork) -> list[str]:
    """Create every trigger task of the session that is ready and never ran, its message in ``unit``."""
    specs = effective_configuration(session)
    if not specs:
        return []
    fired = set(FiredTrigger.objects.filter(session=session).values_list("name", flat=True).distinct())
    existing = set(TriggerTaskInstance.objects.filter(session=session).values_list("name", flat=True))
    _, flows = _current_revision_parts()
    scheduled = []
    for spec in sorted(specs.values(), key=lambda s: s.name):
        if spec.name in existing or not set(spec.after) <= fired:
            continue
        _start_instance(session, spec, latest_kwargs(session, spec.after), unit, is_flow=spec.run in flows)
        scheduled.append(spec.name)
    return scheduled


def _start_instance(session: TriggerSession, spec: TriggerSpec, kwargs: dict[str, Any], unit: UnitOfWork, *,
                    is_flow: bool) -> None:
    now = timezone.now()
    instance = TriggerTaskInstance.objects.create(
        id=str(uuid.uuid4()), session=session, name=spec.name, target=spec.run,
        kind=TriggerTaskInstance.Kind.FLOW if is_flow else TriggerTaskInstance.Kind.TASK,
        max_retries=spec.max_retries, trigger_kwargs=kwargs, created_at=now, updated_at=now,
        queue=spec.queue or "", priority=spec.priority, sent_at=None if is_flow else now,
    )
    if is_flow:
        node_args: dict[str, Any] = {}
        for name in spec.after:  # later triggers of ``after`` win on equal keys
            node_args.update(kwargs.get(name) or {})
        node_args = json.loads(json.dumps(node_args, cls=DjangoJSONEncoder))
        run_id = run_flow(spec.run, node_args)
        TriggerTaskInstance.objects.filter(pk=instance.pk).update(
            flow_run_id=run_id, status=TriggerTaskStatus.STARTED, attempts=1, started_at=now,
        )
        return
    TriggerMessage.for_instance(instance, attempt=0).enqueue(unit)


def fire_locked(
    session: TriggerSession,
    trigger_name: str,
    trigger_kwargs: dict[str, Any],
    *,
    unit: UnitOfWork,
    source: str = FiredTrigger.Source.APPLICATION,
    cascade_of: TriggerTaskInstance | None = None,
) -> list[str]:
    """Record a trigger in a session whose row the caller holds locked (the messages of the
    tasks it schedules in ``unit``); returns tasks scheduled."""
    FiredTrigger.objects.create(
        session=session, name=trigger_name, kwargs=trigger_kwargs, source=source, cascade_of=cascade_of,
        fired_at=timezone.now(),
    )
    TriggerSession.objects.filter(pk=session.pk).update(updated_at=timezone.now())
    return _schedule_ready(session, unit)


class TriggerManager:
    """The triggers of one session: fire them, configure the tasks they start, read them back."""

    def __init__(self, session: str, *, source: str = FiredTrigger.Source.APPLICATION) -> None:
        self.session = _check_session(session)
        self.source = source

    def __repr__(self) -> str:
        return f"TriggerManager(session={self.session!r})"

    def fire(self, trigger_name: str, trigger_kwargs: Mapping[str, Any] | None = None) -> list[str]:
        """Record ``trigger_name`` with its kwargs; returns the trigger tasks it scheduled.

        A task whose ``after`` triggers have all fired is scheduled once per session, whatever
        fires again or at the same time. Messages are published after the commit.
        """
        kwargs = _check_trigger(trigger_name, trigger_kwargs)
        unit = UnitOfWork()
        with transaction.atomic():
            session = _lock_session(self.session)
            scheduled = fire_locked(session, trigger_name, kwargs, unit=unit, source=self.source)
            unit.commit()
        return scheduled

    def update_configuration(self, configuration: Mapping[str, Mapping[str, Any]]) -> list[str]:
        """Add or replace trigger tasks of this session (``{name: {"after": [...], "run": ...}}``).

        Entries are laid over the YAML ``triggers:`` of the current revision. A task whose
        ``after`` triggers have already fired is scheduled now; returns those names.
        """
        specs = parse_configuration(configuration)
        unit = UnitOfWork()
        with transaction.atomic():
            session = _lock_session(self.session)
            merged = dict(session.configuration or {})
            merged.update({name: spec.to_dict() for name, spec in specs.items()})
            TriggerSession.objects.filter(pk=session.pk).update(configuration=merged, updated_at=timezone.now())
            session.configuration = merged
            scheduled = _schedule_ready(session, unit)
            unit.commit()
        return scheduled

    def get_configuration(self) -> dict[str, TriggerSpec]:
        """The configuration in effect (YAML ``triggers:`` with this session's entries over it)."""
        session = TriggerSession.objects.filter(key=self.session).first()
        return effective_configuration(session or TriggerSession(key=self.session))

    def fired_triggers(self) -> dict[str, dict[str, Any]]:
        """``{trigger name: kwargs of its latest firing}``."""
        session = TriggerSession.objects.filter(key=self.session).first()
        if session is None:
            return {}
        names = list(FiredTrigger.objects.filter(session=session).values_list("name", flat=True).distinct())
        return latest_kwargs(session, names)

    def instances(self) -> dict[str, TriggerTaskInstance]:
        """``{trigger task name: its instance}`` of this session."""
        return {i.name: i for i in TriggerTaskInstance.objects.filter(session__key=self.session)}


def fire(session: str, trigger_name: str, trigger_kwargs: Mapping[str, Any] | None = None, *,
         source: str = FiredTrigger.Source.APPLICATION) -> list[str]:
    """Fire ``trigger_name`` in ``session``; returns the trigger tasks it scheduled."""
    return TriggerManager(session, source=source).fire(trigger_name, trigger_kwargs)


def update_configuration(session: str, configuration: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Set trigger tasks of ``session``; returns the ones scheduled at once."""
    return TriggerManager(session).update_configuration(configuration)

