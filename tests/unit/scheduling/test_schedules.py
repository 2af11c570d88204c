"""Scheduled flows: the ``schedules:`` section, its sync into Celery beat's tables, and a tick."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import override_settings
from django_celery_beat.models import PeriodicTask
from rest_framework.test import APIClient

from selinon_django import scheduling
from selinon_django.config import ConfigurationError, content_hash, export_yaml, load_config
from selinon_django.models import FlowRun, ScheduleTick
from selinon_django.revisions import load_revision
from selinon_django.runtime.scheduled import scheduled_flow, start_scheduled

NODES = """
tasks:
  - {name: T, import: demo_project.tasks.basic, classname: Echo}
flows: [f, g]
flow-definitions:
  - name: f
    edges:
      - {from: , to: T}
  - name: g
    edges:
      - {from: , to: T}
"""

SCHEDULES = """
schedules:
  nightly:
    flow: f
    node_args: {day: yesterday}
    cron: "30 3 * * mon-fri"
    timezone: Europe/Prague
  often:
    flow: g
    interval: {every: 10, period: seconds}
    on_overlap: queue
    on_missed: skip
    missed_grace: 5
  dawn:
    flow: f
    solar: {event: sunrise, latitude: 50.08, longitude: 14.43}
    enabled: false
"""


def load(tmp_path: Path, text: str) -> Any:
    nodes = tmp_path / "nodes.yaml"
    nodes.write_text(NODES + text)
    return load_config([nodes], [])


def test_schedules_load_hash_and_export(tmp_path: Path) -> None:
    config = load(tmp_path, SCHEDULES)
    assert set(config.schedules) == {"nightly", "often", "dawn"}
    assert config.schedules["nightly"]["cron"] == "30 3 * * mon-fri"
    exported = tmp_path / "exported"
    exported.mkdir()
    for name, text in export_yaml(config).items():
        (exported / name).write_text(text)
    again = load_config([exported / "nodes.yaml"], [exported / "flows.yaml"])
    assert content_hash(again) == content_hash(config)
    assert content_hash(load(tmp_path, SCHEDULES.replace("30 3", "31 3"))) != content_hash(config)


@pytest.mark.parametrize(("schedule", "problem"), [
    ("{flow: nope, cron: '0 0 * * *'}", "'nope' is not a flow of this configuration"),
    ("{flow: f, cron: '61 0 * * *'}", "minute field '61'"),
    ("{flow: f, cron: '0 0 * *'}", "a crontab has 5 fields"),
    ("{flow: f, cron: '0 0 * * *', interval: {every: 1, period: hours}}", "exactly one of cron, interval or solar"),
    ("{flow: f}", "exactly one of cron, interval or solar"),
    ("{flow: f, interval: {every: 0, period: hours}}", "must be >= 1"),
    ("{flow: f, interval: {every: 1, period: fortnights}}", "fortnights"),
    ("{flow: f, solar: {event: sunrise, latitude: 91, longitude: 0}}", "must be <= 90"),
    ("{flow: f, cron: '0 0 * * *', timezone: Mars/Olympus}", "not a known time zone"),
    ("{flow: f, cron: '0 0 * * *', missed_grace: 5}", "only used with on_missed: skip"),
    ("{flow: f, cron: '0 0 * * *', on_overlap: sometimes}", "sometimes"),
], ids=["flow", "minute", "fields", "two", "none", "every", "period", "latitude", "timezone", "grace", "overlap"])
def test_bad_schedules_are_refused_with_their_path(tmp_path: Path, schedule: str, problem: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(tmp_path, f"schedules:\n  s: {schedule}\n")
    messages = [str(issue) for issue in caught.value.issues]
    assert any("schedules.s" in m and problem in m for m in messages), messages


@pytest.mark.django_db
def test_selinon_load_writes_beats_table_and_a_new_revision_replaces_it(tmp_path: Path) -> None:
    PeriodicTask.objects.create(name="by hand", task=scheduling.SCHEDULE_TASK, interval=_interval())
    load_revision(load(tmp_path, SCHEDULES))
    tasks = {t.name: t for t in PeriodicTask.objects.all()}
    assert set(tasks) == {"by hand", "selinon:nightly", "selinon:often", "selinon:dawn"}
    nightly = tasks["selinon:nightly"]
    assert (nightly.crontab.minute, nightly.crontab.hour, nightly.crontab.day_of_week) == ("30", "3", "mon-fri")
    assert str(nightly.crontab.timezone) == "Europe/Prague"
    assert json.loads(nightly.kwargs) == {"flow_name": "f", "node_args": {"day": "yesterday"}, "on_overlap": "skip",
                                          "schedule": "selinon:nightly"}
    assert nightly.expire_seconds is None and nightly.enabled
    often = tasks["selinon:often"]
    assert (often.interval.every, often.interval.period, often.expire_seconds) == (10, "seconds", 5)
    assert json.loads(often.kwargs)["on_overlap"] == "queue"
    assert tasks["selinon:dawn"].solar.event == "sunrise" and not tasks["selinon:dawn"].enabled

    load_revision(load(tmp_path, SCHEDULES.split("  often:")[0].replace("30 3", "45 4")))
    tasks = {t.name: t for t in PeriodicTask.objects.all()}
    assert set(tasks) == {"by hand", "selinon:nightly"}  # removed from YAML, removed from beat; others kept
    assert (tasks["selinon:nightly"].crontab.minute, tasks["selinon:nightly"].crontab.hour) == ("45", "4")


@pytest.mark.django_db
def test_without_django_celery_beat_schedules_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduling, "beat_installed", lambda: False)
    with pytest.raises(ConfigurationError, match="schedules need django-celery-beat"):
        load_revision(load(tmp_path, SCHEDULES))
    assert load_revision(load(tmp_path, ""))[1]  # no schedules: loads as before


@pytest.mark.django_db
def test_an_upload_cannot_declare_schedules(db: None) -> None:
    user = User.objects.create_superuser("root", password=None)
    client = APIClient()
    client.force_authenticate(user)
    body = {"files": [{"path": "nodes.yaml", "role": "nodes", "text": NODES + SCHEDULES}]}
    with override_settings(SELINON_DJANGO={"IMPORT_PREFIXES": ["demo_project."]}):
        response = client.post("/api/revisions/", body, format="json")
    assert response.status_code == 400
    assert any("cannot declare schedules" in e["message"] for e in response.json()["errors"])
    assert not PeriodicTask.objects.exists()


@pytest.mark.django_db
def test_a_tick_starts_a_run_or_skips_while_the_last_one_runs(tmp_path: Path, enqueued: list[Any]) -> None:
    load_revision(load(tmp_path, ""))
    first = start_scheduled("selinon:s", "f", {"n": 1})
    assert first.outcome == ScheduleTick.Outcome.STARTED
    run = FlowRun.objects.get(pk=first.run_id)
    assert (run.flow_name, run.node_args) == ("f", {"n": 1})
    skipped = start_scheduled("selinon:s", "f", {"n": 2})
    assert skipped.outcome == ScheduleTick.Outcome.SKIPPED and first.run_id in skipped.detail
    queued = start_scheduled("selinon:s", "f", {"n": 3}, on_overlap="queue")
    assert queued.outcome == ScheduleTick.Outcome.STARTED
    FlowRun.objects.filter(pk__in=[first.run_id, queued.run_id]).update(status=FlowRun.Status.SUCCEEDED)
    assert start_scheduled("selinon:s", "f").outcome == ScheduleTick.Outcome.STARTED
    other = start_scheduled("selinon:other", "f")  # another schedule's run does not count
    assert other.outcome == ScheduleTick.Outcome.STARTED
    failed = start_scheduled("selinon:gone", "no_such_flow")
    assert failed.outcome == ScheduleTick.Outcome.FAILED and "no_such_flow" in failed.detail
    # the Celery task beat calls: keyword arguments as the sync writes them
    assert scheduled_flow.run(flow_name="g", node_args=None, on_overlap="skip", schedule="selinon:g").startswith(
        "started")


def _interval() -> Any:
    from django_celery_beat.models import IntervalSchedule

    return IntervalSchedule.objects.create(every=1, period="hours")


# --- REST API -----------------------------------------------------------------------------------

API = "/api/schedules/"


def _client(*codenames: str) -> APIClient:
    from django.contrib.auth.models import Permission

    user = User.objects.create_user(f"u{User.objects.count()}")
    apps_codenames = [c.split(".") for c in codenames]
    for app_label, codename in apps_codenames:
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    client = APIClient()
    client.force_authenticate(User.objects.get(pk=user.pk))
    return client


@pytest.mark.django_db
def test_schedules_over_the_rest_api(tmp_path: Path, enqueued: list[Any]) -> None:
    load_revision(load(tmp_path, SCHEDULES))
    start_scheduled("selinon:nightly", "f")
    reader = _client("django_celery_beat.view_periodictask")
    body = reader.get(API).json()
    assert [s["name"] for s in body["results"]] == ["selinon:dawn", "selinon:nightly", "selinon:often"]
    nightly = reader.get(f"{API}selinon:nightly/").json()
    assert nightly["cron"] == "30 3 * * mon-fri" and nightly["timezone"] == "Europe/Prague"
    assert nightly["managed_by_configuration"] and nightly["recent_ticks"][0]["outcome"] == "started"
    assert reader.post(API, {}, format="json").status_code == 403  # reading is not scheduling

    # creating one needs beat's permission and the permission to start runs
    beat_only = _client("django_celery_beat.view_periodictask", "django_celery_beat.add_periodictask")
    new = {"name": "hourly-g", "flow": "g", "node_args": {"x": 1}, "cron": "0 * * * *"}
    assert beat_only.post(API, new, format="json").status_code == 403
    manager = _client("django_celery_beat.view_periodictask", "django_celery_beat.add_periodictask",
                      "django_celery_beat.change_periodictask", "django_celery_beat.delete_periodictask",
                      "selinon_django.add_flowrun")
    created = manager.post(API, new, format="json")
    assert created.status_code == 201, created.content
    assert json.loads(PeriodicTask.objects.get(name="hourly-g").kwargs)["node_args"] == {"x": 1}
    # the YAML's rules, named by key
    bad = manager.post(API, {**new, "name": "bad", "cron": "0 25 * * *"}, format="json")
    assert bad.status_code == 400 and "hour field" in bad.json()["cron"][0]
    both = manager.post(API, {**new, "name": "both", "interval": {"every": 1, "period": "hours"}}, format="json")
    assert both.status_code == 400 and "exactly one of cron, interval or solar" in json.dumps(both.json())
    unknown = manager.post(API, {**new, "name": "nope", "flow": "nope"}, format="json")
    assert unknown.status_code == 400 and "not a flow" in unknown.json()["flow"][0]
    reserved = manager.post(API, {**new, "name": "selinon:mine"}, format="json")
    assert reserved.status_code == 400
    # change, switch to an interval, delete
    changed = manager.patch(f"{API}hourly-g/", {"interval": {"every": 5, "period": "minutes"}}, format="json")
    assert changed.status_code == 200 and changed.json()["interval"] == {"every": 5, "period": "minutes"}
    assert "cron" not in changed.json()
    # a configuration's entry: only switched on or off over the API
    assert manager.patch(f"{API}selinon:nightly/", {"cron": "0 0 * * *"}, format="json").status_code == 400
    off = manager.patch(f"{API}selinon:nightly/", {"enabled": False}, format="json")
    assert off.status_code == 200 and not PeriodicTask.objects.get(name="selinon:nightly").enabled
    assert manager.delete(f"{API}selinon:nightly/").status_code == 409
    assert manager.delete(f"{API}hourly-g/").status_code == 204
    assert not PeriodicTask.objects.filter(name="hourly-g").exists()


@pytest.mark.django_db
def test_the_admin_lists_ticks_with_their_runs(tmp_path: Path, enqueued: list[Any]) -> None:
    from django.test import Client

    load_revision(load(tmp_path, ""))
    tick = start_scheduled("selinon:s", "f")
    client = Client()
    client.force_login(User.objects.create_superuser("admin", password=None))
    page = client.get("/admin/selinon_django/scheduletick/")
    assert page.status_code == 200
    assert f"/admin/selinon_django/flowrun/{tick.run_id}/change/".encode() in page.content
    assert client.get("/admin/selinon_django/scheduletick/add/").status_code == 403
    # beat's own admin edits the schedules
    assert client.get("/admin/django_celery_beat/periodictask/").status_code == 200
