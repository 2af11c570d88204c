"""Flows end to end on real workers: exact node-run rows for each engine feature."""
from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.integration.helpers import node_counts, wait_finished

pytestmark = pytest.mark.django_db(transaction=True)


def test_chain_of_five(live_workers: Any, load_flows: Any) -> None:
    from selinon_django.runtime.api import run_flow

    load_flows()
    run_id = run_flow("chain5", {"x": 1})
    run = wait_finished(run_id, workers=live_workers)
    assert run.status == "succeeded"
    assert node_counts(run_id) == Counter({(f"T{i}", "succeeded"): 1 for i in range(1, 6)})
    assert run.state["finished_nodes"].keys() == {"T1", "T2", "T3", "T4", "T5"}
