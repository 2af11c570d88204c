"""The one request-body parser of the API: JSON, bounded in nesting before it is parsed.

DRF's ``JSONParser`` hands the body to the recursive ``json`` parser, so a 100,000-deep
``node_args`` was a ``RecursionError`` and a 500. This parser parses through
:func:`selinon_django.payloads.parse_json_bytes`, which bounds nesting
(``SELINON_DJANGO['MAX_JSON_DEPTH']``) with a linear scan first and refuses what PostgreSQL
cannot store (NUL, lone surrogates, NaN and Infinity) with a 400 naming the problem. Every viewset
of the API uses it (:class:`~selinon_django.api.views.SelinonAPIView`), so no endpoint can forget it.

The body's size is bounded before this parser runs: DRF reads a JSON body through
``request.body``, which refuses more than Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes; the
views answer that refusal with :class:`RequestTooLarge` (a 413 naming the setting).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

from selinon_django.conf import selinon_settings
from selinon_django.payloads import PayloadError, parse_json_bytes


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than Django's DATA_UPLOAD_MAX_MEMORY_SIZE allows."
    default_code = "request_too_large"


class BoundedJSONParser(JSONParser):
    """JSON bodies within the nesting limit, holding only what the database can store."""

    def parse(self, stream: IO[Any], media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        try:
            return parse_json_bytes(stream.read(), max_depth=selinon_settings().MAX_JSON_DEPTH)
        except PayloadError as error:
            raise ParseError(f"JSON parse error - {error}") from None
