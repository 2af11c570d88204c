"""App config of the demo project (it holds the demo tasks)."""
from django.apps import AppConfig


class DemoProjectConfig(AppConfig):
    name = "demo_project"
    default_auto_field = "django.db.models.BigAutoField"
