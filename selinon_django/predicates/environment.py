"""Predicates that look outside the flow: process environment and an HTTP endpoint."""
from __future__ import annotations

import os
import urllib.error
import urllib.request
from urllib.parse import urljoin

from selinon_django.predicates.lookup import never_raises

__all__ = ["envEqual", "envExist", "httpStatus"]

#: seconds; the predicate runs inside a dispatcher step, which must not hang on a dead host
HTTP_TIMEOUT = 10.0


@never_raises
def envEqual(env: str, value: str) -> bool:
    """True when the environment variable ``env`` is set to ``value`` in the dispatcher's process."""
    return os.environ.get(env) == value


@never_raises
def envExist(env: str) -> bool:
    """True when the environment variable ``env`` is set in the dispatcher's process."""
    return env in os.environ


@never_raises
def httpStatus(host: str, path: str, status: int) -> bool:
    """True when a HEAD request to ``host`` + ``path`` answers with HTTP ``status``.

    ``host`` without a scheme means ``http://``. Network errors and timeouts are ``False``.
    """
    base = host if "://" in host else f"http://{host}"
    url = urljoin(base if base.endswith("/") else base + "/", path.lstrip("/"))
    request = urllib.request.Request(url, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            code = int(response.status)
    except urllib.error.HTTPError as error:
        code = int(error.code)
    return code == int(status)
