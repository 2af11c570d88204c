"""Task logs in the admin: the panel of the run page and of the node-run page, and its live JSON.

Both panels are rendered on the server (they work without JavaScript, and a finished run needs no
polling); ``selinon_django/task_logs.js`` then asks the JSON view for the batches written after
the last one shown, about once a second while the run or node is unfinished, and appends them.
Nothing is left out silently: a panel that shows only the newest batches says how many older
ones it left out and where the whole log is (each node run's page; ``/api/node-runs/{id}/logs/``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils import timezone

from selinon_django.models import FlowRun, LogLine, NodeRun
from selinon_django.runtime.task_logs import LogPage, batches_of_node, batches_of_run, read_after, read_tail

#: batches a page shows (the newest ones; a batch is up to a few hundred lines)
RUN_PAGE_BATCHES = 100
NODE_PAGE_BATCHES = 500
#: batches one poll returns (the client asks again at once when there are more)
POLL_BATCHES = 100



@dataclass
class ShownLine:
    line: LogLine
    node_id: str
    node_name: str

    @property
    def time_text(self) -> str:
        return timezone.localtime(self.line.time).strftime("%H:%M:%S.%f")[:-3]

    def as_json(self) -> dict[str, Any]:
        return {
            "time": self.time_text, "level": self.line.level, "logger": self.line.logger,
            "message": self.line.message, "attempt": self.line.attempt, "node": self.node_name,
            "node_url": node_url(self.node_id),
        }


@dataclass
class LogPanel:
    """What a log panel shows: lines, the cursor to poll from, and what it left out."""

    lines: list[ShownLine]
    cursor: int
    live_url: str
    live: bool
    #: older batches not shown here
    hidden: int = 0
    #: the run page: lines name their node
    per_node: bool = False
    api_url: str = ""
    notes: list[str] = field(default_factory=list)


def node_url(node_id: str) -> str:
    return reverse("admin:selinon_django_noderun_change", args=[node_id])


def _shown(page: LogPage) -> list[ShownLine]:
    node_ids = {batch.node_run_id for batch, _ in page.lines}
    names = dict(NodeRun.objects.filter(pk__in=node_ids).values_list("id", "name")) if node_ids else {}
    return [ShownLine(line, batch.node_run_id, names.get(batch.node_run_id, "?")) for batch, line in page.lines]


def run_panel(run: FlowRun) -> LogPanel:
    page, hidden = read_tail(batches_of_run(run.pk), RUN_PAGE_BATCHES)
    return LogPanel(
        lines=_shown(page), cursor=page.cursor, hidden=hidden, per_node=True, live=not run.is_finished,
        live_url=reverse("admin:selinon_django_noderun_run_logs", args=[run.pk]),
    )


def node_panel(node: NodeRun) -> LogPanel:
    page, hidden = read_tail(batches_of_node(node.pk), NODE_PAGE_BATCHES)
    return LogPanel(
        lines=_shown(page), cursor=page.cursor, hidden=hidden, live=not _node_finished(node),
        live_url=reverse("admin:selinon_django_noderun_logs", args=[node.pk]),
        api_url=reverse("selinon-node-run-logs-list", kwargs={"node_run_id": node.pk}),
    )


def _node_finished(node: NodeRun) -> bool:
    # a sub-flow node has no log of its own
    return node.is_finished or node.kind == NodeRun.Kind.FLOW


def _cursor(request: HttpRequest) -> int:
    after = request.GET.get("after", "0")
    return int(after) if after.isascii() and after.isdigit() and len(after) <= 18 else 0


def _page_json(page: LogPage, finished: bool) -> JsonResponse:
    return JsonResponse({
        "lines": [shown.as_json() for shown in _shown(page)],
        "cursor": page.cursor,
        "more": page.more,
        "finished": finished,
    })


def run_logs_json(request: HttpRequest, run: FlowRun) -> JsonResponse:
    """The run's batches after ``?after=`` (its status is read first: a finished run's lines are all written)."""
    finished = run.is_finished
    return _page_json(read_after(batches_of_run(run.pk), _cursor(request), POLL_BATCHES), finished)


def node_logs_json(request: HttpRequest, node: NodeRun) -> JsonResponse:
    finished = _node_finished(node)
    return _page_json(read_after(batches_of_node(node.pk), _cursor(request), POLL_BATCHES), finished)

