"""Built-in predicates, by Selinon's names (``selinon.predicates`` in YAML resolves here).

A predicate is a plain function returning a bool; a custom one is declared with
:func:`predicate` (see :mod:`selinon_django.predicates.declared`). ``message`` is the result of the condition's
node, ``node_args`` the flow arguments; other parameters come from the YAML ``args``. See
:mod:`selinon_django.predicates.calling` for how they are called.
"""
from __future__ import annotations

from collections.abc import Callable

from selinon_django.predicates.arguments import *  # noqa: F403
from selinon_django.predicates.arguments import __all__ as _arguments_all
from selinon_django.predicates.constant import *  # noqa: F403
from selinon_django.predicates.constant import __all__ as _constant_all
from selinon_django.predicates.environment import *  # noqa: F403
from selinon_django.predicates.environment import __all__ as _environment_all

# Not in __all__: ``from selinon_django.predicates import *`` in a custom module brings the
# built-in predicates only.
from selinon_django.predicates.marking import predicate  # noqa: F401
from selinon_django.predicates.message import *  # noqa: F403
from selinon_django.predicates.message import __all__ as _message_all

__all__ = sorted([*_arguments_all, *_constant_all, *_environment_all, *_message_all])

#: name -> function of every built-in predicate (what the loader checks YAML names against)
BUILTIN_PREDICATES: dict[str, Callable[..., bool]] = {name: globals()[name] for name in __all__}
