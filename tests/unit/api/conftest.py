"""Fixtures of the REST API tests: a small configuration, users with chosen permissions, clients."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from selinon_django.config import SourceFile, load_config_from_sources
from selinon_django.models import ConfigRevision, FlowRun, NodeRun, OutboxMessage
from selinon_django.revisions import load_revision

NODES_YAML = """\
tasks:
  - name: Fetch
    import: demo_project.tasks.never_imported
    classname: Fetch
    storage: Memory
  - name: Parse
    import: demo_project.tasks.never_imported
    classname: Parse
  - name: Report
    import: demo_project.tasks.never_imported
    classname: Report
  - name: Lonely
    import: demo_project.tasks.never_imported
    classname: Lonely
storages:
  - name: Memory
    import: selinon_django.storages.memory
    classname: InMemoryStorage
flows:
  - main
  - sub
  - other
"""

FLOWS_YAML = """\
flow-definitions:
  - name: main
    edges:
      - from:
        to: Fetch
      - from: Fetch
        to: Parse
        condition:
          name: fieldEqual
          node: Fetch
          args:
            key: kind
            value: source
      - from: Parse
        to: sub
    failures:
      - nodes: Fetch
        fallback: Report
  - name: sub
    edges:
      - from:
        to: Report
  - name: other
    edges:
      - from:
        to: Lonely
"""


def sources(nodes: str = NODES_YAML, flows: str = FLOWS_YAML) -> list[SourceFile]:
    return [SourceFile("nodes.yaml", "nodes", nodes), SourceFile("flows.yaml", "flows", flows)]


def upload_body(nodes: str = NODES_YAML, flows: str = FLOWS_YAML, **extra: Any) -> dict[str, Any]:
    return {
        "files": [
            {"path": "nodes.yaml", "role": "nodes", "text": nodes},
            {"path": "flows.yaml", "role": "flows", "text": flows},
        ],
        **extra,
    }


def counts() -> tuple[int, int, int, int]:
    """Rows a refused request must not create."""
    return (FlowRun.objects.count(), NodeRun.objects.count(), OutboxMessage.objects.count(),
            ConfigRevision.objects.count())


@pytest.fixture(autouse=True)
def _fresh_throttle_cache() -> None:
    cache.clear()


@pytest.fixture
def revision(db: None) -> ConfigRevision:
    return load_revision(load_config_from_sources(sources()))[0]


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    made = iter(range(1000))

    def make(*codenames: str, username: str | None = None, superuser: bool = False) -> User:
        name = username or f"user{next(made)}"
        if superuser:
            return User.objects.create_superuser(name, password=None)
        user = User.objects.create_user(name)  # no password: hashing one is slow
        perms = Permission.objects.filter(content_type__app_label="selinon_django", codename__in=codenames)
        assert perms.count() == len(codenames), codenames
        user.user_permissions.add(*perms)
        return User.objects.get(pk=user.pk)  # a fresh object: no stale permission cache

    return make


@pytest.fixture
def client_for() -> Callable[[User | None], APIClient]:
    def make(user: User | None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def viewer(make_user: Callable[..., User]) -> User:
    return make_user("view_flowrun", "view_configrevision", username="viewer")


@pytest.fixture
def api(client_for: Callable[[User | None], APIClient], make_user: Callable[..., User]) -> APIClient:
    """A user who may do everything the API offers (without being a superuser)."""
    user = make_user("view_flowrun", "add_flowrun", "change_flowrun", "view_configrevision",
                     "add_configrevision", username="operator")
    return client_for(user)


@pytest.fixture
def make_run(revision: ConfigRevision) -> Callable[..., FlowRun]:
    made = iter(range(10_000))

    def make(flow_name: str = "main", status: str = "running", **fields: Any) -> FlowRun:
        fields.setdefault("created_at", timezone.now())
        return FlowRun.objects.create(id=f"run-{next(made)}", flow_name=flow_name, revision=revision,
                                      status=status, **fields)

    return make
