"""Fixtures of the admin view tests: the demo configuration as a revision, users, runs in bulk."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from selinon_django.config import load_config
from selinon_django.models import ConfigRevision, FlowRun, NodeRun
from selinon_django.revisions import load_revision

REPO = Path(__file__).resolve().parents[3]
DEMO_NODES = REPO / "demo_project" / "flows" / "nodes.yaml"
DEMO_FLOWS = REPO / "demo_project" / "flows" / "flows"


@pytest.fixture()
def revision(db: None) -> ConfigRevision:
    revision, _ = load_revision(load_config([DEMO_NODES], [DEMO_FLOWS]), created_by_name="tester")
    return revision


def _user(username: str, *codenames: str, staff: bool = True) -> User:
    user = User.objects.create_user(username, password="pw", is_staff=staff)
    for codename in codenames:
        user.user_permissions.add(Permission.objects.get(codename=codename, content_type__app_label="selinon_django"))
    return user


@pytest.fixture()
def make_client(db: None) -> Any:
    """``make_client("name", "view_flowrun", ...)``: a logged-in client of a staff user with those permissions."""

    def make(username: str, *codenames: str) -> Client:
        client = Client()
        client.force_login(_user(username, *codenames))
        return client

    return make


@pytest.fixture()
def superuser_client(db: None) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    return client


def make_run(
    revision: ConfigRevision,
    *,
    flow_name: str = "demo_main",
    status: str = "succeeded",
    nodes: int = 3,
    node_args: Any = None,
    parent: FlowRun | None = None,
    **fields: Any,
) -> FlowRun:
    now = timezone.now()
    run = FlowRun.objects.create(
        id=str(uuid.uuid4()),
        flow_name=flow_name,
        revision=revision,
        status=status,
        node_args=node_args if node_args is not None else {"name": "django"},
        parent_run=parent,
        root_run=parent.root_run or parent if parent else None,
        started_at=now - timedelta(seconds=5),
        finished_at=now if status in ("succeeded", "failed") else None,
        **fields,
    )
    NodeRun.objects.bulk_create(
        NodeRun(
            id=str(uuid.uuid4()),
            flow_run=run,
            name=f"Task{i}",
            status="succeeded",
            node_args=run.node_args,
            started_at=now - timedelta(seconds=4),
            finished_at=now - timedelta(seconds=3),
            attempts=1,
            worker="w1",
        )
        for i in range(nodes)
    )
    return run
