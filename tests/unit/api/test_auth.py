"""Nothing is open to anonymous users; token and session authentication; per-action permissions."""
from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from selinon_django.models import ConfigRevision, FlowRun, NodeRun
from tests.unit.api.conftest import counts, upload_body

pytestmark = pytest.mark.django_db

RUN = "run-0"

#: (method, path, body) of every endpoint (the run and node run ids exist in the `world` fixture)
ENDPOINTS = [
    ("get", "/api/", None),
    ("get", "/api/flows/", None),
    ("get", "/api/flows/main/", None),
    ("get", "/api/flows/main/graph/", None),
    ("get", "/api/revisions/", None),
    ("get", "/api/revisions/1/", None),
    ("get", "/api/revisions/1/diff/", None),
    ("post", "/api/revisions/", upload_body()),
    ("get", "/api/runs/", None),
    ("post", "/api/runs/", {"flow_name": "main"}),
    ("get", f"/api/runs/{RUN}/", None),
    ("post", f"/api/runs/{RUN}/cancel/", None),
    ("post", f"/api/runs/{RUN}/retry/", None),
    ("get", f"/api/runs/{RUN}/trace/", None),
    ("get", f"/api/runs/{RUN}/graph/", None),
    ("get", "/api/node-runs/node-0/", None),
]

#: the permission each endpoint needs (the API root needs none beyond being logged in)
NEEDS = {
    "/api/flows/": "view_configrevision",
    "/api/revisions/": "view_configrevision",
    ("post", "/api/revisions/"): "add_configrevision",
    "/api/runs/": "view_flowrun",
    ("post", "/api/runs/"): "add_flowrun",
    ("post", f"/api/runs/{RUN}/cancel/"): "change_flowrun",
    ("post", f"/api/runs/{RUN}/retry/"): "change_flowrun",
    "/api/node-runs/": "view_flowrun",
}


def needed(method: str, path: str) -> str | None:
    if (method, path) in NEEDS:
        return str(NEEDS[(method, path)])
    for prefix, perm in NEEDS.items():
        if isinstance(prefix, str) and path.startswith(prefix):
            return perm
    return None


@pytest.fixture
def world(revision: ConfigRevision, make_run: Callable[..., FlowRun]) -> FlowRun:
    run = make_run("main", "running")
    NodeRun.objects.create(id="node-0", flow_run=run, name="Fetch", status="started")
    return run


def call(client: APIClient, method: str, path: str, body: object) -> int:
    if method == "post":
        return int(client.post(path, body, format="json").status_code)
    return int(client.get(path).status_code)


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_anonymous_users_get_401(world: FlowRun, method: str, path: str, body: object) -> None:
    client = APIClient()
    before = counts()
    response = client.post(path, body, format="json") if method == "post" else client.get(path)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Token'
    assert counts() == before


@pytest.mark.parametrize(("method", "path", "body"), [e for e in ENDPOINTS if e[1] != "/api/"])
def test_users_without_the_permission_get_403(
    world: FlowRun, make_user: Callable[..., User], client_for: Callable[[User | None], APIClient],
    method: str, path: str, body: object,
) -> None:
    perm = needed(method, path)
    assert perm is not None
    # every permission of the app except the one this endpoint needs
    others = {"view_flowrun", "add_flowrun", "change_flowrun", "view_configrevision", "add_configrevision"} - {perm}
    client = client_for(make_user(*sorted(others)))
    before = counts()
    with override_settings(SELINON_DJANGO={"IMPORT_PREFIXES": ["demo_project."]}):
        assert call(client, method, path, body) == 403
    assert counts() == before
    assert FlowRun.objects.get(pk=RUN).status == "running"


@pytest.mark.parametrize(("method", "path", "body"), [e for e in ENDPOINTS if e[1] != "/api/"])
def test_the_permission_alone_is_enough(
    world: FlowRun, make_user: Callable[..., User], client_for: Callable[[User | None], APIClient],
    method: str, path: str, body: object,
) -> None:
    perm = needed(method, path)
    assert perm is not None
    client = client_for(make_user(perm))
    with override_settings(SELINON_DJANGO={"IMPORT_PREFIXES": ["demo_project."]}):
        assert call(client, method, path, body) in (200, 201, 409)


def test_token_authentication(world: FlowRun, make_user: Callable[..., User]) -> None:
    user = make_user("view_flowrun", "add_flowrun")
    token = Token.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/runs/").status_code == 200
    created = client.post("/api/runs/", {"flow_name": "other"}, format="json")
    assert created.status_code == 201
    assert FlowRun.objects.get(pk=created.json()["id"]).created_by == user
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert client.get("/api/runs/").status_code == 401


def test_session_authentication_with_csrf(world: FlowRun, make_user: Callable[..., User]) -> None:
    user = make_user("view_flowrun", "add_flowrun")
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get("/api/runs/").status_code == 200
    # a session may not POST without the CSRF token (what protects a logged-in browser)
    assert client.post("/api/runs/", {"flow_name": "other"}, format="json").status_code == 403
    assert FlowRun.objects.count() == 1


def test_own_runs_only_setting_is_type_checked() -> None:
    from selinon_django.checks import check_settings

    with override_settings(SELINON_DJANGO={"API_RUNS_OWN_ONLY": "yes"}):
        errors = [e for e in check_settings() if "API_RUNS_OWN_ONLY" in e.msg]
    assert [e.id for e in errors] == ["selinon_django.E003"]
    with override_settings(SELINON_DJANGO={"API_RUNS_OWN_ONLY": True}):
        assert not [e for e in check_settings() if "API_RUNS_OWN_ONLY" in e.msg]
