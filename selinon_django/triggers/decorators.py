"""``@selinon_task``: a plain function ``f(node_args)`` as a SelinonTask usable in YAML.

Celery users write ``@task`` above a function; here the decorator builds a
:class:`~selinon_django.task.SelinonTask` subclass named like the function and put in the
function's module, so YAML names it as usual (``import: myapp.tasks``, ``classname:
fetch_page`` or a task ``name: fetch_page``). ``bind=True`` passes the task instance first
(``f(task, node_args)``, like Celery's ``bind``) for ``task.parent_task_result(...)``,
``task.retry(...)`` and ``task.log``. The original function stays callable as ``.func``, and
calling the class with only ``node_args`` (outside a flow) calls the function, as a Celery
task can be called directly.
"""
from __future__ import annotations

from abc import ABCMeta
from collections.abc import Callable
from typing import Any, cast, overload

from selinon_django.task import SelinonTask

__all__ = ["selinon_task"]


class _DirectCall(ABCMeta):
    """``fetch_page({"url": ...})`` runs the function; the runtime's full call builds a task."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        func = getattr(cls, "func", None)
        if len(args) == 1 and not kwargs and func is not None and not getattr(cls, "bind", False):
            return func(args[0])
        return super().__call__(*args, **kwargs)


def _build(fn: Callable[..., Any], bind: bool) -> type[SelinonTask]:
    def run(self: SelinonTask, node_args: Any) -> Any:
        return fn(self, node_args) if bind else fn(node_args)

    cls = _DirectCall(
        fn.__name__,
        (SelinonTask,),
        {
            "run": run,
            "func": staticmethod(fn),
            "bind": bind,
            "__module__": fn.__module__,
            "__qualname__": getattr(fn, "__qualname__", fn.__name__),
            "__doc__": fn.__doc__,
        },
    )
    return cast("type[SelinonTask]", cls)


@overload
def selinon_task(fn: Callable[..., Any], /) -> type[SelinonTask]: ...


@overload
def selinon_task(*, bind: bool = False) -> Callable[[Callable[..., Any]], type[SelinonTask]]: ...


def selinon_task(fn: Callable[..., Any] | None = None, /, *, bind: bool = False) -> Any:
    """Turn ``f(node_args)`` (or ``f(task, node_args)`` with ``bind=True``) into a SelinonTask class."""
    if fn is not None:
        return _build(fn, bind)
    return lambda function: _build(function, bind)
