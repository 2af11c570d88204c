"""The transactional outbox: a message exists only if the state change that caused it committed.

Most messages of a run are *recorded* by the rows their step writes anyway: a task's start by
its node-run row (``sent``, resent by the sweeper when it stays so for ``LOST_TASK_AFTER``),
a dispatcher wake-up by its flow run's pending ``next_wakeup_at`` (resent after
``SWEEP_GRACE``). Those get no outbox row - a row per message and its deletion were a third of
a hop's writes. If publishing them fails (a broker that is down), rows are written for them
then, so the sweeper resends them after ``SWEEP_GRACE`` rather than ``LOST_TASK_AFTER``; only a
process that dies in the instant between commit and publish leaves them to the slower path.

A unit of work (:class:`~selinon_django.runtime.unit_of_work.UnitOfWork`) collects the messages
its transaction causes; when it commits, their ``OutboxMessage`` rows go with its writes (one
statement on PostgreSQL), and an ``on_commit`` hook publishes them and deletes their rows in one
query (:func:`publish_rows`). If the process dies between commit and publish, the rows stay and
:mod:`selinon_django.runtime.sweeper` publishes them later. A message published twice is
harmless by design (dispatcher steps and node claims are idempotent).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import DEFAULT_DB_ALIAS

from selinon_django.models.outbox import OutboxMessage
from selinon_django.runtime.celery_app import get_celery_app

logger = logging.getLogger(__name__)


@dataclass
class Message:
    """One Celery message: a task name, kwargs and ``apply_async`` options (queue, task_id, countdown)."""

    task_name: str
    kwargs: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)
    #: a row the step writes anyway lets the sweeper resend this message: no outbox row
    recorded: bool = False


#: how many times each message is published: 1, except in tests of duplicate delivery, which
#: call :func:`set_publish_copies` (their workers through ``tests/integration/publish_twice.py``)
_publish_copies = 1


#: per task name: what gives a message of that task the ``event_dispatcher`` Celery sends its
#: ``task-sent`` event through, when Celery sends them (``task_send_sent_event``); a node message
#: describes every node it carries (registered by :mod:`~selinon_django.runtime.task_events`)
_sent_events: dict[str, Callable[[Any, Mapping[str, Any]], Any]] = {}


def describe_sent_events(task_name: str, factory: Callable[[Any, Mapping[str, Any]], Any]) -> None:
    """Send the ``task-sent`` events of ``task_name``'s messages through ``factory(app, kwargs)``."""
    _sent_events[task_name] = factory


def set_publish_copies(copies: int) -> None:
    """Publish each message ``copies`` times (tests of duplicate delivery)."""
    global _publish_copies
    _publish_copies = max(1, int(copies))


def set_options(options: dict[str, Any]) -> dict[str, Any]:
    """``apply_async`` options without the ones left unset (None)."""
    return {key: value for key, value in options.items() if value is not None}


def row(message: Message) -> OutboxMessage:
    """The outbox row that keeps ``message`` until it is published."""
    return OutboxMessage(task_name=message.task_name, kwargs=message.kwargs, options=message.options)


def publish_rows(messages: Sequence[Message], ids: Sequence[Any], using: str | None = None) -> None:
    """Publish messages whose rows are ``ids`` and delete those rows (one query)."""
    try:
        publish(messages)
    except Exception:
        # The rows stay: the sweeper publishes them. The state change itself is committed.
        logger.exception("publishing %d message(s) failed; the outbox sweeper will retry", len(messages))
        recorded = [row(m) for m in messages if m.recorded]
        if recorded:
            try:  # sooner than the sweeper would find them from their runs' rows
                OutboxMessage.objects.using(using).bulk_create(recorded)
            except Exception:
                logger.exception("could not keep %d unpublished message(s) as outbox rows", len(recorded))
        return
    if ids and ids[0] is not None:  # (recorded messages have no rows)
        try:
            # one DELETE statement (QuerySet.delete() adds a transaction around its collector)
            OutboxMessage.objects.using(using).filter(pk__in=ids)._raw_delete(using or DEFAULT_DB_ALIAS)
        except Exception:
            # Duplicates are harmless; the sweeper will publish them again.
            logger.exception("could not delete %d published outbox row(s)", len(ids))


def publish_recorded(task_name: str, kwargs: dict[str, Any], **options: Any) -> None:
    """Publish, now, a message whose committed row records it (the caller's statement already
    committed): a failure to publish is logged and left to the sweeper, as after a commit."""
    message = Message(task_name, kwargs, set_options(options), recorded=True)
    publish_rows([message], [])


def publish(messages: Iterable[Message]) -> None:
    """Send messages to the broker through one pooled producer connection.

    ``ignore_result``: a message sent by name carries ``ignore_result=False`` unless told, and
    the worker obeys the message over the task's own ``ignore_result=True``: every node task and
    dispatcher step then stored a result row in the result backend (django-celery-results: a
    transaction per task, as costly as the hop itself, and rows nobody reads or prunes). A run's
    own result is stored explicitly when it ends (:mod:`selinon_django.runtime.results`).
    """
    app = get_celery_app()
    copies = _publish_copies
    describe = _sent_events if app.conf.task_send_sent_event else None
    with app.producer_or_acquire() as producer:
        for message in messages:
            options = message.options
            if describe and message.task_name in describe:
                options = {**options, "event_dispatcher": describe[message.task_name](app, message.kwargs)}
            for _ in range(copies):
                app.send_task(message.task_name, kwargs=message.kwargs, producer=producer, ignore_result=True,
                              **options)
