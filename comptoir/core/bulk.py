"""Fast multi-row writes for the hot paths (outbox, dispatcher, receipts).

Django's bulk_create prepares every value through every field's full conversion chain
and splits SQLite inserts at 999 parameters; on the send path that costs more than the
database itself. Here each column gets one cheap converter chosen once per call, and
the rows go in one `executemany` on SQLite (a prepared statement), one binary `COPY` on
PostgreSQL from COPY_MIN_ROWS rows (psycopg's C dumpers: a third of the time of an
INSERT of arrays, whose text psycopg builds in Python), else one INSERT of arrays.
Only for plain columns: the caller gives complete rows (no defaults are filled in).
"""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.db import connection, models, transaction
from django.db.models.fields import AutoFieldMixin
from psycopg.postgres import types as pg_types

Converter = Callable[[Any], Any]

# From this many rows a COPY beats one INSERT (below, its extra round trip costs more).
COPY_MIN_ROWS = 50


_HEX32 = re.compile(r"[0-9a-f]{32}")


def _uuid_hex(value: Any) -> Any:
    """A UUID as SQLite stores it (32 lowercase hex digits). Keys read back in that form
    (`key_of`) go through as they are: parsing each into a UUID cost more than the row."""
    if value is None:
        return None
    if type(value) is str and _HEX32.fullmatch(value):
        return value
    return (value if isinstance(value, uuid.UUID) else uuid.UUID(value)).hex


def _sqlite_datetime() -> Converter:
    """What Django's SQLite adapter stores (naive UTC text), without its per-value settings
    look-ups; a batch's rows mostly share one timestamp, converted once."""
    last: list[tuple[Any, Any]] = [(None, None)]

    def convert(value: Any) -> Any:
        seen, text = last[0]
        if value is seen:
            return text
        text = str(value.astimezone(dt.UTC).replace(tzinfo=None)) if value else value
        last[0] = (value, text)  # one tuple: a thread reading it sees a matching pair
        return text

    return convert


def _converter(field: models.Field[Any, Any]) -> Converter | None:
    target = field.target_field if isinstance(field, models.ForeignKey) else field
    if isinstance(target, models.UUIDField):
        if connection.features.has_native_uuid_field:
            return lambda v: v if v is None or isinstance(v, uuid.UUID) else uuid.UUID(v)
        return _uuid_hex
    if isinstance(target, models.DateTimeField):
        if connection.vendor == "sqlite":
            return _sqlite_datetime()
        return None  # psycopg adapts aware datetimes itself
    if isinstance(target, models.JSONField):
        return lambda v: target.get_db_prep_save(v, connection)
    return None


@dataclass(frozen=True)
class _InsertPlan:
    """What an INSERT of these columns needs, worked out once per model and columns."""

    fields: list[models.Field[Any, Any]]
    converted: list[tuple[int, Converter]]  # (position, converter) of the columns needing one
    sql: str  # SQLite: one row's statement, for executemany; PostgreSQL: the arrays' one


@lru_cache(maxsize=512)
def _insert_plan(
    model: type[models.Model], columns: tuple[str, ...], ignore_conflicts: bool, vendor: str
) -> _InsertPlan:
    meta = model._meta
    # get_field knows attribute names (`contact_id`) too; only concrete columns are allowed.
    fields = [_column(meta.get_field(name)) for name in columns]
    converted = [(i, conv) for i, conv in enumerate(map(_converter, fields)) if conv]
    quote = connection.ops.quote_name
    # Names come from the model and are quoted; every value is a parameter.
    head = "INSERT INTO {} ({}) ".format(
        quote(meta.db_table), ", ".join(quote(str(f.column)) for f in fields)
    )
    tail = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    if vendor == "postgresql":
        # One statement whatever the row count, each column sent as one array (a few
        # parameters to bind instead of thousands).
        casts = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
        sql = f"{head}SELECT * FROM unnest({casts}){tail}"  # noqa: S608
        return _InsertPlan(fields, converted, sql)
    # SQLite runs in-process: a prepared statement per row costs next to nothing.
    one_row = "VALUES ({})".format(", ".join(["%s"] * len(fields)))
    return _InsertPlan(fields, converted, head + one_row + tail)


def insert_rows(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    ignore_conflicts: bool = False,
) -> int:
    """INSERT rows given as tuples in `columns` order (attribute names, e.g. `contact_id`);
    returns how many went in.

    With `ignore_conflicts`, rows that break a unique constraint are skipped
    (ON CONFLICT DO NOTHING, on SQLite and PostgreSQL alike): the count says whether any
    was. Constraints, triggers and errors are the same whichever statement is used (a
    duplicate is an IntegrityError).
    """
    vendor = connection.vendor
    plan = _insert_plan(model, tuple(columns), ignore_conflicts, vendor)
    # Only the columns that need it are converted, column by column (rows are copied:
    # the caller's stay as given).
    params: list[Any] = [list(row) for row in rows] if plan.converted else list(rows)
    for i, conv in plan.converted:
        for row in params:
            row[i] = conv(row[i])
    if not params:
        return 0
    if vendor == "postgresql" and not ignore_conflicts and len(params) >= COPY_MIN_ROWS:
        _copy(model._meta.db_table, plan.fields, params)
        return len(params)
    with connection.cursor() as cursor:
        if vendor != "postgresql":
            with _one_transaction():
                cursor.executemany(plan.sql, params)
        else:
            cursor.execute(plan.sql, [list(column) for column in zip(*params, strict=True)])
        return int(cursor.rowcount)


def _copy(table: str, fields: Sequence[models.Field[Any, Any]], rows: list[Any]) -> None:
    """COPY rows into a PostgreSQL table: binary when every column's type is known."""
    quote = connection.ops.quote_name
    oids = [_type_oid(f) for f in fields]
    binary = all(oids)
    sql = "COPY {} ({}) FROM STDIN{}".format(
        quote(table),
        ", ".join(quote(str(f.column)) for f in fields),
        " (FORMAT BINARY)" if binary else "",
    )
    start = time.monotonic()
    # wrap_database_errors: a broken constraint is Django's IntegrityError, as with INSERT.
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(sql) as copy,
    ):
        if binary:
            copy.set_types(oids)
        for row in rows:
            copy.write_row(row)
    if connection.queries_logged:
        # Counted like any other statement (query-count tests, the debug toolbar).
        connection.queries_log.append(
            {"sql": f"{sql} -- {len(rows)} rows", "time": f"{time.monotonic() - start:.3f}"}
        )


def _type_oid(field: models.Field[Any, Any]) -> int | None:
    """The PostgreSQL type oid of a column (e.g. `varchar(24)` → varchar's), or None."""
    db_type = field.db_type(connection) or ""
    info = pg_types.get(db_type.split("(")[0].strip())
    return info.oid if info else None


def update_objects(objs: Sequence[models.Model], columns: Sequence[str]) -> None:
    """UPDATE these columns of saved instances, each row by its primary key, in one
    `executemany` (bulk_update builds a CASE per column and value: slower than the write)."""
    if not objs:
        return
    meta = type(objs[0])._meta
    fields = [_column(meta.get_field(name)) for name in columns]
    key = _column(meta.pk)
    converters = [_converter(f) for f in (*fields, key)]
    params = [
        [
            conv(v) if conv else v
            for conv, v in zip(
                converters, [getattr(o, f.attname) for f in (*fields, key)], strict=True
            )
        ]
        for o in objs
    ]
    quote = connection.ops.quote_name
    # Names come from the model and are quoted; every value is a parameter.
    sql = "UPDATE {} SET {} WHERE {} = %s".format(  # noqa: S608
        quote(meta.db_table),
        ", ".join(f"{quote(str(f.column))} = %s" for f in fields),
        quote(str(key.column)),
    )
    with connection.cursor() as cursor, _one_transaction():
        cursor.executemany(sql, params)


def _one_transaction() -> AbstractContextManager[Any]:
    """A transaction around an `executemany` when the caller has none: in autocommit each
    row would commit on its own (on SQLite, 200 transition rows took 5.9 ms instead of
    1.3; on PostgreSQL, a commit per row)."""
    if connection.get_autocommit():
        return transaction.atomic()
    return nullcontext()


def converter(field: models.Field[Any, Any]) -> Converter:
    """What turns values of this column into the database's form: chosen once, then
    applied to every value (looking it up per value costs more than the conversion)."""
    return _converter(field) or _same


def _same(value: Any) -> Any:
    return value


def convert(field: models.Field[Any, Any], value: Any) -> Any:
    """One value as the database takes it (for hand-written UPDATE … WHERE id = %s)."""
    return converter(field)(value)


def _column(field: object) -> models.Field[Any, Any]:
    if not isinstance(field, models.Field) or not field.concrete:
        raise TypeError(f"{field} is not a column")
    return field


def insert_objects(objs: Sequence[models.Model], *, ignore_conflicts: bool = False) -> int:
    """INSERT unsaved model instances, all of one model, every concrete column; returns
    how many went in (fewer than given when `ignore_conflicts` skipped some).

    Timestamps with auto_now / auto_now_add are filled in here, as save() would.
    """
    if not objs:
        return 0
    model = type(objs[0])
    # Auto-increment keys are left to the database.
    fields = [f for f in model._meta.concrete_fields if not isinstance(f, AutoFieldMixin)]
    now = dt.datetime.now(dt.UTC)
    stamped = [
        f.attname
        for f in fields
        if isinstance(f, models.DateTimeField) and (f.auto_now or f.auto_now_add)
    ]
    for obj in objs:
        for name in stamped:
            if getattr(obj, name) is None:
                setattr(obj, name, now)
    columns = [f.attname for f in fields]
    inserted = insert_rows(
        model,
        columns,
        ([getattr(obj, name) for name in columns] for obj in objs),
        ignore_conflicts=ignore_conflicts,
    )
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias
    return inserted


def in_list(column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    """`column IN (…)` for hand-written SQL: one array parameter on PostgreSQL (10,000
    placeholders cost psycopg more than the query), placeholders on SQLite."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(values)]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)


def uuid_keys(values: Iterable[uuid.UUID | str]) -> list[str]:
    """Each id as its 32 hex digits: the form SQLite stores, the form `keys_in` sends
    PostgreSQL and `key_of` reads back, so big id sets never become UUID objects."""
    return [v.hex if isinstance(v, uuid.UUID) else uuid.UUID(str(v)).hex for v in values]


def keys_in(column: str, keys: Sequence[str]) -> tuple[str, list[Any]]:
    """`column IN (…)` for a UUID column and ids from `uuid_keys`. On PostgreSQL the ids
    travel as one array literal the server parses itself: psycopg adapting 100,000 UUID
    objects one by one costs more than the query."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s::uuid[])", [uuid_array(keys)]
    return in_list(column, keys)


def uuid_array(keys: Sequence[str]) -> str:
    """Ids from `uuid_keys` as one PostgreSQL array literal, for `%s::uuid[]`."""
    return "{" + ",".join(keys) + "}"


def key_of(column: str) -> str:
    """A UUID column read back as its 32 hex digits (the keys of `uuid_keys`): strings
    hash and compare for a fraction of what building UUID objects from rows costs."""
    if connection.vendor == "postgresql":
        return f"replace({column}::text, '-', '')"
    return column
