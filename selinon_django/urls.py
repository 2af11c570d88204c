"""Everything a project mounts with one include: the REST API, its OpenAPI schema and docs pages.

``path("selinon/", include("selinon_django.urls"))`` serves

- ``selinon/api/`` the REST API (``selinon_django.api.urls``),
- ``selinon/api/schema/`` its OpenAPI 3 document (the committed ``api/openapi.yaml`` is this),
- ``selinon/api/docs/`` Swagger UI and ``selinon/api/redoc/`` Redoc, reading that schema,
- ``selinon/metrics/`` the Prometheus metrics (``selinon_django.observability.scrape``; a 404
  unless ``SELINON_DJANGO["PROMETHEUS"]`` is on).

The schema and docs pages need an authenticated user, like the API: a token, or a session (log in
through the admin). The URL names (``selinon-schema``, ``selinon-swagger-ui``, ``selinon-redoc`` and
the API's ``selinon-*``) are not namespaced, as the API's own links reverse them by these names.
The views need ``rest_framework`` and ``drf_spectacular`` in ``INSTALLED_APPS`` (their templates),
and ``drf_spectacular_sidecar`` (the docs pages' scripts, served by the site: no CDN).
"""
from __future__ import annotations

from django.urls import include, path
from rest_framework.permissions import IsAuthenticated

from selinon_django.api.authentication import AUTHENTICATION
from selinon_django.api.docs import RedocView, SwaggerUIView
from selinon_django.api.schema import SchemaView
from selinon_django.observability.scrape import MetricsView

SCHEMA_URL_NAME = "selinon-schema"

_protected = {"authentication_classes": AUTHENTICATION, "permission_classes": (IsAuthenticated,)}

urlpatterns = [
    path("api/schema/", SchemaView.as_view(**_protected), name=SCHEMA_URL_NAME),
    path("api/docs/", SwaggerUIView.as_view(url_name=SCHEMA_URL_NAME, **_protected), name="selinon-swagger-ui"),
    path("api/redoc/", RedocView.as_view(url_name=SCHEMA_URL_NAME, **_protected), name="selinon-redoc"),
    path("api/", include("selinon_django.api.urls")),
    path("metrics/", MetricsView.as_view(), name="selinon-metrics"),
]
