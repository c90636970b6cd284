"""The API request on whose behalf changes are being recorded.

Set once where a request starts (the GraphQL view), read where a change is recorded: the
services between them need not carry it. Outside a request (the command line, the seeds)
there is none.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_current: ContextVar[str | None] = ContextVar("history_request_id", default=None)


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
