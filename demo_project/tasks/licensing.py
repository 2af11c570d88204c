"""License checks: is the package's license permissive, and what does its text say."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from demo_project.tasks import catalog
from demo_project.tasks.base import PackageTask


class CheckLicense(PackageTask):
    def run(self, node_args: Any) -> dict[str, Any]:
        found = self.first_parent_result()
        license_ = found.get("license") if isinstance(found, Mapping) else None
        if license_ is None:
            license_ = catalog.metadata(self.package(node_args))["license"]
        permissive = license_ in catalog.PERMISSIVE_LICENSES
        return {"license": license_, "permissive": permissive, "needs_review": not permissive}


class FetchLicenseText(PackageTask):
    """Has a selective run function: a selective run may reuse an earlier result instead."""

    def run(self, node_args: Any) -> dict[str, Any]:
        coords = self.package(node_args)
        license_ = catalog.metadata(coords)["license"]
        return {"license": license_, "text": f"{license_} license text of {coords['name']} {coords['version']}"}


class ClassifyLicense(PackageTask):
    def run(self, node_args: Any) -> dict[str, Any]:
        fetched = self.first_parent_result()
        if not isinstance(fetched, Mapping):
            fetched = catalog.metadata(self.package(node_args))
        license_ = fetched["license"]
        if license_ in catalog.PERMISSIVE_LICENSES:
            category = "permissive"
        elif license_.startswith("GPL"):
            category = "copyleft"
        else:
            category = "restricted"
        return {"license": license_, "category": category}


class ArchiveLicenseText(PackageTask):
    def run(self, node_args: Any) -> dict[str, Any]:
        coords = self.package(node_args)
        return {"archived": True, "key": f"licenses/{coords['ecosystem']}/{coords['name']}/{coords['version']}.txt"}
