"""Writing many new rows of one table at the database's pace, without the ORM.

``insert_rows`` takes the rows an ORM multi-row insert would (``session.execute(insert(Model),
rows)``: dicts keyed by the model's attribute names) and writes them with the database's own
bulk path: one ``COPY ... FROM STDIN`` on PostgreSQL, one ``executemany`` of the table's
insert (compiled from the model) on SQLite. Why: the ORM's insert costs tens of
microseconds a row in Python (parameter processing, its unit of work), more than the
database takes to store the row; an import of a million accounts spends most of its time
there.

Values are bound as SQLAlchemy binds them (each column type's bind processor: UTC moments,
JSON through the engine's serializer), so the rows read back exactly as the ORM's would.
The rows join the session's transaction (and its savepoint): a unique index that refuses
one row fails the whole statement with an ``IntegrityError``, as the ORM's insert does.

Straight into each table, not through a staging table and ``INSERT ... SELECT``: the rows
arrive checked and admitted by the services' rules (computed in Python, their one home),
so the database has nothing left to decide; a staging table would copy every row twice.
What only the database can see (a concurrent writer taking an e-mail between our read and
our write) fails the statement, and the import's ``apply_batch`` retries row by row.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ARRAY,
    JSON,
    Column,
    ColumnElement,
    any_,
    bindparam,
    insert,
    inspect,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session


def insert_rows(session: Session, model: type[Any], rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (keyed by ``model``'s attribute names, all with the same keys)."""
    if not rows:
        return
    session.flush()  # what the ORM holds pending goes first, as its own insert would
    connection = session.connection()
    dialect = connection.dialect
    mapper = inspect(model)
    keys = list(rows[0])
    columns: list[Column[Any]] = [mapper.columns[key] for key in keys]
    processors = [column.type.dialect_impl(dialect).bind_processor(dialect) for column in columns]
    bound: list[tuple[int, Callable[[Any], Any]]] = [
        (i, p) for i, p in enumerate(processors) if p is not None
    ]

    # A batch repeats its moments (``now``) and names on every row: each distinct value of
    # a column is bound once. JSON documents (dicts, lists) are bound every time.
    seen: list[dict[Any, Any]] = [{} for _ in bound]

    json_columns = {i for i, _ in bound if isinstance(columns[i].type, JSON)}

    def values(row: Mapping[str, Any]) -> list[Any]:
        out = [row[key] for key in keys]
        for (i, process), memo in zip(bound, seen, strict=True):
            value = out[i]
            if isinstance(value, dict | list):
                out[i] = _flat_json(value) if i in json_columns and _flat(value) else process(value)
            elif value in memo:
                out[i] = memo[value]
            else:
                out[i] = memo[value] = process(value)
        return out

    table = mapper.local_table
    if dialect.name == "postgresql":
        quote = dialect.identifier_preparer.quote
        names = ", ".join(quote(column.name) for column in columns)
        sql = f"COPY {quote(table.name)} ({names}) FROM STDIN"
        cursor: Any = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            with cursor, cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(values(row))
        except dialect.dbapi.IntegrityError as exc:  # type: ignore[union-attr]
            # The driver's own error, wrapped as SQLAlchemy wraps a statement's, so callers
            # that retry a batch row by row (``apply_batch``, the auto-settle job)
            # recognise a constraint the batch broke.
            raise IntegrityError(sql, None, exc) from exc
        return
    statement = insert(table).compile(dialect=dialect, column_keys=[c.key for c in columns])
    position = {column.key: i for i, column in enumerate(columns)}
    order = [position[name] for name in statement.positiontup or ()]
    connection.exec_driver_sql(
        str(statement), [tuple(v[i] for i in order) for v in map(values, rows)]
    )


_FLAT_TYPES = (str, int, bool, type(None))
# The standard library's encoder, in C: for a flat document of text, whole numbers, flags
# and nulls it writes exactly what ``jsonio.dumps`` (simplejson) writes, three times faster.
_flat_json = json.JSONEncoder().encode


def _flat(document: dict[str, Any] | list[Any]) -> bool:
    """A dict of text keys whose values are text, whole numbers, flags or null (the details
    and audit fields of new accounts); anything else (decimals, nesting) goes to the engine's
    serializer."""
    return type(document) is dict and all(
        type(k) is str and type(v) in _FLAT_TYPES for k, v in document.items()
    )


def among(
    session: Session, column: InstrumentedAttribute[Any], values: Sequence[Any]
) -> ColumnElement[bool]:
    """``column IN (values)`` for a batch's lookup. On PostgreSQL the values go as one array
    (``= ANY(%s)``): psycopg neither rewrites nor the server plans a statement of a
    thousand parameters for each slice, and the statement is the same whatever the count."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


def probe_indexes(session: Session) -> None:
    """Have PostgreSQL look a batch's keys up in their indexes, for this transaction.

    It estimates a lookup of a thousand keys at a thousand rows and, on a table of a
    hundred thousand, prefers to scan the whole table (30 ms) over probing its index a
    thousand times (a few ms); an import's table grows by every batch, so each lookup
    would read it all again. Every lookup of a batch is by an indexed key.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL enable_seqscan = off"))
