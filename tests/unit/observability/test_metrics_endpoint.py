"""The Prometheus endpoint (``/metrics/`` in the demo, ``selinon/metrics/`` when mounted there):
who may read it, and what one process counts while the runtime serves a flow's messages.

Messages are captured instead of published and served in this process by the functions the
Celery tasks call (tests/unit/broker.py); without PROMETHEUS_MULTIPROC_DIR the endpoint shows
this process's own metrics. Counters are process-wide, so the tests compare before and after.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.authtoken.models import Token

from selinon_django.config import SourceFile
from selinon_django.runtime.api import run_flow
from selinon_django.runtime.configs import forget_configs
from tests.unit.broker import CapturedBroker, install

URL = "/metrics/"

NODES = """\
tasks:
  - {name: A, import: tests.integration.tasks, classname: Noop}
  - {name: Bad, import: tests.integration.tasks, classname: Fatal}
flows: [failing]
"""
FLOWS = """\
flow-definitions:
  - name: failing
    edges:
      - {from: [], to: [A]}
      - {from: [A], to: [Bad]}
"""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def prometheus_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    with override_settings(SELINON_DJANGO={**settings.SELINON_DJANGO, "PROMETHEUS": True}):
        yield


@pytest.fixture
def reader(django_user_model: Any) -> Any:
    user = django_user_model.objects.create_user("metrics-reader", password="x")
    user.user_permissions.add(Permission.objects.get(codename="view_flowrun"))
    return user


def _samples(client: Any, **headers: str) -> Samples:
    response = client.get(URL, **headers)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/plain; version=")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.content.decode()) for s in family.samples}


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.mark.django_db
def test_off_it_is_not_found(client: Any, reader: Any) -> None:
    client.force_login(reader)
    assert client.get(URL).status_code == 404


@pytest.mark.django_db
def test_it_needs_a_user_who_may_view_runs(client: Any, django_user_model: Any, prometheus_on: None) -> None:
    response = client.get(URL)
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    client.force_login(django_user_model.objects.create_user("nobody", password="x"))
    assert client.get(URL).status_code == 403


@pytest.fixture
def broker(transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[CapturedBroker]:
    yield install(monkeypatch, [SourceFile("nodes.yaml", "nodes", NODES), SourceFile("flows.yaml", "flows", FLOWS)])
    forget_configs()


def test_a_flow_served_by_the_runtime_is_counted(client: Any, reader: Any, broker: CapturedBroker,
                                                 prometheus_on: None) -> None:
    """A token (as Prometheus sends it) reads what this process counted while serving a run."""
    token = Token.objects.create(user=reader)
    auth = {"HTTP_AUTHORIZATION": f"Token {token.key}"}
    before = _samples(client, **auth)
    run_flow("failing")
    broker.drain()
    after = _samples(client, **auth)

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("selinon_flow_runs_started_total", flow="failing") == 1
    assert grew("selinon_node_runs_total", flow="failing", node="A", status="succeeded") == 1
    assert grew("selinon_node_runs_total", flow="failing", node="Bad", status="failed") == 1
    assert grew("selinon_node_duration_seconds_count", flow="failing", node="Bad", status="failed") == 1
    # served from their own messages, both waited in the (captured) queue
    assert grew("selinon_node_queue_wait_seconds_count", flow="failing", node="A", queue="") == 1
    assert grew("selinon_flow_runs_total", flow="failing", status="failed") == 1
    assert grew("selinon_flow_run_duration_seconds_count", flow="failing", status="failed") == 1
    assert grew("selinon_dispatcher_steps_total", flow="failing") >= 2
