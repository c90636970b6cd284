"""No orphan blobs, ever: a server killed (SIGKILL) at any step of an upload leaves, once it
is restarted and the sweep has run, only blobs whose recording and wrapped key are on record
(R-ENC-1: no sealed audio is kept that no key and no rule accounts for; R-RET-1).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from registry import clock
from registry.access.policy import Role
from registry.audit.service import AuditLog
from registry.blobs import LocalBlobStore
from registry.db import create_engine
from registry.recordings.models import PendingUpload, Recording, RecordingStatus
from registry.upkeep.sweeping import sweep_all
from tests.conftest import Databases, issue_role_tokens
from tests.recordings.conftest import Scene, Sessions
from tests.recordings.test_http import bearer
from tests.rights.test_packages import consented_call

AUDIO = bytes(range(256)) * 4096  # 1 MiB
DEADLINE = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Server:
    """`registry serve` in a process of its own, to be killed as a crash would."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-c", "from registry.cli import app; app()", "serve"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, "--port", str(self.port)], env=self.env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError(f"the server did not start: {self.log.read_text()}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=DEADLINE)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def serving(env: dict[str, str], log: Path) -> Iterator[Server]:
    server = Server(env, log)
    server.start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.kill()


async def until(what: str, check: Callable[[], Awaitable[bool]]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not await check():
        assert time.monotonic() < deadline, f"still not {what}"
        await asyncio.sleep(0.02)


async def send_head_and_part(server: Server, path: str, token: str) -> asyncio.StreamWriter:
    """An upload whose body stops half way, as a slow client's does."""
    _reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        (
            f"PUT {path} HTTP/1.1\r\nHost: registry\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: audio/wav\r\nContent-Length: {len(AUDIO)}\r\n\r\n"
        ).encode()
        + AUDIO[: len(AUDIO) // 2]
    )
    await writer.drain()
    return writer


@asynccontextmanager
async def holding(url: str, statement: str) -> AsyncIterator[AsyncConnection]:
    """A transaction of another client that holds a lock until the block ends."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
            yield connection
            await connection.rollback()
    finally:
        await engine.dispose()


async def waiting_on_a_lock(url: str) -> bool:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            waiting = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
    finally:
        await engine.dispose()
    return bool(waiting)


async def test_r_enc_1_a_server_killed_at_any_step_of_an_upload_leaves_no_orphan_blob(
    databases: Databases,
    database_url: str,
    audit_url: str,
    scene: Scene,
    seeded: Sessions,
    blobs: LocalBlobStore,
    frozen_clock: clock.FrozenClock,
    tmp_path: Path,
) -> None:
    """R-ENC-1: a server killed at any step of an upload leaves no orphan blob."""
    if databases.backend != "postgresql":
        pytest.skip("the steps are held with PostgreSQL's locks")
    tokens = await issue_role_tokens(seeded)
    token = tokens[Role.IT_OPERATOR]
    env = {
        **os.environ,
        "REGISTRY_DATABASE_URL": database_url,
        "REGISTRY_AUDIT_DATABASE_URL": audit_url,
        "REGISTRY_VAR_DIR": str(tmp_path),
        "REGISTRY_PRIVACY_CONTACT": "privacy@example.test",
    }
    log = tmp_path / "server.log"
    calls = [await consented_call(scene) for _ in range(4)]

    async def pending() -> int:
        async with seeded() as session:
            return await session.scalar(select(func.count()).select_from(PendingUpload)) or 0

    async def published() -> set[str]:
        return {path.name for path in blobs.root.iterdir() if not path.name.startswith(".")}

    # 1. Killed while the body streams in: the pending row is committed, a temp file open.
    with serving(env, log) as server:
        writer = await send_head_and_part(server, f"/calls/{calls[0]}/audio/full", token)
        await until("pending", lambda: _at_least(pending, 1))
        server.kill()
        writer.close()

    # 2. Killed with the blob published, waiting for the call's lock to commit its row.
    lock_call = f"SELECT id FROM call WHERE id = '{calls[1]}' FOR NO KEY UPDATE"
    async with holding(database_url, lock_call):
        with serving(env, log) as server, httpx.Client(base_url=server.url) as client:
            headers = {**bearer(token), "Content-Type": "audio/wav"}
            upload = asyncio.to_thread(
                _put, client, f"/calls/{calls[1]}/audio/full", AUDIO, headers
            )
            sending = asyncio.ensure_future(upload)
            await until("published", lambda: _grew(published, 1))
            await until("waiting for the call", lambda: waiting_on_a_lock(database_url))
            server.kill()
            await asyncio.gather(sending, return_exceptions=True)

    # 3. Killed while the upload waits on the audit log, its row not yet committed.
    async with holding(audit_url, "LOCK TABLE audit_event IN EXCLUSIVE MODE"):
        with serving(env, log) as server, httpx.Client(base_url=server.url) as client:
            headers = {**bearer(token), "Content-Type": "audio/wav"}
            upload = asyncio.to_thread(
                _put, client, f"/calls/{calls[2]}/audio/full", AUDIO, headers
            )
            sending = asyncio.ensure_future(upload)
            await until("waiting for the audit log", lambda: waiting_on_a_lock(audit_url))
            server.kill()
            await asyncio.gather(sending, return_exceptions=True)

    # 4. Restarted, the server takes an upload whole.
    with serving(env, log) as server, httpx.Client(base_url=server.url) as client:
        headers = {**bearer(token), "Content-Type": "audio/wav"}
        done = await asyncio.to_thread(
            _put, client, f"/calls/{calls[3]}/audio/full", AUDIO, headers
        )
        assert done.status_code == 201, done.text

    # The sweep, once the dead uploads' deadlines (and the temp files' age) have passed.
    frozen_clock.current = datetime.now(UTC) + timedelta(days=1)
    for temp in blobs.root.glob(".*.tmp"):
        os.utime(temp, (time.time() - 2 * 86400,) * 2)
    log_of_audit = AuditLog.open(audit_url)
    try:
        await sweep_all(sessions=seeded, blobs=blobs, audit_log=log_of_audit)
    finally:
        await log_of_audit.close()

    async with seeded() as session:
        recordings = (await session.scalars(select(Recording))).all()
        left_pending = await session.scalar(select(func.count()).select_from(PendingUpload))
    kept = {r.blob_key for r in recordings if r.status is RecordingStatus.ACTIVE}
    assert all(r.wrapped_key is not None for r in recordings if r.blob_key in kept)
    assert [r.call_id for r in recordings] == [calls[3]]
    assert sorted(path.name for path in blobs.root.iterdir()) == sorted(kept)
    assert left_pending == 0


def _put(client: httpx.Client, path: str, audio: bytes, headers: dict[str, str]) -> httpx.Response:
    return client.put(path, content=audio, headers=headers, timeout=DEADLINE)


async def _at_least(count: Callable[[], Awaitable[int]], least: int) -> bool:
    return await count() >= least


async def _grew(names: Callable[[], Awaitable[set[str]]], least: int) -> bool:
    return len(await names()) >= least
