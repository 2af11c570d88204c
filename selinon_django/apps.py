"""App config: registers the system checks."""
from django.apps import AppConfig


class SelinonDjangoConfig(AppConfig):
    name = "selinon_django"
    verbose_name = "Selinon flows"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from selinon_django import checks  # noqa: F401  (registers the checks)

        # Register the dispatcher and task envelope with Celery (shared tasks), so a project's
        # workers find them without listing this app in autodiscover_tasks.
        from selinon_django.runtime import celery_tasks  # noqa: F401
        from selinon_django.triggers import celery_tasks as trigger_tasks  # noqa: F401
