"""The tutorials' code and the README's five-minute example, run as a reader runs them: their
files written into a new directory and their ``selinon_execute`` commands run through ``call_command``.

A command the page comments ``# succeeds`` must end with the flow succeeded, one commented
``# fails`` with the flow failed (the command's exit status 1); a tutorial without such a command
fails the test, so a page cannot drop its runnable example unnoticed. Commands of other kinds on
the same pages (``selinon_load``, ``selinon_run``, a worker) need a broker and are not run here:
the getting-started page's are, by ``tests/package/test_wheel.py``.
"""
from __future__ import annotations

import io
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.docs import pages

pytestmark = pytest.mark.django_db

#: the pages whose flows run in-process (the triggers and schedules tutorials need a worker and a beat)
PAGES = [*(pages.DOCS / "tutorials" / f"{name}.md" for name in ("first-flow", "failures-and-fallbacks", "foreach",
                                                               "selective-runs")), pages.REPO / "README.md"]
OUTCOMES = {"succeeds": 0, "fails": 1}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory holding the ``mysite`` package, importable and the working directory."""
    (tmp_path / "mysite").mkdir()
    (tmp_path / "mysite" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    for name in [m for m in sys.modules if m == "mysite" or m.startswith("mysite.")]:
        del sys.modules[name]


def executed(command: pages.Command) -> tuple[int, str]:
    """Run a ``python manage.py selinon_execute ...`` line; its exit status and output."""
    words = shlex.split(command.line)
    assert words[:3] == ["python", "manage.py", "selinon_execute"], command.line
    out = io.StringIO()
    try:
        call_command(*words[2:], stdout=out, stderr=out)
    except CommandError as error:
        return error.returncode, out.getvalue() + str(error)
    return 0, out.getvalue()


@pytest.mark.parametrize("page", PAGES, ids=lambda path: path.stem)
def test_the_page_runs_as_written(page: Path, project: Path) -> None:
    found = pages.blocks(page.read_text(encoding="utf-8"))
    written = pages.apply_files(project, found)
    assert any(path.suffix == ".py" for path in written) and any(path.suffix == ".yaml" for path in written)
    runs = [c for b in found if b.language == "bash" for c in pages.command_lines(b) if c.comment in OUTCOMES]
    assert runs, f"{page} has no command commented '# succeeds' or '# fails'"
    for command in runs:
        status, output = executed(command)
        assert status == OUTCOMES[command.comment], f"{command.line}\n-> {status}\n{output}"
