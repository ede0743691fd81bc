"""Model instances from a hand-written WHERE, for the inbound path's hottest reads.

Building a query through the ORM costs about three times running it (0.4 ms to compile
a filter on the conversations, 0.14 ms to run it and read the rows, on this machine),
and a webhook batch made a handful of them. Here the SELECT list, the table and each
column's converters are worked out once per model; the caller gives the WHERE clause
(its values as parameters, see `comptoir.core.bulk.in_list`) and gets the same
instances the ORM would have built, with the same conversions (`from_db_value`, the
backend's), every concrete column loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from django.db import connection, models

from comptoir.core.bulk import convert, in_list, keys_in

M = TypeVar("M", bound=models.Model)
Converter = Callable[[Any, Any, Any], Any]


@dataclass(frozen=True)
class _Shape:
    table: str
    select: str
    attnames: list[str]
    converters: list[tuple[int, list[Converter], Any]]  # (position, converters, column)


@lru_cache(maxsize=64)
def _shape(model: type[models.Model], vendor: str, only: tuple[str, ...] = ()) -> _Shape:
    """Every concrete column of the model, or the key and the fields in `only`."""
    meta = model._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    fields = list(meta.concrete_fields)
    if only:
        named = {meta.get_field(name) for name in only}
        fields = [f for f in fields if f.primary_key or f in named]
    converters = []
    for position, field in enumerate(fields):
        column = field.get_col(meta.db_table)
        found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if found:
            converters.append((position, found, column))
    return _Shape(
        table=table,
        select=", ".join(f"{table}.{quote(str(field.column))}" for field in fields),
        attnames=[field.attname for field in fields],
        converters=converters,
    )


def param(model: type[models.Model], name: str, value: Any) -> Any:
    """A value of this column (attribute name, e.g. `contact_id`) as the database takes
    it in a hand-written query: a UUID is 32 hex digits on SQLite, itself on PostgreSQL."""
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)
    return convert(field, value)


def rows_where(
    model: type[models.Model],
    columns: str,
    where: str,
    params: Sequence[Any],
    *,
    lock: bool = False,
    limit: int | None = None,
) -> list[tuple[Any, ...]]:
    """`SELECT columns FROM model's table WHERE where [LIMIT limit]`, locked (FOR UPDATE,
    where the database has it) when `lock`; the rows as the driver gives them."""
    table = connection.ops.quote_name(model._meta.db_table)
    sql = f"SELECT {columns} FROM {table} WHERE {where}"  # noqa: S608 (names from the model)
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    if lock and connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return cursor.fetchall()


def select_each(
    model: type[models.Model],
    columns: str,
    where: str,
    params: Sequence[Any],
    column: str,
    values: Sequence[Any],
) -> tuple[str, list[Any]]:
    """`SELECT columns FROM model's table WHERE where AND column IN values`, as SQL and its
    parameters, to run or to nest.

    On PostgreSQL each value is looked up on its own, by a LATERAL subquery over them
    (`OFFSET 0` keeps the planner from turning it into a join): given them as one list,
    or joined to them, the planner reads every row matching `where` through the index
    and filters them whenever its statistics take those rows for a handful. A channel too
    new for its statistics: 200 receipts read 37,000 index pages after 30,000 messages.
    A value given twice is looked up once.
    """
    values = list(dict.fromkeys(values))
    table = connection.ops.quote_name(model._meta.db_table)
    if connection.vendor == "postgresql":
        sql = (
            "SELECT found.* FROM unnest(%s::text[]) AS wanted(value) CROSS JOIN LATERAL "  # noqa: S608
            f"(SELECT {columns} FROM {table} WHERE {where} AND {column} = wanted.value "
            "OFFSET 0) AS found"
        )
        return sql, [list(values), *params]
    by_value, value_params = in_list(column, values)
    return f"SELECT {columns} FROM {table} WHERE {where} AND {by_value}", [  # noqa: S608
        *params,
        *value_params,
    ]


def rows_each(
    model: type[models.Model],
    columns: str,
    where: str,
    params: Sequence[Any],
    column: str,
    values: Sequence[Any],
) -> list[tuple[Any, ...]]:
    """The rows `select_each` selects, as the driver gives them."""
    sql, all_params = select_each(model, columns, where, params, column, values)
    with connection.cursor() as cursor:
        cursor.execute(sql, all_params)
        return cursor.fetchall()


def update_keys(
    model: type[models.Model],
    keys: Sequence[str],
    sets: str,
    values: Sequence[Any],
    where: str = "",
) -> int:
    """`UPDATE model's table SET sets WHERE [where AND] id IN keys`, the ids as
    `comptoir.core.bulk.uuid_keys` gives them; `values` are the parameters of `sets`, then
    those of `where`. Returns how many rows changed."""
    table = connection.ops.quote_name(model._meta.db_table)
    by_key, key_params = keys_in("id", keys)
    condition = f"{where} AND {by_key}" if where else by_key
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {sets} WHERE {condition}", [*values, *key_params])  # noqa: S608
        return int(cursor.rowcount)


def objects_where(
    model: type[M],
    where: str,
    params: Sequence[Any],
    *,
    order_by: str = "",
    lock: bool = False,
    only: Sequence[str] = (),
) -> list[M]:
    """`SELECT every column FROM model's table WHERE where [ORDER BY order_by]`, locked
    (FOR UPDATE, where the database has it) when `lock`; as model instances. With `only`
    (field names), as `.only(*only)` gives them: the key and those, the rest deferred."""
    shape = _shape(model, connection.vendor, tuple(only))
    sql = f"SELECT {shape.select} FROM {shape.table} WHERE {where}"  # noqa: S608
    if order_by:
        sql += f" ORDER BY {order_by}"
    if lock and connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        rows = cursor.fetchall()
    found = []
    for row in rows:
        if shape.converters:
            row = list(row)
            for position, converters, column in shape.converters:
                value = row[position]
                for convert in converters:
                    value = convert(value, column, connection)
                row[position] = value
        found.append(model.from_db(connection.alias, shape.attnames, row))
    return found
