"""The node runs of one node name in a flow run: a foreach's instances, a retried node's tries.

The graph shows one node per name, so a group has one combined status: the most "alive" one
while anything of its latest try runs, else the worst outcome of that try.
"""

from __future__ import annotations

from dataclasses import dataclass

from selinon_django.admin.statuses import combined_status
from selinon_django.graph import STATE_COLOURS
from selinon_django.models import NodeRun

#: names with at most this many instances show every instance's details on the page; bigger
#: groups list their instances a page at a time (each links to its node-run page)
DETAILED_INSTANCES = 5


@dataclass
class NodeGroup:
    """All node runs of one node name in a flow run (every try), in creation order."""

    name: str
    kind: str
    runs: list[NodeRun]
    index: int
    #: the try the group's newest instances belong to (its status is theirs)
    latest_try: int = 1

    @property
    def current(self) -> list[NodeRun]:
        return [run for run in self.runs if getattr(run, "try_number", 1) == self.latest_try] or self.runs

    @property
    def status(self) -> str:
        return combined_status([run.status for run in self.current])

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for run in self.runs:
            counts[run.status] = counts.get(run.status, 0) + 1
        return dict(sorted(counts.items()))

    @property
    def counts_text(self) -> str:
        return ", ".join(f"{count} {status}" for status, count in self.counts.items())

    @property
    def colour(self) -> str:
        return STATE_COLOURS.get(self.status, "#999999")

    @property
    def svg_id(self) -> str:
        return svg_id(self.index)

    @property
    def detailed(self) -> bool:
        """Every instance's details are on the page (few instances)."""
        return len(self.runs) <= DETAILED_INSTANCES

    @property
    def labels_differ(self) -> bool:
        return len({getattr(run, "args_text", None) for run in self.runs}) > 1


def svg_id(index: int) -> str:
    return f"selinon_node_{index}"
