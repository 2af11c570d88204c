"""Publishing twice is a test hook set by code (tests/integration/publish_twice.py), never by the
environment: a production process with ``SELINON_DJANGO_PUBLISH_COPIES`` set publishes once."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

#: publishes one message with the environment variable set, then after set_publish_copies(2);
#: prints how many times each was sent
PROBE = """
import django
django.setup()
from contextlib import nullcontext
from unittest import mock
from selinon_django.runtime import outbox
from selinon_django.runtime.celery_app import get_celery_app

app = get_celery_app()
sent = []
with mock.patch.object(app, "producer_or_acquire", lambda: nullcontext(None)), \\
        mock.patch.object(app, "send_task", lambda name, **options: sent.append(name)):
    outbox.publish([outbox.Message("a", {})])
    outbox.set_publish_copies(2)
    outbox.publish([outbox.Message("b", {})])
print(sent.count("a"), sent.count("b"))
"""


def test_the_environment_does_not_make_a_process_publish_twice() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "demo_project.settings", "SELINON_DJANGO_PUBLISH_COPIES": "2"}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "2"]
