"""App config: registers the system checks."""
from django.apps import AppConfig


class SelinonDjangoConfig(AppConfig):
    name = "selinon_django"
    verbose_name = "Selinon flows"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from selinon_django import checks  # noqa: F401  (registers the checks)
