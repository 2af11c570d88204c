"""The code blocks of a documentation page (``docs/*.md``), as the tests apply and run them.

Conventions of the pages whose code is tested (the getting-started page, the deployment guide and
the tutorials):

- a block with ``title="<path>"`` is a file of the project: appended to it when it exists (after
  ``django-admin startproject``: ``mysite/settings.py``, ``mysite/urls.py``, ``mysite/__init__.py``),
  created otherwise;
- a ``bash`` block holds commands, one a line (``#`` starts a comment; a command continued with a
  trailing ``\\`` is joined with its next line);
- a ``python`` block without a title is code to run in ``manage.py shell``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"

_FENCE = re.compile(r'^```(?P<language>\w+)(?: title="(?P<title>[^"]+)")?\n(?P<text>.*?)^```$', re.M | re.S)


@dataclass(frozen=True)
class Block:
    language: str
    title: str | None
    text: str


@dataclass(frozen=True)
class Command:
    """A command line of a bash block and the comment that follows it on its line (``""`` without)."""

    line: str
    comment: str


def page(name: str) -> str:
    """The text of ``docs/<name>``."""
    return (DOCS / name).read_text(encoding="utf-8")


def section(text: str, heading: str) -> str:
    """The text under ``heading`` (a whole heading line) up to the next heading of its level or above."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = text.splitlines(keepends=True)
    start = lines.index(heading + "\n") + 1
    end = start
    fenced = False  # a "# comment" line in a code block is no heading
    while end < len(lines):
        fenced ^= lines[end].startswith("```")
        match = re.match(r"^(#+) ", lines[end])
        if match and not fenced and len(match.group(1)) <= level:
            break
        end += 1
    return "".join(lines[start:end])


def blocks(text: str) -> list[Block]:
    return [Block(m["language"], m["title"], m["text"]) for m in _FENCE.finditer(text)]


def command_lines(block: Block) -> list[Command]:
    """The commands of a bash block with their trailing comments; comment lines dropped."""
    found = []
    for line in re.sub(r"\\\n\s*", "", block.text).splitlines():
        match = re.match(r"^(?P<command>.*?)(?:\s+#\s*(?P<comment>.*))?$", line.strip())
        assert match is not None  # the pattern matches any line
        command = match["command"].strip()
        if command and not command.startswith("#"):
            found.append(Command(command, (match["comment"] or "").strip()))
    return found


def commands(block: Block) -> list[str]:
    """The commands of a bash block, comments dropped."""
    return [command.line for command in command_lines(block)]


def apply_files(project: Path, found: list[Block]) -> list[Path]:
    """Write every titled block into ``project``: append to existing files, create the others."""
    written = []
    for block in found:
        if block.title is None:
            continue
        path = project / block.title
        path.parent.mkdir(parents=True, exist_ok=True)
        before = path.read_text() + "\n\n" if path.exists() else ""
        path.write_text(before + block.text)
        written.append(path)
    return written
