"""Task results kept by the Django-database storage (``selinon_django.storages.django_db``)."""

from __future__ import annotations

from django.db import models


class StoredResult(models.Model):
    """One task instance's result and/or error.

    ``has_result`` tells a stored ``None`` result apart from a row that only holds an error
    (a JSONField null=True keeps ``None`` as SQL NULL, so ``result`` alone cannot).
    ``task_name`` is the storage task name (``storage_task_name`` when configured).
    """

    flow_name = models.CharField(max_length=255)
    task_name = models.CharField(max_length=255)
    task_id = models.CharField(max_length=255, db_index=True)
    node_args = models.JSONField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    has_result = models.BooleanField(default=False)
    error = models.JSONField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "selinon_django"
        constraints = [
            models.UniqueConstraint(fields=["task_name", "task_id"], name="selinon_storedresult_task_unique"),
        ]
        verbose_name = "stored task result"

    def __str__(self) -> str:
        return f"{self.task_name} {self.task_id}"
