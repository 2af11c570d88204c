"""Secrets in storage configuration never reach an admin page of a user who may only view.

The configuration (tests/fixtures/config/secrets) holds ``hunter2`` as a storage password, in a
Redis URL and as a cache password, a sentry DSN key, and a ``{VAULT_PASSWORD}`` template whose
value must not appear either (the template itself may).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from selinon_django.config import load_config
from selinon_django.models import ConfigRevision, FlowDefinition, StorageDefinition, TaskDefinition
from selinon_django.revisions import load_revision

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "config" / "secrets"
ENVIRON = {"VAULT_PASSWORD": "from-the-environment"}
SECRETS = ("hunter2", "hunter3", "dsnkey0123", "from-the-environment")
#: every view permission of the configuration models, nothing else
VIEW_ONLY = ("view_configrevision", "view_configsource", "view_storagedefinition", "view_flowdefinition",
             "view_taskdefinition")


def load(tmp_path: Path, password: str = "hunter2") -> ConfigRevision:
    directory = tmp_path / f"revision-{len(list(tmp_path.iterdir()))}"
    directory.mkdir()
    nodes = directory / "nodes.yaml"
    nodes.write_text((FIXTURES / "nodes.yaml").read_text().replace("hunter2", password))
    config = load_config([nodes], [FIXTURES / "flows.yaml"], environ=ENVIRON)
    return load_revision(config, created_by_name="tester")[0]


@pytest.fixture()
def revisions(tmp_path: Path) -> tuple[ConfigRevision, ConfigRevision]:
    # the second revision changes the password: the diff page has it before and after
    return load(tmp_path), load(tmp_path, password="hunter3")


def pages(first: ConfigRevision, second: ConfigRevision) -> list[str]:
    storage = StorageDefinition.objects.get(revision=first, name="Vault")
    flow = FlowDefinition.objects.get(revision=first, name="vaulted")
    task = TaskDefinition.objects.get(revision=first, name="Fetch")
    base = "/admin/selinon_django"
    return [
        f"{base}/storagedefinition/",
        f"{base}/storagedefinition/?revision=all",
        f"{base}/storagedefinition/{storage.pk}/change/",
        f"{base}/flowdefinition/{flow.pk}/change/",
        f"{base}/taskdefinition/{task.pk}/change/",
        f"{base}/configrevision/",
        f"{base}/configrevision/{first.pk}/change/",
        f"{base}/configrevision/{second.pk}/change/",
        f"{base}/configrevision/diff/?old={first.number}&new={second.number}",
    ]


def test_a_view_only_user_never_sees_a_secret(revisions: tuple[ConfigRevision, ConfigRevision],
                                              make_client: Any) -> None:
    client = make_client("viewer", *VIEW_ONLY)
    for url in pages(*revisions):
        response = client.get(url)
        assert response.status_code == 200, url
        content = response.content.decode()
        for secret in SECRETS:
            assert secret not in content, (url, secret)


def test_the_storage_page_shows_the_configuration_masked(revisions: tuple[ConfigRevision, ConfigRevision],
                                                         make_client: Any, superuser_client: Client) -> None:
    storage = StorageDefinition.objects.get(revision=revisions[0], name="Vault")
    url = f"/admin/selinon_django/storagedefinition/{storage.pk}/change/"
    # masked for everyone: nobody needs a password to read a definition
    for client in (make_client("viewer", *VIEW_ONLY), superuser_client):
        content = client.get(url).content.decode()
        assert "redis://:********@localhost:6379/0" in content
        assert "&quot;password&quot;: &quot;********&quot;" in content
        assert "&quot;auth&quot;: &quot;********&quot;" in content  # the cache's configuration
        assert "&quot;host&quot;: &quot;localhost&quot;" in content  # not a secret
        assert "{VAULT_PASSWORD}" in content  # a template is shown as written
        assert "hunter2" not in content


def test_the_source_text_is_masked_for_viewers_and_as_written_for_whoever_may_load(
    revisions: tuple[ConfigRevision, ConfigRevision], make_client: Any, superuser_client: Client
) -> None:
    url = f"/admin/selinon_django/configrevision/{revisions[0].pk}/change/"
    viewer = make_client("viewer", *VIEW_ONLY).get(url).content.decode()
    assert "YAML (secrets masked)" in viewer
    assert "password: &quot;********&quot;" in viewer and "hunter2" not in viewer
    assert "# A configuration holding literal secrets" in viewer  # comments stay
    for client in (make_client("loader", *VIEW_ONLY, "add_configrevision"), superuser_client):
        content = client.get(url).content.decode()
        assert "password: hunter2" in content and "YAML (secrets masked)" not in content
