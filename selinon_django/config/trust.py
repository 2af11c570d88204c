"""What a configuration may reach, by where it came from.

A configuration loaded by an operator's command from files on disk is trusted like the
operator's own code: it may name any module and read any environment variable. A configuration
that arrives by upload (the admin's upload page, ``POST /api/revisions/``) comes from a user who
is not a superuser and is hostile input: it may name only modules under the allowed prefixes,
read only the environment variables the settings list, and read no file but the ones uploaded
with it. The loader takes a :class:`Trust` and applies it while it parses, so no caller (and no
new section of the format) can skip the checks.

Pure Python: the Django layer builds the :class:`Trust` from settings
(:mod:`selinon_django.origins`).
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from selinon_django.config.imports import APP_PREFIX, allowed_import
from selinon_django.config.model import ImportKind, ImportSite
from selinon_django.errors import ConfigIssue

__all__ = [
    "COMMAND",
    "Origin",
    "Trust",
    "command_trust",
    "refused_imports",
    "upload_trust",
]

Origin = Literal["command", "upload"]

#: the only modules of this app each kind of object may come from (a prefix ends with ".");
#: every other module of the app (its runtime, its triggers, its API) is never user code
_APP_MODULES: Mapping[ImportKind, tuple[str, ...]] = MappingProxyType({
    "storage class": ("selinon_django.storages.",),
    "cache class": ("selinon_django.caches.", "selinon_django.caches"),
    "predicates module": ("selinon_django.predicates",),
    "sampling strategy": ("selinon_django.strategies",),
})

#: the app's modules an upload may name without the settings saying so: they reach nothing
#: outside the process and the database (a filesystem, Redis or S3 storage writes wherever its
#: configuration points, so an upload may name it only when IMPORT_PREFIXES lists it)
_UPLOAD_APP_MODULES: tuple[str, ...] = (
    "selinon_django.predicates",
    "selinon_django.strategies",
    "selinon_django.caches.",
    "selinon_django.caches",
    "selinon_django.storages.memory",
    "selinon_django.storages.django_db",
)

_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Trust:
    """What one load may reach; see the module docstring."""

    origin: Origin
    #: module prefixes ``import:`` may name; None: any module
    import_prefixes: tuple[str, ...] | None
    #: the variables ``{VAR}`` placeholders may read
    environ: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: added to "variable not set" messages when the variable may exist but is not offered
    environ_hint: str = ""
    #: directory ``output_schema`` paths resolve in, and must stay inside; None: only schema
    #: files handed to the loader (uploads)
    schema_root: Path | None = None
    #: largest ``output_schema`` file accepted
    max_schema_bytes: int = 1_000_000

    @property
    def uploaded(self) -> bool:
        return self.origin == "upload"


def command_trust(
    *,
    environ: Mapping[str, str] | None = None,
    import_prefixes: Iterable[str] | None = None,
    schema_root: Path | None = None,
) -> Trust:
    """A command loading files the operator chose (``import_prefixes``: STRICT_IMPORTS)."""
    return Trust(
        origin="command",
        import_prefixes=None if import_prefixes is None else tuple(import_prefixes),
        environ=os.environ if environ is None else environ,
        schema_root=schema_root,
    )


def upload_trust(
    import_prefixes: Iterable[str], allowed_variables: Iterable[str], environ: Mapping[str, str] | None = None
) -> Trust:
    """An upload: imports under ``import_prefixes``, only ``allowed_variables`` of ``environ``."""
    env = os.environ if environ is None else environ
    names = tuple(allowed_variables)
    offered = {name: env[name] for name in names if name in env}
    listed = ", ".join(names) if names else "none"
    return Trust(
        origin="upload",
        import_prefixes=tuple(import_prefixes),
        environ=MappingProxyType(offered),
        environ_hint=f"uploaded configurations may read only the variables SELINON_DJANGO['UPLOAD_ENVIRONMENT'] "
        f"lists (now: {listed})",
    )


COMMAND = command_trust()


def _under(module: str, allowed: Iterable[str]) -> bool:
    for entry in allowed:
        if entry.endswith("."):
            if module.startswith(entry):
                return True
        elif module == entry:
            return True
    return False


def _refusal(site: ImportSite, trust: Trust) -> str | None:
    """Why ``site`` may not be imported under ``trust`` (None: it may)."""
    if not _DOTTED.fullmatch(site.module):
        return f"{site.kind} module {site.module!r} is not a module name"
    if site.name is not None and (not _IDENTIFIER.fullmatch(site.name) or site.name.startswith("__")):
        return f"{site.kind} name {site.name!r} is not a public Python name"
    module = site.module
    if module == APP_PREFIX or module.startswith(APP_PREFIX + "."):
        if not _under(module, _APP_MODULES.get(site.kind, ())):
            return f"'{module}' is a module of selinon_django itself, not a {site.kind}"
        if trust.import_prefixes is None or _under(module, _UPLOAD_APP_MODULES):
            return None
        explicit = [p for p in trust.import_prefixes if p == APP_PREFIX or p.startswith(APP_PREFIX + ".")]
        if allowed_import(module, explicit):
            return None
        return f"{site.kind} module '{module}' is not allowed here (SELINON_DJANGO['IMPORT_PREFIXES'] must name it)"
    if trust.import_prefixes is None or allowed_import(module, trust.import_prefixes):
        return None
    allowed = ", ".join(trust.import_prefixes) or "none"
    return f"{site.kind} module '{module}' is not allowed (allowed prefixes: {allowed})"


def refused_imports(sites: Iterable[ImportSite], trust: Trust) -> list[ConfigIssue]:
    """One issue per import ``trust`` does not allow; nothing is imported."""
    issues: list[ConfigIssue] = []
    for site in sites:
        reason = _refusal(site, trust)
        if reason is not None:
            issues.append(ConfigIssue(site.file, site.path, reason))
    return issues
