"""Messages captured instead of published, served in the test's process by the functions the
Celery tasks call (the dispatcher step and the task envelope), so every statement is the
production one: a test decides what a worker would do next."""
from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import pytest

from selinon_django.config import SourceFile, load_config_from_sources
from selinon_django.revisions import load_revision
from selinon_django.runtime import dispatcher, envelope, outbox
from selinon_django.runtime.configs import forget_configs
from selinon_django.runtime.messages import DISPATCHER_TASK


class CapturedBroker:
    """Captured messages, served one at a time like a worker would (install it over
    ``outbox.publish``)."""

    def __init__(self) -> None:
        self.queue: deque[outbox.Message] = deque()

    def publish(self, messages: Any) -> None:
        self.queue.extend(messages)

    def take(self, task_name: str | None = None) -> outbox.Message:
        for message in list(self.queue):
            if task_name is None or message.kwargs.get("task_name") == task_name or message.task_name == task_name:
                self.queue.remove(message)
                return message
        raise AssertionError(f"no message for {task_name}: {[m.kwargs for m in self.queue]}")

    def serve(self, message: outbox.Message) -> Any:
        if message.task_name == DISPATCHER_TASK:
            kwargs = message.kwargs
            return dispatcher.handle_message(kwargs["run_id"], state_version=kwargs.get("state_version"),
                                             reason=kwargs.get("reason", "wakeup"))
        return envelope.handle_message(message.options["task_id"], message.kwargs, hostname="test")

    def drain(self) -> None:
        while self.queue:
            self.serve(self.queue.popleft())


def install(monkeypatch: pytest.MonkeyPatch, sources: Sequence[SourceFile]) -> CapturedBroker:
    """Load ``sources`` as the current revision and capture every message from now on (the
    runtime's configuration cache is forgotten first: another test's revision may have had the
    same id)."""
    forget_configs()
    load_revision(load_config_from_sources(list(sources)))
    broker = CapturedBroker()
    monkeypatch.setattr(outbox, "publish", broker.publish)
    return broker
