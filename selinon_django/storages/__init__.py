"""Storage adapters for task results and the per-process pool that hands them out.

Adapters needing a client library live in their own modules, imported only when a
configuration names them: ``s3`` (boto3, extra ``[s3]``), ``sql`` (SQLAlchemy, extra ``[sql]``),
``mongo`` (pymongo, extra ``[mongo]``), ``redis``, ``filesystem``, ``memory``, ``django_db``.
"""
from selinon_django.storages.base import DataStorage, SelinonMissingDataException, StorageError, StoredTaskError

__all__ = ["DataStorage", "SelinonMissingDataException", "StorageError", "StoredTaskError"]
