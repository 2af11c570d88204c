"""What of a configuration is secret, and the masked copy of it that users are shown.

Storage (and cache) configuration is where deployments put connection strings, passwords and
keys; the admin, the REST API and trace rows show configuration to users who may only *view*.
Every surface masks through this one module so the rules cannot drift apart. Pure Python (no
Django): the surfaces decide *when* to mask, this module decides *what*.

The rules:

- a value whose key names a secret (``password``, ``api_key``, ``secret_access_key``, ``dsn``...)
  becomes :data:`MASK`, whatever its type (a nested mapping too); ``None`` and booleans stay (a
  ``use_token: false`` flag is not a secret);
- a password inside a URL (``redis://:pw@host``, ``postgres://user:pw@host/db``) becomes
  :data:`MASK` in every string, whatever its key, and so do secret-named URL query parameters
  (``?password=pw``);
- a value made only of ``{VAR}`` templates is shown as written: it names an environment variable,
  it is not the secret itself (a value mixing literal text and templates is masked).

Key names are judged in two strengths. Everywhere (condition arguments, node arguments in trace
details) only names that cannot mean anything else count: ``password``, ``secret``, ``token``,
``credentials``, ``api_key``... Inside configuration sections (a ``configuration`` mapping, the
``global.trace`` entries) broader names count too: a key ending in ``key``, ``auth``, ``dsn``,
``private``, ``pass``. The broad words would mangle ordinary data outside those sections: the
``fieldEqual`` predicate's ``key`` argument names a field, not a secret.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from typing import Any

import yaml
from yaml import nodes

__all__ = [
    "CONFIGURATION_SECTIONS",
    "MASK",
    "is_secret_key",
    "mask_configuration",
    "mask_secrets",
    "mask_source_text",
    "mask_url_passwords",
]

#: what a secret is replaced by
MASK = "********"

#: keys whose value is a configuration section (storage and cache ``configuration``, and the
#: ``trace`` entries of the global section: a sentry ``dsn``)
CONFIGURATION_SECTIONS = frozenset({"configuration", "trace"})

#: fragments that make any key secret, looked for in the name lowercased without separators
_STRONG_FRAGMENTS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "credential",
    "apikey",
    "accesskey",
    "privatekey",
    "signingkey",
    "sessionkey",
)
#: whole words that make a key secret inside a configuration section
_SECTION_WORDS = frozenset({"pass", "pwd", "auth", "authorization", "authentication", "dsn", "private", "creds"})
#: a key whose last word is one of these is secret inside a configuration section (``key``,
#: ``access_key``, ``ssh_keys``; not ``key_prefix``)
_SECTION_LAST_WORDS = frozenset({"key", "keys"})
#: a key ending in one of these names *where* a secret is or what it is like, not the secret
#: (``token_url``, ``password_file``, ``private_key_path``, ``secret_name``); a URL's password
#: is still masked by the URL rule
_REFERENCE_LAST_WORDS = frozenset(
    {"url", "uri", "endpoint", "file", "path", "dir", "name", "type", "length", "ttl", "timeout", "expiry", "expires"}
)

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_NOT_ALNUM = re.compile(r"[^a-z0-9]")
#: ``{VAR}`` (and the ``{{`` / ``}}`` escapes, which are literal text) as config.environ reads them
_TEMPLATE = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
#: ``scheme://user:password@``: the password runs to the last ``@`` before the end of the URL
#: (a password with an unescaped ``@`` or ``/`` is still covered); quotes, spaces and brackets end
#: a URL inside longer text (an exception message, a YAML line)
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:@/'\"<>`]*:)(?P<password>[^\s'\"<>`]*)@(?=[^\s@'\"<>`]*(?:[\s'\"<>`]|$))"
)
#: ``name=value`` with a secret name: a URL's query (``?password=pw``), a semicolon-separated
#: connection string (``Server=h;Password=pw``), an exception message
_NAMED_SECRET = re.compile(
    r"(?P<head>(?<![A-Za-z0-9_.\-])(?P<name>[A-Za-z][A-Za-z0-9_.\-]*)=)" r"(?P<value>[^&#;,\s'\"<>`]*)"
)


def is_secret_key(name: str, *, in_section: bool = True) -> bool:
    """Whether the value under key ``name`` is a secret; ``in_section``: the key is inside a
    configuration section, where the broader words count too."""
    return _is_secret(name, in_section)


# positional arguments only: the cache is then C code (trace rows ask this of every key)
@lru_cache(maxsize=4096)
def _is_secret(name: str, in_section: bool) -> bool:
    words = [word.lower() for word in _WORDS.findall(name)]
    if not words or words[-1] in _REFERENCE_LAST_WORDS:
        return False
    compact = _NOT_ALNUM.sub("", name.lower())
    if any(fragment in compact for fragment in _STRONG_FRAGMENTS):
        return True
    if not in_section:
        return False
    return words[-1] in _SECTION_LAST_WORDS or any(word in _SECTION_WORDS for word in words)


def _only_templates(value: str) -> bool:
    """``{REDIS_PASSWORD}`` (one or more templates, nothing else): shown as written."""
    return bool(_TEMPLATE.search(value)) and not _TEMPLATE.sub("", value).strip()


def mask_url_passwords(text: str) -> str:
    """``text`` with the password of every URL in it (and every ``secret_name=value``) masked."""
    if "://" not in text and "=" not in text:
        return text

    def password(match: re.Match[str]) -> str:
        secret = match.group("password")
        if not secret or _only_templates(secret):
            return match.group(0)
        return f"{match.group('head')}{MASK}@"

    def named(match: re.Match[str]) -> str:
        value = match.group("value")
        if not value or not _is_secret(match.group("name"), False) or _only_templates(value):
            return match.group(0)
        return f"{match.group('head')}{MASK}"

    if "://" in text:
        text = _URL_PASSWORD.sub(password, text)
    return _NAMED_SECRET.sub(named, text) if "=" in text else text


def _masked_value(value: Any) -> Any:
    """What a value under a secret key becomes (nothing to hide in null, '' or a flag)."""
    if value is None or value == "" or isinstance(value, bool):
        return value
    if isinstance(value, str) and _only_templates(value):
        return value
    return MASK


def mask_secrets(value: Any, *, in_section: bool = False, default: Callable[[Any], Any] | None = None) -> Any:
    """A masked copy of JSON-like ``value`` (mappings become dicts, sequences lists).

    Inside a key of :data:`CONFIGURATION_SECTIONS` (or everywhere with ``in_section``) the broad
    key names count as secret too; URL passwords are masked in every string. With ``default``
    the copy is JSON-ready in the same walk: keys become strings, sets lists, and any other
    value what ``default`` makes of it (trace details hold exceptions and ids).
    """
    return _mask(value, in_section, default)


def _mask(value: Any, in_section: bool, default: Callable[[Any], Any] | None) -> Any:
    # exact type checks first: every trace row comes through here, mostly plain dicts and strings
    kind = type(value)
    if kind is str:
        return mask_url_passwords(value) if ("://" in value or "=" in value) else value
    if value is None or kind is int or kind is float or kind is bool:
        return value
    if kind is dict or isinstance(value, Mapping):
        masked: dict[Any, Any] = {}
        for key, item in value.items():
            name = key if type(key) is str else str(key)
            if default is not None:
                key = name
            if _is_secret(name, in_section):
                masked[key] = _masked_value(item)
            else:
                masked[key] = _mask(item, in_section or name in CONFIGURATION_SECTIONS, default)
        return masked
    if kind is list or kind is tuple or (default is not None and isinstance(value, (list, tuple, set, frozenset))):
        return [_mask(item, in_section, default) for item in value]
    if isinstance(value, str):
        return mask_url_passwords(value)
    if default is None or isinstance(value, (int, float)):
        return value
    if hasattr(value, "items"):  # a mapping that is not a Mapping
        return _mask(dict(value.items()), in_section, default)
    return _mask(default(value), in_section, None)


def mask_configuration(configuration: Any) -> Any:
    """A configuration section (a storage's or cache's ``configuration``) masked."""
    return mask_secrets(configuration, in_section=True)


# --- YAML source text --------------------------------------------------------------------------

#: a masked scalar in YAML text: quoted, since a plain ``*`` would start an alias
_QUOTED_MASK = f'"{MASK}"'
#: the anchor and tag written before a node (kept when its value is masked)
_NODE_PROPERTIES = re.compile(r"(?:[&!][^\s]*\s+)*")


def mask_source_text(text: str) -> str:
    """The YAML ``text`` as written, with the secrets the same rules find in its data masked in
    place: comments, order and layout stay, each secret scalar becomes ``"********"`` (still YAML).

    The positions come from PyYAML's node graph (so flow style, quoting, anchors and aliases are
    all covered); URL passwords are then masked in the whole text, comments included. Text that
    is not YAML is not shown at all (a stored source always is: it was loaded).
    """
    try:
        documents = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError:
        return "# (not shown: this text is not YAML, so its secrets cannot be found and masked)\n"
    spans: dict[tuple[int, int], None] = {}
    seen: set[tuple[int, bool, bool]] = set()
    for document in documents:
        if document is not None:
            for start, end in _secret_spans(document, in_section=False, secret=False, seen=seen):
                spans.setdefault((start, end), None)
    masked = text
    for start, end in sorted(spans, reverse=True):
        original = masked[start:end]
        properties = _NODE_PROPERTIES.match(original)
        prefix = properties.group(0) if properties else ""
        trailing = original[len(original.rstrip("\n")):]
        masked = f"{masked[:start]}{prefix}{_QUOTED_MASK}{trailing}{masked[end:]}"
    return mask_url_passwords(masked)


def _secret_spans(node: nodes.Node, *, in_section: bool, secret: bool,
                  seen: set[tuple[int, bool, bool]]) -> Iterator[tuple[int, int]]:
    """(start, end) text offsets of the scalars to mask under ``node``.

    ``seen`` stops a walk at a node already visited in the same context: aliases make the node
    graph a DAG, and a document of nested aliases would otherwise be walked exponentially often.
    """
    marker = (id(node), in_section, secret)
    if marker in seen:
        return
    seen.add(marker)
    if isinstance(node, nodes.ScalarNode):
        if secret and not _scalar_kept(node):
            yield node.start_mark.index, node.end_mark.index
        return
    if isinstance(node, nodes.SequenceNode):
        for item in node.value:
            yield from _secret_spans(item, in_section=in_section, secret=secret, seen=seen)
        return
    if isinstance(node, nodes.MappingNode):
        for key, item in node.value:
            name = str(key.value) if isinstance(key, nodes.ScalarNode) else ""
            yield from _secret_spans(
                item,
                in_section=in_section or name in CONFIGURATION_SECTIONS,
                secret=secret or _is_secret(name, in_section),
                seen=seen,
            )


def _scalar_kept(node: nodes.ScalarNode) -> bool:
    """A scalar under a secret key that is shown anyway: null, '', a boolean, only ``{VAR}`` templates."""
    if node.tag in ("tag:yaml.org,2002:null", "tag:yaml.org,2002:bool") or node.value == "":
        return True
    return isinstance(node.value, str) and _only_templates(node.value)
