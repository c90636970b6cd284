"""The API request on whose behalf changes are being recorded, and the import batch they
belong to.

Set once where a request or an import starts, read where a change is recorded: the services
between them need not carry it. Outside a request (the command line, the seeds) there is
none; outside an import, no batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_current: ContextVar[str | None] = ContextVar("history_request_id", default=None)
_batch: ContextVar[int | None] = ContextVar("history_import_batch", default=None)


@contextmanager
def on_behalf_of(request_id: str | None) -> Iterator[None]:
    """Changes recorded within name ``request_id`` as the request that made them."""
    token = _current.set(request_id)
    try:
        yield
    finally:
        _current.reset(token)


def current_request_id() -> str | None:
    return _current.get()


@contextmanager
def in_batch(batch_id: int) -> Iterator[None]:
    """Changes recorded within belong to the import batch ``batch_id``."""
    token = _batch.set(batch_id)
    try:
        yield
    finally:
        _batch.reset(token)


def current_batch_id() -> int | None:
    return _batch.get()
