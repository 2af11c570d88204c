"""A chain's next task run by the worker process that finished the task before it.

Two ways one Celery message runs several nodes, both here.

**Inline successors.** A hop through the broker costs a publish, the broker's round trip, the worker's hand-over to a
pool process and a claim statement - for a no-op task several times the task itself. When a
finishing task's own step starts a successor that this very worker would take from the same
queue anyway, the envelope can *continue* with it instead: the statement that records the
task's end also writes the successor's node-run row ``started`` (attempts 1, this worker) and
takes its advisory lock, and the envelope runs it at once. Nothing is published for it.

What stays true:

- *Nothing runs twice.* The successor's row says ``started`` before it runs, its lock says a
  live process runs it, and no message for it exists.
- *Nothing is lost.* The successor runs inside the Celery task of the first message, which is
  acknowledged late: if the process dies, that message is delivered again, its node is found
  finished, and its carried nodes (``NodeRun.carried_by``) still ``started`` whose lock is free
  get a message of their own - their next delivery takes the lost-worker path (run again, or
  failed after ``LOST_TASK_RETRIES``), as for any task whose worker died.
- *Limits hold.* Only a successor on the queue the message came from (this worker consumes it),
  without countdown, priority, rate limit or time limits, and only when the message itself has
  no time limit (Celery's limit covers the whole message); at most ``INLINE_SUCCESSORS_MAX`` in
  a row, then the next one is published. Revoking a carried node revokes its carrier.

**Batched messages.** A step that starts many tasks on one queue (a foreach of thousands) sends
them ``TASKS_PER_MESSAGE`` to a message (:func:`tasks_per_message`): the message is its first
node's, and lists the others (:data:`BATCH_KEY`); the envelope serves each in turn exactly as it
would serve its own message (claim, run, record), with ``carried_by`` set to the message. Each
node keeps its own row, statuses and times; the broker and Celery's per-message work are paid
once per message. A message delivered again walks its list again: finished nodes are dropped,
one whose process died takes the lost-worker path, the rest run.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from selinon_django.conf import selinon_settings
from selinon_django.config.model import Task


@dataclass
class Continuation:
    """An offer to run one successor in this process, taken (``node_id`` set) by the step that
    starts it (:func:`selinon_django.runtime.dispatcher.step_optimistic`)."""

    #: the queue the current message came from: successors routed elsewhere are published
    queue: str
    hostname: str
    #: the Celery task id of the message everything here runs under
    carrier: str
    #: successors run inline before this one, under the same message
    depth: int = 0
    node_id: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: set once the statement that wrote the successor ran: whether it took the successor's
    #: advisory lock, and the flow run as that statement left it (None: not one to step
    #: optimistically from, the successor's end takes the locked path)
    locked: bool = False
    snapshot: Any = None

    def accepts(self, task: Task, options: dict[str, Any]) -> bool:
        """Whether this successor may run here (``options``: its message's ``apply_async`` options)."""
        return self.node_id is None and options.get("queue") == self.queue and may_share_a_message(task, options)

    def take(self, node_id: str, kwargs: dict[str, Any]) -> None:
        self.node_id, self.kwargs = node_id, kwargs

    def drop(self) -> None:
        """The statement that would have written the successor's row did not: nothing was taken."""
        self.node_id, self.kwargs, self.locked, self.snapshot = None, {}, False, None

    def next(self) -> Continuation | None:
        """The offer for the successor's own successor (None once the run of inline tasks is long enough)."""
        if self.depth + 1 >= selinon_settings().INLINE_SUCCESSORS_MAX:
            return None
        return Continuation(self.queue, self.hostname, self.carrier, self.depth + 1)


def may_share_a_message(task: Task, options: dict[str, Any]) -> bool:
    """Whether a task may run under another task's message: nothing about it that Celery applies
    per message (a countdown, a priority, time limits; a rate limit spaces its own messages)."""
    return (
        not options.get("countdown")
        and options.get("priority") is None
        and task.time_limit is None
        and task.soft_time_limit is None
        and not task.rate_limit
    )


#: the key of a message's kwargs listing the nodes it carries after its own
BATCH_KEY = "batch"


def tasks_per_message(count: int) -> int:
    """How many of ``count`` tasks started by one step on one queue go in one message: up to
    ``TASKS_PER_MESSAGE``, while the step still sends at least ``MESSAGES_PER_STEP_MIN``
    messages (so at least that many workers can share the tasks)."""
    settings = selinon_settings()
    return max(1, min(settings.TASKS_PER_MESSAGE, count // max(1, settings.MESSAGES_PER_STEP_MIN)))


def batch_item(node_id: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """What a message carrying a node after its own says of it (the rest is the message's)."""
    return {"id": node_id, "task_name": kwargs["task_name"], "parent": kwargs["parent"],
            "node_args": kwargs["node_args"]}


def unbatched(kwargs: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """A message's own node's kwargs, and ``(node id, kwargs)`` of each node it carries after it."""
    own = {key: value for key, value in kwargs.items() if key != BATCH_KEY}
    carried = [
        (item["id"], {**own, "task_name": item["task_name"], "parent": item["parent"], "node_args": item["node_args"]})
        for item in kwargs.get(BATCH_KEY) or ()
    ]
    for _, item_kwargs in carried:  # the message's own counters are its own node's
        for counter in ("attempt", "retried_count", "user_retries", "lost"):
            item_kwargs.pop(counter, None)
    return own, carried


def offer(*, queue: str | None, hostname: str, carrier: str, time_limited: bool) -> Continuation | None:
    """The offer for a message from ``queue``, or None when successors must all be published."""
    settings = selinon_settings()
    if not queue or time_limited or not settings.RUN_SUCCESSORS_INLINE or settings.INLINE_SUCCESSORS_MAX < 1:
        return None
    return Continuation(queue, hostname, carrier)
