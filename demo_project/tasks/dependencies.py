"""Dependency resolution; each dependency is then analysed in its own ``analyze_dependency`` sub-flow."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from demo_project.tasks import catalog
from demo_project.tasks.base import PackageTask


class ResolveDependencies(PackageTask):
    def run(self, node_args: Any) -> dict[str, Any]:
        coords = self.package(node_args)
        return {"package": coords["name"], "dependencies": catalog.dependencies(coords)}


class CheckDependencyLicense(PackageTask):
    """Reads FetchDependencyMetadata, an alias of FetchMetadata that stores under that name."""

    def run(self, node_args: Any) -> dict[str, Any]:
        found = self.first_parent_result()
        if not isinstance(found, Mapping):
            found = catalog.metadata(self.package(node_args))
        return {"name": found["name"], "license": found["license"],
                "permissive": found["license"] in catalog.PERMISSIVE_LICENSES}
