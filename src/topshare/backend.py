"""The embedded DuckDB engine behind Ibis.

Ibis 12.0's DuckDB backend still calls ``fetch_arrow_table``/``fetch_record_batch`` on DuckDB
cursors; DuckDB 2 removed them in favour of ``to_arrow_table``/``to_arrow_reader``. The backend
below wraps the cursors it hands to Ibis so both work, without touching DuckDB's own classes.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from typing import Any

import duckdb
import ibis
import ibis.expr.types
from ibis.backends.duckdb import Backend as _IbisDuckDB

from topshare.errors import UsageError


class _Cursor:
    """A DuckDB cursor with the pre-2.0 Arrow fetch names Ibis 12 uses."""

    def __init__(self, cur: Any) -> None:
        self._cur = cur

    def fetch_arrow_table(self) -> Any:
        # Ibis only fetches small metadata results this way; the copy DuckDB warns about is cheap.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return self._cur.to_arrow_table()

    def fetch_record_batch(self, rows_per_batch: int = 1_000_000) -> Any:
        return self._cur.to_arrow_reader(rows_per_batch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)

    def __enter__(self) -> _Cursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self._cur.close()


_NEEDS_SHIM = not hasattr(duckdb.DuckDBPyConnection, "fetch_arrow_table")


class DuckDBBackend(_IbisDuckDB):  # type: ignore[misc]
    """Ibis' DuckDB backend, made to work on DuckDB 2."""

    def raw_sql(self, query: Any, **kwargs: Any) -> Any:
        cur = super().raw_sql(query, **kwargs)
        return _Cursor(cur) if _NEEDS_SHIM else cur

    def to_pyarrow(self, expr: Any, /, **kwargs: Any) -> Any:
        """Tables straight from DuckDB's Arrow result: the SQL already has the right column
        names and types, and Ibis' generic converter would import pandas on the first call
        (a third of a second for a command-line run)."""
        if isinstance(expr, ibis.expr.types.Table) and not any(kwargs.values()):
            return self._to_duckdb_relation(expr).to_arrow_table()
        return super().to_pyarrow(expr, **kwargs)

    def get_schema(self, *args: Any, **kwargs: Any) -> Any:
        # Ibis 12 reads table schemas with the relation's deprecated fetch_arrow_table().
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "fetch_arrow_table", DeprecationWarning)
            return super().get_schema(*args, **kwargs)


#: DuckDB's memory limit (a size such as "4GB"; DuckDB's own default: 80 % of the RAM).
MEMORY_LIMIT_ENV = "TOPSHARE_MEMORY_LIMIT"
#: Where DuckDB spills what does not fit (default: ``topshare-spill`` in the temporary directory).
SPILL_DIR_ENV = "TOPSHARE_SPILL_DIR"


def connect(threads: int | None = None, memory_limit: str | None = None, tz: str = "UTC") -> Any:
    """A fresh in-memory DuckDB connection through Ibis, spilling to a temporary directory.

    Sessions run in ``tz`` (UTC by default, a checked IANA name otherwise): timestamps with an
    offset are converted to that zone's wall clock, those without one are taken as they are.
    ``memory_limit`` (else ``$TOPSHARE_MEMORY_LIMIT``) caps DuckDB's memory, which spills the
    rest to ``$TOPSHARE_SPILL_DIR`` (else ``topshare-spill`` in the temporary directory).
    """
    spill = os.environ.get(SPILL_DIR_ENV, "").strip() or os.path.join(
        tempfile.gettempdir(), "topshare-spill"
    )
    from_env = not memory_limit
    memory_limit = memory_limit or os.environ.get(MEMORY_LIMIT_ENV, "").strip() or None
    con = DuckDBBackend().connect(database=":memory:")
    raw = con.con
    raw.execute("SET TimeZone = ?", [tz])
    raw.execute("SET enable_progress_bar = false")
    # DuckDB 2.0's type_pushdown turns a TRY_CAST over an all-text CSV column into a strict cast
    # inside the reader, so one bad amount fails the whole query instead of being rejected.
    raw.execute("SET disabled_optimizers = 'type_pushdown'")
    raw.execute("SET temp_directory = ?", [spill])
    if threads:
        raw.execute(f"SET threads = {int(threads)}")
    if memory_limit:
        try:
            raw.execute("SET memory_limit = ?", [memory_limit.strip()])
        except duckdb.Error as exc:
            con.disconnect()
            named = f" (${MEMORY_LIMIT_ENV})" if from_env else ""
            raise UsageError(
                f"memory limit {memory_limit!r}{named}: not a size; give one such as 4GB or 500MB"
            ) from exc
    return con
