"""Every invalid configuration of the config layer's corpus, refused by ``selinon_load``.

The config tests check the issues; this checks what the command adds: the refusal names the
file, the key path and what is wrong, and not one row of any model is written.
"""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from selinon_django.revisions import load_revision
from tests.unit.commands.helpers import fixture_config, row_counts
from tests.unit.config.test_invalid_configs import CASES, INVALID

pytestmark = pytest.mark.django_db


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize(("fixture", "path", "fragment"), CASES, ids=[case[0] for case in CASES])
def test_invalid_configuration_writes_nothing(fixture: str, path: str, fragment: str) -> None:
    load_revision(fixture_config())  # refusals must not touch an existing revision either
    before = row_counts()
    file = INVALID / fixture
    with pytest.raises(CommandError) as caught:
        call_command("selinon_load", "-n", str(file), stdout=io.StringIO())
    message = str(caught.value)
    assert message.startswith("invalid configuration (")
    expected = f"{file}: {path}: " if path else f"{file}: "
    assert any(line.startswith(expected) and fragment in line for line in message.splitlines()), message
    assert row_counts() == before
