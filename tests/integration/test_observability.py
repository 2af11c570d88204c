"""Monitoring on real workers: Celery's task events per node (a worker started with ``-E`` and an
event receiver), OpenTelemetry spans (the workers' SDK writes finished spans to a file, this
process keeps its own in the SDK's in-memory exporter) and Prometheus metrics (the workers write
in multiprocess mode, the scrape endpoint reads them).

One module-scoped set of workers runs a handful of flows that cover the ways a node reaches a
worker - its own message, a batched message, inline after its predecessor - and its outcomes:
succeeded, retried, failed and revoked; each test then checks one kind of monitoring.
"""
from __future__ import annotations

import json
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test.utils import override_settings
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.helpers import wait_finished
from tests.integration.workers import WorkerPool, wait_until
from tests.worker_fixtures import DISPATCHER_QUEUES, TASK_QUEUES

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Observed:
    """What the module's flows produced, and where their monitoring went."""

    ids: dict[str, str]
    events: list[dict[str, Any]]
    spans_file: Path
    metrics_dir: Path
    local_spans: InMemorySpanExporter
    task_worker: str
    caller_span_id: int = 0
    caller_trace_id: int = 0
    nodes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def worker_spans(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.spans_file.read_text().splitlines() if line.strip()]


def _local_exporter() -> InMemorySpanExporter:
    """This process's spans in the SDK's in-memory exporter (the global provider is set once per
    process: an SDK provider another test set is reused)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


class EventCollector:
    """Celery's event stream, received in a thread as ``celery events`` and Flower receive it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.events: list[dict[str, Any]] = []
        self._receiver: Any = None
        self._thread = threading.Thread(target=self._capture, daemon=True)

    def _capture(self) -> None:
        with self.app.connection_for_read() as connection:
            self._receiver = self.app.events.Receiver(connection, handlers={"*": self.events.append})
            self._receiver.capture(limit=None, timeout=None, wakeup=False)

    def __enter__(self) -> EventCollector:
        self._thread.start()

        def listening() -> bool:  # the receiver's queue exists once it gets what is sent now
            with self.app.events.default_dispatcher(hostname="probe@selinon-test") as dispatcher:
                dispatcher.send("selinon-probe")
            time.sleep(0.2)
            return any(e["type"] == "selinon-probe" for e in self.events)

        wait_until(listening, timeout=20, interval=0.1, message="the event receiver to listen")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._receiver is not None:
            self._receiver.should_stop = True
        self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def observed(workers: WorkerPool, celery_app: Any, tmp_path_factory: pytest.TempPathFactory,
             django_db_blocker: Any) -> Iterator[Observed]:
    """Workers with OpenTelemetry, Prometheus and task events (``-E``) on; the flows run once."""
    from selinon_django.models import FlowRun, NodeRun
    from selinon_django.runtime.api import cancel_flow, run_flow
    from tests.worker_fixtures import FLOWS_DIR

    base = tmp_path_factory.mktemp("observability")
    spans_file, metrics_dir = base / "spans.jsonl", base / "prometheus"
    metrics_dir.mkdir()
    spans_file.touch()
    env = {"DJANGO_SETTINGS_MODULE": "tests.integration.observability_settings",
           "SELINON_TEST_SPANS": str(spans_file), "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    local_spans = _local_exporter()
    workers.stop_all()
    sent_events = celery_app.conf.task_send_sent_event
    try:
        with django_db_blocker.unblock():
            from selinon_django.config import load_config
            from selinon_django.revisions import load_revision

            load_revision(load_config([FLOWS_DIR / "nodes.yaml"], [FLOWS_DIR / "flows"]))
            options: dict[str, Any] = {"env": env, "app_module": "tests.integration.observed_app",
                                       "extra_args": ("-E",)}
            workers.start(DISPATCHER_QUEUES, concurrency=1, **options)
            task_worker = workers.start(TASK_QUEUES, concurrency=2, **options)
            celery_app.conf.task_send_sent_event = True  # this process publishes the first tasks
            with EventCollector(celery_app) as collector, override_settings(
                    SELINON_DJANGO={**settings.SELINON_DJANGO, "OPENTELEMETRY": True}):
                with trace.get_tracer("selinon-test").start_as_current_span("caller") as caller:
                    ids = {"parent": run_flow("parent", {"p": 1})}
                ids.update(chain5=run_flow("chain5", None), fanout=run_flow("fanout", {"count": 10}),
                           failing=run_flow("failing", None), retries=run_flow("retries", {"failures": 1}),
                           sleepy=run_flow("sleepy", {"sleep": 60}))
                for name in ("parent", "chain5", "fanout", "failing", "retries"):
                    wait_finished(ids[name], timeout=90, workers=workers)
                wait_until(lambda: NodeRun.objects.filter(flow_run_id=ids["sleepy"], name="Sleep",
                                                          status="started").exists(),
                           timeout=60, message="Sleep to start")
                cancel_flow(ids["sleepy"])
                sleep_id = NodeRun.objects.get(flow_run_id=ids["sleepy"], name="Sleep").pk
                wait_until(lambda: any(e["type"] == "task-revoked" and e.get("uuid") == sleep_id
                                       for e in collector.events),
                           timeout=30, message=lambda: f"task-revoked of Sleep:\n{workers.logs()}")
                # every node's last event and every run's span have arrived
                ended = NodeRun.objects.filter(flow_run__in=FlowRun.objects.filter(pk__in=ids.values()),
                                               kind="task", status__in=("succeeded", "failed")).values_list("pk",
                                                                                                            flat=True)
                wait_until(lambda: set(ended) <= {e.get("uuid") for e in collector.events
                                                  if e["type"] in ("task-succeeded", "task-failed")},
                           timeout=30, message="the last task events")
            observed = Observed(ids=ids, events=list(collector.events), spans_file=spans_file,
                                metrics_dir=metrics_dir, local_spans=local_spans, task_worker=task_worker.hostname,
                                caller_span_id=caller.get_span_context().span_id,
                                caller_trace_id=caller.get_span_context().trace_id)
            for name, run_id in ids.items():
                runs = [run_id, *FlowRun.objects.filter(parent_run_id=run_id).values_list("pk", flat=True)]
                observed.nodes[name] = list(NodeRun.objects.filter(flow_run_id__in=runs).values(
                    "id", "name", "kind", "status", "attempts", "carried_by", "flow_run_id"))
            yield observed
    finally:
        celery_app.conf.task_send_sent_event = sent_events
        workers.stop_all()  # the next test's live_workers starts ordinary ones
        with django_db_blocker.unblock():
            from selinon_django.models import ConfigRevision

            FlowRun.objects.all().delete()
            ConfigRevision.objects.all().delete()


# --- Celery's task events ---------------------------------------------------------------------


def _events_by_node(observed: Observed) -> dict[str, list[dict[str, Any]]]:
    by_node: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in observed.events:
        if event["type"].startswith("task-") and event.get("uuid"):
            by_node[event["uuid"]].append(event)
    return by_node


def test_every_node_is_a_task_in_celery_events(observed: Observed) -> None:
    """Each task node, run from its own message, a batch or inline, has Celery's task events under
    its id with its name and its real outcome; no event speaks of the envelope's message."""
    by_node = _events_by_node(observed)
    nodes = [node for name in ("parent", "chain5", "fanout", "failing", "retries")
             for node in observed.nodes[name] if node["kind"] == "task"]
    assert len(nodes) == 4 + 5 + 21 + 2 + 3
    for node in nodes:
        types = Counter(event["type"] for event in by_node[node["id"]])
        # sent, received and started per attempt (a retry is a message of its own), one outcome each
        assert types["task-sent"] == node["attempts"], (node, types)
        assert types["task-received"] == types["task-started"] == node["attempts"], (node, types)
        outcome = "task-succeeded" if node["status"] == "succeeded" else "task-failed"
        assert types[outcome] == 1 and types["task-retried"] == node["attempts"] - 1, (node, types)
        named = {event.get("name") for event in by_node[node["id"]] if "name" in event}
        assert named == {node["name"]}, (node, named)
        received = [e for e in by_node[node["id"]] if e["type"] == "task-received"]
        assert {e["hostname"] for e in received} == {observed.task_worker}
    assert not any(event.get("name") == "selinon_django.task" for event in observed.events)


def test_inline_and_batched_nodes_have_their_own_events(observed: Observed) -> None:
    by_node = _events_by_node(observed)
    chain = {node["name"]: node for node in observed.nodes["chain5"]}
    # T2..T5 ran inline under T1's message: no message of their own, yet each is a task
    assert {chain[f"T{i}"]["carried_by"] for i in range(2, 6)} == {chain["T1"]["id"]}
    for i in range(2, 6):
        types = [event["type"] for event in by_node[chain[f"T{i}"]["id"]]]
        assert types == ["task-sent", "task-received", "task-started", "task-succeeded"], (i, types)
    items = [node for node in observed.nodes["fanout"] if node["name"] == "Item"]
    batched = [node for node in items if node["carried_by"] in {item["id"] for item in items}]
    # ten items (one may run inline after T1), two to a message (MESSAGES_PER_STEP_MIN = 4)
    assert len(batched) >= 4
    for node in batched:
        types = [e["type"] for e in by_node[node["id"]]]
        assert types == ["task-sent", "task-received", "task-started", "task-succeeded"], types
    runtimes = [e["runtime"] for node in batched for e in by_node[node["id"]] if e["type"] == "task-succeeded"]
    assert all(isinstance(value, float) and value >= 0 for value in runtimes)


def test_failures_retries_and_revocations_as_celery_events(observed: Observed) -> None:
    by_node = _events_by_node(observed)
    failing = next(node for node in observed.nodes["failing"] if node["name"] == "AlwaysFail")
    failed = [e for e in by_node[failing["id"]] if e["type"] in ("task-retried", "task-failed")]
    assert [e["type"] for e in failed] == ["task-retried", "task-failed"]
    assert all("ValueError: this task always fails" in e["exception"] for e in failed)
    flaky = next(node for node in observed.nodes["retries"] if node["name"] == "Flaky")
    assert [e["type"] for e in by_node[flaky["id"]]][-3:] == ["task-received", "task-started", "task-succeeded"]
    assert [e["retries"] for e in by_node[flaky["id"]] if e["type"] == "task-received"] == [0, 1]
    sleep = next(node for node in observed.nodes["sleepy"] if node["name"] == "Sleep")
    revoked = [e for e in by_node[sleep["id"]] if e["type"] == "task-revoked"]
    assert revoked and revoked[0]["terminated"] is True


# --- OpenTelemetry ----------------------------------------------------------------------------


def _span_id(text: str) -> int:
    return int(text, 16)


def test_runs_and_nodes_are_spans_of_one_trace_under_the_caller(observed: Observed) -> None:
    spans = observed.worker_spans()
    flows = {span["attributes"]["selinon.run_id"]: span for span in spans if span["name"].startswith("flow ")}
    parent_run = observed.ids["parent"]
    child_run = next(node["flow_run_id"] for node in observed.nodes["parent"] if node["name"] == "Stored")
    parent_span, child_span = flows[parent_run], flows[child_run]
    # the caller's span (this process) is the parent of the run; the sub-flow nests in the run
    assert _span_id(parent_span["parent_id"]) == observed.caller_span_id
    assert int(parent_span["context"]["trace_id"], 16) == observed.caller_trace_id
    assert child_span["parent_id"] == parent_span["context"]["span_id"]
    assert child_span["context"]["trace_id"] == parent_span["context"]["trace_id"]
    assert parent_span["attributes"]["selinon.status"] == "succeeded"
    # each node of the tree: a child of its own run's span, in the same trace
    nodes = {span["attributes"]["selinon.node_id"]: span for span in spans if span["name"].startswith("node ")}
    for node in observed.nodes["parent"]:
        if node["kind"] != "task":
            continue
        span = nodes[node["id"]]
        run_span = parent_span if node["flow_run_id"] == parent_run else child_span
        assert span["parent_id"] == run_span["context"]["span_id"], node
        assert span["context"]["trace_id"] == parent_span["context"]["trace_id"]
        attributes = span["attributes"]
        assert attributes["selinon.node"] == node["name"] and span["name"] == f"node {node['name']}"
        assert attributes["selinon.flow"] == ("parent" if node["flow_run_id"] == parent_run else "child")
        assert attributes["selinon.queue"] == "selinon_tasks"
        assert attributes["selinon.worker"] == observed.task_worker
        assert attributes["selinon.attempt"] == 1 and attributes["selinon.status"] == "succeeded"
        assert isinstance(attributes["selinon.revision"], int)
    # a run started without a span is a trace of its own, named by its run id
    chain_span = flows[observed.ids["chain5"]]
    assert chain_span["parent_id"] is None
    assert int(chain_span["context"]["trace_id"], 16) == int(observed.ids["chain5"].replace("-", ""), 16)
    # this process: the caller's span, ended here, for the run's span to hang from
    local = {span.name: span for span in observed.local_spans.get_finished_spans()}
    assert local["caller"].context.span_id == observed.caller_span_id


def test_spans_of_inline_batched_retried_and_failed_nodes(observed: Observed) -> None:
    spans = [span for span in observed.worker_spans() if span["name"].startswith("node ")]
    by_node: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for span in spans:
        by_node[span["attributes"]["selinon.node_id"]].append(span)
    chain = {node["name"]: node for node in observed.nodes["chain5"]}
    assert [by_node[chain[f"T{i}"]["id"]][0]["attributes"]["selinon.via"] for i in range(1, 6)] == \
        ["message", "inline", "inline", "inline", "inline"]
    items = [node for node in observed.nodes["fanout"] if node["name"] == "Item"]
    item_ids, t1 = {item["id"] for item in items}, next(n for n in observed.nodes["fanout"] if n["name"] == "T1")
    expected = Counter("batch" if node["carried_by"] in item_ids else "inline" if node["carried_by"] == t1["id"]
                       else "message" for node in items)
    assert expected["batch"] >= 4
    assert Counter(by_node[node["id"]][0]["attributes"]["selinon.via"] for node in items) == expected
    flaky = next(node for node in observed.nodes["retries"] if node["name"] == "Flaky")
    attempts = sorted((s["attributes"]["selinon.attempt"], s["attributes"]["selinon.status"])
                      for s in by_node[flaky["id"]])
    assert attempts == [(1, "retried"), (2, "succeeded")]
    failing = next(node for node in observed.nodes["failing"] if node["name"] == "AlwaysFail")
    last = max(by_node[failing["id"]], key=lambda s: s["attributes"]["selinon.attempt"])
    assert last["attributes"]["selinon.status"] == "failed" and last["status"]["status_code"] == "ERROR"
    exception = next(e for e in last["events"] if e["name"] == "exception")
    assert exception["attributes"] == {"exception.type": "ValueError", "exception.message": "this task always fails"}
    flows = {s["attributes"]["selinon.run_id"]: s for s in observed.worker_spans() if s["name"].startswith("flow ")}
    assert flows[observed.ids["failing"]]["status"]["status_code"] == "ERROR"


# --- Prometheus -------------------------------------------------------------------------------


Samples = dict[tuple[str, frozenset[Any]], float]


def _samples(observed: Observed, client: Any, monkeypatch: pytest.MonkeyPatch) -> Samples:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(observed.metrics_dir))
    with override_settings(SELINON_DJANGO={**settings.SELINON_DJANGO, "PROMETHEUS": True}):
        response = client.get("/metrics/")
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/plain")
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.content.decode())
            for sample in family.samples}


def test_metrics_of_the_workers_are_scraped(observed: Observed, client: Any, django_user_model: Any,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("prometheus", password="x")
    client.force_login(user)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(observed.metrics_dir))
    with override_settings(SELINON_DJANGO={**settings.SELINON_DJANGO, "PROMETHEUS": True}):
        assert client.get("/metrics/").status_code == 403  # needs view_flowrun
    user.user_permissions.add(Permission.objects.get(codename="view_flowrun"))
    samples = _samples(observed, client, monkeypatch)

    def value(name: str, **labels: str) -> float:
        return samples.get((name, frozenset(labels.items())), 0.0)

    assert value("selinon_node_runs_total", flow="chain5", node="T3", status="succeeded") == 1
    assert value("selinon_node_runs_total", flow="fanout", node="Item", status="succeeded") == 10
    assert value("selinon_node_runs_total", flow="failing", node="AlwaysFail", status="retried") == 1
    assert value("selinon_node_runs_total", flow="failing", node="AlwaysFail", status="failed") == 1
    assert value("selinon_node_runs_total", flow="retries", node="Flaky", status="retried") == 1
    assert value("selinon_node_runs_total", flow="child", node="Stored", status="succeeded") == 1
    for flow in ("parent", "child", "chain5", "fanout", "retries"):
        assert value("selinon_flow_runs_total", flow=flow, status="succeeded") == 1, flow
    assert value("selinon_flow_runs_total", flow="failing", status="failed") == 1
    assert value("selinon_flow_run_duration_seconds_count", flow="chain5", status="succeeded") == 1
    assert value("selinon_node_duration_seconds_count", flow="fanout", node="Item", status="succeeded") == 10
    assert value("selinon_node_queue_wait_seconds_count", flow="fanout", node="Item", queue="selinon_tasks") == 10
    # the child's first step ran on the dispatcher worker
    assert value("selinon_dispatcher_steps_total", flow="child") >= 1
    assert value("selinon_flow_runs_started_total", flow="child") == 1
