"""The Prometheus scrape endpoint: ``selinon/metrics/`` (``selinon_django.urls``).

It answers like the REST API authenticates - a token (``Authorization: Token <key>``, which
Prometheus sends with ``authorization: {type: Token, credentials_file: ...}``) or a session - and
needs ``selinon_django.view_flowrun``: the metrics name flows and tasks and count their runs.
With ``PROMETHEUS`` off it is a 404, and prometheus-client is not imported; on without the
package, a 503 (and check E014).
"""
from __future__ import annotations

import importlib
from typing import Any

from django.http import Http404, HttpResponse
from rest_framework.request import Request
from rest_framework.views import APIView

from selinon_django.api.authentication import AUTHENTICATION
from selinon_django.api.permissions import VIEW_RUNS, ActionPermission
from selinon_django.conf import selinon_settings

METRICS_MODULE = "selinon_django.observability.metrics"


class MetricsView(APIView):
    """``GET``: every process's metrics in Prometheus' text format."""

    authentication_classes = AUTHENTICATION
    permission_classes = (ActionPermission,)
    schema = None  # Prometheus' text format, not part of the REST API's OpenAPI document
    action_permissions = {"default": (VIEW_RUNS,)}

    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        if not selinon_settings().PROMETHEUS:
            raise Http404("Prometheus metrics are off (SELINON_DJANGO['PROMETHEUS']).")
        try:
            # an optional dependency, imported only when the setting is on
            metrics = importlib.import_module(METRICS_MODULE)
        except ImportError as exc:
            return HttpResponse(f"Prometheus metrics are unavailable: {exc} (check selinon_django.E014).\n",
                                status=503, content_type="text/plain; charset=utf-8")
        body, content_type = metrics.exposition()
        return HttpResponse(body, content_type=content_type)
