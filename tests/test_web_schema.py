"""Schemathesis against the dashboard's OpenAPI document: every operation, with generated valid
and invalid parameters, called in-process over ASGI; every response must pass schemathesis'
checks (documented status code and content type, conforming body, no server error).
Bounded: a few dozen examples per operation, well under a minute in all.

One check is left out: ``positive_data_acceptance`` (every schema-valid request gets a 2xx).
Some rules span several parameters or depend on the data and cannot be said in OpenAPI: ``to``
before ``from``, ``last`` together with ``from``/``to``, a window that holds no rows (422), a
period series longer than the limit. Those get a documented 400/422 with a message instead."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from test_explore import DATA
from topshare.explore import open_explorer
from topshare.web import create_app

EXAMPLES = 20


@pytest.fixture(scope="module")
def web_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    path: Path = tmp_path_factory.mktemp("schema") / "sales.csv"
    path.write_text(DATA, encoding="utf-8")
    with open_explorer(path, segments=["region", "channel"]) as ex:
        # The Host rule (loopback names only) has its own tests; schemathesis' client says
        # "testserver".
        yield schemathesis.openapi.from_asgi(
            "/api/openapi.json", create_app(ex, loopback_only=False)
        )


def test_every_operation_conforms(web_schema: Any) -> None:
    operations = [result.ok() for result in web_schema.get_all_operations()]
    paths = sorted(op.path for op in operations)
    assert paths == [
        "/api/charts", "/api/churn", "/api/entity", "/api/lorenz", "/api/meta", "/api/periods",
        "/api/segments", "/api/summary", "/api/top",
    ]  # fmt: skip
    for op in operations:

        @given(case=op.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def check(case: Any) -> None:
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        check()
