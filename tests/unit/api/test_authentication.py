"""Token authentication only where the project installs ``rest_framework.authtoken``.

Without the app DRF's ``Token`` model is abstract, so the model must never be touched: a token
header used to be a 500. The project without the app is a separate process (the app registry of
this one has the app, and its ``Token`` model is concrete), built from the demo settings minus the
app, on an in-memory SQLite database.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from tests.conftest import REPO

WITHOUT_AUTHTOKEN = textwrap.dedent(
    """
    import json

    import django
    from django.conf import settings

    import demo_project.settings as demo

    values = {name: getattr(demo, name) for name in dir(demo) if name.isupper()}
    values["INSTALLED_APPS"] = [app for app in demo.INSTALLED_APPS if app != "rest_framework.authtoken"]
    values["ALLOWED_HOSTS"] = ["testserver"]
    settings.configure(**values)
    django.setup()

    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0)
    client = Client()
    token = client.get("/api/flows/", HTTP_AUTHORIZATION="Token 0123456789abcdef")
    anonymous = client.get("/api/flows/")
    client.force_login(User.objects.create_user("alice"))
    session = client.get("/api/")
    print(json.dumps({
        "token": [token.status_code, token.json()["detail"], token.get("WWW-Authenticate")],
        "anonymous": [anonymous.status_code, anonymous.get("WWW-Authenticate")],
        "session": session.status_code,
    }))
    """
)


def test_a_token_header_without_the_authtoken_app_is_refused_not_a_server_error() -> None:
    env = {**os.environ, "DATABASE_URL": "sqlite://:memory:", "PYTHONPATH": str(REPO)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_AUTHTOKEN], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    status, detail, challenge = seen["token"]
    # no token is offered, so no challenge: DRF answers 403 with what is missing
    assert (status, challenge) == (403, None)
    assert "rest_framework.authtoken" in detail
    assert seen["anonymous"] == [403, None]
    # the session still works
    assert seen["session"] == 200
