"""Settings of the workers of the quorum-queue tests: the demo settings, with every queue Celery
creates (the flows' queues, named in YAML) a RabbitMQ quorum queue.

The queues keep Celery's direct exchanges: with topic exchanges Celery sends a countdown through
RabbitMQ's native delayed delivery, which refuses the runtime's sub-second countdowns (celery
5.6.3: ``ValueError: countdown must be a positive number`` from ``int(0.1)``), so such messages
would reach the broker only through the outbox sweeper (README, "Deployment", RabbitMQ).
"""
from demo_project.settings import *  # noqa: F403

CELERY_TASK_CREATE_MISSING_QUEUE_TYPE = "quorum"
