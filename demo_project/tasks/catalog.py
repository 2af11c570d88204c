"""A fake package registry: deterministic data derived from a package's coordinates.

The demo must not touch the network, yet its results should look like a real analysis and
differ between packages. Hashing the coordinates gives stable, package-specific numbers, so the
same input always yields the same output (tests and run reports can compare them).
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

DEFAULT_ECOSYSTEM = "pypi"
DEFAULT_VERSION = "1.0.0"

#: Versions the fake registry reports as "latest" for a few well-known names.
LATEST_VERSIONS = {"django": "5.2", "celery": "5.5.0", "requests": "2.32.3", "selinon": "1.4.0"}

#: Names the typosquatting heuristic flags (look-alikes of popular packages).
LOOKALIKES = frozenset({"djang0", "reqeusts", "requestss", "nunpy", "celey"})

#: License per name; anything else gets a stable pick from LICENSES.
KNOWN_LICENSES = {"django": "BSD-3-Clause", "celery": "BSD-3-Clause", "requests": "Apache-2.0"}
LICENSES = ("MIT", "Apache-2.0", "BSD-3-Clause", "GPL-3.0-only", "proprietary")
PERMISSIVE_LICENSES = frozenset({"MIT", "Apache-2.0", "BSD-3-Clause", "BSD-2-Clause", "ISC"})


def number(*parts: object, modulo: int) -> int:
    """A stable pseudo-random number in ``range(modulo)`` for the given parts."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") % modulo


def coordinates(node_args: Any) -> dict[str, str]:
    """``{"ecosystem", "name", "version"}`` from whatever node_args a flow was given.

    Tolerant on purpose: a sub-flow may receive None when node_args are not propagated, and a
    foreach item carries extra keys; both still name a package.
    """
    args: Mapping[str, Any] = node_args if isinstance(node_args, Mapping) else {}
    name = str(args.get("name") or "example").strip().lower()
    ecosystem = str(args.get("ecosystem") or DEFAULT_ECOSYSTEM).strip().lower()
    version = str(args.get("version") or "latest")
    if version == "latest":
        version = LATEST_VERSIONS.get(name, DEFAULT_VERSION)
    return {"ecosystem": ecosystem, "name": name, "version": version}


def metadata(coords: Mapping[str, str]) -> dict[str, Any]:
    """The registry's metadata record for a package (matches ``schemas/package-metadata.json``)."""
    name = coords["name"]
    license_ = KNOWN_LICENSES.get(name) or LICENSES[number(name, "license", modulo=len(LICENSES))]
    host = "github.com" if number(name, "host", modulo=4) else "gitlab.com"
    if name in KNOWN_LICENSES or name in LATEST_VERSIONS:
        host = "github.com"
    return {
        "ecosystem": coords["ecosystem"],
        "name": name,
        "version": coords["version"],
        "license": license_,
        "repository": f"https://{host}/{name}/{name}",
        "size_kb": 50 + number(name, coords["version"], "size", modulo=9950),
        "downloads_last_month": number(name, "downloads", modulo=5_000_000),
        "keywords": sorted({name.split("-")[0], coords["ecosystem"], "library"}),
        "maintainers": [f"{name}-maintainer-{i}" for i in range(1 + number(name, "maint", modulo=3))],
    }


def archive(coords: Mapping[str, str], mirror: str) -> dict[str, Any]:
    """Where a mirror would serve the package archive from."""
    filename = f"{coords['name']}-{coords['version']}.tar.gz"
    return {
        "mirror": mirror,
        "url": f"https://{mirror}.example.org/{coords['ecosystem']}/{filename}",
        "filename": filename,
        "size_kb": 50 + number(coords["name"], coords["version"], "size", modulo=9950),
    }


def files(coords: Mapping[str, str], count: int | None = None) -> list[str]:
    """The file paths inside the package archive (3 to 5 unless ``count`` is given)."""
    name = coords["name"].replace("-", "_")
    candidates = [
        f"{name}/__init__.py",
        f"{name}/core.py",
        "README.md",
        "pyproject.toml",
        f"{name}/utils.py",
        f"tests/test_{name}.py",
        "LICENSE",
    ]
    if count is None:
        count = 3 + number(coords["name"], "files", modulo=3)
    return candidates[: max(0, min(count, len(candidates)))]


def file_kind(path: str) -> str:
    """``source``, ``docs`` or ``config``: what the per-file analysis looks at."""
    if path.endswith(".py"):
        return "source"
    if path.endswith((".md", ".rst", ".txt")) or path.rsplit("/", 1)[-1] == "LICENSE":
        return "docs"
    return "config"


def dependencies(coords: Mapping[str, str]) -> list[dict[str, str]]:
    """Direct dependencies of a package (0 to 2, always from a small fixed set)."""
    pool = ("asgiref", "sqlparse", "kombu", "billiard", "urllib3", "idna")
    count = number(coords["name"], "deps", modulo=3)
    if coords["name"] == "django":
        count = 2
    start = number(coords["name"], "deps-start", modulo=len(pool))
    picked = [pool[(start + i) % len(pool)] for i in range(count)]
    if coords["name"] == "django":
        picked = ["asgiref", "sqlparse"]
    return [{"ecosystem": coords["ecosystem"], "name": dep, "version": "latest"} for dep in picked]


def digest(*parts: object) -> str:
    """A sha256 hex digest standing in for a file or archive checksum."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
