"""Property-based requests generated from the committed schema find no server error.

The requests go in-process to Django's WSGI application, as a token-authenticated superuser
(so every action is reached, not just refused), against a database that holds a revision, a
run, a node run and a flow migration. Only ``not_a_server_error`` is checked: the point is that no input,
however odd, makes the API fail with a 5xx.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error

from selinon_django.api.schema import COMMITTED_SCHEMA
from selinon_django.config import load_config_from_sources
from selinon_django.models import FlowMigrationRecord, FlowRun, NodeRun
from selinon_django.revisions import load_revision
from tests.unit.api.conftest import sources

schema = schemathesis.openapi.from_path(str(COMMITTED_SCHEMA))
schema.app = WSGIHandler()


@pytest.fixture
def token(django_db_blocker: object, db: None) -> Iterator[str]:
    """A superuser's token, a configuration and a run to find; connections stay open per request.

    Django closes "old" connections at each request's start and end, which would close the test's
    transaction; its own test client disconnects that handler the same way.
    """
    revision = load_revision(load_config_from_sources(sources()))[0]
    run = FlowRun.objects.create(id="run-1", flow_name="main", revision=revision, status="failed")
    NodeRun.objects.create(id="node-1", flow_run=run, name="Fetch", status="failed", exception="E")
    FlowMigrationRecord.objects.create(
        version=1, from_revision=revision, content={"migration": {"main": {"tainting_nodes": {"1": ["Fetch"]}}}},
        from_hash=revision.content_hash, to_hash="0" * 64,
    )
    user = User.objects.create_superuser("fuzzer", password=None)
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield Token.objects.create(user=user).key
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=8, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_no_server_error(case: schemathesis.Case, token: str) -> None:
    response = case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=[not_a_server_error])
    # the fuzzing reaches the views: a superuser's valid token is never refused
    assert response.status_code not in (401, 403), response.text
