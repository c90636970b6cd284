"""The Commission's adequacy decisions (Art. 45): a decision's page with its history, and
the forms that record and correct one (a renewal moves its last day).

The forms call what GraphQL's ``createAdequacyDecision`` and ``updateAdequacyDecision``
call, with the signed-in actor.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from registry._edits import drafted
from registry.access.policy import Action
from registry.console.forms import REASON, Field, Form, Kind, Shown, changed, render, submitted
from registry.console.histories import history_of
from registry.console.visits import Visit, page
from registry.countries import AdequacyDecision, AdequacyDecisionDraft, AdequacyScope
from registry.record.transfers import decisions

TERMS = (
    Field("reference", "Reference (the decision's title or number)"),
    Field(
        "scope",
        "Scope",
        Kind.SELECT,
        [(scope.value, scope.value.replace("_", " ")) for scope in AdequacyScope],
    ),
    Field("scope_note", "What the scope covers", Kind.TEXTAREA),
    Field("adopted_on", "Adopted on", Kind.DATE),
    Field("valid_until", "Valid until (its last day)", Kind.DATE),
    Field("source", "Where it is published"),
    Field("verified", "Checked against the published decision", Kind.CHECKBOX),
    Field("note", "Note", Kind.TEXTAREA),
)
DECISION_FORM = Form(TERMS, mutation="updateAdequacyDecision")
NEW_FORM = Form(
    (
        Field("slug", "Slug", hint="Lower-case words joined by hyphens, e.g. jp-adequacy."),
        Field("country_code", "Country (ISO code)"),
        *TERMS,
    ),
    mutation="createAdequacyDecision",
    asks_reason=False,
)
NEW = Shown("Record an adequacy decision", "/adequacy-decisions/new", "/countries", submit="Record")


@page
async def decision_page(visit: Visit) -> Response:
    visit.require(Action.TRANSFERS_READ)
    decision = await decisions.decision_by_slug(visit.db, visit.request.path_params["slug"])
    return visit.render(
        "decision.html",
        decision=decision,
        may_edit=visit.actor.may(Action.TRANSFERS_WRITE),
        **await history_of(visit, "adequacy_decision", decision.slug),
    )


def _shown(slug: str) -> Shown:
    return Shown(
        f"Edit adequacy decision {slug}",
        f"/adequacy-decisions/{slug}/edit",
        f"/adequacy-decisions/{slug}",
    )


def _current(decision: AdequacyDecision) -> dict[str, Any]:
    return {name: getattr(decision, name) for name in DECISION_FORM.names}


@page
async def edit_form(visit: Visit) -> Response:
    visit.require(Action.TRANSFERS_WRITE)
    decision = await decisions.decision_by_slug(visit.db, visit.request.path_params["slug"])
    return render(visit, DECISION_FORM, _shown(decision.slug), _current(decision))


@page
async def edit(visit: Visit) -> Response:
    visit.require(Action.TRANSFERS_WRITE)
    decision = await decisions.decision_by_slug(visit.db, visit.request.path_params["slug"])
    slug, current = decision.slug, _current(decision)
    return await submitted(
        visit,
        DECISION_FORM,
        _shown(slug),
        lambda given: decisions.update_adequacy_decision(
            session=visit.db,
            actor=visit.actor,
            slug=slug,
            changes=changed(given, current),
            reason=given[REASON],
        ),
        lambda _: f"/adequacy-decisions/{slug}",
    )


@page
async def new_form(visit: Visit) -> Response:
    visit.require(Action.TRANSFERS_WRITE)
    return render(visit, NEW_FORM, NEW, {"scope": AdequacyScope.WHOLE_COUNTRY.value})


@page
async def create(visit: Visit) -> Response:
    visit.require(Action.TRANSFERS_WRITE)
    return await submitted(
        visit,
        NEW_FORM,
        NEW,
        lambda given: decisions.create_adequacy_decision(
            session=visit.db,
            actor=visit.actor,
            draft=drafted(AdequacyDecisionDraft, given),
        ),
        lambda made: f"/adequacy-decisions/{made.slug}",
    )


def routes() -> list[Route]:
    # ``/adequacy-decisions/new`` before ``/adequacy-decisions/{slug}``.
    return [
        Route("/adequacy-decisions/new", new_form, methods=["GET"]),
        Route("/adequacy-decisions/new", create, methods=["POST"]),
        Route("/adequacy-decisions/{slug}", decision_page, methods=["GET"]),
        Route("/adequacy-decisions/{slug}/edit", edit_form, methods=["GET"]),
        Route("/adequacy-decisions/{slug}/edit", edit, methods=["POST"]),
    ]
