"""The REST API (Django REST framework): flows, configuration revisions, runs and node runs.

Mount it with ``path("api/", include("selinon_django.api.urls"))``. Every endpoint needs an
authenticated user (token or session) holding the Django model permission of the action; see
:mod:`selinon_django.api.permissions`.
"""
