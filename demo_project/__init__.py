"""The demo project. Importing it loads the Celery app (the standard Django + Celery pattern),
so ``@shared_task`` and ``run_flow`` use this project's broker settings."""
from demo_project.celery import app as celery_app

__all__ = ("celery_app",)
