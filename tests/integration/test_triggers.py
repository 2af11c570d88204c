"""Triggers on real workers: exactly once under concurrent fires, cascades, retries, flows."""
from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.workers import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

TASKS = "tests.integration.trigger_tasks"
TRIGGER_FLOWS = Path(__file__).resolve().parent / "trigger_flows.yaml"


@pytest.fixture()
def var_dir(worker_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    """The workers' var dir, so ``run_count`` reads what the workers wrote."""
    monkeypatch.setenv("SELINON_DJANGO_VAR_DIR", worker_env["SELINON_DJANGO_VAR_DIR"])
    return worker_env["SELINON_DJANGO_VAR_DIR"]


def wait_instances(session: str, names: set[str], workers: Any, *, timeout: float = 60) -> dict[str, Any]:
    """Wait until the session has finished instances of ``names``; returns them by name."""
    from selinon_django.models.triggers import TriggerTaskInstance

    def done() -> dict[str, Any] | None:
        rows = {i.name: i for i in TriggerTaskInstance.objects.filter(session__key=session)}
        finished = {n: r for n, r in rows.items() if r.is_finished}
        return finished if names <= set(finished) else None

    def message() -> str:
        rows = list(TriggerTaskInstance.objects.filter(session__key=session).values_list("name", "status", "error"))
        return f"instances {sorted(names)} of {session} to finish (now {rows})\n{workers.logs()}"

    result: dict[str, Any] = wait_until(done, timeout=timeout, interval=0.05, message=message)
    return result


def run_concurrently(calls: list[Callable[[], Any]]) -> list[Any]:
    """Start every call at the same moment, each in its own thread (own database connection)."""
    from django.db import connection

    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def worker(index: int) -> None:
        try:
            barrier.wait()
            results[index] = calls[index]()
        except BaseException as error:  # reported by the test
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.parametrize("configured_in", ["python", "yaml"])
def test_task_after_two_triggers_fired_concurrently_runs_once(
    live_workers: Any, var_dir: str, load_flows: Any, configured_in: str
) -> None:
    """Python: sessions exist before the fires; YAML: the concurrent fires also create the session."""
    from selinon_django.models.triggers import FiredTrigger
    from selinon_django.triggers.manager import fire, update_configuration
    from tests.integration.trigger_tasks import run_count

    sessions = [f"concurrent-{configured_in}-{i}" for i in range(6)]
    name = "t" if configured_in == "python" else "t_collect"
    if configured_in == "python":
        for session in sessions:
            update_configuration(session, {"t": {"after": ["first", "second"], "run": f"{TASKS}.CountRuns"}})
    else:
        load_flows(TRIGGER_FLOWS, [])  # t_collect: after [first, second]
    calls: list[Callable[[], Any]] = []
    for index, session in enumerate(sessions):
        order = ("first", "second") if index % 2 else ("second", "first")
        for trigger in order * 2:  # each trigger fired twice, all at the same moment
            calls.append(functools.partial(fire, session, trigger, {"from": trigger}))
    results = run_concurrently(calls)
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sorted(n for r in results for n in r) == [name] * len(sessions)  # one fire per session scheduled it
    for session in sessions:
        instance = wait_instances(session, {name}, live_workers)[name]
        assert (instance.status, instance.attempts) == ("succeeded", 1)
        assert instance.result == {"seen": {"first": {"from": "first"}, "second": {"from": "second"}}}
        assert run_count(session, name) == 1
        assert FiredTrigger.objects.filter(session__key=session).count() == 4 + 1  # + the cascade


def test_cascade_across_three_levels(live_workers: Any) -> None:
    from selinon_django.models.triggers import FiredTrigger
    from selinon_django.triggers.manager import TriggerManager

    manager = TriggerManager("cascade")
    manager.update_configuration({
        "level1": {"after": ["start"], "run": f"{TASKS}.AddOne"},
        "level2": {"after": ["level1"], "run": f"{TASKS}.AddOne"},
        "level3": {"after": ["level2"], "run": f"{TASKS}.AddOne"},
    })
    assert manager.fire("start", {"n": 10}) == ["level1"]
    rows = wait_instances("cascade", {"level1", "level2", "level3"}, live_workers)
    assert [rows[n].result["n"] for n in ("level1", "level2", "level3")] == [11, 12, 13]
    assert all(rows[n].status == "succeeded" for n in rows)
    assert FiredTrigger.objects.get(session__key="cascade", name="level3").kwargs == {"n": 13, "after": "level2"}


def test_retry_with_replacement_kwargs_and_max_retries_exceeded(live_workers: Any) -> None:
    from selinon_django.triggers.manager import fire, update_configuration

    update_configuration("retries", {
        "fresh": {"after": ["start"], "run": f"{TASKS}.RetryWithFreshToken"},
        "hopeless": {"after": ["start"], "run": f"{TASKS}.AlwaysRetry"},
        "after_hopeless": {"after": ["hopeless"], "run": f"{TASKS}.CountRuns"},
    })
    assert fire("retries", "start", {"token": "stale"}) == ["fresh", "hopeless"]
    rows = wait_instances("retries", {"fresh", "hopeless"}, live_workers)
    fresh, hopeless = rows["fresh"], rows["hopeless"]
    assert (fresh.status, fresh.attempts, fresh.result) == ("succeeded", 2, {"token": "fresh", "attempt": 2})
    assert fresh.trigger_kwargs == {"start": {"token": "fresh"}}
    assert (hopeless.status, hopeless.attempts) == ("failed", 3)
    assert hopeless.error.startswith("MaxRetriesExceeded: hopeless: max_retries=2 exceeded after 3 attempt(s)")
    assert not hopeless.session.task_instances.filter(name="after_hopeless").exists()


def test_filter_kwargs_refuses_bad_kwargs(live_workers: Any) -> None:
    from selinon_django.triggers.manager import fire, update_configuration

    update_configuration(
        "refuse", {"t_importSubject": {"after": ["firstPageReceived"], "run": f"{TASKS}.ImportSubject"}}
    )
    fire("refuse", "firstPageReceived", {"responses": {"birthday": "tomorrow"}})
    row = wait_instances("refuse", {"t_importSubject"}, live_workers)["t_importSubject"]
    assert row.status == "failed"
    assert row.error == (
        "KwargsRefused: t_importSubject: trigger kwargs refused: "
        "trigger 'firstPageReceived', field 'responses': 'name' is a required property; "
        "trigger 'firstPageReceived', field 'responses.birthday': 'tomorrow' is not a valid date"
    )


def test_trigger_starts_a_flow_and_cascades_on_its_result(live_workers: Any, load_flows: Any, var_dir: str) -> None:
    from selinon_django.models import FlowRun
    from selinon_django.triggers.manager import fire
    from tests.integration.helpers import wait_finished
    from tests.integration.trigger_tasks import run_count

    load_flows(TRIGGER_FLOWS, [])  # triggers declared in YAML: t_flow runs echo_flow, t_after_flow follows it
    fire("order-1", "order_placed", {"order": 1})
    assert fire("order-1", "payment_received", {"amount": 5}) == ["t_flow"]
    rows = wait_instances("order-1", {"t_flow", "t_after_flow"}, live_workers)
    run = wait_finished(rows["t_flow"].flow_run_id, workers=live_workers)
    assert run.status == "succeeded" and run.node_args == {"order": 1, "amount": 5}
    echo = rows["t_flow"].result["results"]["Echo"]
    assert echo["node_args"] == {"order": 1, "amount": 5}
    after = rows["t_after_flow"]
    assert after.status == "succeeded"
    assert after.result["seen"]["t_flow"]["run_id"] == run.pk
    assert after.result["seen"]["t_flow"]["finished_nodes"].keys() == {"Echo"}
    assert run_count("order-1", "t_after_flow") == 1
    assert FlowRun.objects.filter(flow_name="echo_flow").count() == 1


def test_sessions_do_not_see_each_others_triggers(live_workers: Any, load_flows: Any) -> None:
    from selinon_django.models import FlowRun
    from selinon_django.models.triggers import TriggerTaskInstance
    from selinon_django.triggers.manager import fire

    load_flows(TRIGGER_FLOWS, [])
    assert fire("order-A", "order_placed", {"order": "A"}) == []
    assert fire("order-B", "payment_received", {"amount": 1}) == []
    assert not TriggerTaskInstance.objects.exists() and not FlowRun.objects.exists()
    assert fire("order-B", "order_placed", {"order": "B"}) == ["t_flow"]
    rows = wait_instances("order-B", {"t_flow", "t_after_flow"}, live_workers)
    assert rows["t_flow"].result["results"]["Echo"]["node_args"] == {"order": "B", "amount": 1}
    assert not TriggerTaskInstance.objects.filter(session__key="order-A").exists()
