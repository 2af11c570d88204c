"""Per-action permissions on top of Django's model permissions.

DRF's ``DjangoModelPermissions`` maps HTTP methods to permissions, but starting, cancelling and
retrying a run are all POSTs that mean different things, so each view names the permissions of
each action instead (``action_permissions``). Reading flows and revisions needs
``view_configrevision``, loading a configuration ``add_configrevision``; reading runs and node
runs needs ``view_flowrun``, starting ``add_flowrun``, cancelling and retrying ``change_flowrun``;
reading flow migrations needs ``view_flowmigrationrecord``; reading trigger sessions
``view_triggersession``, firing a trigger ``add_firedtrigger`` and, when the trigger is one a
flow-running trigger task waits for, ``add_flowrun`` too (firing it starts runs).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db.models import Q, QuerySet
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from selinon_django.conf import selinon_settings

APP = "selinon_django"
VIEW_CONFIGURATION = f"{APP}.view_configrevision"
LOAD_CONFIGURATION = f"{APP}.add_configrevision"
VIEW_RUNS = f"{APP}.view_flowrun"
START_RUNS = f"{APP}.add_flowrun"
CHANGE_RUNS = f"{APP}.change_flowrun"
VIEW_MIGRATIONS = f"{APP}.view_flowmigrationrecord"
VIEW_TRIGGERS = f"{APP}.view_triggersession"
FIRE_TRIGGERS = f"{APP}.add_firedtrigger"


class ActionPermission(BasePermission):
    """The user is authenticated and holds every permission the view lists for the action.

    An action the view does not list falls back to its ``"default"`` entry (OPTIONS requests
    and the like), so forgetting an action never opens it up.
    """

    message = "You do not have the Django permission this action needs."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            return False
        table: Mapping[str, Sequence[str]] = getattr(view, "action_permissions", {})
        action = getattr(view, "action", None) or "default"
        required = table.get(action, table.get("default"))
        if required is None:
            return False
        return bool(user.has_perms(required))


def own_runs_only(user: Any) -> bool:
    """Whether ``user`` sees only the runs they started (setting ``API_RUNS_OWN_ONLY``).

    Superusers always see everything: they can read the rows in the admin anyway.
    """
    return selinon_settings().API_RUNS_OWN_ONLY and not getattr(user, "is_superuser", False)


def restrict_runs(queryset: QuerySet[Any], user: Any, prefix: str = "") -> QuerySet[Any]:
    """Limit a queryset of flow runs (or of rows under ``prefix``) to ``user``'s own runs when asked.

    A sub-flow run has no creator of its own; it belongs to whoever started its top-level run.
    """
    if not own_runs_only(user):
        return queryset
    return queryset.filter(Q(**{f"{prefix}created_by": user}) | Q(**{f"{prefix}root_run__created_by": user}))
