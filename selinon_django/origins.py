"""What a configuration is trusted with, by where it came from, as the settings say.

:mod:`selinon_django.config.trust` defines the rules (pure Python); this module fills them from
``SELINON_DJANGO`` for the two origins a revision records: ``command`` (``selinon_load`` and
friends, reading files the operator chose) and ``upload`` (the admin's upload page and
``POST /api/revisions/``). A revision is rebuilt with the trust of its origin wherever it runs,
so an uploaded configuration's ``{VAR}`` placeholders read only the variables
``UPLOAD_ENVIRONMENT`` lists, on the worker as in the web process.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from selinon_django.conf import selinon_settings
from selinon_django.config.trust import Origin, Trust, command_trust, upload_trust

__all__ = ["ORIGINS", "trust_for"]

ORIGINS: tuple[Origin, ...] = ("command", "upload")


def trust_for(origin: str, *, schema_root: Path | None = None) -> Trust:
    """The :class:`Trust` of ``origin`` under the current settings (unknown origins: upload)."""
    conf = selinon_settings()
    if origin == "command":
        prefixes = conf.IMPORT_PREFIXES if conf.STRICT_IMPORTS else None
        trust = command_trust(import_prefixes=prefixes, schema_root=schema_root)
    else:
        trust = upload_trust(conf.IMPORT_PREFIXES, conf.UPLOAD_ENVIRONMENT)
    return dataclasses.replace(trust, max_schema_bytes=conf.MAX_SCHEMA_BYTES)
