"""Secrets in storage configuration never reach a REST response of a user who may only view.

The configuration (tests/fixtures/config/secrets) holds ``hunter2`` as a storage password, in a
Redis URL and as a cache password, a sentry DSN key, and a ``{VAULT_PASSWORD}`` template whose
value must not appear either.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from selinon_django.config import load_config
from selinon_django.models import ConfigRevision
from selinon_django.revisions import load_revision

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "config" / "secrets"
ENVIRON = {"VAULT_PASSWORD": "from-the-environment"}
SECRETS = ("hunter2", "hunter3", "dsnkey0123", "from-the-environment")


def load(directory: Path, password: str) -> ConfigRevision:
    directory.mkdir()
    nodes = directory / "nodes.yaml"
    nodes.write_text((FIXTURES / "nodes.yaml").read_text().replace("hunter2", password))
    return load_revision(load_config([nodes], [FIXTURES / "flows.yaml"], environ=ENVIRON))[0]


@pytest.fixture
def revisions(db: None, tmp_path: Path) -> tuple[ConfigRevision, ConfigRevision]:
    # the second revision changes the password (and only it): the diff has it before and after
    return load(tmp_path / "first", "hunter2"), load(tmp_path / "second", "hunter3")


def responses(client: APIClient, first: ConfigRevision, second: ConfigRevision) -> dict[str, str]:
    urls = [
        "/api/revisions/",
        f"/api/revisions/{first.number}/",
        f"/api/revisions/{second.number}/",
        f"/api/revisions/{first.number}/diff/?base=0",
        f"/api/revisions/{second.number}/diff/",
        "/api/flows/",
        "/api/flows/vaulted/",
    ]
    bodies = {}
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, (url, response.content)
        bodies[url] = response.content.decode()
    return bodies


def test_a_view_only_user_never_sees_a_secret(revisions: tuple[ConfigRevision, ConfigRevision],
                                              client_for: Callable[[User | None], APIClient], viewer: User) -> None:
    for url, body in responses(client_for(viewer), *revisions).items():
        for secret in SECRETS:
            assert secret not in body, (url, secret)


def test_the_diff_shows_a_changed_secret_as_a_change_without_its_values(
    revisions: tuple[ConfigRevision, ConfigRevision], client_for: Callable[[User | None], APIClient], viewer: User
) -> None:
    first, second = revisions
    body = client_for(viewer).get(f"/api/revisions/{second.number}/diff/").json()
    assert body["storages"]["added"] == [] and body["storages"]["removed"] == []
    (change,) = body["storages"]["changed"]
    assert change["name"] == "Vault"
    for side in ("before", "after"):
        configuration = change[side]["configuration"]
        assert configuration["password"] == "********"
        assert configuration["url"] == "redis://:********@localhost:6379/0"
        assert configuration["from_env"] == "{VAULT_PASSWORD}"
        assert change[side]["cache"]["configuration"] == {"max_cache_size": 10, "auth": "********"}
    everything = client_for(viewer).get(f"/api/revisions/{first.number}/diff/?base=0").json()
    assert everything["global"]["after"]["trace"] == [{"sentry": {"dsn": "********"}}]


def test_source_text_is_masked_for_viewers_and_as_written_for_loaders(
    revisions: tuple[ConfigRevision, ConfigRevision], client_for: Callable[[User | None], APIClient],
    viewer: User, make_user: Callable[..., User],
) -> None:
    url = f"/api/revisions/{revisions[0].number}/"
    (source,) = [s for s in client_for(viewer).get(url).json()["sources"] if s["role"] == "nodes"]
    assert '      password: "********"\n' in source["text"]
    assert '      url: "redis://:********@localhost:6379/0"\n' in source["text"]
    assert "      host: localhost\n" in source["text"]

    loader = make_user("view_configrevision", "add_configrevision")
    (written,) = [s for s in client_for(loader).get(url).json()["sources"] if s["role"] == "nodes"]
    assert written["text"] == (FIXTURES / "nodes.yaml").read_text()
    # structured views are masked for the loader too
    diff = client_for(loader).get(f"/api/revisions/{revisions[1].number}/diff/").content.decode()
    assert "hunter2" not in diff and "hunter3" not in diff


def test_flow_detail_masks_secrets_in_its_options(db: None, client_for: Callable[[User | None], APIClient],
                                                  viewer: User, tmp_path: Path) -> None:
    flows = tmp_path / "flows.yaml"
    flows.write_text(
        "flow-definitions:\n"
        "  - name: vaulted\n"
        "    cache:\n"
        "      {name: C, import: selinon_django.caches.lru, configuration: {max_cache_size: 2, password: hunter2}}\n"
        "    edges:\n"
        "      - {from: [], to: [Fetch]}\n"
    )
    load_revision(load_config([FIXTURES / "nodes.yaml"], [flows], environ=ENVIRON))
    body = client_for(viewer).get("/api/flows/vaulted/").json()
    assert "hunter2" not in json.dumps(body)
    assert body["options"]["cache"]["configuration"] == {"max_cache_size": 2, "password": "********"}
