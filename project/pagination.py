"""Cursor pagination for time-ordered lists: stable pages while new rows arrive."""

from datetime import timedelta

from rest_framework.pagination import Cursor, CursorPagination


class TimeCursorPagination(CursorPagination):
    """Orders by the view's `cursor_ordering` (newest first, id as tie-breaker)."""

    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = ("-created_at", "-id")

    def get_ordering(self, request, queryset, view):
        return tuple(getattr(view, "cursor_ordering", self.ordering))

    def encode_cursor(self, cursor: Cursor) -> str:
        first_field = self.ordering[0]
        if cursor.position is None and cursor.offset and not cursor.reverse and first_field.startswith("-"):
            # DRF filters `time < position` and then skips `offset` ties. A first page made
            # only of equal times has no such position, so DRF sends a bare OFFSET that rows
            # arriving meanwhile would shift; one microsecond above the ties is exact.
            newest = getattr(self.page[0], first_field[1:])
            cursor = Cursor(
                offset=cursor.offset, reverse=False, position=str(newest + timedelta(microseconds=1))
            )
        return super().encode_cursor(cursor)
