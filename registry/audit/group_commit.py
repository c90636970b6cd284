"""Writes that arrive together share one transaction and one commit (group commit).

A durable commit costs a flush to disk; callers that queue while one is under way are
written together by the next, so sixteen concurrent requests pay for one or two flushes
instead of sixteen in a row. Each caller is answered only once its batch is committed, or
with the batch's failure: nobody is told "written" unless it was.

A caller that finds nothing being written, and nobody else arriving with it, writes its
own items itself, as if there were no queue: a lone append costs what it did before
batching. Whoever comes meanwhile queues, and the queue is written by a task of its own,
never by one of the callers: a caller that gives up (its deadline) must not cancel what
others are waiting for. One that gives up while queued is taken out of the queue; once
every caller of the batch under way has given up, that write is cancelled, as a lone
caller's would have been.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(eq=False)
class _Waiter(Generic[Item, Result]):
    items: Sequence[Item]
    answer: asyncio.Future[list[Result]]


class GroupCommit(Generic[Item, Result]):
    """Queues callers' items; one task writes all that are queued, in the order they came.

    ``write`` takes the items of a batch in order and returns one result per item, in the
    same order, once they are committed.
    """

    def __init__(self, write: Callable[[list[Item]], Awaitable[list[Result]]]) -> None:
        self._write = write
        self._queue: list[_Waiter[Item, Result]] = []
        self._batch: list[_Waiter[Item, Result]] = []
        # Something is being written: by a caller alone, or by the queue's task.
        self._busy = False
        self._writing: asyncio.Task[None] | None = None
        self._flight: asyncio.Future[list[Result]] | None = None

    async def submit(self, items: Sequence[Item]) -> list[Result]:
        """The results of ``items``, once written with whatever else was queued with them."""
        waiter = _Waiter(items, asyncio.get_running_loop().create_future())
        if self._busy:
            self._queue.append(waiter)
        else:
            self._busy = True
            try:
                # Callers woken together (by the last batch's answers) queue meanwhile and
                # go with this one, rather than one alone and then all the others.
                await asyncio.sleep(0)
            except asyncio.CancelledError:
                self._hand_over()
                raise
            if not self._queue:
                try:
                    return await self._write(list(items))
                finally:
                    self._hand_over()
            self._queue.insert(0, waiter)
            self._hand_over()
        try:
            return await waiter.answer
        except asyncio.CancelledError:
            self._give_up(waiter)
            raise

    def _hand_over(self) -> None:
        """Whoever is queued is written by the queue's task; with nobody, nothing is busy."""
        if self._queue:
            self._writing = asyncio.create_task(self._write_queued())
        else:
            self._busy = False

    def _give_up(self, waiter: _Waiter[Item, Result]) -> None:
        if waiter in self._queue:
            self._queue.remove(waiter)
        elif (
            waiter in self._batch
            and self._flight is not None
            and all(w.answer.done() for w in self._batch)
        ):
            # Nobody is left to tell: the write is given up, as a lone caller's would be.
            self._flight.cancel()

    async def _write_queued(self) -> None:
        try:
            while self._queue:
                self._batch, self._queue = self._queue, []
                self._flight = asyncio.ensure_future(
                    self._write([item for w in self._batch for item in w.items])
                )
                # Waited on without being cancelled with it: the loop goes on to the next batch.
                await asyncio.wait([self._flight])
                _answer(self._batch, self._flight)
                self._batch, self._flight = [], None
        finally:
            # Only if this task itself was stopped (its loop closing): nobody waits forever.
            if self._flight is not None:
                self._flight.cancel()
            for waiter in self._batch + self._queue:
                waiter.answer.cancel()
            self._batch, self._queue, self._flight, self._writing = [], [], None, None
            self._busy = False


def _answer(batch: list[_Waiter[Item, Result]], flight: asyncio.Future[list[Result]]) -> None:
    """Each waiter of the batch its own results, or the batch's failure."""
    if flight.cancelled():
        return
    error = flight.exception()
    offset = 0
    for waiter in batch:
        mine = slice(offset, offset + len(waiter.items))
        offset = mine.stop
        if waiter.answer.done():
            continue
        if error is not None:
            waiter.answer.set_exception(error)
        else:
            waiter.answer.set_result(flight.result()[mine])
