"""``manage.py selinon_prune --older-than DAYS``: delete finished runs, in batches.

Only top-level runs that *finished* before the cut-off are deleted (their sub-flow runs, node
runs and trace rows go with them through the foreign keys), so running flows are never touched.
Each batch is its own short transaction, so the command can run while workers are busy. The
outcomes the runs left in Celery's result backend (``AsyncResult(run_id)``) go after each batch.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from selinon_django.management.options import bounded_number, positive_int

#: the largest --older-than: a thousand years (a cut-off before year 1 cannot be computed)
MAX_DAYS = 365_250.0


class Command(BaseCommand):
    help = "Delete top-level flow runs that finished more than DAYS days ago (with their sub-flows, nodes, traces)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", type=bounded_number(MAX_DAYS), required=True, metavar="DAYS",
                            help=f"days since the runs finished (0 to {MAX_DAYS:g})")
        parser.add_argument("--batch-size", type=positive_int, default=500)
        parser.add_argument("--dry-run", action="store_true", help="only count what would be deleted")

    def handle(self, *args: Any, **options: Any) -> None:
        from selinon_django.models import FlowRun
        from selinon_django.models.outbox import OutboxMessage
        from selinon_django.runtime.results import forget_outcomes

        cutoff = timezone.now() - timedelta(days=options["older_than"])
        candidates = FlowRun.objects.roots().finished().filter(finished_at__lt=cutoff)
        if options["dry_run"]:
            self.stdout.write(f"would delete {candidates.count()} flow run(s) finished before {cutoff:%Y-%m-%d %H:%M}")
            return
        total = 0
        while True:
            ids = list(candidates.order_by("finished_at").values_list("pk", flat=True)[: options["batch_size"]])
            if not ids:
                break
            with transaction.atomic():
                # the whole tree of each run: sub-flow rows point at their root
                subflows = list(FlowRun.objects.filter(root_run_id__in=ids).values_list("pk", flat=True))
                FlowRun.objects.filter(root_run_id__in=ids).delete()
                FlowRun.objects.filter(pk__in=ids).delete()
            forget_outcomes([*ids, *subflows])  # after the commit: a failed batch keeps its outcomes
            total += len(ids)
        OutboxMessage.objects.filter(published_at__isnull=False, created_at__lt=cutoff).delete()
        self.stdout.write(f"deleted {total} flow run(s) finished before {cutoff:%Y-%m-%d %H:%M}")
