"""Log lines: JSON, each line of a request carrying its request ID and the principal's
handle, never a token."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from registry import logs
from registry._access_log import WithoutQuery
from registry.access.policy import Role
from tests.conftest import Api


@pytest.fixture
def written() -> Iterator[io.StringIO]:
    """What the root logger writes through the registry's formatter while the test runs."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.formatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        logs.start_request()


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_carries_what_the_request_bound(written: io.StringIO) -> None:
    logs.start_request()
    logs.bind_request("abc12345-bound")
    logs.bind_principal("test-agent")
    logging.getLogger("registry.somewhere").warning("request %s: %d things", "abc12345", 3)
    (line,) = lines(written)
    assert line["event"] == "request abc12345: 3 things"
    assert line["request_id"] == "abc12345-bound" and line["principal"] == "test-agent"
    assert line["level"] == "warning" and line["logger"] == "registry.somewhere"
    assert line["timestamp"].endswith("Z")


async def test_a_line_logged_during_a_request_carries_its_request_id(
    api: Api, engine: AsyncEngine, written: io.StringIO
) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("DROP TABLE engagement"))
    token = api.tokens[Role.PRIVACY_OFFICER]
    answer = await api.client.post(
        "/graphql",
        json={"query": "{ entities(first: 5) { nodes { subProcessors { slug } } } }"},
        headers={"Authorization": f"Bearer {token}", "X-Request-ID": "abc12345-logged"},
    )
    assert answer.json()["errors"][0]["extensions"]["code"] == "INTERNAL"
    # The masked error is logged (with its traceback) during the request.
    during = [line for line in lines(written) if line.get("request_id") == "abc12345-logged"]
    assert during, written.getvalue()
    assert all(line["principal"] == "test-privacy-officer" for line in during)
    assert token not in written.getvalue()


def test_an_access_line_has_no_client_address_nor_query() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("192.0.2.7:5000", "GET", "/graphql?token=secret", "1.1", 401),
        None,
    )
    assert WithoutQuery().filter(record)
    line = json.loads(logs.formatter().format(record))
    assert line["event"] == "GET /graphql?… 401"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/graphql?…", 401)
    assert "192.0.2.7" not in json.dumps(line) and "secret" not in json.dumps(line)
