"""The OpenAPI document's settings, shared by the served schema and the committed ``openapi.yaml``.

Regenerate the committed file after changing the API::

    .venv/bin/python manage.py spectacular --custom-settings selinon_django.api.schema.SCHEMA_SETTINGS \\
        --validate --fail-on-warn --file selinon_django/api/openapi.yaml
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView

#: where the committed schema lives (a test fails when it differs from the generated one)
COMMITTED_SCHEMA = Path(__file__).resolve().parent / "openapi.yaml"

REGENERATE_COMMAND = (
    ".venv/bin/python manage.py spectacular --custom-settings selinon_django.api.schema.SCHEMA_SETTINGS "
    "--validate --fail-on-warn --file selinon_django/api/openapi.yaml"
)

SCHEMA_SETTINGS: dict[str, Any] = {
    "TITLE": "selinon_django API",
    "VERSION": "1.0.0",
    "DESCRIPTION": (
        "Start, watch, cancel and retry Selinon flows; read flows and configuration revisions.\n\n"
        "Every endpoint needs an authenticated user (`Authorization: Token <key>` or a session) "
        "holding the Django permission of the action: `selinon_django.view_configrevision` to read "
        "flows and revisions, `add_configrevision` to load YAML, `view_flowrun` to read runs and node "
        "runs, `add_flowrun` to start a run, `change_flowrun` to cancel or retry one, "
        "`view_flowmigrationrecord` to read flow migrations, `view_triggersession` to read trigger "
        "sessions, `add_firedtrigger` to fire a trigger (and `add_flowrun` when the trigger starts "
        "flows). Starting runs and firing triggers share the DRF throttle scope `selinon_runs` when "
        "`REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']` names a rate for it.\n\n"
        "Every list is paginated (`page`, `page_size` up to 500). Request bodies are JSON of at most "
        "Django's `DATA_UPLOAD_MAX_MEMORY_SIZE` bytes (413 beyond) nested at most "
        "`SELINON_DJANGO['MAX_JSON_DEPTH']` levels deep; NUL characters, lone surrogates, NaN and "
        "Infinity are refused with a 400, as is NUL in a query-string parameter."
    ),
}


@extend_schema(exclude=True)
class SchemaView(SpectacularAPIView):
    """The served schema, with these settings and without an entry for itself."""

    custom_settings = SCHEMA_SETTINGS
