"""Remember "this already happened once" across processes, for tasks that fail on purpose once.

A retried task keeps its task id and a retried flow keeps its dispatcher id, but the retry may
run in another worker process, so an in-memory counter would not do. A marker file created with
``O_CREAT | O_EXCL`` is atomic on one host, needs no database and survives the process. The
directory defaults to the OS temp dir; ``DEMO_ATTEMPTS_DIR`` moves it (tests point it at a
temporary directory).
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path


def markers_dir() -> Path:
    """The directory holding the markers (created on demand)."""
    base = os.environ.get("DEMO_ATTEMPTS_DIR") or os.path.join(tempfile.gettempdir(), "selinon_django_demo_attempts")
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _marker(key: str) -> Path:
    return markers_dir() / hashlib.sha256(key.encode()).hexdigest()


def first_time(key: str) -> bool:
    """True exactly once per ``key``: the call that creates the marker wins, even across processes."""
    try:
        fd = os.open(_marker(key), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def forget(key: str) -> None:
    """Drop the marker so the temp dir does not fill up once the planned failure has been shown."""
    with contextlib.suppress(FileNotFoundError):
        _marker(key).unlink()
