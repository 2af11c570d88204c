"""One attempt of one ``SelinonTask``, and what its outcome means.

Shared by the Celery task envelope and the in-process executor, so the two cannot disagree on
what a task's exception means. It knows nothing about Celery or the database: it instantiates
the task class named by the configuration, runs it, validates the result against
``output_schema``, stores the result (or, on a final failure, the error) through the storage
pool, and classifies the outcome:

- :class:`Succeeded` - the result, and whether/where it was stored;
- :class:`Retry` - run again after ``countdown`` seconds; ``counted`` is False for a task's own
  ``self.retry()`` (it does not use up ``max_retry``);
- :class:`Failed` - for good: ``FatalTaskError``, or ``max_retry`` used up.
"""
from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from selinon_django.config.imports import import_object, resolve_module
from selinon_django.config.model import SystemConfig
from selinon_django.config.secrets import mask_url_passwords
from selinon_django.errors import FatalTaskError
from selinon_django.runtime.log_capture import capturing
from selinon_django.storages.pool import StoragePool
from selinon_django.task import ExceptionLookup, RequestedRetry, SelinonTask, validate_output
from selinon_django.trace.events import Trace

#: where a worker's log says that a node failed or will be retried (Celery's own line for the
#: message says it "succeeded": the message was handled, whatever the task did)
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Succeeded:
    result: Any
    #: name of the storage the result was written to (None: not stored in a storage)
    storage_name: str | None = None
    record_id: Any = None

    @property
    def json_result(self) -> Any:
        """The result if it is JSON-serialisable (kept in the node-run row), else None."""
        return json_or_none(self.result)


@dataclass(frozen=True)
class Retry:
    countdown: float
    #: False for ``self.retry()`` (not counted against ``max_retry``)
    counted: bool
    exception: str = ""
    traceback: str = ""


@dataclass(frozen=True)
class Failed:
    exception: str
    traceback: str
    fatal: bool = False


AttemptOutcome = Succeeded | Retry | Failed


def json_or_none(value: Any, limit: int = 1_000_000) -> Any:
    """``value`` when it survives a JSON round trip and is not huge, else None."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        return None
    if len(text) > limit:
        return None
    return value


def task_class(config: SystemConfig, task_name: str) -> type[SelinonTask]:
    task = config.tasks[task_name]
    cls = import_object(resolve_module(task.module), task.classname)
    if not (isinstance(cls, type) and issubclass(cls, SelinonTask)):
        # a name in YAML is no licence to call any callable of an allowed module
        raise TypeError(f"{task.module}.{task.classname} is not a SelinonTask subclass")
    return cls


def exception_text(exc: BaseException) -> str:
    """``Type: message``, URL passwords masked: a storage's connection error names its URL, and
    users who may only view runs read the node-run row."""
    return mask_url_passwords(f"{type(exc).__name__}: {exc}") if str(exc) else type(exc).__name__


def run_attempt(
    config: SystemConfig,
    pool: StoragePool,
    *,
    flow_name: str,
    task_name: str,
    task_id: str,
    dispatcher_id: str,
    parent: Mapping[str, Any] | None,
    node_args: Any,
    retried_count: int,
    exception_lookup: ExceptionLookup | None = None,
) -> AttemptOutcome:
    """Run one attempt. ``retried_count`` is how many counted retries were used before it."""
    task = config.tasks[task_name]
    tracer = pool.tracer
    base = {
        "flow_name": flow_name, "task_name": task_name, "task_id": task_id,
        "dispatcher_id": dispatcher_id, "parent": parent, "node_args": node_args,
    }
    tracer.trace(Trace.TASK_START, base)
    try:
        # what the task logs on this thread is kept with its node run (selinon_django.runtime.log_capture)
        with capturing(task_id, dispatcher_id):
            instance = task_class(config, task_name)(
                flow_name, task_name, parent, task_id, dispatcher_id,
                storage_pool=pool, config=config, exception_lookup=exception_lookup,
            )
            with pool.activated():  # Selinon's StoragePool.get_connected_storage(name) on the class
                result = instance.run(node_args)
            validate_output(task, result)
    except RequestedRetry as retry:
        tracer.trace(
            Trace.TASK_RETRY,
            {**base, "what": str(retry), "retried_count": retried_count, "countdown": retry.countdown,
             "user_retry": True},
        )
        return Retry(countdown=float(retry.countdown), counted=False, exception=str(retry))
    except Exception as exc:  # the task's failure, classified below
        text = exception_text(exc)
        tb = mask_url_passwords(traceback.format_exc())
        fatal = isinstance(exc, FatalTaskError)
        if not fatal and retried_count < task.max_retry:
            tracer.trace(
                Trace.TASK_RETRY,
                {**base, "what": text, "retried_count": retried_count, "countdown": task.retry_countdown,
                 "user_retry": False},
            )
            logger.warning("flow %s node %s (task id %s) of run %s raised, retry %d of %d in %g s: %s",
                           flow_name, task_name, task_id, dispatcher_id, retried_count + 1, task.max_retry,
                           task.retry_countdown or 0, text)
            return Retry(countdown=float(task.retry_countdown or 0), counted=True, exception=text, traceback=tb)
        tracer.trace(Trace.TASK_FAILURE, {**base, "what": text, "retried_count": retried_count})
        logger.error("flow %s node %s (task id %s) of run %s failed: %s", flow_name, task_name, task_id,
                     dispatcher_id, text)
        store_error_quietly(pool, node_args, flow_name, task_name, task_id, sys.exc_info())
        return Failed(exception=text, traceback=tb, fatal=fatal)

    storage_name = None
    record_id = None
    if pool.stores_results(task_name):
        record_id = pool.store(node_args, flow_name, task_name, task_id, result)
        storage_name = task.storage
    elif task.storage is None:
        tracer.trace(Trace.TASK_DISCARD_RESULT, {**base, "result": json_or_none(result)})
    tracer.trace(Trace.TASK_END, {**base, "storage_name": storage_name})
    return Succeeded(result=result, storage_name=storage_name, record_id=record_id)


def store_error_quietly(
    pool: StoragePool, node_args: Any, flow_name: str, task_name: str, task_id: str, exc_info: Any
) -> None:
    """Keep a failure in the task's storage; a storage problem must not hide the task's error."""
    try:
        pool.store_error(node_args, flow_name, task_name, task_id, exc_info)
    except Exception as problem:
        pool.tracer.trace(
            Trace.STORAGE_ISSUE, {"flow_name": flow_name, "dispatcher_id": None, "what": repr(problem)}
        )


def failed_without_running(reason: str) -> Failed:
    """The outcome of an attempt refused before it ran (a task that keeps killing its process)."""
    return Failed(exception=reason, traceback="")
