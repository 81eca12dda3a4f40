"""Cursor pagination for time-ordered lists: stable pages while new rows arrive."""

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connections
from django.utils import timezone
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination


class TimeCursorPagination(CursorPagination):
    """Orders by the view's `cursor_ordering` (newest first, id as tie-breaker)."""

    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = ("-created_at", "-id")

    def get_ordering(self, request, queryset, view):
        return tuple(getattr(view, "cursor_ordering", self.ordering))

    def get_page_size(self, request) -> int:
        # DRF falls back to the default size on a bad value: a client asking for
        # `page_size=false` would get a page it did not ask for without knowing it.
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= self.max_page_size):
            raise ValidationError(
                {self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size}."]}
            )
        return int(raw)

    def paginate_queryset(self, queryset, request, view=None):
        self._queryset = queryset  # decode_cursor checks the position against its ordering column
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request) -> Cursor | None:
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            self._check_position(cursor.position)
        return cursor

    def _check_position(self, position: str) -> None:
        # DRF filters on the cursor's position as it comes: a crafted one (`p=garbage`, a
        # naive time, a time past year 9999 in UTC on SQLite) would fail in the query as a
        # 500. A position this paginator did not write is an invalid cursor, as DRF answers
        # for a cursor it cannot decode.
        field = self._queryset.model._meta.get_field(self.ordering[0].lstrip("-"))
        try:
            value = field.to_python(position)
            if isinstance(value, datetime) and timezone.is_naive(value):
                raise ValueError("naive time")
            field.get_db_prep_value(value, connections[self._queryset.db])
        except (DjangoValidationError, ValueError, OverflowError) as error:
            raise NotFound(self.invalid_cursor_message) from error

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

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] |= {"minimum": 1, "maximum": self.max_page_size}
        return parameters
