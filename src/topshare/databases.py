"""SQL databases as sources: a PostgreSQL table or query, a SQLite file, a DuckDB file.

The table (or the ``--query``) becomes the Ibis table of a :class:`DatabaseSource` on that
database's own Ibis backend, so that the one scan (typing, classifying and summing every row per
customer) runs *in the database*. Only its result, one row per customer (or per customer,
period and segment value), travels to topshare's embedded DuckDB, where the small queries
(ranking, units, rejection counts) run exactly as for files.

Read-only by construction: PostgreSQL sessions run with ``default_transaction_read_only`` on
(every statement, the query included, is a READ ONLY transaction); SQLite files are opened with
``mode=ro``; DuckDB files are attached ``READ_ONLY``. A query is embedded as a subquery, so it is
one SELECT (or WITH ... SELECT, VALUES, TABLE) statement. Nothing is ever written to the
database, not even a temporary table.

Credentials come from the URL, the environment (``PGPASSWORD``, ``PGUSER``, ``PGHOST``...) or a
``.pgpass`` file, all read by libpq itself; a password is never echoed (:func:`mask`).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types
import pyarrow as pa
from ibis.common.exceptions import TableNotFound

from topshare import textrules
from topshare.columns import Roles
from topshare.engine import AMOUNT_PATTERNS
from topshare.errors import InputError, UsageError, first_line
from topshare.sources import FILE_COL, ROW_COL, Source

_SCHEMES = {
    "postgresql": "postgres",
    "postgres": "postgres",
    "sqlite": "sqlite",
    "duckdb": "duckdb",
}
_EXTENSIONS = {".sqlite": "sqlite", ".sqlite3": "sqlite", ".db3": "sqlite", ".duckdb": "duckdb"}
_SQLITE_MAGIC = b"SQLite format 3\x00"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")
_ids = itertools.count(1)


@dataclass(frozen=True)
class DatabaseInput:
    """A database to analyse: a URL or a file, and a table name or a query (one of them)."""

    location: str
    table: str | None = None
    query: str | None = None


def looks_like_database(location: object) -> bool:
    """A database URL, or a file that is a SQLite or DuckDB database (by name or content)."""
    if not isinstance(location, (str, os.PathLike)):
        return False
    text = os.fspath(location)
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme in _SCHEMES:
        return True
    return _file_kind(text) is not None


def _file_kind(path: str) -> str | None:
    ext = os.path.splitext(path)[1].lower()
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return _EXTENSIONS.get(ext)
    if head.startswith(_SQLITE_MAGIC):
        return "sqlite"
    if head[8:12] == b"DUCK":
        return "duckdb"
    return _EXTENSIONS.get(ext) if not head else None


def mask(text: str) -> str:
    """A URL with its password (in the user part or a ``password=`` parameter) as ``***``."""
    if "://" not in text or not _secrets(text):
        return text
    parts = urlsplit(text)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            netloc = f"{userinfo.split(':', 1)[0]}:***@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "***" if k.lower() == "password" else v) for k, v in pairs])
        query = query.replace("%2A%2A%2A", "***")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _secrets(text: str) -> list[str]:
    """The password of a URL, as written and decoded (to scrub it from any message)."""
    if "://" not in text:
        return []
    parts = urlsplit(text)
    found = [parts.password] if parts.password else []
    found += [v for k, v in parse_qsl(parts.query) if k.lower() == "password" and v]
    return [s for p in found for s in {p, unquote(p)} if s]


@dataclass
class DatabaseSource(Source):
    """A table or query of a database, as a :class:`~topshare.sources.Source`."""

    kind: str = "duckdb"
    relation: str = ""  # how rows are named in examples: the table, or "query"
    backend: Any = None  # the database's own Ibis backend
    base: Any = None  # the table or query as an Ibis table (the user's columns)
    key: str | None = None  # an integer key naming rows in examples (else: row numbers)
    _close: list[Any] = field(default_factory=list)
    malformed_text: str = "the row could not be read"

    @property
    def table(self) -> Any:
        return self.base.mutate(**{FILE_COL: ibis.literal(self.relation)})

    def numbered(self, file: str) -> Any:
        """The rows with their key (an integer primary key or SQLite's rowid) or their row
        number (1-based, in the order the database returns them) as the "line"."""
        if self.key is not None:
            rows = self._keyed()
            return rows.mutate(**{FILE_COL: ibis.literal(self.relation)})
        number = (ibis.row_number() + 1).cast("int64")
        return self.table.mutate(**{ROW_COL: number})

    def _keyed(self) -> Any:
        assert self.key is not None
        if self.kind == "sqlite":
            name = self.relation
            sql = f"SELECT *, rowid AS {ROW_COL} FROM {_quote_ident(name)}"
            schema = ibis.schema({**self.base.schema(), ROW_COL: dt.int64})
            return self.backend.sql(sql, schema=schema)
        return self.base.mutate(**{ROW_COL: self.base[self.key].cast("int64")})

    def malformed(self) -> list[tuple[str, int, str, str]]:
        return []  # a database row always has every column

    def check_roles(self, roles: Roles, opts: dict[str, Any]) -> None:
        """Options a database's own engine cannot honour: one clear line. Text amounts and
        dates follow the DuckDB rules everywhere (:mod:`topshare.textrules`)."""
        if self.kind == "duckdb":
            return  # the same engine as for files: every option works
        if opts.get("date_format"):
            raise UsageError(
                f"--date-format is not available on {_LABEL[self.kind]}: text dates are read "
                "as ISO dates (YYYY-MM-DD[ HH:MM[:SS]][offset]); convert others in --query"
            )

    def close(self) -> None:
        while self._close:
            fn = self._close.pop()
            with contextlib.suppress(Exception):  # best effort: the analysis is already done
                fn()


_LABEL = {"postgres": "PostgreSQL", "sqlite": "SQLite", "duckdb": "DuckDB"}


def open_database(con: Any, source: DatabaseInput, tz: str = "UTC") -> DatabaseSource:
    """Open the table or query of ``source`` on its own backend (``con`` is topshare's DuckDB,
    where the per-customer totals are kept)."""
    if (source.table is None) == (source.query is None):
        what = "both" if source.table is not None else "neither"
        raise UsageError(
            f"{mask(source.location)}: a database source needs --table NAME or --query SQL "
            f"(got {what})"
        )
    if source.table is not None and not _IDENT.match(source.table):
        raise UsageError(
            f"--table {source.table!r}: expected a table name, optionally with its schema "
            "(orders, sales.orders)"
        )
    kind, target = _locate(source.location)
    secrets = _secrets(source.location)
    try:
        if kind == "postgres":
            return _open_postgres(con, source, target, tz)
        if kind == "sqlite":
            return _open_sqlite(con, source, target, tz)
        return _open_duckdb(con, source, target)
    except (UsageError, InputError):
        raise
    except Exception as exc:
        first = first_line(exc)
        for s in secrets:
            first = first.replace(s, "***")
        raise InputError(f"{mask(source.location)}: {first}") from None


def _locate(location: str) -> tuple[str, str]:
    """(kind, target): the libpq URL for PostgreSQL, the file path otherwise."""
    if "://" in location:
        scheme, rest = location.split("://", 1)
        kind = _SCHEMES.get(scheme.lower())
        if kind is None:
            raise UsageError(f"{mask(location)}: unknown database URL scheme {scheme!r}")
        if kind == "postgres":
            return kind, location
        if not rest.startswith("/") or len(rest) < 2:
            raise UsageError(
                f"{location}: expected {scheme}:///relative/path or {scheme}:////absolute/path"
            )
        return kind, unquote(rest[1:].split("?", 1)[0])
    kind_of_file = _file_kind(location)
    if kind_of_file is None:
        raise UsageError(f"{location}: not a SQLite or DuckDB database file")
    return kind_of_file, location


def _check_file(path: str) -> None:
    if not os.path.exists(path):
        raise InputError(f"{path}: no such database file")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory, not a database file")


def _missing(package: str, extra: str) -> UsageError:
    return UsageError(
        f"{package} sources need the {package.lower()} extra: pip install 'topshare[{extra}]'"
    )


def _open_postgres(con: Any, source: DatabaseInput, url: str, tz: str) -> DatabaseSource:
    try:
        import psycopg
        from ibis.backends.postgres import Backend as PostgresBackend
    except ImportError:
        raise _missing("PostgreSQL", "postgres") from None
    # libpq reads the password from the URL, PGPASSWORD or the .pgpass file itself; every
    # statement of this session is a READ ONLY transaction.
    raw = psycopg.connect(url, autocommit=True, options="-c default_transaction_read_only=on")
    backend = PostgresBackend.from_connection(raw)
    src = _make(con, source, "postgres", backend)
    src._close.append(raw.close)
    raw.execute("SELECT set_config('TimeZone', %s, false)", (tz,))
    if source.query is not None:
        query = _strip(source.query)
        src.base = backend.sql(query, schema=_pg_query_schema(raw, backend, query))
    else:
        table = _table(backend, source.table)
        src.base = table
        src.key = _pg_integer_key(raw, source.table or "")
    return _finish(src)


def _pg_query_schema(raw: Any, backend: Any, query: str) -> Any:
    """The query's columns and types, from a LIMIT 0 run (Ibis would create a view: the
    session is read-only)."""
    cur = raw.execute(f"SELECT * FROM ({query}) AS q LIMIT 0")
    cols = [(d.name, d.type_code, d._fmod) for d in cur.description or []]
    if len({c[0] for c in cols}) != len(cols):
        raise UsageError("--query: two result columns have the same name; give them aliases")
    mapper = backend.compiler.type_mapper
    schema = {}
    for name, oid, mod in cols:
        row = raw.execute("SELECT format_type(%s, %s)", (oid, mod)).fetchone()
        schema[name] = mapper.from_string(row[0] if row else "text")
    return ibis.schema(schema)


def _pg_integer_key(raw: Any, table: str) -> str | None:
    """The table's primary key when it is one integer column (it names rows in examples)."""
    rows = raw.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_index i "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indrelid = to_regclass(%s) AND i.indisprimary",
        (table,),
    ).fetchall()
    if len(rows) == 1 and rows[0][1] in ("integer", "bigint", "smallint"):
        return str(rows[0][0])
    return None


def _open_sqlite(con: Any, source: DatabaseInput, path: str, tz: str) -> DatabaseSource:
    try:
        import sqlite3

        from ibis.backends.sqlite import Backend as SQLiteBackend
    except ImportError:
        raise _missing("SQLite", "sqlite") from None
    _check_file(path)
    uri = "file:" + path.replace("?", "%3f").replace("#", "%23") + "?mode=ro"
    raw = sqlite3.connect(uri, uri=True, check_same_thread=False)
    textrules.register(raw, tz, AMOUNT_PATTERNS)  # text amounts and dates: the DuckDB rules
    backend = _sqlite_backend(SQLiteBackend).from_connection(raw)
    src = _make(con, source, "sqlite", backend)
    src._close.append(raw.close)
    if source.query is not None:
        src.base = backend.sql(_strip(source.query))
    else:
        src.base = _table(backend, source.table)
        try:
            raw.execute(f"SELECT rowid FROM {_quote_ident(source.table or '')} LIMIT 0")
            src.key = "rowid"
        except sqlite3.Error:  # WITHOUT ROWID tables and views: row numbers
            src.key = None
    return _finish(src)


def _sqlite_backend(base: Any) -> Any:
    """Ibis' SQLite backend, fetching tables straight into Arrow: its own fetch goes through
    pandas, which turns an integer column with NULLs into floats (inexact beyond 2**53)."""

    class SQLite(base):  # type: ignore[misc]
        def to_pyarrow(self, expr: Any, /, **kwargs: Any) -> Any:
            if not isinstance(expr, ibis.expr.types.Table) or any(kwargs.values()):
                return super().to_pyarrow(expr, **kwargs)
            schema = expr.schema()
            rows = self.con.execute(str(self.compile(expr))).fetchall()
            columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema.names]
            arrays = [_arrow(list(c), t) for c, t in zip(columns, schema.types, strict=True)]
            return pa.table(arrays, names=list(schema.names))

    return SQLite


def _arrow(values: list[Any], typ: Any) -> Any:
    """One fetched SQLite column as an Arrow array of the expression's type."""
    if typ.is_integer():
        return pa.array(values, pa.int64()).cast(typ.to_pyarrow())
    if typ.is_floating():
        return pa.array(values, pa.float64())
    if typ.is_boolean():
        return pa.array([None if v is None else bool(v) for v in values], pa.bool_())
    if typ.is_timestamp() or typ.is_date():
        text = pa.array([None if v is None else str(v) for v in values], pa.string())
        return text.cast(pa.timestamp("us")) if typ.is_timestamp() else text.cast(pa.date32())
    return pa.array([None if v is None else str(v) for v in values], pa.string())


def _open_duckdb(con: Any, source: DatabaseInput, path: str) -> DatabaseSource:
    """A DuckDB file is attached read-only to topshare's own connection: the same engine."""
    _check_file(path)
    alias = f"__topshare_db_{next(_ids)}"
    raw = con.con
    escaped = path.replace("'", "''")
    raw.execute(f"ATTACH '{escaped}' AS {alias} (READ_ONLY)")
    src = _make(con, source, "duckdb", con)

    def detach() -> None:
        raw.execute("USE memory")
        raw.execute(f"DETACH {alias}")

    src._close.append(detach)
    raw.execute(f"USE {alias}")  # unqualified names in a query are the file's tables
    if source.query is not None:
        src.base = con.sql(_strip(source.query))
    else:
        src.base = _table(con, source.table, catalog=alias)
    return _finish(src)


def _make(con: Any, source: DatabaseInput, kind: str, backend: Any) -> DatabaseSource:
    relation = source.table if source.table is not None else "query"
    shown = mask(source.location)
    return DatabaseSource(
        con=con,
        paths=[shown],
        files=[relation],
        format=kind,
        columns={},
        header=True,
        kind=kind,
        relation=relation,
        backend=backend,
    )


def _finish(src: DatabaseSource) -> DatabaseSource:
    schema = src.base.schema()
    src.columns = dict(schema.items())
    if not src.columns:
        raise InputError(f"{src.relation}: no columns found")
    if src.key is not None and src.key not in src.columns and src.kind != "sqlite":
        src.key = None
    return src


def _table(backend: Any, name: str | None, catalog: str | None = None) -> Any:
    assert name is not None
    schema, _, table = name.rpartition(".")
    try:
        if catalog is not None:
            return backend.table(table, database=(catalog, schema or "main"))
        return backend.table(table, database=schema or None)
    except Exception as exc:
        missing = isinstance(exc, TableNotFound) or "not found" in str(exc).lower()
        if missing or "does not exist" in str(exc).lower():
            listed = _list_tables(backend, catalog)
            hint = f" (tables: {', '.join(listed[:20])})" if listed else ""
            raise InputError(f"--table {name!r}: no such table{hint}") from None
        raise


def _list_tables(backend: Any, catalog: str | None) -> list[str]:
    try:  # a DuckDB file is the current catalog (USE): its tables are listed plainly
        return sorted(backend.list_tables())
    except Exception:
        return []


def _strip(query: str) -> str:
    """The query without trailing semicolons and space (it is embedded as a subquery)."""
    text = query.strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    if not text:
        raise UsageError("--query is empty")
    return text


def _quote_ident(name: str) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


def as_database(source: object, table: str | None, query: str | None) -> DatabaseInput | None:
    """``source`` as a database input when it is one (or when a table or query is given)."""
    if isinstance(source, DatabaseInput):
        return source
    if isinstance(source, (list, tuple)) and len(source) == 1:
        source = source[0]
    if table is None and query is None and not looks_like_database(source):
        return None
    if not isinstance(source, (str, os.PathLike)):
        items = list(source) if isinstance(source, (list, tuple)) else []
        if len(items) != 1 or not isinstance(items[0], (str, os.PathLike)):
            raise UsageError("--table and --query read one database: give one URL or file")
        source = items[0]
    assert isinstance(source, (str, os.PathLike))
    return DatabaseInput(os.fspath(source), table, query)
