"""The audit log keeps its promises (R-ACC-6): append-only, chained, every break named."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import event, inspect, text
from sqlalchemy.exc import DBAPIError

from registry import clock
from registry.access.policy import Role
from registry.access.service import Actor
from registry.audit import _one_statement, checkpoints, storable
from registry.audit.models import AuditEvent, Outcome
from registry.audit.service import AppendedEvent, AuditLog, AuditUnavailable, Entry
from registry.db import create_engine
from registry.errors import Forbidden


@pytest_asyncio.fixture
async def log(audit_url: str) -> AsyncIterator[AuditLog]:
    opened = AuditLog.open(audit_url)
    yield opened
    await opened.close()


def entry(n: int) -> Entry:
    return Entry(
        principal=f"user-{n}",
        action="entity.update",
        outcome=Outcome.ALLOWED,
        target=f"entity:{n}",
        request_id=f"req-{n}",
        detail={"n": n},
    )


async def fill(log: AuditLog, count: int = 6) -> None:
    for n in range(1, count + 1):
        await log.append([entry(n)])


async def as_attacker(log: AuditLog, *statements: str) -> None:
    """Someone with the owner's rights: switches the append-only guard off, then writes."""
    async with log.engine.begin() as connection:
        if log.engine.dialect.name == "postgresql":
            await connection.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
        else:
            await connection.execute(text("DROP TRIGGER audit_event_no_update"))
            await connection.execute(text("DROP TRIGGER audit_event_no_delete"))
        for statement in statements:
            await connection.execute(text(statement))


async def test_an_untouched_chain_verifies(log: AuditLog) -> None:
    await fill(log)
    result = await log.verify()
    assert result.intact and result.checked == 6


async def test_r_acc_6_the_log_refuses_update_and_delete(log: AuditLog) -> None:
    """R-ACC-6: the log refuses update and delete."""
    await fill(log, 2)
    for statement in ("UPDATE audit_event SET principal = 'x'", "DELETE FROM audit_event"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with log.engine.begin() as connection:
                await connection.execute(text(statement))
    assert (await log.verify()).checked == 2


async def test_r_acc_6_an_edited_event_is_named(log: AuditLog) -> None:
    """R-ACC-6: an edited event is named."""
    await fill(log)
    await as_attacker(log, "UPDATE audit_event SET principal = 'someone-else' WHERE seq = 4")
    result = await log.verify()
    assert (result.first_broken, result.reason) == (4, "event 4 was altered")


async def test_r_acc_6_a_deleted_event_is_named(log: AuditLog) -> None:
    """R-ACC-6: a deleted event is named."""
    await fill(log)
    await as_attacker(log, "DELETE FROM audit_event WHERE seq = 3")
    result = await log.verify()
    assert (result.first_broken, result.reason) == (3, "event 3 is missing")


async def test_r_acc_6_an_inserted_event_is_named(log: AuditLog) -> None:
    """R-ACC-6: an inserted event is named."""
    await fill(log)
    # Make room after event 2 and slip in a copy of event 2 as event 3.
    await as_attacker(
        log,
        "UPDATE audit_event SET seq = seq + 100 WHERE seq > 2",
        "UPDATE audit_event SET seq = seq - 99 WHERE seq > 100",
        "INSERT INTO audit_event (seq, at, principal, action, target, purpose, outcome,"
        " request_id, detail, prev_hash, hash) SELECT 3, at, 'intruder', action, target,"
        " purpose, outcome, request_id, detail, hash, hash FROM audit_event WHERE seq = 2",
    )
    result = await log.verify()
    assert result.first_broken == 3 and result.reason == "event 3 was altered"


async def test_r_acc_6_reordered_events_are_named(log: AuditLog) -> None:
    """R-ACC-6: reordered events are named."""
    await fill(log)
    await as_attacker(
        log,
        "UPDATE audit_event SET seq = 100 WHERE seq = 2",
        "UPDATE audit_event SET seq = 2 WHERE seq = 5",
        "UPDATE audit_event SET seq = 5 WHERE seq = 100",
    )
    result = await log.verify()
    assert (result.first_broken, result.reason) == (2, "event 2 does not link to event 1")


async def test_r_acc_6_a_rewritten_tail_is_caught_by_a_signed_checkpoint(
    log: AuditLog, tmp_path: Path
) -> None:
    """R-ACC-6: a rewritten tail is caught by a signed checkpoint."""
    await fill(log)
    key = checkpoints.load_or_create_key(tmp_path / "signing.key")
    await checkpoints.make_checkpoint(log, key)
    assert (await checkpoints.verify_checkpoints(log, key.public_key())).intact
    # Cutting the last events leaves a chain that is whole but shorter than was signed.
    await as_attacker(log, "DELETE FROM audit_event WHERE seq > 4")
    assert (await log.verify()).intact
    result = await checkpoints.verify_checkpoints(log, key.public_key())
    assert result.first_broken == 6
    other = checkpoints.load_or_create_key(tmp_path / "other.key")
    forged = await checkpoints.verify_checkpoints(log, other.public_key())
    assert forged.reason == "a checkpoint's signature is false"


async def test_the_signing_key_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    key = checkpoints.load_or_create_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert checkpoints.key_id(checkpoints.load_or_create_key(path).public_key()) == (
        checkpoints.key_id(key.public_key())
    )


async def test_concurrent_appends_make_one_unbroken_chain(log: AuditLog) -> None:
    await asyncio.gather(*(log.append([entry(n), entry(n + 100)]) for n in range(12)))
    result = await log.verify()
    assert result.intact and result.checked == 24


async def test_appends_from_two_processes_make_one_unbroken_chain(audit_url: str) -> None:
    # Each log remembers the head it wrote last, which the other's appends then move on.
    first, second = AuditLog.open(audit_url), AuditLog.open(audit_url)
    try:
        for n in range(6):
            await (first, second)[n % 2].append([entry(n), entry(n + 100)])
        await asyncio.gather(
            *(log.append([entry(n)]) for n in range(10) for log in (first, second))
        )
        result = await second.verify()
    finally:
        await first.close()
        await second.close()
    assert result.intact and result.checked == 32


async def test_an_append_links_to_the_chain_as_it_is_not_as_last_written(log: AuditLog) -> None:
    await fill(log)
    # Cut back behind this process's back, as a restore from an older copy would.
    await as_attacker(log, "DELETE FROM audit_event WHERE seq > 4")
    await log.append([entry(7)])
    result = await log.verify()
    assert result.intact and result.checked == 5


class Sent:
    """The statements a log sends to its database: those through SQLAlchemy (its cursor
    events), and on PostgreSQL those sent on the driver's connection too (asyncpg's query
    loggers, on each connection the pool hands out)."""

    def __init__(self, log: AuditLog) -> None:
        self.statements: list[str] = []
        self._engine = log.engine.sync_engine
        event.listen(self._engine, "before_cursor_execute", self._cursor)
        event.listen(self._engine, "checkout", self._checkout)

    def _cursor(self, _conn: object, _cursor: object, statement: str, *_args: object) -> None:
        self.statements.append(statement)

    def _checkout(self, dbapi_connection: Any, *_args: object) -> None:
        if self._engine.dialect.name == "postgresql":
            dbapi_connection.driver_connection.add_query_logger(self._logged)

    def _logged(self, record: Any) -> None:
        self.statements.append(record.query)

    async def stop(self) -> list[str]:
        # asyncpg tells its loggers in the loop's next pass.
        await asyncio.sleep(0)
        event.remove(self._engine, "before_cursor_execute", self._cursor)
        event.remove(self._engine, "checkout", self._checkout)
        return self.statements


async def test_an_append_after_this_processs_own_is_one_statement(log: AuditLog) -> None:
    await log.append([entry(1)])
    sent = Sent(log)
    await log.append([entry(2), entry(3)])
    statements = await sent.stop()
    # On SQLite the write lock's BEGIN IMMEDIATE comes first.
    assert [s.split()[0] for s in statements if not s.startswith("BEGIN")] == ["INSERT"]
    assert (await log.verify()).checked == 3


async def test_appends_go_on_unbroken_across_the_connections_they_hold_in_turn(
    log: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL the one-statement append holds a connection of the pool a few seconds
    at a time; given back at every append here, the chain goes on as before."""
    monkeypatch.setattr(_one_statement, "HELD_SECONDS", 0.0)
    await fill(log, 5)
    # One held, the others back in the pool (they go back in the loop's next passes).
    held = 1 if log.engine.dialect.name == "postgresql" else 0
    pool = log.engine.sync_engine.pool
    for _ in range(100):
        if pool.checkedout() == held:
            break
        await asyncio.sleep(0.01)
    assert pool.checkedout() == held
    result = await log.verify()
    assert result.intact and result.checked == 5


def test_an_appended_event_holds_every_column_of_the_table() -> None:
    columns = tuple(column.key for column in inspect(AuditEvent).columns)
    assert AppendedEvent._fields == columns


async def test_an_append_survives_the_server_dropping_its_connections(log: AuditLog) -> None:
    if log.engine.dialect.name != "postgresql":
        pytest.skip("a server that drops connections (a restart): PostgreSQL's")
    await fill(log, 2)
    other = create_engine(log.engine.url.render_as_string(hide_password=False))
    try:
        async with other.connect() as connection:
            await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        await other.dispose()
    await log.append([entry(3)])
    result = await log.verify()
    assert result.intact and result.checked == 3


async def test_time_and_order_are_kept(log: AuditLog, frozen_clock: clock.FrozenClock) -> None:
    await log.append([entry(1)])
    frozen_clock.advance(timedelta(minutes=5))
    await log.append([entry(2)])
    auditor = Actor(handle="sec", roles=frozenset({Role.SECURITY_AUDITOR}))
    events = await log.events(actor=auditor, after_seq=0, limit=10)
    assert [e.principal for e in events] == ["user-1", "user-2"]
    assert events[1].at - events[0].at == timedelta(minutes=5)


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.SECURITY_AUDITOR])
async def test_r_acc_6_only_the_security_team_reads_the_log(log: AuditLog, role: Role) -> None:
    """R-ACC-6: only the security team reads the log."""
    with pytest.raises(Forbidden):
        await log.events(actor=Actor(handle="x", roles=frozenset({role})), after_seq=0, limit=1)


async def test_an_unwritable_log_fails_loudly(tmp_path: Path) -> None:
    broken = AuditLog.open(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'audit.db'}")
    try:
        with pytest.raises(AuditUnavailable):
            await broken.append([entry(1)])
    finally:
        await broken.close()


# R-ACC-6: an event may quote anything a caller sent; none of it stops the event.
ODD_TEXTS = [
    "a\x00b",
    "\ud800 a lone surrogate \udfff",
    "x" * 100_000,
    "\x1b[2J\r\n\t escapes of a terminal",
    "😀 e\u0301 \u202e right to left",
    "'; DROP TABLE audit_event; --",
]
LIMITS = {"principal": 80, "action": 80, "target": 300, "purpose": 80, "request_id": 64}


@pytest.mark.parametrize("odd", ODD_TEXTS)
async def test_r_acc_6_the_log_takes_any_text_and_the_chain_still_verifies(
    audit_url: str, odd: str
) -> None:
    """R-ACC-6: the log takes any text and the chain still verifies."""
    quoting = Entry(
        principal=odd,
        action=odd,
        outcome=Outcome.DENIED,
        target=odd,
        purpose=odd,
        request_id=odd,
        detail={"message": odd, odd: [odd, 1, None]},
    )
    # The first append of a process finds the head alone; the next ones in one statement.
    log = AuditLog.open(audit_url)
    try:
        await log.append([quoting])
        await log.append([entry(2), quoting])
        await log.append([entry(4)])
        events = await log.events(actor=Actor.system("test"), after_seq=0, limit=10)
        verified = await log.verify()
    finally:
        await log.close()
    assert verified.intact and verified.checked == 4
    first, _, second, _ = events
    for written in (first, second):
        for column, limit in LIMITS.items():
            kept = getattr(written, column)
            assert len(kept) <= limit and "\x00" not in kept
            kept.encode()  # valid UTF-8: no lone surrogate
        assert written.outcome is Outcome.DENIED
    fits = "\x00" not in odd and "\ud800" not in odd and len(odd) <= 300
    assert (first.target == odd) is fits
    assert first.target == second.target and first.detail == second.detail


def test_r_acc_6_unstorable_characters_are_kept_as_escapes_and_long_texts_as_their_hash() -> None:
    """R-ACC-6: unstorable characters are kept as escapes and long texts as their hash."""
    assert storable.fitted("handle=a\x00b\ud800", 300) == "handle=a\\x00b\\ud800"
    long = storable.fitted("y" * 1000, 300)
    digest = hashlib.sha256(b"y" * 1000).hexdigest()[:16]
    assert len(long) == 300 and long.endswith(f"...[1000 characters, SHA-256 {digest}]")
    assert long.startswith("y" * 250)
    assert storable.fitted_detail({"k\x00": ("v", {"n": 1})}) == {"k\\x00": ["v", {"n": 1}]}
