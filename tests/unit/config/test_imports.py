"""Import resolution, --check-imports and allowed module prefixes."""
from __future__ import annotations

from selinon_django.config import (
    SourceFile,
    allowed_import,
    check_imports,
    disallowed_imports,
    load_config_from_sources,
)
from selinon_django.config.imports import resolve_class, resolve_module
from selinon_django.config.model import SystemConfig


def _load(text: str) -> SystemConfig:
    return load_config_from_sources([SourceFile("all.yaml", "nodes", text)], environ={})


def test_selinon_names_resolve_to_this_app() -> None:
    assert resolve_module("selinon.predicates") == "selinon_django.predicates"
    assert resolve_module("selinon.strategies") == "selinon_django.strategies"
    assert resolve_class("selinon.storages.redis", "Redis") == ("selinon_django.storages.redis", "RedisStorage")
    assert resolve_class("selinon.storages.filesystem", "Filesystem") == (
        "selinon_django.storages.filesystem",
        "FilesystemStorage",
    )
    assert resolve_class("selinon.caches", "LRU") == ("selinon_django.caches.lru", "LRU")
    assert resolve_class("selinon.caches.fifo", "FIFO") == ("selinon_django.caches.fifo", "FIFO")
    # no equivalent here: left as written
    assert resolve_class("selinon.storages.nothing", "Nothing") == ("selinon.storages.nothing", "Nothing")


def test_allowed_import_respects_package_boundaries() -> None:
    assert allowed_import("myapp.tasks", ["myapp"])
    assert allowed_import("myapp", ["myapp"])
    assert not allowed_import("myapplication.tasks", ["myapp"])
    assert allowed_import("myapplication", ["myapp."]) is False
    # the app's own modules are not allowed wholesale: config.trust decides by kind of object
    assert not allowed_import("selinon_django.runtime.api", [])


CONFIG = """
tasks:
  - {name: Good, import: json, classname: JSONDecoder}
  - {name: NoClass, import: json, classname: Nope}
  - {name: NoModule, import: surely_not_a_module_xyz}
flows: [f]
global:
  trace:
    - function: {name: dumps, import: json}
flow-definitions:
  - name: f
    edges:
      - {from: , to: [Good, NoClass, NoModule]}
      - from: Good
        to: NoClass
        foreach: {function: loads, import: json}
"""


def test_check_imports_reports_each_failure_without_importing_at_load() -> None:
    config = _load(CONFIG)  # loading did not import surely_not_a_module_xyz (it would have failed)
    issues = {(issue.path, issue.message.split(":")[0]) for issue in check_imports(config)}
    assert ("tasks[1].import", "task class 'Nope' not found in module 'json'") in issues
    assert ("tasks[2].import", "cannot import task class from 'surely_not_a_module_xyz'") in issues
    assert all(not path.startswith("tasks[0]") for path, _ in issues)
    assert all("foreach" not in path and "trace" not in path for path, _ in issues)


def test_custom_predicates_module_is_checked_only_by_check_imports() -> None:
    text = CONFIG.replace("global:\n", "global:\n  predicates_module: json\n").replace(
        "foreach: {function: loads, import: json}", "condition: {name: dumps, args: {obj: 1, bogus: 2}}"
    )
    config = _load(text)  # no check of a custom module's names or arguments at load time
    # json.dumps is no declared predicate: refused unless the operator trusts the whole module
    assert any("'dumps' in 'json' is not declared a predicate" in str(i) for i in check_imports(config))
    assert [str(i) for i in check_imports(config, ("json",)) if "condition" in i.path] == []
    missing_obj = _load(text.replace("args: {obj: 1, bogus: 2}", "args: {bogus: 2}"))
    assert any(
        i.path == "flow-definitions.f.edges[1].condition" and "needs argument 'obj'" in i.message
        for i in check_imports(missing_obj, ("json",))
    )
    # json.dumps accepts **kw, so unknown arguments cannot be detected; a missing name can:
    config = _load(text.replace("name: dumps, args", "name: no_such_predicate, args"))
    assert any(
        "predicate 'no_such_predicate' not found in 'json'" in str(issue) for issue in check_imports(config, ("json",))
    )


def test_disallowed_imports_lists_modules_outside_the_prefixes() -> None:
    config = _load(CONFIG)
    issues = disallowed_imports(config, ["json"])
    assert [issue.path for issue in issues] == ["tasks[2].import"]
    assert "not allowed" in issues[0].message
    everything = {issue.path for issue in disallowed_imports(config, [])}
    assert {"tasks[0].import", "global.trace[0].function", "flow-definitions[0].edges[1].foreach"} <= everything
    assert not any("sampling" in path for path in everything)  # selinon_django.strategies is always allowed
