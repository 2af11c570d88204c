"""``include("selinon_django.urls")`` under a project's own prefix: API, schema and docs pages.

This module is itself the URLconf of its tests (``ROOT_URLCONF``), mounting the include at
``selinon/`` as the README's installation section does.
"""
from __future__ import annotations

from collections.abc import Callable

import pytest
import yaml
from django.contrib.auth.models import User
from django.test import override_settings
from django.urls import include, path
from rest_framework.test import APIClient

urlpatterns = [path("selinon/", include("selinon_django.urls"))]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


@pytest.mark.parametrize("page", ["api/", "api/flows/", "api/schema/", "api/docs/", "api/redoc/"])
def test_every_page_is_mounted_under_the_prefix_and_needs_a_login(
    page: str, make_user: Callable[..., User], client_for: Callable[[User | None], APIClient]
) -> None:
    assert APIClient().get(f"/selinon/{page}").status_code == 401
    user = make_user("view_configrevision")
    assert client_for(user).get(f"/selinon/{page}").status_code == 200


def test_the_docs_pages_read_the_mounted_schema(
    make_user: Callable[..., User], client_for: Callable[[User | None], APIClient]
) -> None:
    client = client_for(make_user())
    for page in ("docs", "redoc"):
        assert b'"/selinon/api/schema/"' in client.get(f"/selinon/api/{page}/").content
    schema = yaml.safe_load(client.get("/selinon/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi").content)
    assert "/selinon/api/runs/" in schema["paths"]


def test_the_api_links_follow_the_prefix(
    make_user: Callable[..., User], client_for: Callable[[User | None], APIClient]
) -> None:
    with override_settings(SELINON_DJANGO={"IMPORT_PREFIXES": ["demo_project."]}):
        root = client_for(make_user()).get("/selinon/api/").json()
    assert root["runs"] == "http://testserver/selinon/api/runs/"
