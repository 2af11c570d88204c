"""URLs of the demo project: the admin, the REST API, its OpenAPI schema and its docs.

The schema and the docs pages need a logged-in user too (log in through the admin first, or at
``/api/auth/login/``).
"""
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView
from rest_framework.permissions import IsAuthenticated

from selinon_django.api.schema import SchemaView
from selinon_django.api.views import AUTHENTICATION

_protected = {"authentication_classes": AUTHENTICATION, "permission_classes": (IsAuthenticated,)}

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SchemaView.as_view(**_protected), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema", **_protected), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema", **_protected), name="redoc"),
    path("api/auth/", include("rest_framework.urls")),
    path("api/", include("selinon_django.api.urls")),
]
