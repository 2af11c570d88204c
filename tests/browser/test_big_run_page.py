"""A person reading a big run: a foreach of 1,000 tasks and nested sub-flows, built straight in the
database (no workers: what is tested is the page). Zoom and pan the graph, open a node's details
from the graph, open the foreach's timeline row into its instances, sort, search, follow the tree
to a nested run with every ancestor in the breadcrumbs, see skipped nodes, watch live updates that
carry only what changed, and read the run's history after a retry.

Waits are on the page's own state, never fixed sleeps.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.db.models.functions import Now
from django.utils import timezone

from selinon_django.models import FlowRun, NodeRun, RunAttempt
from tests.browser.conftest import shot
from tests.browser.test_admin_browser import DEMO_FLOWS, DEMO_NODES, keep_for_docs

VERIFY = 1000
FAILED = 8
RUNNING = 20
QUEUED = 12


def _state(finished: dict[str, list[str]], active: list[tuple[str, str]] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    return {"active_nodes": [{"name": n, "id": i} for n, i in active], "finished_nodes": finished,
            "failed_nodes": {}, "waiting_edges": [], "triggered_edges": []}


def build_big_run(revision: Any, *, user: Any) -> tuple[Any, list[Any]]:
    """A running ``feature_foreach`` run: ListFiles, 5 ``analyze_file`` sub-flow runs (whose
    CountLines was skipped by its condition) and ``VerifySignature`` x1000 (most succeeded, some
    failed, some running or queued). Returns the run and its sub-flow runs."""
    now = timezone.now()
    t0 = now - timedelta(seconds=30)
    run = FlowRun.objects.create(
        id=str(uuid.uuid4()), flow_name="feature_foreach", revision=revision, status="running",
        node_args={"ecosystem": "pypi", "name": "django", "version": "5.2"}, created_at=t0,
        started_at=t0 + timedelta(milliseconds=20), created_by=user,
    )
    list_files = NodeRun.objects.create(
        id=str(uuid.uuid4()), flow_run=run, name="ListFiles", status="succeeded", node_args=run.node_args,
        created_at=t0 + timedelta(milliseconds=30), sent_at=t0 + timedelta(milliseconds=30),
        started_at=t0 + timedelta(milliseconds=100), finished_at=t0 + timedelta(milliseconds=800), attempts=1,
        worker="celery@worker-1", result={"files": [f"src/file{i}.py" for i in range(5)]},
    )
    children = []
    for i in range(5):
        child_id = str(uuid.uuid4())
        begin = t0 + timedelta(seconds=1 + i * 0.3)
        NodeRun.objects.create(
            id=child_id, flow_run=run, name="analyze_file", kind="flow", status="succeeded",
            node_args={"path": f"src/file{i}.py"}, created_at=begin, sent_at=begin,
            started_at=begin + timedelta(milliseconds=50), finished_at=begin + timedelta(seconds=2), attempts=1,
        )
        child = FlowRun.objects.create(
            id=child_id, flow_name="analyze_file", revision=revision, status="succeeded", parent_run=run,
            root_run=run, parent_node_id=child_id, node_args={"path": f"src/file{i}.py"}, created_at=begin,
            started_at=begin + timedelta(milliseconds=50), finished_at=begin + timedelta(seconds=2),
        )
        analyse, detect = str(uuid.uuid4()), str(uuid.uuid4())
        for node_id, name, offset in ((analyse, "AnalyzeFile", 0.1), (detect, "DetectLanguage", 0.9)):
            NodeRun.objects.create(
                id=node_id, flow_run=child, name=name, status="succeeded", node_args=child.node_args,
                created_at=begin + timedelta(seconds=offset), sent_at=begin + timedelta(seconds=offset),
                started_at=begin + timedelta(seconds=offset + 0.05),
                finished_at=begin + timedelta(seconds=offset + 0.7),
                attempts=1, worker="celery@worker-2", result={"kind": "test"},
            )
        FlowRun.objects.filter(pk=child.pk).update(
            state=_state({"AnalyzeFile": [analyse], "DetectLanguage": [detect]}), state_version=3
        )
        children.append(child)
    rows = []
    for i in range(VERIFY):
        begin = t0 + timedelta(seconds=1 + 25 * i / VERIFY)
        if i >= VERIFY - QUEUED:
            status, started, finished = "sent", None, None
        elif i >= VERIFY - QUEUED - RUNNING:
            status, started, finished = "started", begin + timedelta(milliseconds=200), None
        else:
            status = "failed" if i % 97 == 5 and i // 97 < FAILED else "succeeded"
            started = begin + timedelta(milliseconds=150)
            finished = started + timedelta(milliseconds=200 + (i * 37) % 900)
        rows.append(NodeRun(
            id=str(uuid.uuid4()), flow_run=run, name="VerifySignature", status=status, node_args=run.node_args,
            created_at=begin, sent_at=begin, started_at=started, finished_at=finished, attempts=1 if started else 0,
            worker="celery@worker-1" if started else "",
            exception=f"SignatureError: round {i}: bad signature" if status == "failed" else "",
        ))
    NodeRun.objects.bulk_create(rows, batch_size=500)
    active = [("VerifySignature", row.id) for row in rows if row.status in ("sent", "started")]
    FlowRun.objects.filter(pk=run.pk).update(
        state=_state({"ListFiles": [list_files.id], "analyze_file": [c.pk for c in children]}, active),
        state_version=7,
    )
    # as if written a while ago (rows written in the last second before a page is read come again
    # in its first live answer, see admin.runlive)
    ids = [run.pk, *(child.pk for child in children)]
    NodeRun.objects.filter(flow_run_id__in=ids).update(updated_at=now - timedelta(seconds=5))
    FlowRun.objects.filter(pk__in=ids).update(updated_at=now - timedelta(seconds=5))
    return FlowRun.objects.get(pk=run.pk), children


def open_run(page: Any, run_id: str) -> None:
    page.goto(f"/admin/selinon_django/flowrun/{run_id}/change/")
    page.wait_for_selector("#selinon-run")
    page.evaluate("window.selinonNoReload = true")


def test_a_big_run_page(page: Any, load_flows: Any, admin_user: Any) -> None:
    revision = load_flows(DEMO_NODES, DEMO_FLOWS)
    run, children = build_big_run(revision, user=admin_user)
    open_run(page, run.pk)

    # one group and one timeline row for the foreach, with its counts; nothing left out silently
    group = page.locator('details.selinon-group[data-node="VerifySignature"]')
    assert f"\u00d7{VERIFY}:" in group.inner_text()
    row = page.locator('details.selinon-timeline-group[data-node="VerifySignature"]')
    assert row.count() == 1 and "p95" in row.inner_text()
    assert "more node runs" not in page.content()
    keep_for_docs(shot(page, "big-run"), "run-big.png")

    # zoom and pan the graph; "fit" goes back
    page.click('button[data-zoom="in"]')
    page.click('button[data-zoom="in"]')
    assert float(page.get_attribute("#selinon-graph svg", "data-zoom")) > 1.5
    before = page.get_attribute("#selinon-graph svg", "viewBox")
    box = page.locator("#selinon-graph").bounding_box()
    page.mouse.move(box["x"] + 40, box["y"] + 40)
    page.mouse.down()
    page.mouse.move(box["x"] + 140, box["y"] + 90, steps=5)
    page.mouse.up()
    assert page.get_attribute("#selinon-graph svg", "viewBox") != before
    page.click('button[data-zoom="fit"]')
    assert page.get_attribute("#selinon-graph svg", "data-zoom") == "1.00"

    # a node of the graph opens its details: the foreach's instances, a page at a time
    page.locator("#selinon-part-graph g.node", has_text="VerifySignature").locator("a").first.click()
    page.wait_for_selector('details.selinon-group[data-node="VerifySignature"][open] tr.selinon-instance')
    assert group.locator("tr.selinon-instance").count() == 50
    assert f"1\u201350 of {VERIFY}" in group.inner_text()
    group.locator('a.selinon-filter[data-status="failed"]').click()
    page.wait_for_function(
        """(n) => document.querySelectorAll('details.selinon-group[data-node="VerifySignature"] tr.selinon-instance')
                   .length === n""", arg=FAILED)
    assert "bad signature" in group.inner_text()

    # the timeline row opens into its instances (200 at a time, labelled), sorted longest first
    page.select_option(".selinon-timeline-sort", "longest")
    row.locator("summary").click()
    page.wait_for_selector('details.selinon-timeline-group[data-node="VerifySignature"] .selinon-timeline-instance')
    assert row.locator(".selinon-timeline-instance").count() == 200
    assert f"of {VERIFY}, longest first" in row.inner_text()
    row.locator("a.selinon-page-link").click()
    page.wait_for_function(
        """() => document.querySelectorAll('details.selinon-timeline-group[data-node="VerifySignature"]'
                   + ' .selinon-timeline-instance').length === 400""")
    widths = row.locator(".selinon-timeline-instance .selinon-bar").evaluate_all(
        "bars => bars.slice(0, 20).map(b => parseFloat(b.style.width))")
    assert widths == sorted(widths, reverse=True), widths  # longest first, laid out on the run's span
    assert row.locator(".selinon-timeline-instance .selinon-timeline-label").first.inner_text().startswith("#")
    page.evaluate("document.getElementById('selinon-part-timeline').scrollIntoView()")
    keep_for_docs(shot(page, "big-run-timeline"), "run-big-timeline.png")

    # search within the run (and its sub-flow runs)
    page.fill("#selinon-search-q", "src/file3.py")
    page.click("#selinon-search button")
    page.wait_for_selector("#selinon-search-results tr.selinon-instance")
    results = page.inner_text("#selinon-search-results")
    assert "analyze_file" in results and "AnalyzeFile" in results  # the node and the nested run's nodes

    # the run tree lists the nested runs; one of them has every ancestor in its breadcrumbs and a
    # node its condition skipped
    tree = page.locator("#selinon-part-tree")
    assert tree.locator(".selinon-tree-run").count() == 1 + len(children)
    tree.locator('li[data-node="analyze_file"] > details > summary').click()  # 5 sub-flow runs: folded
    tree.locator(f'a[href$="/{children[3].pk}/change/"]').click()
    page.wait_for_selector("#selinon-run")
    crumbs = page.inner_text(".breadcrumbs")
    assert "feature_foreach" in crumbs and crumbs.strip().endswith("analyze_file")
    assert page.get_attribute('.selinon-not-run [data-node="CountLines"]', "data-verdict") == "skipped"
    skipped_fill = page.evaluate(
        """() => { const g = [...document.querySelectorAll('#selinon-part-graph g.node')]
                     .find(n => n.textContent.includes('CountLines'));
                   return g.querySelector('polygon, ellipse, path').getAttribute('fill'); }""")
    assert skipped_fill == "#f2c4de"
    shot(page, "big-run-nested")


def test_live_updates_carry_only_what_changed(page: Any, load_flows: Any, admin_user: Any) -> None:
    revision = load_flows(DEMO_NODES, DEMO_FLOWS)
    run, _ = build_big_run(revision, user=admin_user)
    open_run(page, run.pk)
    sizes: list[int] = []
    page.on("response", lambda response: sizes.append(len(response.body())) if "/live/" in response.url else None)
    group = page.locator('details.selinon-group[data-node="VerifySignature"]')
    before = group.inner_text()

    # three running instances finish (stamped by the database as they are written, as a worker's
    # statement does: a time taken in Python earlier could fall behind the page's next cursor)
    running = list(NodeRun.objects.filter(flow_run=run, status="started").values_list("id", flat=True)[:3])
    NodeRun.objects.filter(pk__in=running).update(status="succeeded", finished_at=Now(), updated_at=Now())
    FlowRun.objects.filter(pk=run.pk).update(state_version=8, updated_at=Now())
    now = timezone.now()
    page.wait_for_function(
        """(text) => document.querySelector('details.selinon-group[data-node="VerifySignature"] summary')
                        .textContent.includes(text)""", arg=f"{RUNNING - 3} started",
        timeout=60_000)  # polls once a second; a loaded machine may take a while to render
    assert group.inner_text() != before
    assert page.evaluate("window.selinonNoReload") is True, "the page was reloaded"
    assert sizes and max(sizes) < 20_000, sizes  # deltas, not the page (0.7 MB before)

    # the run ends: one last answer brings every part, the page stops polling
    NodeRun.objects.filter(flow_run=run, status__in=("started", "sent")).update(
        status="succeeded", started_at=now, finished_at=now, updated_at=now)
    FlowRun.objects.filter(pk=run.pk).update(status="succeeded", finished_at=now, updated_at=now)
    page.wait_for_function("() => document.getElementById('selinon-run').dataset.finished === 'true'")
    assert group.get_attribute("data-status") != "started"
    assert page.locator("#selinon-part-summary .selinon-live").count() == 0


def test_a_retried_run_keeps_its_tries_and_who_retried(page: Any, load_flows: Any, admin_user: Any,
                                                       monkeypatch: Any) -> None:
    revision = load_flows(DEMO_NODES, DEMO_FLOWS)
    now = timezone.now()
    run = FlowRun.objects.create(
        id=str(uuid.uuid4()), flow_name="feature_foreach", revision=revision, status="failed", node_args={},
        created_at=now - timedelta(minutes=5), started_at=now - timedelta(minutes=5),
        finished_at=now - timedelta(minutes=4), error="flow failed (failed_nodes): ['ListFiles']",
        created_by=admin_user,
    )
    NodeRun.objects.create(id=str(uuid.uuid4()), flow_run=run, name="ListFiles", status="failed",
                           exception="ConnectionError: mirror unreachable", created_at=now - timedelta(minutes=5))
    # retry_flow's effect on the rows, without workers: the try is kept, the run goes on
    monkeypatch.setattr("selinon_django.runtime.api.retry_flow", lambda run_id: (
        RunAttempt.ended(FlowRun.objects.get(pk=run_id), RunAttempt.Cause.RETRY, timezone.now()).save(),
        FlowRun.objects.filter(pk=run_id).update(status="succeeded", error="", finished_at=timezone.now()),
        NodeRun.objects.create(id=str(uuid.uuid4()), flow_run_id=run_id, name="ListFiles", status="succeeded"),
    ))
    open_run(page, run.pk)
    page.click('a[data-action="retry-from-the-failure"]')
    page.click("#selinon-confirm")
    page.wait_for_selector("#selinon-run")
    tries = page.locator("table.selinon-tries tr.selinon-try")
    assert tries.count() == 2
    assert tries.nth(0).get_attribute("data-status") == "failed" and "mirror unreachable" in tries.nth(0).inner_text()
    assert tries.nth(1).get_attribute("data-status") == "succeeded"
    assert f"by {admin_user.username} via admin" in page.inner_text(".selinon-actions-log")
    page.locator("#selinon-part-history").scroll_into_view_if_needed()
    keep_for_docs(shot(page, "run-history"), "run-history.png")
