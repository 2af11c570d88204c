"""URLs of the REST API: ``path("api/", include("selinon_django.api.urls"))``."""
from __future__ import annotations

from rest_framework.permissions import IsAuthenticated
from rest_framework.routers import APIRootView, DefaultRouter

from selinon_django.api.views import AUTHENTICATION, FlowViewSet, NodeRunViewSet, RevisionViewSet, RunViewSet


class SelinonAPIRootView(APIRootView):
    """The list of endpoints; like everything else here, not for anonymous users."""

    authentication_classes = AUTHENTICATION
    permission_classes = (IsAuthenticated,)


class SelinonRouter(DefaultRouter):
    APIRootView = SelinonAPIRootView


router = SelinonRouter()
router.register("flows", FlowViewSet, basename="selinon-flow")
router.register("revisions", RevisionViewSet, basename="selinon-revision")
router.register("runs", RunViewSet, basename="selinon-run")
router.register("node-runs", NodeRunViewSet, basename="selinon-node-run")

urlpatterns = router.urls
