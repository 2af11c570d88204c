"""How API requests authenticate: a token (when the project offers tokens), then a session.

DRF's ``TokenAuthentication`` needs ``rest_framework.authtoken`` in ``INSTALLED_APPS``: without
the app its ``Token`` model is abstract, and a request carrying ``Authorization: Token ...``
crashed with a 500 (``'Token' has no attribute 'DoesNotExist'``). Tokens are therefore offered only
when the app is installed, decided per request so that the same classes serve every project:

- installed: token first, so an anonymous request gets a 401 with a ``WWW-Authenticate: Token``
  challenge; then the session;
- not installed: the session only (no challenge is offered, so DRF answers an anonymous request
  with 403), and a request that sends a token is refused with a message naming the missing app.
"""
from __future__ import annotations

from typing import Any

from django.apps import apps
from rest_framework.authentication import SessionAuthentication, TokenAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

TOKEN_APP = "rest_framework.authtoken"


def tokens_offered() -> bool:
    """Whether this project can check tokens (``rest_framework.authtoken`` is installed)."""
    return apps.is_installed(TOKEN_APP)


class OptionalTokenAuthentication(TokenAuthentication):
    """DRF's token authentication when the project installs its app; otherwise no tokens."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        if tokens_offered():
            return super().authenticate(request)
        words = get_authorization_header(request).split()
        if words and words[0].lower() == self.keyword.lower().encode():
            raise AuthenticationFailed(
                f"Token authentication is not enabled here ({TOKEN_APP} is not in INSTALLED_APPS); "
                "log in with a session instead."
            )
        return None

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        # PostgreSQL's text cannot hold NUL: looking such a key up would be a 500, not a 401
        if "\x00" in key:
            raise AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(key)

    def authenticate_header(self, request: Request) -> str | None:
        return super().authenticate_header(request) if tokens_offered() else None


#: every API view's authentication: token first (when offered), then the session
AUTHENTICATION = (OptionalTokenAuthentication, SessionAuthentication)
