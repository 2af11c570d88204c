"""docs/grafana/selinon.json, the Grafana dashboard of the Prometheus metrics: it loads, its panels
do not overlap, and every series it queries is one the app exposes (a renamed metric would leave
a panel empty without anyone noticing)."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

from selinon_django.observability import metrics

DASHBOARD = Path(__file__).resolve().parents[3] / "docs" / "grafana" / "selinon.json"


def _panels() -> list[dict[str, Any]]:
    return json.loads(DASHBOARD.read_text())["panels"]


#: the series a metric of each type is exposed as
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}


def _exposed() -> set[str]:
    """The series names of the app's metrics (a counter's ``_total``, a histogram's ``_bucket``...)."""
    assert metrics.RUNS  # (the module is imported: its metrics are registered)
    return {family.name + suffix for family in REGISTRY.collect() if family.name.startswith("selinon_")
            for suffix in _SUFFIXES[family.type]}


def test_every_queried_series_is_exposed() -> None:
    exposed = _exposed()
    queried = {name for panel in _panels() for target in panel.get("targets", ())
               for name in re.findall(r"\bselinon_[a-z_]+", target["expr"])}
    assert queried, "the dashboard queries nothing"
    assert queried <= exposed, sorted(queried - exposed)
    # and every metric of the app has a panel
    families = {re.sub(r"_(total|bucket|count|sum)$", "", name) for name in queried}
    assert {family.name for family in REGISTRY.collect() if family.name.startswith("selinon_")} <= families


def test_panels_have_ids_and_do_not_overlap() -> None:
    panels = _panels()
    assert len({panel["id"] for panel in panels}) == len(panels)
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        columns, rows = range(grid["x"], grid["x"] + grid["w"]), range(grid["y"], grid["y"] + grid["h"])
        mine = {(x, y) for x in columns for y in rows}
        assert not cells & mine, panel["title"]
        cells |= mine
