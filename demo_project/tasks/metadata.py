"""Tasks that learn about a package from the (fake) registry."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from demo_project.tasks import catalog
from demo_project.tasks.base import PackageTask
from selinon_django.errors import FatalTaskError


class ResolvePackage(PackageTask):
    """Normalise what the caller asked for; with ``node_args_from_first`` it becomes the flow's node_args.

    Options other than the coordinates (``offline``, ``verification_quorum``...) are kept, so
    they still reach the rest of the flow after the node_args are replaced.
    """

    def run(self, node_args: Any) -> dict[str, Any]:
        options = dict(node_args) if isinstance(node_args, Mapping) else {}
        return {**options, **self.package(node_args)}


class ValidateBatch(PackageTask):
    """Turn ``{"packages": [...]}`` (names or mappings) into a list of normalised packages.

    A malformed batch can never succeed on a retry, hence FatalTaskError.
    """

    def run(self, node_args: Any) -> dict[str, list[dict[str, str]]]:
        packages = node_args.get("packages") if isinstance(node_args, Mapping) else None
        if not isinstance(packages, list):
            raise FatalTaskError("node_args must be a mapping with a list under 'packages'")
        normalised = []
        for item in packages:
            spec = {"name": item} if isinstance(item, str) else item
            if not isinstance(spec, Mapping) or not spec.get("name"):
                raise FatalTaskError(f"not a package: {item!r}")
            normalised.append(catalog.coordinates(spec))
        return {"packages": normalised}


class FetchMetadata(PackageTask):
    """The registry record; its shape is checked by ``schemas/package-metadata.json`` (output_schema)."""

    def run(self, node_args: Any) -> dict[str, Any]:
        return catalog.metadata(self.package(node_args))


class FetchDownloadStats(PackageTask):
    def run(self, node_args: Any) -> dict[str, Any]:
        coords = self.package(node_args)
        monthly = catalog.number(coords["name"], "downloads", modulo=5_000_000)
        return {"downloads_last_month": monthly, "trend": "up" if monthly % 2 else "flat"}


class FetchGithubStats(PackageTask):
    """Reads the repository URL from FetchMetadata when the parent was propagated to this sub-flow."""

    def run(self, node_args: Any) -> dict[str, Any]:
        repository = None
        if "FetchMetadata" in (self.parent or {}):
            repository = (self.parent_task_result("FetchMetadata") or {}).get("repository")
        if repository is None:
            repository = catalog.metadata(self.package(node_args))["repository"]
        return {
            "repository": repository,
            "stars": catalog.number(repository, "stars", modulo=80_000),
            "open_issues": catalog.number(repository, "issues", modulo=900),
            "from_parent": "FetchMetadata" in (self.parent or {}),
        }


class CollectKeywords(PackageTask):
    def run(self, node_args: Any) -> dict[str, Any]:
        found = self.first_parent_result() or {}
        keywords = found.get("keywords") if isinstance(found, Mapping) else None
        if not keywords:
            keywords = catalog.metadata(self.package(node_args))["keywords"]
        return {"keywords": sorted(keywords)}
