"""``manage.py selinon_outbox_sweep``: one sweep of the runtime's safety net (workers do it too)."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Publish lost outbox messages, wake runs whose wake-up is overdue, resend task messages lost by the broker."

    def handle(self, *args: Any, **options: Any) -> None:
        from selinon_django.runtime.sweeper import sweep

        report = sweep()
        self.stdout.write(f"outbox: {report.outbox}, wake-ups: {report.wakeups}, task messages: {report.tasks}")
