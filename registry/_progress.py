"""The progress of a long command: a bar on standard error when it is a terminal, and nothing
otherwise, so that a log or a pipe gets the command's summary line alone, and an export
written to standard output stays clean either way."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

T = TypeVar("T")
# Often enough to look alive, seldom enough to cost nothing beside a batch's queries.
POLL_SECONDS = 0.2


class Tracker:
    """One task's bar, or nothing at all when there is no terminal to show it on."""

    def __init__(self, bar: Progress | None = None, task: TaskID | None = None) -> None:
        self._bar = bar
        self._task = task

    @property
    def shown(self) -> bool:
        return self._bar is not None

    def update(
        self, *, completed: int, total: int | None = None, description: str | None = None
    ) -> None:
        if self._bar is None or self._task is None:
            return
        self._bar.update(self._task, completed=completed, total=total, description=description)

    async def follow(self, count: Callable[[], int], work: Awaitable[T]) -> T:
        """Runs ``work``, showing ``count()`` as it grows: the counters a job fills in as each
        batch commits, read here rather than passed a callback into every service."""
        if not self.shown:
            return await work
        running = asyncio.ensure_future(work)
        while not running.done():
            await asyncio.wait({running}, timeout=POLL_SECONDS)
            self.update(completed=count())
        return running.result()


@contextmanager
def progress(
    description: str, *, total: int | None = None, console: Console | None = None
) -> Iterator[Tracker]:
    """A bar for ``description`` while the block runs, removed once it ends; ``console`` is
    standard error, and the bar is left out unless that is a terminal."""
    console = console or Console(stderr=True)
    if not console.is_terminal:
        yield Tracker()
        return
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        yield Tracker(bar, bar.add_task(description, total=total))
