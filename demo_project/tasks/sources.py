"""Tasks that fetch and unpack the package archive, with mirrors that fail on demand.

The primary mirror is "offline" unless ``node_args.primary_mirror_online`` is true, so a plain
run always shows the fallback to the backup mirror; ``backup_mirror_offline`` pushes it one step
further (fallback on fallback, to the vendor cache) and ``offline`` makes every source fail.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from demo_project.tasks import catalog
from demo_project.tasks.base import PackageTask


class MirrorUnavailable(ConnectionError):
    """A planned, demo-only outage of a mirror."""


def _flag(node_args: Any, key: str) -> bool:
    return bool(node_args.get(key)) if isinstance(node_args, Mapping) else False


class FetchFromPrimaryMirror(PackageTask):
    def run(self, node_args: Any) -> dict[str, Any]:
        if not _flag(node_args, "primary_mirror_online"):
            raise MirrorUnavailable("primary mirror is offline (planned in the demo)")
        return catalog.archive(self.package(node_args), "primary")


class FetchFromBackupMirror(PackageTask):
    def run(self, node_args: Any) -> dict[str, Any]:
        if _flag(node_args, "backup_mirror_offline") or _flag(node_args, "offline"):
            raise MirrorUnavailable("backup mirror is offline (backup_mirror_offline)")
        return catalog.archive(self.package(node_args), "backup")


class FetchFromVendorCache(PackageTask):
    def run(self, node_args: Any) -> dict[str, Any]:
        if _flag(node_args, "offline"):
            raise MirrorUnavailable("no source reachable (offline)")
        return catalog.archive(self.package(node_args), "vendor-cache")


class ExtractArchive(PackageTask):
    """Reached from whichever mirror succeeded, so it reads its only parent, whatever its name."""

    def run(self, node_args: Any) -> dict[str, Any]:
        fetched = self.first_parent_result() or catalog.archive(self.package(node_args), "unknown")
        coords = self.package(node_args)
        return {"archive": fetched["filename"], "mirror": fetched["mirror"], "file_count": len(catalog.files(coords))}


class ListFiles(PackageTask):
    """The archive's files; a foreach function turns the list into one sub-flow per file."""

    def run(self, node_args: Any) -> dict[str, Any]:
        count = node_args.get("file_count") if isinstance(node_args, Mapping) else None
        coords = self.package(node_args)
        return {**coords, "files": catalog.files(coords, count if isinstance(count, int) else None)}


class ComputeDigest(PackageTask):
    def run(self, node_args: Any) -> dict[str, Any]:
        fetched = self.first_parent_result()
        coords = self.package(node_args)
        source = fetched["url"] if isinstance(fetched, Mapping) and "url" in fetched else coords
        return {"algorithm": "sha256", "digest": catalog.digest(source)}


class VerifySignature(PackageTask):
    def run(self, node_args: Any) -> dict[str, Any]:
        coords = self.package(node_args)
        return {"verified": True, "key_id": catalog.digest(coords["name"], "key")[:16]}
