"""The import hook: ``selinon`` and ``selinon.*`` resolve to this app's modules.

A :class:`SelinonAliasFinder` on ``sys.meta_path`` answers for exactly the modules listed in
:mod:`selinon_django.compat.selinon_names`. Each is a fresh module object named as Selinon names
it (``selinon.storages.s3``) whose attributes are this app's objects themselves, imported when
first read, so ``selinon.SelinonTask is selinon_django.task.SelinonTask`` and ``isinstance`` and
``except`` clauses behave. No file is written and no top-level ``selinon`` package is shipped, so
a real Selinon installation is never overwritten; the finder is appended after the standard
finders and installed only when no ``selinon`` is importable (see :mod:`selinon_django.compat`).
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

from selinon_django.compat.selinon_names import INTERNAL_MODULES, MODULES, PACKAGES, UNSUPPORTED_NAMES

__all__ = ["SelinonAliasFinder", "SelinonAliasModule"]


def _internal_reason(fullname: str) -> str | None:
    """Why a Selinon module (or the package it lies in) has no counterpart here."""
    parts = fullname.split(".")
    for end in range(len(parts), 1, -1):
        reason = INTERNAL_MODULES.get(".".join(parts[:end]))
        if reason is not None:
            return reason
    return None


class SelinonAliasModule(ModuleType):
    """A Selinon module whose listed names are read from this app on first use."""

    _selinon_names: Mapping[str, str]
    _selinon_unsupported: Mapping[str, str]

    def __getattr__(self, name: str) -> Any:
        names = self.__dict__.get("_selinon_names", {})
        target = names.get(name)
        if target is None:
            reason = self.__dict__.get("_selinon_unsupported", {}).get(name)
            if reason is not None:
                # ImportError (not AttributeError) so that ``from selinon import X`` shows the reason
                raise ImportError(f"Selinon's {self.__name__}.{name} has no counterpart in selinon_django: {reason}",
                                  name=self.__name__)
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        module_name, attribute = target.split(":")
        value = getattr(importlib.import_module(module_name), attribute)
        super().__setattr__(name, value)  # read once
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        # Importing ``selinon.predicates.fieldEqual`` sets the submodule as an attribute of its
        # parent; in Selinon ``selinon.predicates.fieldEqual`` stays the function of that name.
        if isinstance(value, ModuleType) and name in self.__dict__.get("_selinon_names", {}):
            return
        super().__setattr__(name, value)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self.__dict__.get("_selinon_names", {})))


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, names: Mapping[str, str]) -> None:
        self.names = names

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return SelinonAliasModule(spec.name)

    def exec_module(self, module: ModuleType) -> None:
        module.__dict__["_selinon_names"] = self.names
        module.__dict__["_selinon_unsupported"] = UNSUPPORTED_NAMES if module.__name__ == "selinon" else {}
        module.__dict__["__all__"] = sorted(self.names)
        module.__doc__ = f"Selinon's {module.__name__}, provided by selinon_django (see selinon_django.compat)."


class SelinonAliasFinder(importlib.abc.MetaPathFinder):
    """Finds Selinon's public modules (and explains its internal ones); nothing else."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "selinon" and not fullname.startswith("selinon."):
            return None
        names = MODULES.get(fullname)
        if names is None:
            reason = _internal_reason(fullname)
            if reason is None:
                return None
            raise ModuleNotFoundError(
                f"No module named {fullname!r}: Selinon's internal module has no counterpart in selinon_django "
                f"({reason})", name=fullname,
            )
        return importlib.machinery.ModuleSpec(
            fullname, _AliasLoader(names), origin="selinon_django.compat", is_package=fullname in PACKAGES
        )
