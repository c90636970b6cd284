"""The server's access log never writes a query string: a token or an address sent in a URL
by mistake stays out of the log."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import httpx

from registry._access_log import WithoutQuery
from tests.recordings.test_upload_kill import serving

SECRET = "rgt_not-a-real-token-but-secret"


def test_a_query_string_is_left_out_of_an_access_record() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/graphql?token={SECRET}&phone=+43123", "1.1", 401),
        None,
    )
    assert WithoutQuery().filter(record)
    assert SECRET not in record.getMessage() and "+43123" not in record.getMessage()
    assert "GET /graphql?…" in record.getMessage()


def test_the_server_logs_requests_without_their_query_strings(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "REGISTRY_VAR_DIR": str(tmp_path / "var"),
        "REGISTRY_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/registry.db",
        "REGISTRY_AUDIT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/audit.db",
    }
    log = tmp_path / "server.log"
    with serving(env, log) as server:
        httpx.get(f"{server.url}/graphql?token={SECRET}", timeout=10)
        plain = httpx.get(f"{server.url}/healthz", timeout=10)
        assert plain.status_code == 200
    written = log.read_text()
    assert "GET /healthz" in written  # the access log is on
    assert "GET /graphql?…" in written
    assert SECRET not in written
