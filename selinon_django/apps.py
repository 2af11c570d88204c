"""App config: registers the system checks, the Celery tasks and the worker's deployment report."""
from django.apps import AppConfig


class SelinonDjangoConfig(AppConfig):
    name = "selinon_django"
    verbose_name = "Selinon flows"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from celery.signals import worker_ready

        from selinon_django import checks, deployment_checks  # noqa: F401  (importing registers the checks)

        # Celery runs the system checks in a worker but drops what they say: the worker logs the
        # deployment warnings that concern it (DEBUG, connection reuse, SQLite) once it is ready.
        worker_ready.connect(deployment_checks.report_to_worker, weak=False, dispatch_uid=deployment_checks.__name__)

        # Register the dispatcher and task envelope with Celery (shared tasks), so a project's
        # workers find them without listing this app in autodiscover_tasks.
        from selinon_django.runtime import celery_tasks, scheduled, task_logs, worker_heartbeat  # noqa: F401
        from selinon_django.runtime.configs import current_config
        from selinon_django.storages.pool import StoragePool
        from selinon_django.triggers import celery_tasks as trigger_tasks  # noqa: F401

        # What tasks log is kept per node run (and streamed from a worker's own thread); a worker
        # answers the workers page's heartbeat question (worker_heartbeat, connected on import).
        task_logs.install()

        # Selinon's class-level StoragePool calls outside a task use the current revision.
        StoragePool.set_current_config_source(current_config)

        # OpenTelemetry and Prometheus when their settings are on (nothing is imported otherwise).
        from selinon_django import observability

        observability.configure()
