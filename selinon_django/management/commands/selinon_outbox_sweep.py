"""``manage.py selinon_outbox_sweep``: one sweep of the runtime's safety net (workers do it too)."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from selinon_django.runtime.broker import BrokerProbe
from selinon_django.runtime.sweeper import sweep


class Command(BaseCommand):
    help = ("Publish lost outbox messages, wake runs whose wake-up is overdue, resend task and trigger-task "
            "messages the broker does not hold, run again tasks whose worker is gone.")

    def handle(self, *args: Any, **options: Any) -> None:
        probe = BrokerProbe()  # the broker is asked, as by the workers' sweeps
        try:
            report = sweep(probe)
        finally:
            probe.close()
        self.stdout.write(
            f"outbox: {report.outbox}, wake-ups: {report.wakeups}, task messages: {report.tasks}, "
            f"trigger tasks: {report.triggers}" + (" (the broker had lost its data)" if report.broker_lost else "")
        )
