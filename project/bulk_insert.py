"""Multi-row INSERTs for the bulk writes of the ingest path, at a fraction of bulk_create's CPU.

`bulk_create` compiles every value through the SQL compiler (an expression check, a placeholder
and a parameter list per value): ~65 µs of CPU per detection row, the largest part of a bulk
post. This converts each value as bulk_create does (the field's `pre_save`, then its
`get_db_prep_save`), so the stored rows are the same, and writes the statement text once per
batch.
"""

from collections.abc import Sequence

from django.db import connections, router
from django.db.models import AutoField, BigAutoField, Model, SmallAutoField


def bulk_insert(objs: Sequence[Model]) -> None:
    """Insert new instances of one model with an auto-increment key in as few INSERTs as the
    database's parameter limit allows, and set their primary keys (in order, as bulk_create does)."""
    if not objs:
        return
    model = type(objs[0])
    opts = model._meta
    connection = connections[router.db_for_write(model)]
    if not isinstance(opts.pk, AutoField | BigAutoField | SmallAutoField) or opts.parents:
        raise TypeError(f"bulk_insert needs a model with an auto-increment key and no parent: {model}")
    if not connection.features.can_return_rows_from_bulk_insert:
        model._default_manager.bulk_create(objs)  # SQLite before 3.35: no RETURNING
        return
    fields = [f for f in opts.concrete_fields if f is not opts.pk and not f.generated]
    prepare = [(f.pre_save, f.get_db_prep_save) for f in fields]
    quote = connection.ops.quote_name
    head = f"INSERT INTO {quote(opts.db_table)} ({', '.join(quote(f.column) for f in fields)}) VALUES "
    row = f"({', '.join(['%s'] * len(fields))})"
    returning = f" RETURNING {quote(opts.pk.column)}"
    size = max(connection.ops.bulk_batch_size(fields, objs), 1)
    with connection.cursor() as cursor:
        for start in range(0, len(objs), size):
            batch = objs[start : start + size]
            params = [prep(pre(obj, True), connection) for obj in batch for pre, prep in prepare]
            cursor.execute(head + ", ".join([row] * len(batch)) + returning, params)
            for obj, (pk,) in zip(batch, cursor.fetchall(), strict=True):
                obj.pk = pk
                obj._state.adding = False
                obj._state.db = connection.alias
