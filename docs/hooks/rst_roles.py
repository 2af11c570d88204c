"""Griffe extension: the docstrings' reStructuredText roles shown as code in the Markdown pages.

The package's docstrings name objects the Sphinx way (``:class:`~selinon_django.errors.UnknownFlowError```,
``:meth:`run```). mkdocstrings renders docstrings as Markdown, where the role would be printed as
written. This extension turns each role into an inline code span of the name (its last component
when the target starts with ``~``, as Sphinx shows it), and the reST double backquotes into single
ones. Cross-references are deliberately not made: a target the site does not document would fail
the strict build, and the API pages are a reference, not an index of every module.
"""
from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Object

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|exc|data|obj|const):`(?P<tilde>~?)(?P<target>[^`]+)`")
DOUBLE_BACKQUOTES = re.compile(r"``(?P<code>[^`]+)``")


def plain(text: str) -> str:
    """``text`` with its roles as code spans of their names and ``code`` as `code`."""

    def role(match: re.Match[str]) -> str:
        target = match["target"]
        return f"`{target.rsplit('.', 1)[-1] if match['tilde'] else target}`"

    return DOUBLE_BACKQUOTES.sub(lambda m: f"`{m['code']}`", ROLE.sub(role, text))


class RstRoles(Extension):
    def on_object(self, *, obj: Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = plain(obj.docstring.value)
