"""The real app served by uvicorn on a free loopback port, in a thread, for a browser to use.

On a copy of the seeded SQLite template: the browser tests run on one backend, the HTTP
tests of the same pages (test_sessions, test_pages) on both.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.access.policy import Role
from registry.app import build_app
from registry.db import create_engine, session_factory
from registry.settings import Settings
from tests.conftest import issue_role_tokens

T = TypeVar("T")


@dataclass(frozen=True)
class Served:
    base_url: str
    tokens: dict[Role, str]
    database_url: str
    folder: Path

    def run(self, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]) -> T:
        """``work`` on the served database, beside the server (as another process would)."""
        return _beside(_on(self.database_url, work))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _on(
    database_url: str, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]
) -> T:
    engine = create_engine(database_url)
    try:
        return await work(session_factory(engine))
    finally:
        await engine.dispose()


def _beside(work: Coroutine[Any, Any, T]) -> T:
    # In a thread of its own: Playwright's sync API keeps an event loop in this one.
    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(asyncio.run, work).result()


@contextmanager
def served(templates: dict[str, Path], folder: Path, **overrides: Any) -> Iterator[Served]:
    """The app on a copy of the seeded template; ``overrides`` are settings."""
    shutil.copy(templates["seeded"], folder / "registry.db")
    shutil.copy(templates["audit"], folder / "audit.db")
    database_url = f"sqlite+aiosqlite:///{folder / 'registry.db'}"
    tokens = _beside(_on(database_url, issue_role_tokens))
    settings = Settings(
        database_url=database_url,
        audit_database_url=f"sqlite+aiosqlite:///{folder / 'audit.db'}",
        var_dir=folder,
        privacy_contact="privacy@example.test",
        **overrides,
    )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(build_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the registry did not start")
        time.sleep(0.05)
    try:
        yield Served(f"http://127.0.0.1:{port}", tokens, database_url, folder)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
