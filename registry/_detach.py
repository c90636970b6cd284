"""Waiting for work that may not stop at once when its waiter gives up."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

# Work given up on, kept referenced until it has wound down (the loop holds tasks weakly).
_winding_down: set[asyncio.Task[Any]] = set()


async def detached(work: Coroutine[Any, Any, T]) -> T:
    """Awaits ``work`` in a task of its own: cancelled, the waiter goes on at once.

    The task is cancelled too, but its clean-up may have to wait: a rollback on SQLite
    queues behind the statement that is waiting for a lock, in the driver's thread. A
    request's deadline must not wait for that as well.
    """
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        task.cancel()
        _winding_down.add(task)
        task.add_done_callback(_wound_down)
        raise


def _wound_down(task: asyncio.Task[Any]) -> None:
    _winding_down.discard(task)
    if not task.cancelled():
        # Retrieved, so that its failure is not reported as never retrieved.
        task.exception()
