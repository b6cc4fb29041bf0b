"""Apache Spark as the engine: files read by Spark, the one scan run by Spark through Ibis.

``--engine spark`` reads the files with Spark's own readers (CSV/TSV with every column as text,
Parquet, JSON lines; globs, several files, ``.gz``) into a temporary view of a SparkSession, and
the engine's expressions (``engine.prepare`` + ``engine.aggregate``) run on Ibis's pyspark
backend. As for SQL databases, only the scan's result (one row per customer, or per customer,
period and segment value, plus one row per rejection reason and file) travels to topshare's
DuckDB, as Arrow; ranking, integer units and every metric then run there unchanged.

Local files are first opened by the DuckDB path (:func:`topshare.sources.open_source`): the
same file checks, the CSV dialect sniffed on the local file (delimiter, quote, header), the
column names. Spark then reads them with that dialect and an explicit all-text schema, so that
it infers nothing (keys keep their leading zeros; amounts are validated by topshare).

One SparkSession per process (:func:`session`): start-up takes seconds, so it is reused.
"""

from __future__ import annotations

import gc
import itertools
import os
import shutil
import socket
import warnings
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from topshare.errors import InputError, UsageError, first_line
from topshare.sources import (
    FILE_COL,
    LINE_COL,
    MALFORMED_COL,
    ROW_COL,
    Source,
    _head,
    open_source,
)
from topshare.sparkfiles import is_url, open_remote

DEFAULT_MASTER = "local[*]"
_CORRUPT = "__topshare_corrupt"
_ORDER = "__topshare_order"
_views = itertools.count(1)
_STATE: dict[str, Any] = {}  # the process's session: {"session": ..., "master": ..., "ours": ...}


def is_connect(master: str | None) -> bool:
    """A Spark Connect endpoint (``sc://host:port``): the client runs here, no JVM."""
    return bool(master and master.startswith("sc://"))


def check_available(master: str | None = None) -> None:
    """One clear line when pyspark or Java (or, for Spark Connect, its client) is missing."""
    try:
        import pyspark  # noqa: F401
        from ibis.backends.pyspark import Backend  # noqa: F401
    except ImportError:
        raise UsageError(
            "--engine spark needs pyspark: pip install 'topshare[spark]' (and Java 17)"
        ) from None
    if is_connect(master):
        try:
            from pyspark.sql.connect.utils import check_dependencies

            check_dependencies("pyspark.sql.connect.session")
        except Exception as exc:
            raise UsageError(
                f"--spark-master {master} needs the Spark Connect client: "
                f"pip install 'topshare[spark]' ({first_line(exc)})"
            ) from None
        return
    java_home = os.environ.get("JAVA_HOME")
    java = os.path.join(java_home, "bin", "java") if java_home else shutil.which("java")
    if not java or not os.path.exists(java):
        raise UsageError(
            "--engine spark needs Java 17: install a JRE (Debian: apt-get install "
            "openjdk-17-jre-headless) or set JAVA_HOME"
        )


def session(master: str | None = None, existing: Any = None) -> Any:
    """The SparkSession to run on: ``existing`` as it is, else the process's own (started once,
    on ``master``, default ``local[*]``; a different master stops it and starts another). A
    ``sc://host:port`` master is a Spark Connect endpoint."""
    if existing is not None:
        # a Spark Connect session given from Python needs no Java here
        connect = type(existing).__module__.startswith("pyspark.sql.connect")
        check_available("sc://" if connect else None)
        return existing
    check_available(master)
    master = master or DEFAULT_MASTER
    current = _STATE.get("session")
    if current is not None and _STATE.get("master") == master:
        return current
    if current is not None:
        current.stop()
        _STATE.clear()
    from pyspark.sql import SparkSession

    if is_connect(master):
        _reachable(master)
        try:
            spark = SparkSession.builder.remote(master).getOrCreate()
            spark.conf.get("spark.sql.session.timeZone")  # the first call reaches the server
        except Exception as exc:
            raise UsageError(
                f"Spark Connect at {master} did not answer: {first_line(exc)}"
            ) from None
        _STATE.update(session=spark, master=master)
        return spark
    builder = (
        SparkSession.builder.master(master)
        .appName("topshare")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        # The scan's result (one row per entity, or per entity x period x segment) comes back
        # to the driver whole: bounded by the entities, not the rows, so no result size cap.
        .config("spark.driver.maxResultSize", "0")
    )
    if master.startswith("local"):
        # In local mode the driver does the work: Spark's 1 GB default loses the result of a
        # 10 M-row monthly scan (TaskResultLost). TOPSHARE_SPARK_DRIVER_MEMORY overrides.
        memory = os.environ.get("TOPSHARE_SPARK_DRIVER_MEMORY", "4g")
        builder = (
            builder.config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.sql.shuffle.partitions", "8")
            .config("spark.driver.memory", memory)
        )
    try:
        spark = builder.getOrCreate()
    except Exception as exc:
        raise UsageError(f"Spark did not start on {master}: {first_line(exc)}") from None
    spark.sparkContext.setLogLevel("ERROR")
    _STATE.update(session=spark, master=master)
    return spark


def _reachable(master: str) -> None:
    """A Spark Connect endpoint that does not accept connections is one line at once (the
    Connect client itself retries for minutes)."""
    try:
        url = urlsplit("tcp://" + master[len("sc://") :])
        address = (url.hostname or "localhost", url.port or 15002)  # Connect's default port
        socket.create_connection(address, timeout=10).close()
    except (OSError, ValueError) as exc:
        raise UsageError(f"Spark Connect at {master} cannot be reached ({exc})") from None


def backend(spark: Any, tz: str) -> Any:
    """Ibis's pyspark backend on ``spark``, with Arrow results read straight from Spark."""
    from ibis.backends.pyspark import Backend

    _ = ibis.pyspark  # registers the backend's options (ibis.options.pyspark)

    class SparkBackend(Backend):  # type: ignore[misc]
        def to_pyarrow(self, expr: Any, /, *, params: Any = None, limit: Any = None,
                       **kwargs: Any) -> Any:  # fmt: skip
            """Spark's own Arrow result (Ibis' goes through pandas): exact decimals; instants
            become the session zone's wall clock, as DuckDB gives them."""
            self._run_pre_execute_hooks(expr)
            table_expr = expr.as_table()
            sql = self.compile(table_expr, params=params, limit=limit, **kwargs)
            with warnings.catch_warnings():
                # pyspark leaves the socket it reads Arrow batches from to the collector
                warnings.simplefilter("ignore", ResourceWarning)
                data = self._session.sql(sql).toArrow()
                gc.collect()
            return expr.__pyarrow_result__(_wall_clock(data, tz, table_expr.schema()))

    previous = spark.conf.get("spark.sql.session.timeZone")
    con = SparkBackend().connect(spark)
    spark.conf.set("spark.sql.session.timeZone", tz)
    con._topshare_restore_tz = previous
    return con


def _wall_clock(data: Any, tz: str, schema: Any) -> Any:
    """Timestamp instants as naive wall-clock times in ``tz``; then the expression's types."""
    cols = []
    for col in data.columns:
        if pa.types.is_timestamp(col.type) and col.type.tz:
            col = pc.local_timestamp(col.cast(pa.timestamp("us", tz=tz)))
        cols.append(col)
    out = pa.table(cols, names=data.column_names)
    try:
        return out.cast(schema.to_pyarrow())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
        return out


@dataclass
class SparkSource(Source):
    """Files read by Spark, as a :class:`~topshare.sources.Source` on Ibis's pyspark backend."""

    spark: Any = None  # the SparkSession
    backend: Any = None  # Ibis's pyspark backend
    view: str = ""
    frames: dict[str, Any] = field(default_factory=dict)  # per file: its Spark DataFrame
    local: Source | None = None  # the DuckDB opening of the same files (dialect, checks)
    schema: Any = None
    json_arrays: dict[str, bool] = field(default_factory=dict)  # per JSON file: one array?
    remote: bool = False  # files named by URL, found and sniffed through Spark (sparkfiles)

    @property
    def table(self) -> Any:
        return self.backend.table(self.view)

    def numbered(self, file: str) -> Any:
        """One file's rows with their record number (1-based, in file order): a window over
        Spark's scan order, on one partition (only run when rows were rejected)."""
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        frame = self.frames[file].withColumn(_ORDER, F.monotonically_increasing_id())
        numbered = frame.withColumn(
            ROW_COL, F.row_number().over(Window.orderBy(_ORDER)).cast("long")
        ).drop(_ORDER)
        name = f"__topshare_numbered_{next(_views)}"
        with warnings.catch_warnings():
            # Spark Connect's client warns about the single-partition window (docs/spark.md)
            warnings.filterwarnings("ignore", "WARN WindowExpression", UserWarning)
            numbered.createOrReplaceTempView(name)
        return self.backend.table(name)

    def malformed(self) -> list[tuple[str, int, str, str]]:
        return []  # Spark flags them in the scan itself (reason malformed_line)

    def check_roles(self, roles: Any, opts: dict[str, Any]) -> None:
        return None

    def close(self) -> None:
        if self.backend is not None:
            restore = getattr(self.backend, "_topshare_restore_tz", None)
            if restore:
                self.spark.conf.set("spark.sql.session.timeZone", restore)
            for name in [self.view]:
                self.spark.catalog.dropTempView(name)
            self.backend = None
        if self.local is not None:
            self.local.close()
        super().close()


def open_spark(
    con: Any,
    inputs: list[str],
    spark: Any,
    *,
    tz: str,
    format: str | None = None,
    delimiter: str | None = None,
    header: bool | None = None,
    encoding: str | None = None,
) -> SparkSource:
    """Open files for the Spark engine: local paths, globs and '-' (checked and sniffed here),
    or URLs of any Hadoop file system (listed and sniffed through Spark: :mod:`sparkfiles`)."""
    urls = [item for item in inputs if is_url(item)]
    arrays: dict[str, bool] = {}
    if urls and len(urls) != len(inputs):
        raise UsageError("give either local paths or URLs (hdfs://, s3a://, file://…), not both")
    if urls:
        local, arrays = open_remote(con, spark, inputs, format=format, delimiter=delimiter,
                                    header=header, encoding=encoding)  # fmt: skip
    else:
        local = open_source(con, list[str | os.PathLike[str]](inputs), format=format,
                            delimiter=delimiter, header=header, encoding=encoding)  # fmt: skip
    try:
        for f in local.files if not urls else []:
            raw = _head(f, local.name(f), 2, raw_bytes=True)
            if raw == b"\x1f\x8b" and not f.lower().endswith(".gz"):
                raise UsageError(
                    f"{local.name(f)}: gzip data without a .gz name; Spark decompresses by the "
                    "file name: rename it to end with .gz"
                )
            if local.format == "json":
                arrays[f] = _head(f, local.name(f)).lstrip()[:1] == b"["
        con_spark = backend(spark, tz)
        src = SparkSource(
            con=con, paths=local.paths, files=local.files, format=local.format, columns={},
            header=local.header, delimiter=local.delimiter, quote=local.quote,
            escape=local.escape, encoding=local.encoding, content_types=local.content_types,
            display=local.display, spark=spark, backend=con_spark, local=local,
            json_arrays=arrays, remote=bool(urls), lines_known=not urls,
        )  # fmt: skip
        try:
            _read_all(src, list(local.columns))
        except BaseException:
            src.close()
            raise
        return src
    except BaseException:
        local.close()
        raise


def _read_all(src: SparkSource, names: list[str]) -> None:
    from pyspark.sql import functions as F

    first = src.name(src.files[0])
    try:
        frames = {f: _read(src, f, names).withColumn(FILE_COL, F.lit(f)) for f in src.files}
        if src.format in ("csv", "tsv"):
            for f, frame in frames.items():
                ok = F.col(_CORRUPT).isNull()  # a malformed line has no readable field
                frames[f] = frame.select(
                    *[F.when(ok, F.col(f"`{n}`")).alias(n) for n in names],
                    F.col(_CORRUPT).isNotNull().alias(MALFORMED_COL),
                    F.col(_CORRUPT).alias(LINE_COL),
                    F.col(FILE_COL),
                )
        elif any("_corrupt_record" in fr.columns for fr in frames.values()):
            raise InputError(f"{first}: some lines are not valid JSON (Spark's reader)")
        combined = None
        for frame in frames.values():
            if combined is None:
                combined = frame
            elif src.format in ("csv", "tsv"):
                combined = combined.union(frame)
            else:
                combined = combined.unionByName(frame, allowMissingColumns=True)
        assert combined is not None
        view = f"__topshare_spark_{next(_views)}"
        combined.createOrReplaceTempView(view)
        src.view, src.frames = view, frames
        schema = src.backend.table(view).schema()
    except (InputError, UsageError):
        raise
    except Exception as exc:
        raise InputError(
            f"{first}: cannot be read by Spark as {src.format.upper()} ({first_line(exc)})"
        ) from None
    internal = {FILE_COL, MALFORMED_COL, LINE_COL}
    src.columns = {n: t for n, t in schema.items() if n not in internal}
    if not src.columns:
        raise InputError(f"{first}: no columns found")


def _read(src: SparkSource, file: str, names: list[str]) -> Any:
    """One file as a Spark DataFrame. CSV: the sniffed dialect, every column as text (Spark
    infers nothing) and the lines that do not split into the columns kept apart."""
    from pyspark.sql import types as T

    path = file if src.remote else os.path.abspath(file)
    reader = src.spark.read
    if src.format in ("csv", "tsv"):
        fields = [T.StructField(n, T.StringType()) for n in names]
        schema = T.StructType([*fields, T.StructField(_CORRUPT, T.StringType())])
        quote = src.quote or "\u0000"
        escape = src.escape or quote
        return reader.csv(
            path, schema=schema, sep=src.delimiter or ",", quote=quote, escape=escape,
            header=src.header, encoding=_ENCODINGS.get(src.encoding, src.encoding),
            mode="PERMISSIVE", columnNameOfCorruptRecord=_CORRUPT, enforceSchema=True,
            ignoreLeadingWhiteSpace=False, ignoreTrailingWhiteSpace=False, multiLine=False,
        )  # fmt: skip
    if src.format == "parquet":
        return reader.parquet(path)
    return reader.json(path, multiLine=src.json_arrays.get(file, False), encoding="UTF-8")


_ENCODINGS = {"utf-8": "UTF-8", "utf-16": "UTF-16", "latin-1": "ISO-8859-1"}
