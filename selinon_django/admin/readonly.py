"""Definitions are written only by loading a revision, so their admin pages only show."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from selinon_django.admin.nul_guard import NulGuardedAdmin


class ReadOnlyAdmin(NulGuardedAdmin, admin.ModelAdmin):
    """No add, change or delete for anyone (superusers included): rows are immutable.

    Its URLs refuse NUL in the query string and ids (:mod:`selinon_django.admin.nul_guard`)."""

    class Media:
        css = {"all": ("selinon_django/admin.css",)}

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
