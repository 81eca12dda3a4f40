"""Cursor pagination for time-ordered lists: stable pages while new rows arrive."""

from rest_framework.pagination import CursorPagination


class TimeCursorPagination(CursorPagination):
    """Orders by the view's `cursor_ordering` (newest first, id as tie-breaker)."""

    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = ("-created_at", "-id")

    def get_ordering(self, request, queryset, view):
        return tuple(getattr(view, "cursor_ordering", self.ordering))
