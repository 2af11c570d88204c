"""Security checks that fail on purpose for suspicious packages, and their fallbacks.

A name containing ``vulnerable`` fails SecurityScan with FatalTaskError (a known advisory will
not go away on a retry); a name with a look-alike of a popular name as one of its
``-``-separated parts (``djang0``, ``djang0-vulnerable``) fails CheckTyposquatting. The
``security_audit`` flow recovers from both through its fallbacks.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from demo_project.tasks import catalog
from demo_project.tasks.base import PackageTask
from selinon_django.errors import FatalTaskError


class SecurityScan(PackageTask):
    def run(self, node_args: Any) -> dict[str, Any]:
        coords = self.package(node_args)
        if "vulnerable" in coords["name"]:
            raise FatalTaskError(f"{coords['name']} {coords['version']} matches advisory DEMO-0001")
        return {"advisories": [], "scanner": "demo-scanner 1.0"}


class CheckTyposquatting(PackageTask):
    def run(self, node_args: Any) -> dict[str, Any]:
        name = self.package(node_args)["name"]
        for lookalike in sorted(catalog.LOOKALIKES):
            if lookalike in name.split("-"):
                raise ValueError(f"{name!r} looks like a typosquat of a popular package ({lookalike})")
        return {"lookalike": False}


class QuarantinePackage(PackageTask):
    """Fallback when both checks failed: the package is blocked."""

    def run(self, node_args: Any) -> dict[str, Any]:
        return {"quarantined": True, **self.package(node_args)}


class MarkUnscanned(PackageTask):
    """Fallback when only the scan failed: the package is marked, not blocked."""

    def run(self, node_args: Any) -> dict[str, Any]:
        return {"scan": "failed", "marked": True, **self.package(node_args)}


class RequestManualReview(PackageTask):
    """Files a review request; fails when ``node_args.no_reviewers`` (its own fallback takes over)."""

    def run(self, node_args: Any) -> dict[str, Any]:
        if isinstance(node_args, Mapping) and node_args.get("no_reviewers"):
            raise RuntimeError("no reviewer on duty (no_reviewers)")
        return {"review_requested": True, "queue": "security-review"}


class NotifySecurityTeam(PackageTask):
    """The fallback of the fallback: when nobody can review, page the security team."""

    def run(self, node_args: Any) -> dict[str, Any]:
        return {"paged": "security-team", "package": self.package(node_args)["name"]}
