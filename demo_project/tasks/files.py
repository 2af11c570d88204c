"""Per-file analysis, run once per file in the ``analyze_file`` sub-flow (the foreach item is its node_args)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from demo_project.tasks import catalog
from demo_project.tasks.base import PackageTask

LANGUAGES = {".py": "Python", ".md": "Markdown", ".toml": "TOML", ".rst": "reStructuredText", ".txt": "text"}


def _path(node_args: Any) -> str:
    """The file a foreach item names; a task started without an item looks at the package root."""
    if isinstance(node_args, Mapping) and isinstance(node_args.get("path"), str):
        return node_args["path"]
    return "."


class AnalyzeFile(PackageTask):
    def run(self, node_args: Any) -> dict[str, Any]:
        path = _path(node_args)
        coords = self.package(node_args)
        return {
            "path": path,
            "kind": catalog.file_kind(path),
            "size_bytes": 100 + catalog.number(coords["name"], path, "size", modulo=20_000),
            "sha256": catalog.digest(coords["name"], coords["version"], path),
        }


class DetectLanguage(PackageTask):
    def run(self, node_args: Any) -> dict[str, Any]:
        path = _path(node_args)
        suffix = "." + path.rsplit(".", 1)[-1] if "." in path.rsplit("/", 1)[-1] else ""
        return {"path": path, "language": LANGUAGES.get(suffix, "unknown")}


class CountLines(PackageTask):
    """Only started for source files (an edge condition on AnalyzeFile's ``kind``)."""

    def run(self, node_args: Any) -> dict[str, Any]:
        analysed = self.parent_task_result("AnalyzeFile") if "AnalyzeFile" in (self.parent or {}) else None
        size = analysed["size_bytes"] if isinstance(analysed, Mapping) else 0
        return {"path": _path(node_args), "lines": max(1, size // 32)}


class SummarizeFiles(PackageTask):
    """Collects every AnalyzeFile result of propagated sub-flows, nested or compound alike.

    With ``propagate_finished`` the task ids sit under the sub-flow path (asked for with a list
    of flow names); with ``propagate_compound_finished`` they are flat under the top sub-flow.
    """

    def run(self, node_args: Any) -> dict[str, Any]:
        kinds: dict[str, int] = {}
        paths: list[str] = []
        for result in self.subflow_results("AnalyzeFile"):
            kinds[result["kind"]] = kinds.get(result["kind"], 0) + 1
            paths.append(result["path"])
        return {"files": sorted(paths), "by_kind": dict(sorted(kinds.items()))}
