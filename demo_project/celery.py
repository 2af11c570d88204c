"""The demo project's Celery application, configured from Django settings (``CELERY_*``).

The runtime's two tasks (the dispatcher and the task envelope) live in
``selinon_django.runtime.celery_tasks``; they are registered with the other tasks of the
installed apps.
"""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_project.settings")

app = Celery("demo_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["selinon_django.runtime"], related_name="celery_tasks")
app.autodiscover_tasks(["selinon_django.triggers"], related_name="celery_tasks")
