"""The masking rules (selinon_django.config.secrets): what is secret, what is shown as written."""
from __future__ import annotations

from typing import Any

import pytest
import yaml

from selinon_django.config.secrets import (
    MASK,
    is_secret_key,
    mask_configuration,
    mask_secrets,
    mask_source_text,
    mask_url_passwords,
)


@pytest.mark.parametrize(
    "name",
    ["password", "passwd", "DB_PASSWORD", "secret", "client_secret", "token", "authToken", "api_key", "apiKey",
     "APIKey", "access_key", "secret_access_key", "AWS_SECRET_ACCESS_KEY", "credentials", "credential",
     "private_key", "passphrase"],
)
def test_names_that_are_secret_everywhere(name: str) -> None:
    assert is_secret_key(name, in_section=False)
    assert is_secret_key(name, in_section=True)


@pytest.mark.parametrize("name", ["key", "ssh_keys", "auth", "authorization", "dsn", "private", "pass", "pwd", "creds"])
def test_names_that_are_secret_inside_a_configuration_section_only(name: str) -> None:
    # outside a section these name ordinary data: fieldEqual's `key` argument is a field name
    assert is_secret_key(name, in_section=True)
    assert not is_secret_key(name, in_section=False)


@pytest.mark.parametrize(
    "name",
    ["host", "port", "db", "url", "key_prefix", "author", "monkey", "token_url", "password_file",
     "private_key_path", "secret_name", "keyspace"],
)
def test_names_that_are_not_secret(name: str) -> None:
    assert not is_secret_key(name, in_section=True)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("redis://:hunter2@localhost:6379/0", f"redis://:{MASK}@localhost:6379/0"),
        ("postgres://u:pw@h/db", f"postgres://u:{MASK}@h/db"),
        ("mongodb://u:p@ss/w@h:27017/x?authSource=admin", f"mongodb://u:{MASK}@h:27017/x?authSource=admin"),
        ("Error 111 connecting to 'redis://:hunter2@localhost:6379/0'.", f"Error 111 connecting to "
                                                                         f"'redis://:{MASK}@localhost:6379/0'."),
        ("a: postgres://u:one@h/db, b: redis://:two@r", f"a: postgres://u:{MASK}@h/db, b: redis://:{MASK}@r"),
        ("https://h/x?token=abc&page=2", f"https://h/x?token={MASK}&page=2"),
        ("Server=h;User Id=u;Password=pw;", f"Server=h;User Id=u;Password={MASK};"),
        # a template names a variable: shown as written
        ("redis://:{REDIS_PASSWORD}@localhost", "redis://:{REDIS_PASSWORD}@localhost"),
        # nothing to hide
        ("redis://localhost:6379/0", "redis://localhost:6379/0"),
        ("https://user@example.com/x", "https://user@example.com/x"),
        ("http://host:8080/path", "http://host:8080/path"),
        ("a == b", "a == b"),
    ],
)
def test_url_passwords(text: str, masked: str) -> None:
    assert mask_url_passwords(text) == masked


def test_a_storage_configuration() -> None:
    configuration = {
        "password": "hunter2",
        "url": "redis://:hunter2@localhost:6379/0",
        "host": "localhost",
        "port": 6379,
        "api_key": "{API_KEY}",
        "key": "pre{API_KEY}",
        "options": {"credentials": {"user": "bob", "password": "x"}, "ssl": True},
        "use_token": False,
        "secret": None,
        "token": "",
        "replicas": ["redis://:pw@r1", "redis://r2"],
    }
    assert mask_configuration(configuration) == {
        "password": MASK,
        "url": f"redis://:{MASK}@localhost:6379/0",
        "host": "localhost",
        "port": 6379,
        "api_key": "{API_KEY}",  # only a template: shown as written
        "key": MASK,  # literal text next to the template
        "options": {"credentials": MASK, "ssl": True},
        "use_token": False,
        "secret": None,
        "token": "",
        "replicas": [f"redis://:{MASK}@r1", "redis://r2"],
    }
    assert configuration["password"] == "hunter2"  # a copy: the input is untouched


def test_normalised_configuration_masks_configuration_sections_and_leaves_conditions_alone() -> None:
    normalised: dict[str, Any] = {
        "storages": [{"name": "S", "import": "m", "configuration": {"key": "k", "dsn": "d"},
                      "cache": {"name": "C", "import": "m", "configuration": {"auth": "a", "size": 3}}}],
        "global": {"trace": [{"sentry": {"dsn": "https://abc@sentry.example.com/1"}}]},
        "flow-definitions": [{"name": "f", "edges": [
            {"from": [], "to": ["A"], "condition": {"name": "fieldEqual", "args": {"key": "kind", "value": "x"}}},
            {"from": ["A"], "to": ["B"], "condition": {"name": "fieldEqual", "args": {"password": "p"}}},
        ]}],
    }
    masked = mask_secrets(normalised)
    assert masked["storages"][0]["configuration"] == {"key": MASK, "dsn": MASK}
    assert masked["storages"][0]["cache"]["configuration"] == {"auth": MASK, "size": 3}
    assert masked["global"]["trace"][0]["sentry"]["dsn"] == MASK
    edges = masked["flow-definitions"][0]["edges"]
    assert edges[0]["condition"]["args"] == {"key": "kind", "value": "x"}
    assert edges[1]["condition"]["args"] == {"password": MASK}


def test_json_ready_in_the_same_walk() -> None:
    error = ConnectionError("cannot reach redis://:hunter2@localhost:6379/0")
    masked = mask_secrets({"what": error, 3: {"a", "b"} - {"b"}, "ids": ("x",), "password": "p"}, default=repr)
    assert masked == {"what": f"ConnectionError('cannot reach redis://:{MASK}@localhost:6379/0')",
                      "3": ["a"], "ids": ["x"], "password": MASK}


SOURCE = """\
# the storages (password: in a comment is text, not data)
storages:
  - name: Cache
    import: selinon_django.storages.redis
    classname: RedisStorage
    configuration:
      password: hunter2
      url: "redis://:hunter2@localhost:6379/0"
      host: localhost
      from_env: "{REDIS_PASSWORD}"
      other: &shared 'hunter3'
      passphrase: *shared  # the alias is a secret, so its anchor's value is masked
      flow_style: {token: abc, key: "k1", port: 1}
      credentials:
        user: bob
        pass: xyz
      private_key: |
        first line
        second line
      flag: true
  - {name: Other, import: m, classname: C, configuration: {password: pw2}}
flows: [f]
"""


def test_source_text_keeps_its_layout_and_masks_literal_secrets() -> None:
    masked = mask_source_text(SOURCE)
    for secret in ("hunter2", "hunter3", "abc", "k1", "bob", "xyz", "first line", "pw2"):
        assert secret not in masked, secret
    assert masked.splitlines()[0] == SOURCE.splitlines()[0]  # comments stay
    assert "from_env: \"{REDIS_PASSWORD}\"" in masked
    assert f"url: \"redis://:{MASK}@localhost:6379/0\"" in masked
    assert "passphrase: *shared" in masked and f'other: &shared "{MASK}"' in masked
    # still YAML with the same shape, secrets replaced
    data = yaml.safe_load(masked)
    configuration = data["storages"][0]["configuration"]
    assert configuration["password"] == MASK and configuration["host"] == "localhost"
    assert configuration["flow_style"] == {"token": MASK, "key": MASK, "port": 1}
    assert configuration["credentials"] == {"user": MASK, "pass": MASK}
    assert configuration["flag"] is True
    assert data["storages"][1]["configuration"] == {"password": MASK}
    assert data["flows"] == ["f"]


def test_source_text_masks_only_secrets_outside_configuration_sections() -> None:
    text = "flow-definitions:\n  - edges:\n      - condition: {name: fieldEqual, args: {key: kind, token: t1}}\n"
    masked = mask_source_text(text)
    assert "key: kind" in masked and "t1" not in masked


def test_source_text_with_many_aliases_is_walked_once_per_node() -> None:
    # a "billion laughs" shape: walking every alias expansion would never finish
    lines = ["a0: &a0 {password: hunter2}"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 12)]
    masked = mask_source_text("\n".join(lines) + "\n")
    assert "hunter2" not in masked


def test_text_that_is_not_yaml_is_not_shown() -> None:
    assert "hunter2" not in mask_source_text("password: [hunter2\n")
