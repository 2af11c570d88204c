"""URLs of the REST API: ``path("api/", include("selinon_django.api.urls"))``."""
from __future__ import annotations

from rest_framework.routers import DefaultRouter

from selinon_django.api.views import FlowViewSet, NodeRunViewSet, RevisionViewSet, RunViewSet

router = DefaultRouter()
router.register("flows", FlowViewSet, basename="selinon-flow")
router.register("revisions", RevisionViewSet, basename="selinon-revision")
router.register("runs", RunViewSet, basename="selinon-run")
router.register("node-runs", NodeRunViewSet, basename="selinon-node-run")

urlpatterns = router.urls
