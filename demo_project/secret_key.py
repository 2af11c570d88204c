"""The demo's ``SECRET_KEY`` when the environment gives none: random, made once, kept in a file.

A fixed key in the settings is a key everyone knows (sessions and password-reset tokens can be
forged with it). A key made afresh at every start would log everyone out at each restart, and the
web process and the workers of one demo would disagree. So the first process to need a key
writes a random one to ``<var dir>/secret_key`` (mode 0600, readable by its owner only) and every
later process, of any kind, reads it. Racing first starts agree too: the file appears complete
or not at all (written under another name, then hard-linked into place; the first link wins).

Pure Python, no Django: the settings module calls it before Django is configured.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

__all__ = ["KEY_FILE_NAME", "secret_key"]

KEY_FILE_NAME = "secret_key"
#: bytes of randomness (Django's own generated keys have about as many bits)
_KEY_BYTES = 50


def secret_key(environ: Mapping[str, str], var_dir: Path) -> str:
    """``DJANGO_SECRET_KEY`` if set, else the key kept in ``var_dir`` (made on first use)."""
    given = environ.get("DJANGO_SECRET_KEY", "")
    if given:
        return given
    path = var_dir / KEY_FILE_NAME
    key = _read(path)
    if key:
        return key
    _create(path)
    key = _read(path)
    if not key:
        raise RuntimeError(f"{path} holds no secret key; delete it (a new one is made) or set DJANGO_SECRET_KEY")
    return key


def _read(path: Path) -> str:
    try:
        key = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        # a copy made readable to others (or a file written by hand): owner only again
        with contextlib.suppress(PermissionError):
            path.chmod(0o600)
    return key


def _create(path: Path) -> None:
    """Write a new random key to ``path`` unless another process got there first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(_KEY_BYTES) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process's key is in place: everyone uses that one
        except OSError as error:  # a file system without hard links
            raise RuntimeError(f"cannot create {path} ({error}): set DJANGO_SECRET_KEY instead") from error
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
