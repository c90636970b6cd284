"""Rotating the blind index's secret: a new secret current, every stored index recomputed.

A rotation makes a new index secret current in the key ring, then recomputes the stored
indexes under it in batches that commit one by one: the subjects' phone and e-mail indexes,
then those of the requesters of rights requests. Each row records the version of the secret
its indexes are under, so a run stopped half-way and started again goes on where it was:
it makes no second secret while an older one is still held, and takes only the rows not yet
under the current one. Meanwhile a lookup matches under every secret the ring holds
(``registry.rights.lookup``), so a subject is found on either side of the work. Once no
index is left under an older secret, those secrets are retired from the ring.

A subject's index is recomputed from its sealed phone and e-mail. A subject whose sealed
value does not open is left under the old secret and named, which keeps the old secret
in use. Erased identifiers have no index, and nothing to recompute.

A rights request keeps no clear value of what the requester gave: only its indexes. An
index is recomputed when the request is linked to a subject whose sealed phone or e-mail
has that very index under a secret of the ring, which proves it is the same value. Any
other index (no subject linked yet, the requester gave other details, the subject's
identifiers are erased) cannot be recomputed. An open request keeps it under the old
secret, which stays in the ring until the request is linked or closes; a closed request
has it cleared, since keeping an index under a secret being retired would keep that secret
alive for good. Either way a later request, indexed under the new secret, is matched to it as
a repeat (R-DSR-4) by subject only, not by that phone or e-mail.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from registry.audit.models import Outcome
from registry.audit.service import AuditLog, AuditUnavailable, Entry
from registry.crypto import CiphertextInvalid, KeyRing, Kind, blind_index, blind_indexes, open_field
from registry.db import claimed
from registry.recordings.models import Subject
from registry.rights.models import RightsRequest

KINDS: tuple[Kind, ...] = ("phone", "email")
Row = TypeVar("Row", Subject, RightsRequest)
Done = Literal["reindexed", "cleared", "waiting", "unreadable"]


class RotationStopped(Exception):
    """The rotation could not start, or stopped; the message says in what state it left things."""


@dataclass
class Reindexed:
    """What a rotation did, batch by committed batch."""

    subjects: int = 0
    requests: int = 0
    # Closed requests whose requester's index could not be recomputed: cleared.
    cleared: list[int] = field(default_factory=list)
    # Open requests whose requester's index cannot be recomputed yet: under the old secret.
    waiting: list[int] = field(default_factory=list)
    # Subjects whose sealed phone or e-mail does not open: under the old secret.
    unreadable: list[int] = field(default_factory=list)

    def count(
        self, model: type[Subject] | type[RightsRequest], done: list[tuple[int, Done]]
    ) -> None:
        for row_id, outcome in done:
            if outcome == "reindexed" and model is Subject:
                self.subjects += 1
            elif outcome == "reindexed":
                self.requests += 1
            else:
                getattr(self, outcome).append(row_id)


@dataclass
class IndexRotation:
    version: int
    # False when this run went on with a rotation an earlier run began.
    began: bool
    reindexed: Reindexed
    # Indexes still under an older secret: waiting, unreadable, or held by another worker.
    left: int
    retired: list[int]


def _stale(model: type[Subject] | type[RightsRequest], version: int) -> ColumnElement[bool]:
    """Rows with an index under a secret other than ``version`` (none recorded: the first)."""
    return and_(
        or_(col(model.phone_index).is_not(None), col(model.email_index).is_not(None)),
        or_(col(model.index_secret_version).is_(None), col(model.index_secret_version) != version),
    )


async def reindex_all(
    *,
    sessions: async_sessionmaker[AsyncSession],
    ring: KeyRing,
    version: int,
    batch: int = 500,
    progress: Reindexed | None = None,
) -> Reindexed:
    """Recomputes every stored index not yet under the index secret ``version``.

    ``progress`` is filled in as each batch commits, so that a caller knows how far a
    rotation got even when it stops with an error.
    """
    progress = progress if progress is not None else Reindexed()

    async def subject(_: AsyncSession, row: Subject) -> Done:
        return _reindex_subject(ring, version, row)

    async def request(session: AsyncSession, row: RightsRequest) -> Done:
        return await _reindex_request(session, ring, version, row)

    await _reindex_table(sessions, Subject, version, batch, progress, subject)
    await _reindex_table(sessions, RightsRequest, version, batch, progress, request)
    return progress


async def _reindex_table(
    sessions: async_sessionmaker[AsyncSession],
    model: type[Row],
    version: int,
    batch: int,
    progress: Reindexed,
    step: Callable[[AsyncSession, Row], Awaitable[Done]],
) -> None:
    # In order of ID, from after the last one seen: a row left as it was is not taken
    # again in this run, and a row another worker holds is skipped, not waited for.
    after = 0
    while True:
        done: list[tuple[int, Done]] = []
        async with sessions() as session, session.begin():
            query = (
                select(model)
                .where(_stale(model, version), col(model.id) > after)
                .order_by(col(model.id))
                .limit(batch)
            )
            rows = (await session.scalars(claimed(session, query))).all()
            for row in rows:
                done.append((row.id, await step(session, row)))
        progress.count(model, done)
        if len(rows) < batch:
            return
        after = rows[-1].id


def _opened(ring: KeyRing, subject: Subject, kind: Kind) -> str | None:
    sealed: bytes | None = getattr(subject, f"{kind}_sealed")
    if sealed is None:
        return None
    # Bound to its row and column as registry.recordings.calls.seal_identifiers sealed it.
    return open_field(ring, sealed, f"subject:{subject.id}:{kind}")


def _reindex_subject(ring: KeyRing, version: int, subject: Subject) -> Done:
    fresh: dict[Kind, str | None] = {}
    for kind in KINDS:
        if getattr(subject, f"{kind}_index") is None:
            fresh[kind] = None
            continue
        try:
            value = _opened(ring, subject, kind)
            if value is None:
                return "unreadable"
            fresh[kind] = blind_index(ring, kind, value, version=version)
        except (CiphertextInvalid, ValueError):
            return "unreadable"
    subject.phone_index, subject.email_index = fresh["phone"], fresh["email"]
    subject.index_secret_version = version
    return "reindexed"


async def _reindex_request(
    session: AsyncSession, ring: KeyRing, version: int, request: RightsRequest
) -> Done:
    subject = None if request.subject_id is None else await session.get(Subject, request.subject_id)
    fresh: dict[Kind, str | None] = {}
    unproven = False
    for kind in KINDS:
        stored: str | None = getattr(request, f"{kind}_index")
        fresh[kind] = None if stored is None else _carried(ring, version, subject, kind, stored)
        unproven = unproven or (stored is not None and fresh[kind] is None)
    if unproven and request.closed_at is None:
        return "waiting"
    request.phone_index, request.email_index = fresh["phone"], fresh["email"]
    request.index_secret_version = version
    return "cleared" if unproven else "reindexed"


def _carried(
    ring: KeyRing, version: int, subject: Subject | None, kind: Kind, stored: str
) -> str | None:
    """The request's index under ``version``, when its subject's sealed value has ``stored``
    as its index under some secret of the ring: then the two are the same value."""
    if subject is None:
        return None
    try:
        value = _opened(ring, subject, kind)
        if value is None or stored not in blind_indexes(ring, kind, value):
            return None
        return blind_index(ring, kind, value, version=version)
    except (CiphertextInvalid, ValueError):
        return None


async def under_older_secrets(*, sessions: async_sessionmaker[AsyncSession], version: int) -> int:
    """How many rows have an index under an index secret other than ``version``."""
    left = 0
    async with sessions() as session:
        for model in (Subject, RightsRequest):
            count = await session.scalar(
                select(func.count()).select_from(model).where(_stale(model, version))
            )
            left += count or 0
    return left


def _entry(
    principal: str, version: int, progress: Reindexed, retired: list[int], outcome: Outcome
) -> Entry:
    detail: dict[str, Any] = {
        "version": version,
        "subjects": progress.subjects,
        "requests": progress.requests,
        "cleared": progress.cleared,
        "waiting": progress.waiting,
        "unreadable": progress.unreadable,
        "retired": retired,
    }
    return Entry(principal=principal, action="keys.rotate_index", outcome=outcome, detail=detail)


def _summary(error: BaseException) -> str:
    # The first line only: a database error goes on with the statement and its parameters.
    lines = str(error).splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


async def rotate_index(
    *,
    sessions: async_sessionmaker[AsyncSession],
    ring: KeyRing,
    audit_log: AuditLog,
    principal: str,
    batch: int = 500,
) -> IndexRotation:
    """Makes a new index secret current, unless a rotation is under way already; recomputes
    every index under it; retires the older secrets once no index is under them. Audited as
    ``keys.rotate_index``, a rotation that stopped as failed."""
    # The database must answer before the ring changes: a new secret would index nothing.
    try:
        async with sessions() as session:
            await session.execute(select(1))
    except (SQLAlchemyError, OSError) as error:
        raise RotationStopped(
            f"the database cannot be reached ({_summary(error)}); the key ring is unchanged"
        ) from None
    # An older secret still held means a rotation stopped before it was done: finish that
    # one. A new secret now would make every row done so far be done again.
    began = len(ring.index_versions) == 1
    try:
        version = ring.add_index_secret() if began else ring.index_version
    except OSError as error:
        raise RotationStopped(
            f"cannot write the key ring: {error.strerror or error}; it is unchanged"
        ) from None
    progress = Reindexed()
    try:
        await reindex_all(
            sessions=sessions, ring=ring, version=version, batch=batch, progress=progress
        )
    except Exception as error:
        with contextlib.suppress(AuditUnavailable):
            await audit_log.append([_entry(principal, version, progress, [], Outcome.FAILED)])
        raise RotationStopped(
            f"the index rotation stopped after recomputing the indexes of {progress.subjects}"
            f" subjects and {progress.requests} rights requests under index secret {version}"
            f" ({_summary(error)}); lookups match under the older secrets too, which stay in"
            " the ring: run `registry keys rotate-index` again to finish"
        ) from error
    left = await under_older_secrets(sessions=sessions, version=version)
    # A server that had not yet read the new ring may still write a row under an older
    # secret after this count: that row is taken by the next run, from its sealed values.
    retired = ring.retire_index_secrets(version) if left == 0 else []
    outcome = Outcome.FAILED if progress.unreadable else Outcome.ALLOWED
    try:
        await audit_log.append([_entry(principal, version, progress, retired, outcome)])
    except AuditUnavailable:
        raise RotationStopped(
            f"index secret {version} is current and {progress.subjects + progress.requests}"
            " rows were re-indexed, but the audit log cannot be written"
        ) from None
    return IndexRotation(version, began, progress, left, retired)
