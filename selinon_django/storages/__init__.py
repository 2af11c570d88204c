"""Storage adapters for task results and the per-process pool that hands them out."""
from selinon_django.storages.base import DataStorage, SelinonMissingDataException, StoredTaskError

__all__ = ["DataStorage", "SelinonMissingDataException", "StoredTaskError"]
