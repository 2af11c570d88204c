"""Which functions a condition may call: the built-in predicates and declared custom ones.

A condition names a function by a string an uploader chose, and the first step of a run is
evaluated in the web process that starts it. Looking the name up in a module with ``getattr``
would make every function of that module a "predicate" (``import_module`` in a module that
imported it, ``cancel_flow`` in the runtime's API). So a name resolves only to:

- a built-in predicate (:data:`~selinon_django.predicates.BUILTIN_PREDICATES`), also when a
  custom predicates module re-exports it (``from selinon.predicates import *``);
- in a custom predicates module, a function declared a predicate: decorated with
  :func:`predicate`, or listed in the module's ``__predicates__``;
- any public function of a module the operator lists in ``SELINON_DJANGO["PREDICATES_MODULES"]``
  (Selinon's predicate modules, moved over unchanged).

This app's own modules other than :mod:`selinon_django.predicates` are never predicates modules.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any

from selinon_django.errors import SelinonDjangoError
from selinon_django.predicates import BUILTIN_PREDICATES
from selinon_django.predicates.marking import is_marked, predicate

__all__ = ["PredicateRefused", "declared_predicate", "predicate"]

_BUILTIN_FUNCTIONS = {id(fn) for fn in BUILTIN_PREDICATES.values()}
#: ``selinon_django.predicates`` and ``selinon_django`` (the config layer imports this module,
#: so it does not import the config layer's constants)
DEFAULT_PREDICATES_MODULE = __name__.rpartition(".")[0]
APP_PREFIX = DEFAULT_PREDICATES_MODULE.partition(".")[0]


class PredicateRefused(SelinonDjangoError, LookupError):
    """The name does not resolve to a predicate (unknown, or a function not declared one)."""


def _is_builtin(fn: Any) -> bool:
    return id(fn) in _BUILTIN_FUNCTIONS


def declared_predicate(module_name: str, name: str, trusted_modules: Iterable[str] = ()) -> Callable[..., Any]:
    """The predicate ``name`` of ``module_name``; :class:`PredicateRefused` if it is none.

    ``trusted_modules``: modules whose every public function counts as declared (the
    ``PREDICATES_MODULES`` setting).
    """
    if module_name == DEFAULT_PREDICATES_MODULE:
        builtin = BUILTIN_PREDICATES.get(name)
        if builtin is None:
            raise PredicateRefused(f"'{name}' is not a built-in predicate")
        return builtin
    if module_name == APP_PREFIX or module_name.startswith(APP_PREFIX + "."):
        raise PredicateRefused(f"'{module_name}' is a module of selinon_django, not a predicates module")
    if not name or name.startswith("_"):
        raise PredicateRefused(f"'{name}' is not a public name")
    module = importlib.import_module(module_name)
    fn = getattr(module, name, None)
    if not callable(fn):
        raise PredicateRefused(f"predicate '{name}' not found in '{module_name}'")
    if _is_builtin(fn) or is_marked(fn):
        return fn
    listed = getattr(module, "__predicates__", None)
    if isinstance(listed, (list, tuple, set, frozenset)) and name in listed:
        return fn
    if module_name in set(trusted_modules):
        return fn
    raise PredicateRefused(
        f"'{name}' in '{module_name}' is not declared a predicate (decorate it with "
        "selinon_django.predicates.predicate, list it in the module's __predicates__, or name the module "
        "in SELINON_DJANGO['PREDICATES_MODULES'])"
    )
