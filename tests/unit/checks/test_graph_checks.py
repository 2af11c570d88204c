"""The graph bounds and cache settings: wrong types are E003, a cache alias CACHES lacks is E010."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from selinon_django.checks import check_environment, check_settings
from selinon_django.conf import selinon_settings


def ids(setting: Any, **other_settings: Any) -> list[str]:
    with override_settings(SELINON_DJANGO=setting, **other_settings):
        return [m.id or "" for m in (*check_settings(), *check_environment()) if m.id and ".E" in m.id]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("GRAPH_MAX_NODES", 0),
        ("GRAPH_MAX_NODES", "100"),
        ("GRAPH_MAX_NODES", True),
        ("GRAPH_MAX_EDGES", -1),
        ("GRAPH_MAX_EDGES", 2.5),
        ("GRAPH_RENDER_TIMEOUT", 0),
        ("GRAPH_RENDER_TIMEOUT", "5"),
        ("GRAPH_RENDER_TIMEOUT", None),
        ("GRAPH_CACHE", None),
    ],
)
def test_e003_graph_bounds_of_the_wrong_type(key: str, value: Any) -> None:
    assert ids({key: value}) == ["selinon_django.E003"]


def test_good_graph_bounds_pass_and_are_read() -> None:
    setting = {"GRAPH_MAX_NODES": 10, "GRAPH_MAX_EDGES": 20, "GRAPH_RENDER_TIMEOUT": 1.5, "GRAPH_CACHE": "default"}
    assert ids(setting) == []
    with override_settings(SELINON_DJANGO=setting):
        conf = selinon_settings()
        assert (conf.GRAPH_MAX_NODES, conf.GRAPH_MAX_EDGES, conf.GRAPH_RENDER_TIMEOUT, conf.GRAPH_CACHE) == (
            10, 20, 1.5, "default"
        )


def test_defaults_bound_graphs() -> None:
    with override_settings(SELINON_DJANGO={}):
        conf = selinon_settings()
        assert conf.GRAPH_MAX_NODES >= 100 and conf.GRAPH_MAX_EDGES >= conf.GRAPH_MAX_NODES
        assert 0 < conf.GRAPH_RENDER_TIMEOUT <= 10
        assert conf.GRAPH_CACHE == "default"


def test_e010_graph_cache_alias_missing() -> None:
    assert ids({"GRAPH_CACHE": "graphs"}) == ["selinon_django.E010"]
    caches = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "graphs": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "graphs"},
    }
    assert ids({"GRAPH_CACHE": "graphs"}, CACHES=caches) == []
