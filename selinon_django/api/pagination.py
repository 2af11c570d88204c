"""Page-number pagination with a client-chosen page size (bounded, so one request stays cheap)."""
from __future__ import annotations

from rest_framework.pagination import PageNumberPagination


class SelinonPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
