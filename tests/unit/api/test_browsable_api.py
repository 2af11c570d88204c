"""The API in a browser: the browsable pages render, and the docs pages load nothing from another site.

``/api/flows/`` as HTML was a 500 (the browsable renderer builds a filter form from the view's
queryset, which the flows viewset did not have); Swagger UI and Redoc were blank offline because
drf-spectacular points them at a CDN unless the project configures the sidecar.
"""
from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import override_settings
from rest_framework.test import APIClient

from selinon_django.checks import check_environment
from selinon_django.models import ConfigRevision, FlowRun

pytestmark = pytest.mark.django_db

VIEW_EVERYTHING = ("view_flowrun", "view_configrevision", "view_flowmigrationrecord", "view_triggersession")
#: src/href attributes of a page
_LINKS = re.compile(r'\b(?:src|href)="([^"]*)"')


@pytest.fixture
def browser_client(make_user: Callable[..., User], client_for: Callable[[User | None], APIClient]) -> APIClient:
    return client_for(make_user(*VIEW_EVERYTHING))


@pytest.mark.parametrize(
    "path",
    ["/api/", "/api/flows/", "/api/flows/main/", "/api/revisions/", "/api/runs/", "/api/runs/run-0/",
     "/api/migrations/", "/api/trigger-sessions/", "/api/trigger-task-instances/"],
)
def test_every_page_of_the_browsable_api_renders(
    path: str, browser_client: APIClient, revision: ConfigRevision, make_run: Callable[..., FlowRun]
) -> None:
    make_run()
    response = browser_client.get(path, HTTP_ACCEPT="text/html")
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/html")


def test_the_flows_page_lists_the_current_revisions_flows_as_html(
    browser_client: APIClient, revision: ConfigRevision
) -> None:
    page = browser_client.get("/api/flows/", HTTP_ACCEPT="text/html").content.decode()
    for name in ("main", "other", "sub"):
        assert f"/api/flows/{name}/" in page


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_load_only_this_sites_static_files(
    path: str, make_user: Callable[..., User], client_for: Callable[[User | None], APIClient], settings: object
) -> None:
    page = client_for(make_user()).get(path).content.decode()
    links = _LINKS.findall(page)
    assets = [link for link in links if link.endswith((".js", ".css", ".png"))]
    assert assets, page
    for link in links:
        assert not re.match(r"(https?:)?//", link), f"{path} loads {link} from another site"
    for asset in assets:
        assert asset.startswith("/static/drf_spectacular_sidecar/"), asset
        assert finders.find(asset.removeprefix("/static/")) is not None, f"{asset} is not a static file"


def test_docs_pages_ignore_a_project_setting_that_points_at_a_cdn(
    make_user: Callable[..., User], client_for: Callable[[User | None], APIClient]
) -> None:
    with override_settings(SPECTACULAR_SETTINGS={"SWAGGER_UI_DIST": "https://cdn.example.com/swagger"}):
        page = client_for(make_user()).get("/api/docs/").content.decode()
    assert "cdn.example.com" not in page and "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page


def test_check_w009_names_the_missing_sidecar_app(settings: object) -> None:
    assert "selinon_django.W009" not in {message.id for message in check_environment()}
    apps = [app for app in settings.INSTALLED_APPS if app != "drf_spectacular_sidecar"]  # type: ignore[attr-defined]
    with override_settings(INSTALLED_APPS=apps):
        [warning] = [message for message in check_environment() if message.id == "selinon_django.W009"]
    assert "drf_spectacular_sidecar" in warning.msg


def test_the_demo_project_passes_its_checks_with_the_sidecar() -> None:
    call_command("check", fail_level="WARNING", tags=["selinon_django"])
