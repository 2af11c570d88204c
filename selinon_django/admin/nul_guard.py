"""NUL characters in an admin URL or query string: refused before any view of the app's admin runs.

PostgreSQL's text cannot hold NUL, so ``?flow=%00``, ``?status=%00`` or a run id with ``%00`` in
it reached the database as a ``DataError`` (a 500) from Django's own list filters and lookups as
much as from ours. Every ModelAdmin of the app mixes :class:`NulGuardedAdmin` in, which wraps
each of its URLs (the change list, change and history pages, and the app's own pages such as
the run's live view and the revision diff): NUL in a query-string parameter is a 400, in a
URL part (an object id) a 404, as in the REST API.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.core.exceptions import BadRequest
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern

View = Callable[..., HttpResponse]


def nul_guard(view: View) -> View:
    """``view``, refusing NUL in the query string (400) and in the URL's parts (404) first."""

    @functools.wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if any("\x00" in str(part) for part in (*args, *kwargs.values())):
            raise Http404("No object has an id with a NUL character in it.")
        for name, values in request.GET.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                raise BadRequest(f"The query-string parameter {name!r} contains a NUL character.")
        return view(request, *args, **kwargs)

    return guarded


def _guarded(pattern: URLPattern) -> URLPattern:
    if not isinstance(pattern, URLPattern):  # an include(): its own views are guarded where they are made
        return pattern
    return URLPattern(pattern.pattern, nul_guard(pattern.callback), pattern.default_args, pattern.name)


if TYPE_CHECKING:
    _AdminBase = admin.ModelAdmin[Any]
else:
    _AdminBase = object


class NulGuardedAdmin(_AdminBase):
    """Mix into a ModelAdmin (before ``admin.ModelAdmin``): all its URLs go through :func:`nul_guard`.

    ``urls`` is what the admin site includes, so the views a subclass adds in ``get_urls`` are
    guarded as well as Django's own.
    """

    @property
    def urls(self) -> list[URLPattern]:
        return [_guarded(pattern) for pattern in self.get_urls()]
