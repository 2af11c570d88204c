"""The demo project's Celery app for the duplicate-delivery test: every message published twice.

``celery -A tests.integration.publish_twice worker`` runs the demo project's app, and once Django
is set up (``worker_init`` in the main process, ``worker_process_init`` in each pool child) the
outbox publishes every message twice. Production code reads no switch for this: the test picks
this module instead of ``demo_project``.
"""
from __future__ import annotations

import logging
import os
from typing import Any

from celery.signals import worker_init, worker_process_init

from demo_project.celery import app

__all__ = ["app"]

#: what each worker process logs once it publishes twice (the test checks the worker logs)
ANNOUNCEMENT = "outbox publishes every message twice"


@worker_init.connect
@worker_process_init.connect
def _publish_every_message_twice(**_: Any) -> None:
    # imported here: the outbox imports models, which need the Django setup Celery's fixup does
    # while the worker starts, after this module was imported
    from selinon_django.runtime import outbox

    outbox.set_publish_copies(2)
    logging.getLogger(__name__).warning("%s (pid %d)", ANNOUNCEMENT, os.getpid())
