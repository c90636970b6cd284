"""Countries the record names, kept by the privacy team: added and corrected, never removed.

A country is known by its ISO 3166-1 alpha-2 code, fixed once recorded: entities,
transfers, decisions and calls name it. Its name and its EEA and EU memberships may change
(a state joins or leaves). Each write is an event of the change log with the whole row
(R-INV-4), so the record as of a day judges flows by the countries as they stood then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from iso3166 import countries_by_alpha2
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from registry._columns import text_lengths
from registry._edits import edited, refuse_unknown_fields
from registry._text import stated
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.countries import Country, CountryDraft
from registry.errors import Conflict, InvalidInput, NotFound
from registry.record.history import service as history
from registry.record.history.models import ChangeEvent

NAME_LIMIT = text_lengths(Country)["name"]
# The code names the country everywhere else in the record.
EDITABLE_FIELDS = frozenset(CountryDraft.model_fields) - {"code"}


async def list_countries(
    *, session: AsyncSession, actor: Actor, eea: bool | None = None
) -> Sequence[Country]:
    authorize(actor, Action.TRANSFERS_READ)
    query = select(Country).order_by(col(Country.code))
    if eea is not None:
        query = query.where(col(Country.eea).is_(eea))
    return (await session.scalars(query)).all()


async def country_by_code(session: AsyncSession, code: str) -> Country:
    country = await session.get(Country, code.strip().upper())
    if country is None:
        raise NotFound(f"no country {code!r}")
    return country


def iso_code(code: str) -> str:
    """``code`` as an assigned ISO 3166-1 alpha-2 code, upper case; anything else is refused
    (``UK`` is not one: the United Kingdom is ``GB``)."""
    cleaned = code.strip().upper()
    if cleaned not in countries_by_alpha2:
        raise InvalidInput(f"{code!r} is not an ISO 3166-1 alpha-2 country code", field="code")
    return cleaned


def _check_memberships(country: CountryDraft) -> None:
    # Every member of the EU is a party to the EEA Agreement.
    if country.eu and not country.eea:
        raise InvalidInput("a member of the EU is in the EEA too", field="eea")


async def add_country(*, session: AsyncSession, actor: Actor, draft: CountryDraft) -> Country:
    authorize(actor, Action.TRANSFERS_WRITE)
    code = iso_code(draft.code)
    if await session.get(Country, code) is not None:
        raise Conflict(f"the country {code} is on record already", field="code")
    name = stated(draft.name, "name", limit=NAME_LIMIT, one_line=True)
    country = Country(code=code, name=name, eea=draft.eea, eu=draft.eu)
    _check_memberships(country)
    session.add(country)
    await history.record_row(
        session=session,
        actor=actor,
        event=ChangeEvent.COUNTRY_ADDED,
        row=country,
        subject_slug=code,
    )
    return country


async def update_country(
    *,
    session: AsyncSession,
    actor: Actor,
    code: str,
    changes: Mapping[str, Any],
    reason: str | None = None,
) -> Country:
    """Applies the given changes; one that alters nothing is not recorded."""
    authorize(actor, Action.TRANSFERS_WRITE)
    refuse_unknown_fields(changes, EDITABLE_FIELDS)
    why = history.stated_reason(reason)
    country = await country_by_code(session, code)
    edit = edited(CountryDraft, country, changes)
    _check_memberships(edit)
    await history.apply_edit(
        session=session,
        actor=actor,
        event=ChangeEvent.COUNTRY_UPDATED,
        row=country,
        subject_slug=country.code,
        values={
            "name": stated(edit.name, "name", limit=NAME_LIMIT, one_line=True),
            "eea": edit.eea,
            "eu": edit.eu,
        },
        reason=why,
    )
    return country
