"""The README's code blocks, as the package test applies them to a new project.

Conventions of the README's "Installing into your project" and "Deployment" sections:

- a block with ``title="<path>"`` is a file of the project: appended to it when it exists (after
  ``django-admin startproject``: ``mysite/settings.py``, ``mysite/urls.py``, ``mysite/__init__.py``),
  created otherwise;
- a ``bash`` block holds commands, one a line (``#`` starts a comment);
- a ``python`` block without a title is code to run in ``manage.py shell``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_FENCE = re.compile(r'^```(?P<language>\w+)(?: title="(?P<title>[^"]+)")?\n(?P<text>.*?)^```$', re.M | re.S)


@dataclass(frozen=True)
class Block:
    language: str
    title: str | None
    text: str


def section(readme: str, heading: str) -> str:
    """The text under ``heading`` (a whole heading line) up to the next heading of its level or above."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = readme.splitlines(keepends=True)
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


def commands(block: Block) -> list[str]:
    """The commands of a bash block, comments dropped."""
    found = []
    for line in block.text.splitlines():
        command = re.sub(r"\s+#.*$", "", line).strip()
        if command and not command.startswith("#"):
            found.append(command)
    return found


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
