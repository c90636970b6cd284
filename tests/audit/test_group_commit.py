"""Concurrent appends share commits, and the log keeps every promise of R-ACC-6 doing so.

Every access is logged and the log is one unbroken chain (R-ACC-6): appends that arrive
together are written in one transaction, each caller told "written" only once that
transaction is committed, and a failure is every caller's of the batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from registry.audit.models import AuditEvent
from registry.audit.service import AuditLog, AuditUnavailable
from registry.db import create_engine
from tests.audit.test_service import entry, fill

WRITERS = 16


@pytest_asyncio.fixture
async def log(audit_url: str) -> AsyncIterator[AuditLog]:
    opened = AuditLog.open(audit_url)
    yield opened
    await opened.close()


class Commits:
    """Counts the commits that wrote a log's events: on PostgreSQL the transactions that
    wrote the rows (each row's xmin), however the statements were sent; on SQLite the
    commits of the log's engine, which sends them all."""

    def __init__(self, log: AuditLog) -> None:
        self.log = log
        self.engine_commits = 0
        event.listen(log.engine.sync_engine, "commit", self._committed)

    def _committed(self, *_args: object) -> None:
        self.engine_commits += 1

    async def since(self, seq: int) -> int:
        if self.log.engine.dialect.name != "postgresql":
            return self.engine_commits
        async with self.log.engine.connect() as connection:
            count = await connection.scalar(
                text("SELECT count(DISTINCT xmin::text) FROM audit_event WHERE seq >= :seq"),
                {"seq": seq},
            )
        return int(count or 0)


async def principals(log: AuditLog) -> list[str]:
    async with log.sessions() as session:
        rows = await session.scalars(select(AuditEvent.principal).order_by(AuditEvent.seq))
        return list(rows)


async def test_r_acc_6_sixteen_concurrent_appends_share_a_commit_and_the_chain_verifies(
    log: AuditLog,
) -> None:
    """R-ACC-6: sixteen appends at once are written by one or two commits, not sixteen, each
    caller gets its own events back, and the chain verifies."""
    await fill(log, 1)
    commits = Commits(log)
    written = await asyncio.gather(*(log.append([entry(n)]) for n in range(2, 2 + WRITERS)))
    assert 1 <= await commits.since(2) <= 2, await commits.since(2)
    assert [events[0].principal for events in written] == [
        f"user-{n}" for n in range(2, 2 + WRITERS)
    ]
    assert sorted(events[0].seq for events in written) == list(range(2, 2 + WRITERS))
    result = await log.verify()
    assert result.intact and result.checked == 1 + WRITERS


async def test_r_acc_6_callers_of_several_entries_keep_theirs_together_and_in_order(
    log: AuditLog,
) -> None:
    """R-ACC-6: a request's entries stay in the order it gave them, next to each other."""
    written = await asyncio.gather(
        *(log.append([entry(n), entry(n + 100), entry(n + 200)]) for n in range(WRITERS))
    )
    for n, events in enumerate(written):
        assert [e.principal for e in events] == [f"user-{n}", f"user-{n + 100}", f"user-{n + 200}"]
        assert [e.seq for e in events] == [events[0].seq, events[0].seq + 1, events[0].seq + 2]
    result = await log.verify()
    assert result.intact and result.checked == 3 * WRITERS


async def refuse_at_commit(log: AuditLog, principal: str) -> None:
    """A database that refuses any batch holding an event of ``principal``: on PostgreSQL
    when it commits (a deferred constraint trigger), on SQLite when it inserts it."""
    async with log.engine.begin() as connection:
        if log.engine.dialect.name == "postgresql":
            await connection.execute(
                text(
                    "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$"
                    f" BEGIN IF NEW.principal = '{principal}' THEN"
                    " RAISE EXCEPTION 'refused at commit'; END IF; RETURN NULL; END $$"
                )
            )
            await connection.execute(
                text(
                    "CREATE CONSTRAINT TRIGGER audit_event_poison AFTER INSERT ON audit_event"
                    " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_poison()"
                )
            )
        else:
            await connection.execute(
                text(
                    "CREATE TRIGGER audit_event_poison BEFORE INSERT ON audit_event"
                    f" WHEN NEW.principal = '{principal}'"
                    " BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )


async def test_r_acc_6_a_batch_that_cannot_commit_fails_every_caller_and_writes_nothing(
    log: AuditLog,
) -> None:
    """R-ACC-6: nobody is told their entry is written unless it was committed; the chain
    goes on from where it was."""
    await fill(log, 2)
    await refuse_at_commit(log, "user-9")
    outcomes = await asyncio.gather(
        *(log.append([entry(n)]) for n in range(3, 3 + WRITERS)), return_exceptions=True
    )
    assert all(isinstance(outcome, AuditUnavailable) for outcome in outcomes), outcomes
    assert await principals(log) == ["user-1", "user-2"]
    await log.append([entry(40)])
    assert await principals(log) == ["user-1", "user-2", "user-40"]
    result = await log.verify()
    assert result.intact and result.checked == 3


async def test_r_acc_6_two_logs_on_one_database_appending_at_once_make_one_chain(
    audit_url: str,
) -> None:
    """R-ACC-6: two servers' logs, each batching its own callers, never fork the chain."""
    first, second = AuditLog.open(audit_url), AuditLog.open(audit_url)
    try:
        for round_ in range(3):
            await asyncio.gather(
                *(
                    log.append([entry(100 * round_ + n)] * (1 + n % 2))
                    for n in range(WRITERS)
                    for log in (first, second)
                )
            )
        result = await first.verify()
    finally:
        await first.close()
        await second.close()
    assert result.intact and result.checked == 3 * 2 * (WRITERS + WRITERS // 2)


async def test_r_acc_6_a_caller_that_gives_up_while_queued_is_left_out_and_the_batch_goes_on(
    log: AuditLog, audit_url: str
) -> None:
    """R-ACC-6: a request refused at its deadline leaves nothing behind it in the queue, and
    harms neither the append under way nor those queued with it."""
    await fill(log, 1)
    async with Stall(audit_url) as stalled:
        under_way = asyncio.ensure_future(log.append([entry(2)]))
        await asyncio.sleep(0.2)
        given_up = asyncio.ensure_future(log.append_within([entry(3)], 0.2))
        queued = asyncio.ensure_future(log.append([entry(4)]))
        with pytest.raises(AuditUnavailable):
            await given_up
        assert not under_way.done() and not queued.done()
        await stalled.rollback()
    await asyncio.wait_for(asyncio.gather(under_way, queued), timeout=30)
    assert await principals(log) == ["user-1", "user-2", "user-4"]
    assert (await log.verify()).intact


async def test_r_acc_6_appends_that_everyone_gave_up_on_stop_and_the_next_goes_on(
    log: AuditLog, audit_url: str
) -> None:
    """R-ACC-6: a write under way is given up once all its callers are refused, the lone
    caller's and a queued batch's alike; the log goes on unbroken afterwards."""
    await fill(log, 1)
    async with Stall(audit_url) as stalled:
        alone = asyncio.ensure_future(log.append_within([entry(2)], 0.3))
        await asyncio.sleep(0.1)
        batch = [asyncio.ensure_future(log.append_within([entry(n)], 0.6)) for n in (3, 4)]
        outcomes = await asyncio.gather(alone, *batch, return_exceptions=True)
        assert all(isinstance(outcome, AuditUnavailable) for outcome in outcomes), outcomes
        await stalled.rollback()
    await asyncio.wait_for(log.append([entry(5)]), timeout=30)
    assert (await principals(log))[-1] == "user-5"
    assert (await log.verify()).intact


class Stall:
    """Another session of the audit database, holding what every append needs until it is
    rolled back (on SQLite the write lock, on PostgreSQL an exclusive lock on the table)."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url, serial_writes=True)

    async def __aenter__(self) -> AsyncConnection:
        self.connection = await self.engine.connect()
        await self.connection.begin()
        if self.engine.dialect.name == "postgresql":
            await self.connection.execute(text("LOCK TABLE audit_event IN ACCESS EXCLUSIVE MODE"))
        return self.connection

    async def __aexit__(self, *_exc: object) -> None:
        await self.connection.close()
        await self.engine.dispose()
