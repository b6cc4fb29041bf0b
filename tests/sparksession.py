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
