"""The countries the record names: their list with the adequacy decisions, a country's page
with its history, and the forms that add and correct one.

The forms call what GraphQL's ``addCountry`` and ``updateCountry`` call, with the signed-in
actor; a code that ISO 3166-1 does not assign, or an EU member outside the EEA, is refused
at its field.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col
from starlette.responses import Response
from starlette.routing import Route

from registry._edits import drafted
from registry.access.policy import Action
from registry.console.forms import REASON, Field, Form, Kind, Shown, changed, render, submitted
from registry.console.histories import history_of
from registry.console.visits import Visit, page
from registry.countries import AdequacyDecision, Country, CountryDraft
from registry.record.countries import service as countries

MEMBERSHIPS = (
    Field("eea", "In the European Economic Area", Kind.CHECKBOX),
    Field("eu", "In the European Union", Kind.CHECKBOX),
)
COUNTRY_FORM = Form((Field("name", "Name"), *MEMBERSHIPS), mutation="updateCountry")
NEW_FORM = Form(
    (
        Field("code", "ISO 3166-1 alpha-2 code", hint="GB, not UK."),
        Field("name", "Name"),
        *MEMBERSHIPS,
    ),
    mutation="addCountry",
    asks_reason=False,
)
NEW = Shown("Add a country", "/countries/new", "/countries", submit="Add")


@page
async def country_list(visit: Visit) -> Response:
    found = await countries.list_countries(session=visit.db, actor=visit.actor)
    decisions = (
        await visit.db.scalars(select(AdequacyDecision).order_by(col(AdequacyDecision.slug)))
    ).all()
    return visit.render(
        "countries.html",
        countries=found,
        decisions=decisions,
        may_edit=visit.actor.may(Action.TRANSFERS_WRITE),
    )


@page
async def country_page(visit: Visit) -> Response:
    visit.require(Action.TRANSFERS_READ)
    country = await countries.country_by_code(visit.db, visit.request.path_params["code"])
    return visit.render(
        "country.html",
        country=country,
        may_edit=visit.actor.may(Action.TRANSFERS_WRITE),
        **await history_of(visit, "country", country.code),
    )


def _shown(country: Country) -> Shown:
    code = country.code
    return Shown(f"Edit {country.name} ({code})", f"/countries/{code}/edit", f"/countries/{code}")


def _current(country: Country) -> dict[str, object]:
    return {name: getattr(country, name) for name in COUNTRY_FORM.names}


@page
async def edit_form(visit: Visit) -> Response:
    visit.require(Action.TRANSFERS_WRITE)
    country = await countries.country_by_code(visit.db, visit.request.path_params["code"])
    return render(visit, COUNTRY_FORM, _shown(country), _current(country))


@page
async def edit(visit: Visit) -> Response:
    visit.require(Action.TRANSFERS_WRITE)
    country = await countries.country_by_code(visit.db, visit.request.path_params["code"])
    code, current = country.code, _current(country)
    return await submitted(
        visit,
        COUNTRY_FORM,
        _shown(country),
        lambda given: countries.update_country(
            session=visit.db,
            actor=visit.actor,
            code=code,
            changes=changed(given, current),
            reason=given[REASON],
        ),
        lambda _: f"/countries/{code}",
    )


@page
async def new_form(visit: Visit) -> Response:
    visit.require(Action.TRANSFERS_WRITE)
    return render(visit, NEW_FORM, NEW, {})


@page
async def add(visit: Visit) -> Response:
    visit.require(Action.TRANSFERS_WRITE)
    return await submitted(
        visit,
        NEW_FORM,
        NEW,
        lambda given: countries.add_country(
            session=visit.db, actor=visit.actor, draft=drafted(CountryDraft, given)
        ),
        lambda added: f"/countries/{added.code}",
    )


def routes() -> list[Route]:
    # ``/countries/new`` before ``/countries/{code}``, which would take it for a code.
    return [
        Route("/countries", country_list, methods=["GET"]),
        Route("/countries/new", new_form, methods=["GET"]),
        Route("/countries/new", add, methods=["POST"]),
        Route("/countries/{code}", country_page, methods=["GET"]),
        Route("/countries/{code}/edit", edit_form, methods=["GET"]),
        Route("/countries/{code}/edit", edit, methods=["POST"]),
    ]
