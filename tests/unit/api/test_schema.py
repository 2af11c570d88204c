"""The committed OpenAPI schema is the generated one; the served schema and docs need a login."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from selinon_django.api.schema import COMMITTED_SCHEMA, REGENERATE_COMMAND
from selinon_django.models import FlowRunStatus
from selinon_django.models.triggers import TriggerTaskStatus


def test_committed_schema_matches_the_generated_one(tmp_path: Path) -> None:
    # A fresh process, as the regenerate command runs: in-process generation can see state that
    # earlier tests left behind (registered serializers, overridden settings).
    generated = tmp_path / "openapi.yaml"
    subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--custom-settings", "selinon_django.api.schema.SCHEMA_SETTINGS",
         "--validate", "--fail-on-warn", "--file", str(generated)],
        cwd=Path(__file__).resolve().parents[3], check=True, capture_output=True, timeout=120,
        # The committed schema is generated on the default SQLite database: integer ranges in the
        # schema follow the database backend (PostgreSQL's integer is 32-bit).
        env={**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'schema.sqlite3'}"},
    )
    if generated.read_text() != COMMITTED_SCHEMA.read_text():
        pytest.fail(
            f"{COMMITTED_SCHEMA} is out of date with the API. Regenerate it from the checkout root with\n"
            f"    {REGENERATE_COMMAND}\nreview the diff and commit it."
        )


def test_committed_schema_describes_every_endpoint() -> None:
    schema = yaml.safe_load(COMMITTED_SCHEMA.read_text())
    assert set(schema["paths"]) == {
        "/api/flows/", "/api/flows/{name}/", "/api/flows/{name}/graph/",
        "/api/revisions/", "/api/revisions/{number}/", "/api/revisions/{number}/diff/",
        "/api/runs/", "/api/runs/{id}/", "/api/runs/{id}/cancel/", "/api/runs/{id}/retry/",
        "/api/runs/{id}/trace/", "/api/runs/{id}/graph/", "/api/node-runs/{id}/",
        "/api/node-runs/{node_run_id}/logs/",
        "/api/migrations/", "/api/migrations/{version}/",
        "/api/trigger-sessions/", "/api/trigger-sessions/{key}/", "/api/trigger-sessions/{key}/fire/",
        "/api/trigger-task-instances/", "/api/trigger-task-instances/{id}/",
        "/api/schedules/", "/api/schedules/{name}/",
    }
    assert set(schema["components"]["securitySchemes"]) == {"tokenAuth", "cookieAuth"}
    run_list = {p["name"] for p in schema["paths"]["/api/runs/"]["get"]["parameters"]}
    assert {"flow", "status", "revision", "parent", "top_level", "created_after", "created_before",
            "started_after", "started_before", "page", "page_size", "ordering"} <= run_list
    migration_list = {p["name"] for p in schema["paths"]["/api/migrations/"]["get"]["parameters"]}
    assert migration_list == {"flow", "from_revision", "to_revision", "page", "page_size"}
    # described from the FilterSets: the types and bounds a value is checked against
    runs = {p["name"]: p for p in schema["paths"]["/api/runs/"]["get"]["parameters"]}
    assert runs["status"]["schema"]["type"] == "array" and runs["status"]["explode"] is True
    assert set(runs["status"]["schema"]["items"]["enum"]) == set(FlowRunStatus.values)
    assert runs["revision"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
    assert runs["top_level"]["schema"] == {"type": "boolean"}
    assert runs["created_after"]["schema"] == {"type": "string", "format": "date-time"}
    instances = {p["name"]: p for p in schema["paths"]["/api/trigger-task-instances/"]["get"]["parameters"]}
    assert set(instances["status"]["schema"]["items"]["enum"]) == set(TriggerTaskStatus.values)
    logs = {p["name"]: p for p in schema["paths"]["/api/node-runs/{node_run_id}/logs/"]["get"]["parameters"]}
    assert logs["after"]["schema"] == {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
    created = schema["paths"]["/api/runs/"]["post"]["responses"]
    assert "201" in created and "400" in created


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/", "/api/redoc/"])
def test_schema_and_docs_need_a_login(path: str, make_user: Callable[..., User],
                                      client_for: Callable[[User | None], APIClient]) -> None:
    assert APIClient().get(path).status_code == 401
    response = client_for(make_user()).get(path)
    assert response.status_code == 200


@pytest.mark.django_db
def test_served_schema_is_the_committed_one(make_user: Callable[..., User],
                                            client_for: Callable[[User | None], APIClient]) -> None:
    served = yaml.safe_load(
        client_for(make_user()).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi").content
    )
    committed = yaml.safe_load(COMMITTED_SCHEMA.read_text())
    assert served["paths"] == committed["paths"]
    assert set(served["components"]["schemas"]) == set(committed["components"]["schemas"])
