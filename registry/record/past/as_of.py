"""The record as it stood at the end of a day, rebuilt from the change log (R-INV-4).

"As of" is what the record said then (transaction time): a legal name corrected later
still reads as it was. The rebuild writes the record's tables as they stood into a
scratch in-memory SQLite database, and the same services and loaders answer from it, so
every way of reading the record answers as of the day without a second implementation.

Rows the log does not mention (countries, decisions and categories seeded before their
writes were logged) are copied as they are now, as is any row of a logged table the log has
never seen.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, DateTime, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from registry import clock
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.countries import AdequacyDecision, Country
from registry.db import Base, session_factory
from registry.errors import InvalidInput
from registry.record.documents.models import Document, DocumentParty, DocumentTransfer
from registry.record.history.service import record_version
from registry.record.inventory.models import (
    Activity,
    ActivityDataCategory,
    ActivityParty,
    ActivitySubject,
    DataCategory,
    Engagement,
    Entity,
    Purpose,
    PurposeBasis,
    SubjectCategory,
)
from registry.record.past.log import State, Subject, end_of, read_log, states_at
from registry.record.supervision.models import ControllerAuthority, SupervisoryAuthority
from registry.record.transfers.models import Transfer, TransferDataCategory

# The record's tables, parents first.
TABLES: list[Table] = [
    Base.metadata.tables[str(model.__tablename__)]
    for model in (
        Country,
        SupervisoryAuthority,
        DataCategory,
        SubjectCategory,
        Activity,
        ActivitySubject,
        Purpose,
        PurposeBasis,
        AdequacyDecision,
        Entity,
        ControllerAuthority,
        Engagement,
        ActivityParty,
        ActivityDataCategory,
        Transfer,
        TransferDataCategory,
        Document,
        DocumentParty,
        DocumentTransfer,
    )
]
Row = dict[str, Any]
# The database, its record version and the day.
CacheKey = tuple[str, int, date]
# Rebuilt days kept at once; each is a copy of the record in memory.
CACHE_SIZE = 8


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{text!r} is not a date (YYYY-MM-DD)", field="as_of") from None


def check_day(day: date, field: str = "as_of") -> None:
    if day > clock.today():
        raise InvalidInput(f"{day} is after today: the record knows no future", field=field)


@asynccontextmanager
async def session_as_of(
    *, session: AsyncSession, actor: Actor, day: date | None, reading: Action
) -> AsyncIterator[AsyncSession]:
    """A session on the record as it stood at the end of ``day`` (UTC), to read from only.

    No day, or today, is the record as it is: ``session`` itself. ``reading`` is what the
    answer to come needs: one who may not read it has no rebuild made for them either.
    """
    authorize(actor, reading)
    if day is None or day == clock.today():
        yield session
        return
    check_day(day)
    scratch = await _scratch_for(session, day)
    scratch.readers += 1
    try:
        async with session_factory(scratch.engine)() as past:
            yield past
    finally:
        scratch.release()


@dataclass
class _Scratch:
    """A rebuilt record in a shared in-memory SQLite database, alive while ``anchor`` or a
    reader's connection is open."""

    engine: AsyncEngine
    anchor: sqlite3.Connection
    readers: int = 0
    evicted: bool = False

    def release(self) -> None:
        self.readers -= 1
        self.close_if_unused()

    def close_if_unused(self) -> None:
        if self.evicted and self.readers == 0:
            self.anchor.close()


class ScratchCache:
    """A cache of rebuilt days, least recently used first out: the answer for a day stays
    true until the record's version moves, which makes a new key."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: OrderedDict[CacheKey, _Scratch] = OrderedDict()

    def get(self, key: CacheKey) -> _Scratch | None:
        found = self.entries.get(key)
        if found is not None:
            self.entries.move_to_end(key)
        return found

    def put(self, key: CacheKey, scratch: _Scratch) -> _Scratch:
        if (found := self.get(key)) is not None:
            # Built twice at once: keep the first, let the second go.
            scratch.evicted = True
            scratch.close_if_unused()
            return found
        self.entries[key] = scratch
        while len(self.entries) > self.size:
            _, old = self.entries.popitem(last=False)
            old.evicted = True
            old.close_if_unused()
        return scratch


_cache = ScratchCache(CACHE_SIZE)


async def _scratch_for(session: AsyncSession, day: date) -> _Scratch:
    # The database too: a process may serve more than one (tests, tools).
    database = session.get_bind().engine.url.render_as_string()
    key = (database, await record_version(session), day)
    if (found := _cache.get(key)) is not None:
        return found
    return _cache.put(key, await _rebuild(session, day))


def empty_scratch() -> _Scratch:
    """An empty scratch database of its own, shared by the connections that name it."""
    name = f"file:record-as-of-{uuid.uuid4().hex}?mode=memory&cache=shared"
    anchor = sqlite3.connect(name, uri=True, check_same_thread=False)
    # Each session opens its own connection, so concurrent readers never share one.
    engine = create_async_engine(f"sqlite+aiosqlite:///{name}&uri=true", poolclass=NullPool)
    return _Scratch(engine, anchor)


async def _rebuild(session: AsyncSession, day: date) -> _Scratch:
    scratch = empty_scratch()
    try:
        rows = await _rows_as_of(session, day)
        async with scratch.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all, tables=TABLES)
            for table in TABLES:
                if rows[table.name]:
                    await connection.execute(insert(table), rows[table.name])
    except BaseException:
        scratch.anchor.close()
        raise
    return scratch


async def _rows_as_of(session: AsyncSession, day: date) -> dict[str, list[Row]]:
    now = {table.name: await _live(session, table) for table in TABLES}
    past = states_at(await read_log(session), end_of(day))
    rows = {table.name: now[table.name] for table in TABLES}
    ids = _Ids(now)
    rows["country"] = _merged(now["country"], past, "country", lambda r: r["code"], _snapshot_row)
    # The taxonomy: categories added through the service are logged whole; seeded ones are not.
    for taxonomy in ("data_category", "subject_category"):
        rows[taxonomy] = _merged(now[taxonomy], past, taxonomy, lambda r: r["key"], _snapshot_row)
    ids.categories = {row["key"]: row["id"] for row in rows["data_category"]}
    _activities_as_of(rows, now, past, ids)
    rows["adequacy_decision"] = _merged(
        now["adequacy_decision"], past, "adequacy_decision", lambda r: r["slug"], _snapshot_row
    )
    rows["entity"] = _merged(now["entity"], past, "entity", lambda r: r["slug"], _snapshot_row)
    ids.entities = {row["slug"]: row["id"] for row in rows["entity"]}
    _authorities_as_of(rows, now, past, ids)
    rows["engagement"] = _merged(
        now["engagement"], past, "engagement", ids.engagement_slug, ids.engagement_row
    )
    rows["activity_party"] = _merged(
        now["activity_party"], past, "activity_party", ids.party_slug, ids.party_row
    )
    rows["activity_data_category"] = _merged(
        now["activity_data_category"],
        past,
        "activity_data_category",
        ids.retention_slug,
        ids.retention_row,
    )
    rows["transfer"] = _merged(
        now["transfer"], past, "transfer", lambda r: r["slug"], _snapshot_row
    )
    rows["transfer_data_category"] = ids.transfer_categories(
        rows["transfer"], past, now["transfer_data_category"]
    )
    rows["document"] = _merged(
        now["document"], past, "document", lambda r: r["slug"], _snapshot_row
    )
    rows["document_party"], rows["document_transfer"] = ids.document_links(
        rows["document"], rows["transfer"], past, now
    )
    _drop_orphans(rows)
    return {name: _typed(Base.metadata.tables[name], found) for name, found in rows.items()}


def _activities_as_of(
    rows: dict[str, list[Row]],
    now: dict[str, list[Row]],
    past: dict[Subject, State | None],
    ids: _Ids,
) -> None:
    """The activities, their subjects, purposes and legal bases as the log says they stood."""
    rows["activity"] = _merged(
        now["activity"], past, "activity", lambda r: r["slug"], _snapshot_row
    )
    ids.activities = {row["slug"]: row["id"] for row in rows["activity"]}
    rows["activity_subject"] = _merged(
        now["activity_subject"], past, "activity_subject", ids.subject_slug, ids.subject_row
    )
    rows["purpose"] = _merged(now["purpose"], past, "purpose", ids.purpose_slug, ids.purpose_row)
    ids.purposes = {ids.purpose_slug(row): row["id"] for row in rows["purpose"]}
    rows["purpose_basis"] = _merged(
        now["purpose_basis"], past, "purpose_basis", ids.basis_slug, ids.basis_row
    )


def _authorities_as_of(
    rows: dict[str, list[Row]],
    now: dict[str, list[Row]],
    past: dict[Subject, State | None],
    ids: _Ids,
) -> None:
    """The supervisory authorities, and which stood to each controller, as the log says."""
    rows["supervisory_authority"] = _merged(
        now["supervisory_authority"],
        past,
        "supervisory_authority",
        lambda r: r["slug"],
        _snapshot_row,
    )
    ids.authorities = {row["slug"]: row["id"] for row in rows["supervisory_authority"]}
    rows["controller_authority"] = _merged(
        now["controller_authority"],
        past,
        "controller_authority",
        ids.controller_authority_slug,
        ids.controller_authority_row,
    )


def _drop_orphans(rows: dict[str, list[Row]]) -> None:
    """Leaves out rows that hang off an activity or purpose that did not exist then."""
    activities = {row["id"] for row in rows["activity"]}
    for name in ("activity_subject", "purpose", "activity_party", "activity_data_category"):
        rows[name] = [row for row in rows[name] if row["activity_id"] in activities]
    purposes = {row["id"] for row in rows["purpose"]}
    rows["purpose_basis"] = [row for row in rows["purpose_basis"] if row["purpose_id"] in purposes]


async def _live(session: AsyncSession, table: Table) -> list[Row]:
    return [dict(row) for row in (await session.execute(select(table))).mappings()]


def _merged(
    live: list[Row],
    past: dict[Subject, State | None],
    subject_type: str,
    slug_of: Callable[[Row], str],
    row_of: Callable[[str, State, Row | None], Row | None],
) -> list[Row]:
    """The table's rows as they stood: each subject the log knows as the log says, the rest
    as it is now. A subject that did not exist then, or named what did not, is left out."""
    by_slug = {slug_of(row): row for row in live}
    for (kind, slug), state in past.items():
        if kind != subject_type:
            continue
        row = row_of(slug, state, by_slug.get(slug)) if state is not None else None
        if row is None:
            by_slug.pop(slug, None)
        else:
            by_slug[slug] = row
    return list(by_slug.values())


def _snapshot_row(_slug: str, state: State, _live: Row | None) -> Row:
    # Countries, entities, transfers, decisions and authorities are logged whole, ids included.
    return state


class _Ids:
    """Turns the log's slugs back into the rows' ids: a row that exists now keeps its id, one
    that no longer does gets a new one past the last."""

    def __init__(self, now: dict[str, list[Row]]) -> None:
        self.activities = {row["slug"]: row["id"] for row in now["activity"]}
        self.categories = {row["key"]: row["id"] for row in now["data_category"]}
        self.entities: dict[str, int] = {}
        self.next_id = {
            name: max((r.get("id") or 0 for r in rows), default=0) for name, rows in now.items()
        }
        self._entity_slugs = {row["id"]: row["slug"] for row in now["entity"]}
        self._activity_slugs = {row["id"]: row["slug"] for row in now["activity"]}
        self._category_keys = {row["id"]: row["key"] for row in now["data_category"]}
        self.subjects = {row["key"]: row["id"] for row in now["subject_category"]}
        self._subject_keys = {row["id"]: row["key"] for row in now["subject_category"]}
        self._purpose_slugs = {
            row["id"]: f"{self._activity_slugs[row['activity_id']]}>{row['key']}"
            for row in now["purpose"]
        }
        # Filled as the purposes are rebuilt: ``activity>key`` to the purpose's row id.
        self.purposes: dict[str, int] = {}
        # Filled as the authorities are rebuilt: slug to row id.
        self.authorities: dict[str, int] = {}

    def _new_id(self, table: str) -> int:
        self.next_id[table] += 1
        return self.next_id[table]

    def engagement_slug(self, row: Row) -> str:
        processor = self._entity_slugs[row["processor_id"]]
        return f"{processor}>{self._entity_slugs[row['sub_processor_id']]}"

    def engagement_row(self, slug: str, state: State, live: Row | None) -> Row | None:
        processor, sub_processor = state.get("processor"), state.get("sub_processor")
        if processor not in self.entities or sub_processor not in self.entities:
            return None
        return {
            "id": live["id"] if live else self._new_id("engagement"),
            "processor_id": self.entities[processor],
            "sub_processor_id": self.entities[sub_processor],
            "since": state.get("since"),
            "ended_on": state.get("ended_on"),
        }

    def controller_authority_slug(self, row: Row) -> str:
        return f"{self._entity_slugs[row['controller_id']]}>{row['role']}"

    def controller_authority_row(self, slug: str, state: State, live: Row | None) -> Row | None:
        controller, authority = state.get("controller"), state.get("authority")
        if controller not in self.entities or (
            authority is not None and authority not in self.authorities
        ):
            return None
        return {
            "id": live["id"] if live else self._new_id("controller_authority"),
            "controller_id": self.entities[controller],
            "role": state["role"],
            "authority_id": self.authorities[authority] if authority is not None else None,
            "note": state.get("note"),
        }

    def party_slug(self, row: Row) -> str:
        return f"{self._activity_slugs[row['activity_id']]}>{self._entity_slugs[row['entity_id']]}"

    def party_row(self, slug: str, state: State, live: Row | None) -> Row | None:
        activity, entity = state.get("activity"), state.get("entity")
        if activity not in self.activities or entity not in self.entities:
            return None
        return {
            "id": live["id"] if live else self._new_id("activity_party"),
            "activity_id": self.activities[activity],
            "entity_id": self.entities[entity],
            "role": state["role"],
        }

    def retention_slug(self, row: Row) -> str:
        activity = self._activity_slugs[row["activity_id"]]
        return f"{activity}>{self._category_keys[row['data_category_id']]}"

    def retention_row(self, slug: str, state: State, live: Row | None) -> Row | None:
        activity, _, key = slug.partition(">")
        if activity not in self.activities or key not in self.categories:
            return None
        return {
            "id": live["id"] if live else self._new_id("activity_data_category"),
            "activity_id": self.activities[activity],
            "data_category_id": self.categories[key],
            "retention_days": state.get("retention_days"),
            "retention_criterion": state.get("retention_criterion"),
            # Events written before a retention could be unstated were all stated ones.
            "retention_stated": state.get("retention_stated", True),
        }

    def subject_slug(self, row: Row) -> str:
        activity = self._activity_slugs[row["activity_id"]]
        return f"{activity}>{self._subject_keys[row['subject_category_id']]}"

    def subject_row(self, slug: str, state: State, live: Row | None) -> Row | None:
        activity, subject = state.get("activity"), state.get("subject_category")
        if activity not in self.activities or subject not in self.subjects:
            return None
        return {
            "id": live["id"] if live else self._new_id("activity_subject"),
            "activity_id": self.activities[activity],
            "subject_category_id": self.subjects[subject],
        }

    def purpose_slug(self, row: Row) -> str:
        return self._purpose_slugs.get(row["id"]) or (
            f"{self._activity_slugs[row['activity_id']]}>{row['key']}"
        )

    def purpose_row(self, slug: str, state: State, live: Row | None) -> Row | None:
        activity = state.get("activity")
        if activity not in self.activities:
            return None
        return {
            "id": live["id"] if live else self._new_id("purpose"),
            "activity_id": self.activities[activity],
            "key": state["key"],
            "name": state["name"],
            "description": state.get("description"),
        }

    def basis_slug(self, row: Row) -> str:
        purpose = self._purpose_slugs[row["purpose_id"]]
        return f"{purpose}>{self._subject_keys[row['subject_category_id']]}"

    def basis_row(self, slug: str, state: State, live: Row | None) -> Row | None:
        purpose = f"{state.get('activity')}>{state.get('purpose')}"
        subject = state.get("subject_category")
        if purpose not in self.purposes or subject not in self.subjects:
            return None
        return {
            "id": live["id"] if live else self._new_id("purpose_basis"),
            "purpose_id": self.purposes[purpose],
            "subject_category_id": self.subjects[subject],
            "legal_basis": state["legal_basis"],
            "note": state.get("note"),
        }

    def transfer_categories(
        self,
        transfers: list[Row],
        past: dict[Subject, State | None],
        live_links: list[Row],
    ) -> list[Row]:
        """A logged transfer's data categories as its snapshot lists them; the others' as now."""
        logged = {
            t["id"]: state
            for t in transfers
            if (state := past.get(("transfer", t["slug"]))) is not None
        }
        kept = {t["id"] for t in transfers}
        rows = [
            link
            for link in live_links
            if link["transfer_id"] in kept and link["transfer_id"] not in logged
        ]
        for transfer_id, state in logged.items():
            for key in state.get("data_category_keys") or []:
                if key in self.categories:
                    rows.append(
                        {
                            "id": self._new_id("transfer_data_category"),
                            "transfer_id": transfer_id,
                            "data_category_id": self.categories[key],
                        }
                    )
        return rows

    def document_links(
        self,
        documents: list[Row],
        transfers: list[Row],
        past: dict[Subject, State | None],
        now: dict[str, list[Row]],
    ) -> tuple[list[Row], list[Row]]:
        """A logged document's parties and transfers as its snapshot names them; the others'
        as now. A party or transfer that did not exist then is left out."""
        logged = {
            d["id"]: state
            for d in documents
            if (state := past.get(("document", d["slug"]))) is not None
        }
        kept = {d["id"] for d in documents} - set(logged)
        transfer_ids = {row["slug"]: row["id"] for row in transfers}
        entity_ids = set(self.entities.values())
        parties = [
            row
            for row in now["document_party"]
            if row["document_id"] in kept and row["entity_id"] in entity_ids
        ]
        covers = [
            row
            for row in now["document_transfer"]
            if row["document_id"] in kept and row["transfer_id"] in set(transfer_ids.values())
        ]
        for document_id, state in logged.items():
            for party in state.get("parties") or []:
                if party["entity"] in self.entities:
                    parties.append(
                        {
                            "id": self._new_id("document_party"),
                            "document_id": document_id,
                            "entity_id": self.entities[party["entity"]],
                            "role": party["role"],
                        }
                    )
            for slug in state.get("transfers") or []:
                if slug in transfer_ids:
                    covers.append(
                        {
                            "id": self._new_id("document_transfer"),
                            "document_id": document_id,
                            "transfer_id": transfer_ids[slug],
                        }
                    )
        return parties, covers


def _typed(table: Table, rows: Iterable[Row]) -> list[Row]:
    """Rows with every column of ``table``, dates parsed back from the log's ISO text. Keys
    the table does not have are left out (the log may hold more than the columns)."""
    return [{column.name: _value(column, row) for column in table.columns} for row in rows]


def _value(column: Any, row: Row) -> Any:
    if column.name not in row:
        # A column added after the snapshot was taken: its default, as the migration gave.
        default = column.default
        return default.arg if default is not None and default.is_scalar else None
    value = row[column.name]
    if isinstance(value, str) and isinstance(column.type, DateTime):
        return datetime.fromisoformat(value)
    if isinstance(value, str) and isinstance(column.type, Date):
        return date.fromisoformat(value)
    return value
