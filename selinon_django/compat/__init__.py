"""Existing Selinon code runs unchanged: ``import selinon`` without the ``selinon`` distribution.

Selinon projects say ``from selinon import SelinonTask, StoragePool``, ``from selinon.predicates
import fieldEqual``, ``from selinon.storages.s3 import S3``. :func:`install_selinon_alias` puts an
import hook (:class:`~selinon_django.compat.finder.SelinonAliasFinder`) on ``sys.meta_path`` that
resolves those names to this app's objects. ``selinon_django/__init__.py`` calls it, so it is in
place as soon as anything imports the app: ``django.setup()`` in a web process or a management
command, and Celery's Django fix-up in a worker (before the worker imports task modules).

It is not installed when a ``selinon`` is importable (a real installation is used as it is,
never shadowed), or when the environment variable ``SELINON_DJANGO_NO_SELINON_ALIAS`` is set to a
non-empty value other than ``0``. The names provided are listed in
:mod:`selinon_django.compat.selinon_names`.
"""
from __future__ import annotations

import importlib.util
import os
import sys

from selinon_django.compat.finder import SelinonAliasFinder

__all__ = ["OPT_OUT_VARIABLE", "SelinonAliasFinder", "install_selinon_alias", "selinon_alias_installed"]

#: set it (non-empty, not "0") to keep the alias off
OPT_OUT_VARIABLE = "SELINON_DJANGO_NO_SELINON_ALIAS"


def selinon_alias_installed() -> bool:
    """Whether this process resolves ``selinon`` through the alias."""
    return any(isinstance(finder, SelinonAliasFinder) for finder in sys.meta_path)


def install_selinon_alias() -> bool:
    """Put the alias on ``sys.meta_path`` unless it is there, opted out of, or a real ``selinon``
    is importable; returns whether the alias is in place afterwards."""
    if selinon_alias_installed():
        return True
    if os.environ.get(OPT_OUT_VARIABLE, "") not in ("", "0"):
        return False
    if "selinon" in sys.modules or importlib.util.find_spec("selinon") is not None:
        return False
    sys.meta_path.append(SelinonAliasFinder())
    return True
