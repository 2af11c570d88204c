"""URLs of the REST API: ``path("api/", include("selinon_django.api.urls"))``."""
from __future__ import annotations

from django.apps import apps
from rest_framework.permissions import IsAuthenticated
from rest_framework.routers import APIRootView, DefaultRouter

from selinon_django.api.logs import NodeRunLogViewSet
from selinon_django.api.migrations import MigrationViewSet
from selinon_django.api.views import AUTHENTICATION, FlowViewSet, NodeRunViewSet, RevisionViewSet, RunViewSet
from selinon_django.triggers.api import TriggerSessionViewSet, TriggerTaskInstanceViewSet


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
router.register(r"node-runs/(?P<node_run_id>[^/]+)/logs", NodeRunLogViewSet, basename="selinon-node-run-logs")
router.register("migrations", MigrationViewSet, basename="selinon-migration")
router.register("trigger-sessions", TriggerSessionViewSet, basename="selinon-trigger-session")
router.register("trigger-task-instances", TriggerTaskInstanceViewSet, basename="selinon-trigger-task-instance")

if apps.is_installed("django_celery_beat"):
    # optional: scheduled flows need django-celery-beat (its models are imported by the module)
    from selinon_django.api.schedules import ScheduleViewSet

    router.register("schedules", ScheduleViewSet, basename="selinon-schedule")

urlpatterns = router.urls
