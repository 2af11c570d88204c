"""``output_schema`` documents: read once, when the configuration is loaded, and kept in it.

A task's ``output_schema`` names a JSON Schema file. It is part of the configuration, so it is
read at load time and stored in the revision (the normalised configuration's ``output_schemas``
maps each path as written to its document): runs never read schema files, a revision keeps
working when the folder it was loaded from moves, and a schema change is a new revision.

Where a path may point is bounded by the load's trust: a command reads it below the loaded
files' directory (never outside it, never a device or a directory), an upload only from the
files uploaded with it. Every document is checked to be a JSON Schema of bounded size.
"""
from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from jsonschema import exceptions as jsonschema_exceptions
from jsonschema import validators

__all__ = ["SchemaProblem", "SchemaSource", "check_schema_document", "parse_schema_text"]


class SchemaProblem(Exception):
    """Why an ``output_schema`` cannot be used (the message is shown to whoever loaded it)."""


def check_schema_document(document: Any) -> Any:
    """``document`` when it is a valid JSON Schema (object or boolean); SchemaProblem otherwise."""
    if not isinstance(document, (Mapping, bool)):
        raise SchemaProblem(f"is not a JSON Schema (a JSON object), but a {type(document).__name__}")
    try:
        validators.validator_for(document).check_schema(document)  # type: ignore[arg-type]
    except jsonschema_exceptions.SchemaError as error:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        raise SchemaProblem(f"is not a valid JSON Schema: {where}: {error.message}") from None
    except RecursionError:
        raise SchemaProblem("is nested too deeply") from None
    return document


def parse_schema_text(text: str, max_bytes: int) -> Any:
    """A JSON Schema document from its text, bounded in size and nesting."""
    if len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise SchemaProblem(f"is larger than {max_bytes} bytes")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise SchemaProblem(f"is not JSON: {error}") from None
    except RecursionError:
        raise SchemaProblem("is nested too deeply") from None
    return check_schema_document(document)


class SchemaSource:
    """Where the ``output_schema`` paths of one load are read from.

    ``given``: documents already at hand by path as written (a stored revision's, or the schema
    files of an upload, parsed); ``root``: the directory files are read below (None: none are).
    ``required``: a path with no document is an error (False when rebuilding a revision stored
    before schemas were kept: its tasks then fail at run time with a clear message instead).
    """

    def __init__(
        self,
        given: Mapping[str, Any] | None = None,
        *,
        root: Path | None = None,
        max_bytes: int = 1_000_000,
        required: bool = True,
    ) -> None:
        self.given = dict(given or {})
        self.root = root
        self.max_bytes = max_bytes
        self.required = required
        self.read: dict[str, Any] = {}

    def document(self, path: str) -> Any:
        """The schema ``path`` names; SchemaProblem when it cannot be had."""
        if path in self.read:
            return self.read[path]
        given = self._given(path)
        if given is not None:
            document = check_schema_document(given[1])
        elif self.root is not None:
            document = parse_schema_text(self._read_file(path), self.max_bytes)
        else:
            raise SchemaProblem("was not uploaded with the configuration (add the schema file to the upload)")
        self.read[path] = document
        return document

    def _given(self, path: str) -> tuple[str, Any] | None:
        """The given document for ``path``: by the path as written, else by its file name when
        exactly one given document has that name (a browser uploads base names only)."""
        if path in self.given:
            return path, self.given[path]
        name = PurePosixPath(path).name
        matches = [key for key in self.given if PurePosixPath(key).name == name]
        if len(matches) == 1:
            return matches[0], self.given[matches[0]]
        return None

    def _read_file(self, path: str) -> str:
        assert self.root is not None
        root = self.root.resolve()
        candidate = (root / path).resolve()
        if candidate != root and root not in candidate.parents:
            raise SchemaProblem(f"is outside the configuration's directory {str(root)!r}")
        try:
            # Opened without following a FIFO's or device's promise of endless data: only a
            # regular file of bounded size is read.
            fd = os.open(candidate, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except FileNotFoundError:
            raise SchemaProblem(f"file {str(candidate)!r} not found") from None
        except OSError as error:
            raise SchemaProblem(f"cannot be read: {error.strerror}") from None
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise SchemaProblem(f"{str(candidate)!r} is not a regular file")
            if info.st_size > self.max_bytes:
                raise SchemaProblem(f"is larger than {self.max_bytes} bytes")
            data = handle.read(self.max_bytes + 1)
        if len(data) > self.max_bytes:
            raise SchemaProblem(f"is larger than {self.max_bytes} bytes")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise SchemaProblem("is not UTF-8 text") from None
