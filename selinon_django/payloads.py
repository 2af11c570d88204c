"""Untrusted text checked before it is parsed: JSON documents and integers (pure Python, no Django).

Every surface that accepts JSON from outside (REST bodies, the admin's start form, command
arguments) parses it here, so one set of rules holds everywhere:

- nesting is bounded *before* ``json.loads`` runs, by a linear scan that uses no recursion:
  a 100,000-deep document would make the recursive parser raise ``RecursionError``, and each
  level that is accepted costs stack again wherever the value is walked later (serialising it
  into a message, the database adapter, the engine);
- ``\\u0000`` in a string or a key is refused, since PostgreSQL's ``jsonb`` and ``text`` cannot
  hold NUL, and so are lone UTF-16 surrogates (``\\ud800``), which no database encoding can hold;
- ``NaN``, ``Infinity`` and numbers too large for a float (``1e999``), which Python's ``json``
  accepts but JSON and ``jsonb`` do not, are refused; so are integers with more digits than
  Python converts.

Integers taken from query strings and paths go through :func:`parse_bounded_int`: ``str.isdigit``
is true for ``'²'`` (which ``int`` refuses) and ``int`` of a 5,000-digit string raises, so
neither is used on such input directly.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = ["DEFAULT_MAX_DEPTH", "INT32_MAX", "PayloadError", "check_json_text", "parse_bounded_int", "parse_json",
           "parse_json_bytes"]

#: nesting accepted when the caller names no limit (the default of SELINON_DJANGO['MAX_JSON_DEPTH'])
DEFAULT_MAX_DEPTH = 64

#: a JSON string (its closing quote optional, so an unterminated one swallows the rest) or a bracket
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)
#: one escape sequence inside a string token
_ESCAPES = re.compile(r"\\(?:u([0-9a-fA-F]{4})|.)", re.DOTALL)
#: characters no stored text can hold: NUL and lone surrogates (from ``surrogateescape``d input)
_RAW_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")
_OPENING = frozenset("[{")

_MAX_INT_CHARACTERS = 40

#: the largest value of an integer column on every database (PostgreSQL's ``integer`` is 32-bit)
INT32_MAX = 2**31 - 1


class PayloadError(ValueError):
    """Untrusted input was refused; the message says what is wrong (and the limit, if one was hit)."""


def _where(text: str, index: int) -> str:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"line {line}, column {column}"


def _check_escapes(text: str, token_start: int, token: str) -> None:
    """Refuse ``\\u0000`` and surrogate escapes that do not form a pair, inside one string token."""
    pending_high: int | None = None  # offset in ``token`` of a high surrogate waiting for its low half
    previous_end = -1
    for escape in _ESCAPES.finditer(token):
        code_text = escape.group(1)
        code = int(code_text, 16) if code_text is not None else None
        adjacent = escape.start() == previous_end
        previous_end = escape.end()
        if pending_high is not None:
            if adjacent and code is not None and 0xDC00 <= code <= 0xDFFF:
                pending_high = None
                continue
            raise PayloadError(f"a lone UTF-16 surrogate escape at {_where(text, token_start + pending_high)}")
        if code is None:
            continue
        if code == 0:
            raise PayloadError(
                f"\\u0000 (NUL) at {_where(text, token_start + escape.start())}: text stored in the database "
                "cannot contain NUL characters"
            )
        if 0xD800 <= code <= 0xDBFF:
            pending_high = escape.start()
        elif 0xDC00 <= code <= 0xDFFF:
            raise PayloadError(f"a lone UTF-16 surrogate escape at {_where(text, token_start + escape.start())}")
    if pending_high is not None:
        raise PayloadError(f"a lone UTF-16 surrogate escape at {_where(text, token_start + pending_high)}")


def check_json_text(text: str, *, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
    """Raise :class:`PayloadError` if ``text`` nests deeper than ``max_depth`` or holds what no
    database can store (see the module docstring). Linear in ``len(text)``; no recursion.

    Only the limits are checked here: whether ``text`` is JSON at all is ``json.loads``'s job.
    """
    raw = _RAW_FORBIDDEN.search(text)
    if raw is not None:
        what = "a NUL character" if raw.group() == "\x00" else "a lone UTF-16 surrogate (text that is not UTF-8)"
        raise PayloadError(f"{what} at {_where(text, raw.start())}")
    depth = 0
    for token in _TOKENS.finditer(text):
        value = token.group()
        if value[0] == '"':
            if "\\u" in value:
                _check_escapes(text, token.start(), value)
        elif value in _OPENING:
            depth += 1
            if depth > max_depth:
                raise PayloadError(
                    f"JSON nested more than {max_depth} levels deep (at {_where(text, token.start())}); "
                    f"the limit is MAX_JSON_DEPTH = {max_depth}"
                )
        else:
            depth -= 1


def _refuse_constant(name: str) -> Any:
    raise PayloadError(f"{name} is not a JSON number (JSON has no NaN or Infinity)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise PayloadError(f"the number {text[:40]} is too large for a floating-point number")
    return value


def parse_json(text: str, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """``json.loads(text)`` after :func:`check_json_text`; every refusal is a :class:`PayloadError`."""
    check_json_text(text, max_depth=max_depth)
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except PayloadError:
        raise
    except json.JSONDecodeError as error:
        raise PayloadError(f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})") from None
    except ValueError:  # an integer with more digits than Python converts (sys.get_int_max_str_digits)
        raise PayloadError("not usable JSON: a number has too many digits") from None


def parse_json_bytes(data: bytes, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """:func:`parse_json` of UTF-8 bytes (JSON's only encoding); other bytes are refused."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PayloadError(f"not UTF-8 text (byte {error.start})") from None
    return parse_json(text.removeprefix("\ufeff"), max_depth=max_depth)


def parse_bounded_int(text: str, *, minimum: int, maximum: int) -> int:
    """The decimal integer ``text`` (ASCII digits, an optional sign) within ``minimum..maximum``."""
    stripped = text.strip()
    if len(stripped) > _MAX_INT_CHARACTERS or not re.fullmatch(r"[+-]?[0-9]+", stripped, flags=re.ASCII):
        raise PayloadError(f"{text[:_MAX_INT_CHARACTERS]!r} is not a whole number")
    value = int(stripped)
    if not minimum <= value <= maximum:
        raise PayloadError(f"{value} is out of range ({minimum} to {maximum})")
    return value
