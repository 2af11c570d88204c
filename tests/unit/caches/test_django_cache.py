"""DjangoCache over Django's cache framework (a local-memory alias)."""
from __future__ import annotations

import pytest
from django.core.cache import caches
from django.test import override_settings

from selinon_django.caches.base import CacheMissError
from selinon_django.caches.django_cache import DjangoCache

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "default-test"},
    "results": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "results-test"},
}


@override_settings(CACHES=CACHES)
def test_add_get_miss_and_alias() -> None:
    c = DjangoCache(alias="results", key_prefix="sel")
    with pytest.raises(CacheMissError):
        c.get("id-1")
    c.add("id-1", {"r": [1]}, task_name="T", flow_name="f")
    c.add("id-2", None)
    assert c.get("id-1") == {"r": [1]}
    assert c.get("id-2") is None  # a cached None is a hit
    assert caches["results"].get("sel:id-1") == {"r": [1]}
    assert caches["default"].get("sel:id-1") is None


@override_settings(CACHES=CACHES)
def test_timeout_zero_expires_at_once_and_odd_keys_are_hashed() -> None:
    c = DjangoCache(alias="results", timeout=0)
    c.add("gone", 1)
    with pytest.raises(CacheMissError):
        c.get("gone")
    odd = "a key with spaces " + "x" * 300
    c2 = DjangoCache(alias="results")
    c2.add(odd, 2)
    assert c2.get(odd) == 2
    assert c2.make_key(odd).startswith("selinon:sha256:") and len(c2.make_key(odd)) < 250


@override_settings(CACHES=CACHES)
def test_shared_between_instances_like_between_workers() -> None:
    DjangoCache(alias="results").add("shared", "v")
    assert DjangoCache(alias="results").get("shared") == "v"
