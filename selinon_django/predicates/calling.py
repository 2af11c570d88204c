"""How the engine calls a predicate and how the loader checks a predicate's YAML ``args``.

A predicate declares what it reads through its parameter names, as in Selinon: ``message``
(the result of the condition's node) and ``node_args`` (the flow arguments). Everything else
is a YAML ``args`` entry. Keeping that rule in one place means the loader's checks and the
engine's calls can never disagree.
"""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

__all__ = ["PredicateSignature", "call_predicate", "predicate_signature"]

MESSAGE = "message"
NODE_ARGS = "node_args"


class PredicateSignature(NamedTuple):
    required_args: frozenset[str]
    optional_args: frozenset[str]
    needs_message: bool
    needs_node_args: bool


@functools.lru_cache(maxsize=1024)
def predicate_signature(fn: Callable[..., Any]) -> PredicateSignature:
    """The YAML arguments ``fn`` requires/accepts and whether it reads a result or the flow args.

    ``**kwargs`` in a custom predicate makes every argument acceptable; that is reported as an
    optional argument named ``**`` so callers can tell.
    """
    required: set[str] = set()
    optional: set[str] = set()
    needs_message = needs_node_args = False
    for parameter in inspect.signature(fn).parameters.values():
        if parameter.name == MESSAGE:
            needs_message = True
        elif parameter.name == NODE_ARGS:
            needs_node_args = True
        elif parameter.kind is inspect.Parameter.VAR_KEYWORD:
            optional.add("**")
        elif parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        elif parameter.default is inspect.Parameter.empty:
            required.add(parameter.name)
        else:
            optional.add(parameter.name)
    return PredicateSignature(frozenset(required), frozenset(optional), needs_message, needs_node_args)


def call_predicate(
    fn: Callable[..., Any], args: Mapping[str, Any], message: Any = None, node_args: Any = None
) -> bool:
    """Call ``fn(**args)``, adding ``message``/``node_args`` only if its signature asks for them.

    Exceptions from a custom predicate are not swallowed here: the engine decides what a broken
    predicate means (built-in predicates never raise).
    """
    signature = predicate_signature(fn)
    kwargs = dict(args)
    if signature.needs_message:
        kwargs[MESSAGE] = message
    if signature.needs_node_args:
        kwargs[NODE_ARGS] = node_args
    return bool(fn(**kwargs))
