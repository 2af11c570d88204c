"""Settings of the observability test's own workers: the demo settings with OpenTelemetry and
Prometheus on, Celery's task-sent events on, and small batches (a foreach of 10 goes as messages
of 2, so batched nodes are seen)."""
from demo_project.settings import *  # noqa: F403
from demo_project.settings import SELINON_DJANGO as _DEMO

SELINON_DJANGO = {**_DEMO, "OPENTELEMETRY": True, "PROMETHEUS": True, "MESSAGES_PER_STEP_MIN": 4}
CELERY_TASK_SEND_SENT_EVENT = True
