"""OpenTelemetry and prometheus-client are optional: nothing imports them unless their setting is
on, and a setting that is on without its package is a system check error, not a crash.

Each case runs in a fresh interpreter (this one has imported both already): Django is set up
with the demo settings (or a variant), the runtime's Celery tasks, the URLs and the checks are
loaded, and the child reports which of the packages ended up in ``sys.modules``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

CHILD = """
import json, os, sys

if os.environ.get("BLOCK"):  # the optional packages are not installed: importing them fails
    for name in ("opentelemetry", "prometheus_client"):
        sys.modules[name] = None
import django
django.setup()
from django.contrib.auth.models import Permission, User
from django.core import checks
from django.core.management import call_command
from django.test import Client
from django.test.utils import setup_test_environment
import selinon_django.runtime.celery_tasks, selinon_django.urls  # noqa
from selinon_django import observability
ids = sorted(m.id for m in checks.run_checks() if m.id.startswith("selinon_django.E01"))
setup_test_environment()
call_command("migrate", verbosity=0)
client = Client()
anonymous = client.get("/metrics/").status_code
reader = User.objects.create_user("reader")
reader.user_permissions.add(Permission.objects.get(codename="view_flowrun"))
client.force_login(reader)
status = client.get("/metrics/").status_code
optional = ("opentelemetry", "prometheus_client")
imported = sorted(n for n, m in sys.modules.items() if m is not None and n.partition(".")[0] in optional)
print(json.dumps({"ids": ids, "active": sorted(observability._active), "anonymous": anonymous,
                  "metrics_status": status, "imported": imported}))
"""

SETTINGS_ON = """
from demo_project.settings import *  # noqa
SELINON_DJANGO = {**SELINON_DJANGO, "OPENTELEMETRY": True, "PROMETHEUS": True}
"""


def _child(tmp_path: Path, *, settings: str, block: bool) -> dict[str, object]:
    (tmp_path / "monitoring_on_settings.py").write_text(SETTINGS_ON)
    env = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(DJANGO_SETTINGS_MODULE=settings, PYTHONPATH=os.pathsep.join([str(REPO), str(tmp_path)]),
               SELINON_DJANGO_VAR_DIR=str(tmp_path), BLOCK="1" if block else "")
    env.pop("DATABASE_URL", None)  # (SQLite: nothing here touches the database)
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_switched_off_nothing_is_imported(tmp_path: Path) -> None:
    """The default: installed or not, neither package is imported by the app, its tasks or URLs."""
    report = _child(tmp_path, settings="demo_project.settings", block=False)
    assert report == {"ids": [], "active": [], "anonymous": 401, "metrics_status": 404, "imported": []}


def test_switched_on_without_the_packages_is_a_check_error(tmp_path: Path) -> None:
    report = _child(tmp_path, settings="monitoring_on_settings", block=True)
    assert report["ids"] == ["selinon_django.E013", "selinon_django.E014"]
    assert report["active"] == [] and report["imported"] == []
    assert report["anonymous"] == 401 and report["metrics_status"] == 503


def test_switched_on_with_the_packages_installs_both(tmp_path: Path) -> None:
    report = _child(tmp_path, settings="monitoring_on_settings", block=False)
    assert report["ids"] == [] and report["active"] == ["OPENTELEMETRY", "PROMETHEUS"]
    assert "opentelemetry.trace" in report["imported"] and "prometheus_client" in report["imported"]
    assert report["metrics_status"] == 200
