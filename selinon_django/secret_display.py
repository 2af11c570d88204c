"""Who is shown the secrets written in configuration source text.

Structured views of a configuration (storage definitions, flow and task options, the revision
diff, trace rows) are always masked (:mod:`selinon_django.config.secrets`): nobody needs a
password to read a definition. The source files of a revision are different: they are what the
uploader wrote, and whoever may load configurations needs the real text to edit and load it
again. So the source text is shown as written to users who may add or change revisions, and
with its literal secrets masked to everyone else (a user with only the view permission).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from selinon_django.config.secrets import mask_source_text

#: either permission shows the source text as written
SOURCE_SECRET_PERMISSIONS = ("selinon_django.add_configrevision", "selinon_django.change_configrevision")


def sees_written_secrets(user: Any) -> bool:
    """Whether ``user`` (any auth user, or None) is shown source text with its secrets."""
    return user is not None and any(user.has_perm(permission) for permission in SOURCE_SECRET_PERMISSIONS)


@lru_cache(maxsize=64)
def masked_source_text(text: str) -> str:
    """:func:`~selinon_django.config.secrets.mask_source_text`, remembered: stored sources never
    change, and composing a big YAML file takes tens of milliseconds."""
    return mask_source_text(text)


def source_text_for(user: Any, text: str) -> str:
    """The source ``text`` as ``user`` is shown it."""
    return text if sees_written_secrets(user) else masked_source_text(text)
