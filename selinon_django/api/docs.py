"""The API's Swagger UI and Redoc pages, with their scripts and styles served by this site.

drf-spectacular's pages load Swagger UI and Redoc from a CDN unless the project sets
``SWAGGER_UI_DIST``/``REDOC_DIST`` to ``"SIDECAR"``; without that setting (or without network
access, as on an operator's isolated machine) the pages are blank. These views always use the
copies of drf-spectacular-sidecar (a dependency of this app), whatever the project's
``SPECTACULAR_SETTINGS`` say, so ``include("selinon_django.urls")`` works offline. The files are
static files of the ``drf_spectacular_sidecar`` app: it must be in ``INSTALLED_APPS`` (check
``selinon_django.W009`` says so when it is not). Redoc's page is drf-spectacular's without its
web fonts (Google Fonts): nothing on either page comes from another site.
"""
from __future__ import annotations

from django.templatetags.static import static
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

#: the Django app whose static files hold Swagger UI and Redoc
SIDECAR_APP = "drf_spectacular_sidecar"


def sidecar_asset(path: str) -> str:
    """The URL of one of the sidecar's files (``swagger-ui-dist/...`` or ``redoc/...``)."""
    return static(f"{SIDECAR_APP}/{path}")


class SwaggerUIView(SpectacularSwaggerView):
    """Swagger UI from this site's static files."""

    @staticmethod
    def _swagger_ui_resource(filename: str) -> str:
        return sidecar_asset(f"swagger-ui-dist/{filename}")

    @staticmethod
    def _swagger_ui_favicon() -> str:
        return sidecar_asset("swagger-ui-dist/favicon-32x32.png")


class RedocView(SpectacularRedocView):
    """Redoc from this site's static files, without the web fonts drf-spectacular's page fetches."""

    template_name = "selinon_django/api/redoc.html"

    @staticmethod
    def _redoc_standalone() -> str:
        return sidecar_asset("redoc/bundles/redoc.standalone.js")
