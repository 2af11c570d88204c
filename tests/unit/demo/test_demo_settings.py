"""The demo settings are safe by default: DEBUG off, no fixed SECRET_KEY, local hosts only.

The settings are read in a fresh interpreter with a clean environment: pytest-django turns
DEBUG off for the tests whatever the settings say, so only a process of its own shows the
defaults a deployment of the demo would get.
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from demo_project.secret_key import KEY_FILE_NAME, secret_key

REPO = Path(__file__).resolve().parents[3]
#: keys that anyone can read in a repository (this one's old default, Django's startproject prefix)
KNOWN_KEYS = ("demo-only-insecure-key-change-me", "")

READ_SETTINGS = """
import json
import demo_project.settings as s
print(json.dumps({"DEBUG": s.DEBUG, "SECRET_KEY": s.SECRET_KEY, "ALLOWED_HOSTS": s.ALLOWED_HOSTS}))
"""

#: A view-only user's request fails with the broker URL (and its password) in the exception; the
#: first response is what the settings as imported serve, the second the same with DEBUG on
#: (the check below must be able to see a debug page when there is one).
FAILING_REQUEST = """
import json
import django
django.setup()
from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.test import Client, override_settings
from selinon_django.api.views import RunViewSet

call_command("migrate", verbosity=0)
user = User.objects.create_user("viewer")
user.user_permissions.add(Permission.objects.get(codename="view_flowrun"))

def fail(self, request, *args, **kwargs):
    raise ConnectionError(f"cannot reach the broker at {settings.CELERY_BROKER_URL}")

RunViewSet.list = fail
client = Client(raise_request_exception=False, HTTP_HOST="localhost")
client.force_login(user)
default = client.get("/api/runs/")
with override_settings(DEBUG=True):
    debug = client.get("/api/runs/")
print(json.dumps({"debug_setting": settings.DEBUG,
                  "default": [default.status_code, default.content.decode()],
                  "debug": [debug.status_code, debug.content.decode()]}))
"""


def clean_environment(var_dir: Path, **extra: str) -> dict[str, str]:
    """No DJANGO_* variables: only what a Python process needs to find the code."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "HOME": str(var_dir),
        "SELINON_DJANGO_VAR_DIR": str(var_dir),
        "DJANGO_SETTINGS_MODULE": "demo_project.settings",
        **extra,
    }


def run_python(code: str, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_a_clean_environment_gives_debug_off_and_a_random_key_kept_owner_only(tmp_path: Path) -> None:
    first = run_python(READ_SETTINGS, clean_environment(tmp_path))
    assert first["DEBUG"] is False
    key = first["SECRET_KEY"]
    assert key not in KNOWN_KEYS and not key.startswith("django-insecure")
    assert len(key) >= 50
    key_file = tmp_path / KEY_FILE_NAME
    assert key_file.read_text().strip() == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1", "[::1]"]

    # a restart (or a worker next to the web process) reads the same key
    assert run_python(READ_SETTINGS, clean_environment(tmp_path))["SECRET_KEY"] == key
    # another installation makes its own
    other = tmp_path / "other"
    assert run_python(READ_SETTINGS, clean_environment(other))["SECRET_KEY"] != key


def test_the_environment_decides_key_debug_and_hosts(tmp_path: Path) -> None:
    env = clean_environment(
        tmp_path,
        DJANGO_SECRET_KEY="a-key-from-the-deployment",
        DJANGO_DEBUG="1",
        DJANGO_ALLOWED_HOSTS=" demo.example.com, localhost ,",
    )
    settings = run_python(READ_SETTINGS, env)
    assert settings == {
        "DEBUG": True,
        "SECRET_KEY": "a-key-from-the-deployment",
        "ALLOWED_HOSTS": ["demo.example.com", "localhost"],
    }
    assert not (tmp_path / KEY_FILE_NAME).exists()


def test_a_failing_request_of_a_view_only_user_gets_no_debug_page(tmp_path: Path) -> None:
    env = clean_environment(
        tmp_path, DATABASE_URL="sqlite://:memory:", CELERY_BROKER_URL="redis://:hunter2@localhost:6379/0"
    )
    result = run_python(FAILING_REQUEST, env)
    assert result["debug_setting"] is False
    status, body = result["default"]
    assert status == 500
    assert "hunter2" not in body and "Traceback" not in body and "CELERY_BROKER_URL" not in body
    # the same request with DEBUG on is the page this guards against
    debug_status, debug_body = result["debug"]
    assert debug_status == 500 and "Traceback" in debug_body and "hunter2" in debug_body


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    keys: list[str] = []
    start = threading.Barrier(8)

    def first_start() -> None:
        start.wait()
        keys.append(secret_key({}, tmp_path))

    threads = [threading.Thread(target=first_start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and len(set(keys)) == 1
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE_NAME]  # no temporary files left


def test_a_key_file_readable_by_others_is_made_owner_only(tmp_path: Path) -> None:
    key_file = tmp_path / KEY_FILE_NAME
    key_file.write_text("a-key-written-by-hand\n")
    key_file.chmod(0o644)
    assert secret_key({}, tmp_path) == "a-key-written-by-hand"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_an_empty_key_file_is_an_error_not_an_empty_key(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE_NAME).write_text("\n")
    with pytest.raises(RuntimeError, match="holds no secret key"):
        secret_key({}, tmp_path)
