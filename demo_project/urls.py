"""URLs of the demo project: the admin, the API with its schema and docs pages, DRF's login page.

``selinon_django.urls`` serves the REST API at ``/api/``, its OpenAPI schema at ``/api/schema/``,
Swagger UI at ``/api/docs/`` and Redoc at ``/api/redoc/``; all of them need a logged-in user (log
in through the admin first, or at ``/api/auth/login/``).
"""
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/auth/", include("rest_framework.urls")),
    path("", include("selinon_django.urls")),
]
