"""Multi-row INSERTs for the bulk writes of the ingest path on SQLite, at a fraction of bulk_create's CPU.

On SQLite, `bulk_create` compiles every value through the SQL compiler (an expression check, a
placeholder and a parameter list per value): ~65 µs of CPU per detection row, the largest part
of a bulk post. This converts each value as bulk_create does (the field's `get_db_prep_save`),
once per distinct value of a column (the rows of one post repeat their camera, type and time),
and writes the statement text once per batch. On PostgreSQL bulk_create already sends one array
per column (UNNEST) and binding every value here measured 25 % more CPU per post: it is used there.
"""

from collections.abc import Sequence
from datetime import datetime

from django.db import connections, router
from django.db.models import AutoField, BigAutoField, Model, SmallAutoField

# Values whose conversion can be remembered: hashable, and equal only when they convert alike
# (the type is part of the key: 1, 1.0 and True are equal in Python).
REMEMBERED = {type(None), bool, int, float, str, datetime}


def bulk_insert(objs: Sequence[Model]) -> None:
    """Insert new instances of one model with an auto-increment key and set their primary keys
    (in order, as bulk_create does): on SQLite in as few INSERTs as its parameter limit allows,
    elsewhere with bulk_create.

    On SQLite, `auto_now`/`auto_now_add` columns take one time for all the rows, as one
    statement's DEFAULT now() would.
    """
    if not objs:
        return
    model = type(objs[0])
    opts = model._meta
    connection = connections[router.db_for_write(model)]
    if not isinstance(opts.pk, AutoField | BigAutoField | SmallAutoField) or opts.parents:
        raise TypeError(f"bulk_insert needs a model with an auto-increment key and no parent: {model}")
    if connection.vendor != "sqlite" or not connection.features.can_return_rows_from_bulk_insert:
        # PostgreSQL: see above. SQLite before 3.35 has no RETURNING.
        model._default_manager.bulk_create(objs)
        return
    fields = [f for f in opts.concrete_fields if f is not opts.pk and not f.generated]
    for field in fields:
        if _stamped(field):
            now = field.pre_save(objs[0], True)
            for obj in objs[1:]:
                setattr(obj, field.attname, now)
    columns = [_Column(field, connection) for field in fields]
    quote = connection.ops.quote_name
    head = f"INSERT INTO {quote(opts.db_table)} ({', '.join(quote(f.column) for f in fields)}) VALUES "
    row = f"({', '.join(['%s'] * len(fields))})"
    returning = f" RETURNING {quote(opts.pk.column)}"
    size = max(connection.ops.bulk_batch_size(fields, objs), 1)
    with connection.cursor() as cursor:
        for start in range(0, len(objs), size):
            batch = objs[start : start + size]
            params = [column.value(obj) for obj in batch for column in columns]
            cursor.execute(head + ", ".join([row] * len(batch)) + returning, params)
            for obj, (pk,) in zip(batch, cursor.fetchall(), strict=True):
                obj.pk = pk
                obj._state.adding = False
                obj._state.db = connection.alias


class _Column:
    """One column's values as the database takes them."""

    def __init__(self, field, connection) -> None:
        self.field = field
        self.connection = connection
        self.stamped = _stamped(field)
        self.converted: dict[tuple, object] = {}

    def value(self, obj: Model):
        # pre_save, as bulk_create: a FileField stores an uncommitted upload here.
        value = getattr(obj, self.field.attname) if self.stamped else self.field.pre_save(obj, True)
        if type(value) not in REMEMBERED:
            return self.field.get_db_prep_save(value, self.connection)
        key = (type(value), value)
        if key not in self.converted:
            self.converted[key] = self.field.get_db_prep_save(value, self.connection)
        return self.converted[key]


def _stamped(field) -> bool:
    """A column that pre_save fills with the time of the insert."""
    return getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
