"""The revision diff as a pure function of two normalised configurations."""
from __future__ import annotations

from typing import Any

from selinon_django.api.diff import revision_diff

EDGE_A = {"from": None, "to": ["A"]}
EDGE_B = {"from": ["A"], "to": ["B"]}


def config(**parts: Any) -> dict[str, Any]:
    return {"tasks": [], "storages": [], "flows": [], "global": {}, "flow-definitions": [], **parts}


def test_identical_configurations_have_no_changes() -> None:
    same = config(tasks=[{"name": "A", "import": "m", "classname": "A"}],
                  **{"flow-definitions": [{"name": "f", "edges": [EDGE_A]}]})
    assert revision_diff(same, same) == {
        "tasks": {"added": [], "removed": [], "changed": []},
        "storages": {"added": [], "removed": [], "changed": []},
        "flows": {"added": [], "removed": [], "changed": []},
        "global": None,
    }


def test_edges_are_compared_as_multisets() -> None:
    old = config(**{"flow-definitions": [{"name": "f", "edges": [EDGE_A, EDGE_B, EDGE_B]}]})
    new = config(**{"flow-definitions": [{"name": "f", "edges": [EDGE_B, EDGE_A]}]})
    (flow,) = revision_diff(old, new)["flows"]["changed"]
    assert flow["edges"] == {"added": [], "removed": [EDGE_B], "changed": []}
    assert flow["options"] == {}


def test_an_edited_edge_is_changed_not_removed_and_added() -> None:
    edited = {**EDGE_B, "condition": {"name": "alwaysFalse"}}
    moved = {"from": ["A"], "to": ["C"]}
    old = config(**{"flow-definitions": [{"name": "f", "edges": [EDGE_A, EDGE_B]}]})
    new = config(**{"flow-definitions": [{"name": "f", "edges": [EDGE_A, edited, moved]}]})
    (flow,) = revision_diff(old, new)["flows"]["changed"]
    assert flow["edges"] == {"added": [moved], "removed": [], "changed": [{"before": EDGE_B, "after": edited}]}


def test_flow_options_and_global_changes() -> None:
    old = config(**{"flow-definitions": [{"name": "f", "edges": [EDGE_A]}]})
    new = config(**{"global": {"trace": [{"logging": True}]},
                    "flow-definitions": [{"name": "f", "edges": [EDGE_A], "max_retry": 2}, {"name": "g", "edges": []}]})
    diff = revision_diff(old, new)
    assert diff["flows"]["added"] == ["g"]
    assert diff["flows"]["changed"][0]["options"] == {"max_retry": {"before": None, "after": 2}}
    assert diff["global"] == {"before": {}, "after": {"trace": [{"logging": True}]}}


def test_against_an_empty_configuration_everything_is_added() -> None:
    new = config(tasks=[{"name": "A"}], storages=[{"name": "S"}], **{"flow-definitions": [{"name": "f"}]})
    diff = revision_diff({}, new)
    assert (diff["tasks"]["added"], diff["storages"]["added"], diff["flows"]["added"]) == (["A"], ["S"], ["f"])
