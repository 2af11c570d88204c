"""Running graphviz's ``dot`` on a graph (the program may be configured by path)."""

from __future__ import annotations

import shutil
import subprocess

import graphviz

#: output formats ``dot -T`` accepts, as the graphviz package knows them
FORMATS: frozenset[str] = frozenset(graphviz.FORMATS)


class GraphRenderError(RuntimeError):
    """The graph could not be rendered (unknown format, no ``dot`` program, ``dot`` failed)."""


def find_dot(dot_program: str | None = None) -> str | None:
    """The path of the ``dot`` program to run, or None when there is none."""
    if dot_program:
        return shutil.which(dot_program)
    return shutil.which("dot")


def render(digraph: graphviz.Digraph, fmt: str, *, dot_program: str | None = None, timeout: float = 120) -> bytes:
    """The graph drawn in ``fmt`` (svg, png, pdf, dot...)."""
    if fmt not in FORMATS:
        raise GraphRenderError(f"unknown graph format {fmt!r} (for example: svg, png, pdf, dot)")
    program = find_dot(dot_program)
    if program is None:
        wanted = dot_program or "dot"
        raise GraphRenderError(f"graphviz program {wanted!r} not found: install graphviz or set DOT_PROGRAM")
    try:
        completed = subprocess.run(
            [program, f"-T{fmt}"],
            input=digraph.source.encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GraphRenderError(f"running {program} failed: {exc}") from exc
    if completed.returncode != 0:
        message = completed.stderr.decode("utf-8", "replace").strip()
        raise GraphRenderError(f"{program} -T{fmt} failed: {message}")
    return completed.stdout
