"""One local-mode SparkSession for the whole test session (start-up takes seconds).

``local[2]``, two shuffle partitions, no UI, the driver bound to 127.0.0.1 (no network beyond
loopback). Without Java or pyspark the Spark tests are skipped, except under CI (the ``CI``
variable set), where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from topshare.errors import UsageError


def start() -> Any:
    from topshare import spark

    spark.check_available()
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("topshare-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    try:
        session = start()
    except UsageError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Spark is not available: {exc}")
        pytest.skip(f"Spark is not available: {exc}")
    yield session
    session.stop()


def start_connect(session: Any) -> tuple[str, Any]:
    """A Spark Connect server inside the tests' own JVM (no second JVM), bound to a free port of
    127.0.0.1: its ``sc://`` URL and a function that stops it."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conf = session._jsc.sc().conf()  # the live configuration the server reads when it starts
    conf.set("spark.connect.grpc.binding.address", "127.0.0.1")
    conf.set("spark.connect.grpc.binding.port", str(port))
    service = session._jvm.org.apache.spark.sql.connect.service.SparkConnectService
    service.start(session._jsc.sc())

    def stop() -> None:
        service.stop(getattr(service, "stop$default$1")(), getattr(service, "stop$default$2")())

    return f"sc://127.0.0.1:{port}", stop
