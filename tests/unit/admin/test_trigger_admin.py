"""Trigger-task instances in the admin: history, like runs, so never deleted on their own.

The list offered "Delete selected" while runs cannot be deleted; the session they belong to
still can be deleted (and takes them with it) by a user allowed to delete sessions.
"""
from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from selinon_django.models.triggers import TriggerSession, TriggerTaskInstance

pytestmark = pytest.mark.django_db
INSTANCES = "/admin/selinon_django/triggertaskinstance/"
SESSIONS = "/admin/selinon_django/triggersession/"


@pytest.fixture
def instance() -> TriggerTaskInstance:
    session = TriggerSession.objects.create(key="order-1")
    return TriggerTaskInstance.objects.create(
        id="tti-1", session=session, name="Notify", target="x.Notify", kind="task"
    )


def test_the_list_offers_no_delete_action(instance: TriggerTaskInstance, make_client: Any) -> None:
    client: Client = make_client("ops", "view_triggertaskinstance", "delete_triggertaskinstance")
    response = client.get(INSTANCES)
    assert response.status_code == 200
    assert "delete_selected" not in response.content.decode()
    assert client.post(INSTANCES, {"action": "delete_selected", "_selected_action": [instance.pk]}).status_code == 200
    assert TriggerTaskInstance.objects.filter(pk=instance.pk).exists()


def test_an_instance_cannot_be_deleted_on_its_own(instance: TriggerTaskInstance, make_client: Any) -> None:
    client: Client = make_client("ops", "view_triggertaskinstance", "delete_triggertaskinstance")
    page = client.get(f"{INSTANCES}{instance.pk}/change/").content.decode()
    assert f"{instance.pk}/delete/" not in page
    assert client.post(f"{INSTANCES}{instance.pk}/delete/", {"post": "yes"}).status_code == 403
    assert TriggerTaskInstance.objects.filter(pk=instance.pk).exists()


def test_deleting_the_session_takes_its_instances(instance: TriggerTaskInstance, make_client: Any) -> None:
    client: Client = make_client("ops", "view_triggersession", "delete_triggersession")
    confirm = client.get(f"{SESSIONS}{instance.session_id}/delete/")
    assert confirm.status_code == 200 and not confirm.context["perms_lacking"]
    response = client.post(f"{SESSIONS}{instance.session_id}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not TriggerSession.objects.exists() and not TriggerTaskInstance.objects.exists()
