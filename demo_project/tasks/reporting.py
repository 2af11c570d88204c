"""Scoring, the final report and what happens after it (publish, notify, index, audit)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from demo_project.tasks import catalog
from demo_project.tasks.base import PackageTask, flatten_finished


class ComputeScore(PackageTask):
    """A 0-100 health score from the metadata and from which security nodes finished.

    The security verdict is read from the *names* of the nodes that finished in the propagated
    ``security_audit`` sub-flow: a fallback having run is the signal.
    """

    def run(self, node_args: Any) -> dict[str, Any]:
        parent = self.parent or {}
        coords = self.package(node_args)
        metadata = self.parent_task_result("FetchMetadata") if "FetchMetadata" in parent else None
        if not isinstance(metadata, Mapping):
            metadata = catalog.metadata(coords)
        security = flatten_finished(parent.get("security_audit"))
        dependencies = flatten_finished(parent.get("dependency_audit"))
        score = 100
        signals: dict[str, Any] = {"license": metadata["license"]}
        if metadata["license"] not in catalog.PERMISSIVE_LICENSES:
            score -= 20
        if "QuarantinePackage" in security:
            score, signals["security"] = 0, "quarantined"
        elif "MarkUnscanned" in security:
            score, signals["security"] = score - 40, "unscanned"
        else:
            signals["security"] = "clean"
        signals["dependencies_checked"] = len(dependencies.get("CheckDependencyLicense", []))
        return {"package": coords, "score": max(score, 0), "signals": signals}


class BuildReport(PackageTask):
    """Everything the parents produced, in one JSON document.

    Generic over its parents so several flows can end with it: a parent task contributes its
    result, a propagated sub-flow the count of each task that finished in it, and any analysed
    files are listed.
    """

    def run(self, node_args: Any) -> dict[str, Any]:
        tasks: dict[str, Any] = {}
        subflows: dict[str, dict[str, int]] = {}
        for name, value in (self.parent or {}).items():
            if isinstance(value, str):
                tasks[name] = self.parent_task_result(name)
            elif isinstance(value, Mapping):
                subflows[name] = {task: len(ids) for task, ids in sorted(flatten_finished(value).items())}
        files = sorted(result["path"] for result in self.subflow_results("AnalyzeFile"))
        return {"package": self.package(node_args), "tasks": tasks, "subflows": subflows, "files": files}


class PublishReport(PackageTask):
    """Configured with a read-only storage: it may read through ``self.storage`` but stores nothing."""

    def run(self, node_args: Any) -> dict[str, Any]:
        coords = self.package(node_args)
        report = self.first_parent_result()
        score = None
        if isinstance(report, Mapping):
            score = (report.get("tasks", {}).get("ComputeScore") or {}).get("score")
        return {
            "published": f"https://reports.example.org/{coords['ecosystem']}/{coords['name']}/{coords['version']}",
            "score": score,
        }


class NotifyMaintainers(PackageTask):
    """Started as ``nowait``: nobody waits for it and its failure would not fail the flow."""

    def run(self, node_args: Any) -> dict[str, Any]:
        maintainers = catalog.metadata(self.package(node_args))["maintainers"]
        return {"notified": maintainers}


class WarmCache(PackageTask):
    """Also ``nowait``: pre-computes what the web UI shows first."""

    def run(self, node_args: Any) -> dict[str, Any]:
        coords = self.package(node_args)
        return {"warmed": f"report:{coords['ecosystem']}:{coords['name']}:{coords['version']}"}


class IndexSearch(PackageTask):
    def run(self, node_args: Any) -> dict[str, Any]:
        coords = self.package(node_args)
        return {"indexed": True, "document_id": catalog.digest(*coords.values())[:12]}


class RecordAudit(PackageTask):
    """Throttled in YAML: audit records are written at most once per interval.

    It runs once per analysed package of a batch but sees the batch's node_args (a foreach item
    is never given to a task), so it records the batch and which node it follows.
    """

    def run(self, node_args: Any) -> dict[str, Any]:
        packages = node_args.get("packages") if isinstance(node_args, Mapping) else None
        return {
            "flow": self.flow_name,
            "after": sorted(self.parent or {}),
            "batch_size": len(packages) if isinstance(packages, list) else None,
        }
