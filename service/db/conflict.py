"""Conflict-safe bulk inserts for Postgres and SQLite (one statement per batch), and the bulk
"column among these values" condition of the reads that go with them.

On Postgres the rows travel with every column as one binary array parameter, or, when the caller asks
for it (narrow rows written often: a chunk's judgments and verdicts), as ONE JSON parameter rebuilt
server-side by ``json_to_recordset`` (``service.db.json_rows``: the cheapest for the client): ``INSERT INTO t (...) SELECT ... FROM unnest(%(c0)b::type[], ...)
ON CONFLICT ...``. Either is one statement and one server-side execution per batch, whatever its size; the plain
``session.execute(insert, rows)`` path makes psycopg 3 send one execution per row (a 200-item
chunk's writes took about half the time this way). SQLite keeps the plain path. All store the
same values (``json_rows`` says where its form differs), with SQLAlchemy's ORM semantics: a None goes to the column's Python default if it has
one (else NULL), and a None in a JSON column is JSON ``null``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from sqlalchemy import JSON, Boolean, Float, Integer, any_, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ClauseElement

from service.db import json_codec, json_rows

_PG = postgresql.dialect()
SQLITE_IN_BATCH = 900


def _insert_for(session: Session, model: type):
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise RuntimeError(f"unsupported database dialect {dialect!r}")


def insert_ignoring_conflicts(session: Session, model: type, rows: Sequence[dict[str, Any]], keys: Sequence[str],
                              rows_as_json: bool = False) -> None:
    """Insert rows; rows whose ``keys`` already exist are left as they are (``rows_as_json``: see ``upsert``)."""
    if not rows:
        return
    if _is_postgres(session) and _unnest_insert(session, model, rows, keys, None, None, rows_as_json) is not None:
        return
    statement = _insert_for(session, model).on_conflict_do_nothing(index_elements=list(keys))
    session.execute(statement, list(rows))


def upsert(
    session: Session, model: type, rows: Sequence[dict[str, Any]], keys: Sequence[str], update: Sequence[str],
    where: Any = None, rows_as_json: bool = False,
) -> int | None:
    """Insert rows, or update the ``update`` columns of existing rows (only those matching ``where``).

    Returns how many rows were inserted or updated when the database says so in one count
    (Postgres), else None. ``rows_as_json``: on Postgres, send plain rows as one JSON parameter
    (``service.db.json_rows``), for narrow rows written often; rows with large JSON values (items'
    payloads) are cheaper as arrays.
    """
    if not rows:
        return 0
    if _is_postgres(session):
        written = _unnest_insert(session, model, rows, keys, list(update), where, rows_as_json)
        if written is not None:
            return written
    statement = _insert_for(session, model)
    statement = statement.on_conflict_do_update(
        index_elements=list(keys), set_={col: statement.excluded[col] for col in update}, where=where
    )
    session.execute(statement, list(rows))
    return None


def among(session: Session, column, values: Sequence[Any]) -> list[ClauseElement]:
    """Conditions "``column`` is one of ``values``": one ``= ANY(array)`` on Postgres (one parameter,
    however many values), ``IN`` lists of at most SQLITE_IN_BATCH values on SQLite; none for no values.

    Run the query once per condition and combine the results.
    """
    values = list(values)
    if not values:
        return []
    if _is_postgres(session):
        return [column == any_(bindparam(None, values, type_=postgresql.ARRAY(column.type)))]
    return [column.in_(values[start:start + SQLITE_IN_BATCH]) for start in range(0, len(values), SQLITE_IN_BATCH)]


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# ---------------------------------------------------------------- the Postgres array form


@dataclass(frozen=True)
class _Column:
    """How one column's values become one array parameter."""

    name: str
    convert: Callable[[Any], Any] | None  # per non-None value, unless every value's type is in ``accepts``
    accepts: frozenset
    json_null: Any  # JSON columns: what a None becomes (JSON null, or NULL if the type says so)
    default: Any  # the column's Python default (a ColumnDefault): what a None becomes otherwise
    server_default_only: bool  # a None would need the server default: left to the plain path


_STATEMENTS: dict[tuple, tuple[str, list[_Column], json_rows.RowsStatement]] = {}


def _unnest_insert(session: Session, model: type, rows: Sequence[dict[str, Any]], keys: Sequence[str],
                   update: list[str] | None, where: ClauseElement | None, rows_as_json: bool = False) -> int | None:
    """The Postgres form: one array per column, ``unnest`` server-side, one execution.

    Returns the number of rows inserted or updated, or None (nothing done) for rows it does not
    take: rows with different columns, or a None for a column that only has a server default.
    """
    first = rows[0].keys()
    if any(row.keys() != first for row in rows):
        return None
    table = model.__table__
    given = list(first)
    missing = [c.name for c in table.columns if c.name not in first and c.default is not None
               and not getattr(c.default, "is_sequence", False)]
    where_sql = None if where is None else _where_sql(where)
    signature = (table.name, tuple(given), tuple(missing), tuple(keys), None if update is None else tuple(update),
                 where_sql)
    if signature not in _STATEMENTS:
        sql, columns = _statement(table, given + missing, keys, update, where_sql)
        _STATEMENTS[signature] = sql, columns, json_rows.statement(table, given, missing, sql[sql.index(" ON CONFLICT"):])
    sql, columns, rows_form = _STATEMENTS[signature]
    rows_params = json_rows.parameters(rows_form, rows) if rows_as_json else None
    if rows_params is not None:
        return session.connection().exec_driver_sql(rows_form.sql, rows_params).rowcount
    params: dict[str, list] = {}
    for index, column in enumerate(columns):
        if index < len(given):
            values = [row[column.name] for row in rows]
        else:  # a column the rows leave out: its Python default, as SQLAlchemy applies it
            values = [None] * len(rows)
        params[f"c{index}"] = values = _converted(column, values)
        if values and column.server_default_only and None in values:
            return None
    return session.connection().exec_driver_sql(sql, params).rowcount


_WHERE_SQL: dict[int, tuple[ClauseElement, str]] = {}


def _where_sql(where: ClauseElement) -> str:
    """The literal SQL of an upsert's condition, compiled once per condition object (callers keep theirs)."""
    known = _WHERE_SQL.get(id(where))
    if known is None or known[0] is not where:
        known = where, str(where.compile(dialect=_PG, compile_kwargs={"literal_binds": True}))
        if len(_WHERE_SQL) < 256:  # conditions built per call are compiled each time, not collected here
            _WHERE_SQL[id(where)] = known
    return known[1]


def _converted(column: _Column, values: list) -> list:
    if column.convert is json_codec.dumps:
        dumps = json_codec.dumps
        return [column.json_null if v is None else dumps(v) for v in values]
    if column.convert is not None and not set(map(type, values)) <= column.accepts:
        values = [None if v is None else column.convert(v) for v in values]
    if column.default is not None and None in values:
        fill = column.default.arg(None) if column.default.is_callable else column.default.arg
        values = [fill if v is None else v for v in values]
    return values


def _statement(table, columns: list[str], keys: Sequence[str], update: list[str] | None,
               where: str | None) -> tuple[str, list[_Column]]:
    quote = _PG.identifier_preparer.quote
    arrays, selected, specs = [], [], []
    for index, name in enumerate(columns):
        column = table.columns[name]
        column_type = column.type.dialect_impl(_PG)
        type_sql = column_type.compile(dialect=_PG)
        if isinstance(column_type, JSON):  # as text, cast per element
            arrays.append(f"%(c{index})b::text[]")
            selected.append(f"t.{quote(name)}::{type_sql}")
            null = None if getattr(column_type, "none_as_null", False) else "null"
            specs.append(_Column(name, json_codec.dumps, frozenset(), null, None, False))
            continue
        arrays.append(f"%(c{index})b::{type_sql}[]")
        selected.append(f"t.{quote(name)}")
        convert = next((python for kind, python in ((Boolean, bool), (Float, float), (Integer, int))
                        if isinstance(column_type, kind)), None)
        has_default = column.default is not None and not getattr(column.default, "is_sequence", False)
        specs.append(_Column(name, convert, frozenset({convert, type(None)}), None,
                             column.default if has_default else None,
                             column.server_default is not None and not has_default))
    names = ", ".join(quote(name) for name in columns)
    sql = (f"INSERT INTO {quote(table.name)} ({names}) SELECT {', '.join(selected)} "
           f"FROM unnest({', '.join(arrays)}) AS t({names}) "
           f"ON CONFLICT ({', '.join(quote(k) for k in keys)}) ")
    if update:
        assignments = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in update)
        sql += f"DO UPDATE SET {assignments}" + (f" WHERE {where}" if where else "")
    else:
        sql += "DO NOTHING"
    return sql, specs
