"""A transfer's page with its history, its edit form and the form that records a new one.

Both forms call what GraphQL's ``updateTransfer`` and ``createTransfer`` call, with the
signed-in actor: the service checks the whole transfer again (R-INV-2, R-INV-3, R-INV-7)
and its refusals are shown at the field they name.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.responses import Response
from starlette.routing import Route

from registry._edits import drafted
from registry.access.policy import Action
from registry.console.forms import REASON, Field, Form, Kind, Shown, changed, render, submitted
from registry.console.histories import history_of
from registry.console.visits import Visit, page
from registry.countries import AdequacyDecision
from registry.record.inventory.models import Activity, ActivityDataCategory, DataCategory, Entity
from registry.record.transfers import service as transfers
from registry.record.transfers.models import Mechanism, Transfer, TransferDataCategory

NONE = ("", "none")
SCC_MODULES = (NONE, *((str(n), f"Module {n}") for n in range(1, 5)))


def _terms(decisions: list[str], categories: list[str]) -> list[Field]:
    """The fields a transfer's safeguard and papers are edited by, as GraphQL names them."""
    return [
        Field(
            "destination_country_code",
            "Destination country (ISO code)",
            hint="Left empty: the importer's country.",
        ),
        Field("mechanism", "Mechanism", Kind.SELECT, [(m.value, _label(m)) for m in Mechanism]),
        Field("scc_module", "SCC module", Kind.SELECT, SCC_MODULES, convert=int),
        Field(
            "adequacy_decision",
            "Adequacy decision",
            Kind.SELECT,
            [NONE, *((slug, slug) for slug in decisions)],
            key="adequacy_decision_slug",
        ),
        Field("derogation", "Art. 49 derogation relied on", Kind.TEXTAREA),
        Field("signed_on", "Signed on", Kind.DATE),
        Field("tia_reference", "Transfer impact assessment (reference)"),
        Field("tia_date", "Transfer impact assessment (date)", Kind.DATE),
        Field("supplementary_measures", "Supplementary measures", Kind.TEXTAREA),
        Field("note", "Note", Kind.TEXTAREA),
        Field("ended_on", "Ended on", Kind.DATE),
        Field(
            "data_categories",
            "Data categories transferred",
            Kind.MULTI,
            [(key, key) for key in categories],
            key="data_category_keys",
        ),
    ]


def _label(mechanism: Mechanism) -> str:
    return mechanism.value.replace("_", " ")


async def _decision_slugs(session: AsyncSession) -> list[str]:
    query = select(col(AdequacyDecision.slug)).order_by(col(AdequacyDecision.slug))
    return list((await session.scalars(query)).all())


async def _category_keys(session: AsyncSession, activity_id: int | None = None) -> list[str]:
    """The data categories a transfer may carry: its activity's; any, before one is chosen."""
    query = select(col(DataCategory.key)).order_by(col(DataCategory.key))
    if activity_id is not None:
        query = query.join(
            ActivityDataCategory,
            col(ActivityDataCategory.data_category_id) == col(DataCategory.id),
        ).where(col(ActivityDataCategory.activity_id) == activity_id)
    return list((await session.scalars(query)).all())


async def _carried(session: AsyncSession, transfer: Transfer) -> tuple[str, ...]:
    query = (
        select(col(DataCategory.key))
        .join(
            TransferDataCategory, col(TransferDataCategory.data_category_id) == col(DataCategory.id)
        )
        .where(col(TransferDataCategory.transfer_id) == transfer.id)
        .order_by(col(DataCategory.key))
    )
    return tuple((await session.scalars(query)).all())


async def _current(session: AsyncSession, transfer: Transfer) -> dict[str, Any]:
    decision = (
        await session.get(AdequacyDecision, transfer.adequacy_decision_id)
        if transfer.adequacy_decision_id is not None
        else None
    )
    values = {name: getattr(transfer, name) for name in Transfer.model_fields}
    return {
        **values,
        "adequacy_decision": decision.slug if decision else None,
        "data_categories": await _carried(session, transfer),
    }


# ------------------------------------------------------------------------ the page


@page
async def transfer_page(visit: Visit) -> Response:
    visit.require(Action.TRANSFERS_READ)
    slug = visit.request.path_params["slug"]
    transfer = await transfers.transfer_by_slug(visit.db, slug)
    return visit.render(
        "transfer.html",
        transfer=transfer,
        values=await _current(visit.db, transfer),
        activity=await visit.db.get_one(Activity, transfer.activity_id),
        exporter=await visit.db.get_one(Entity, transfer.exporter_id),
        importer=await visit.db.get_one(Entity, transfer.importer_id),
        may_edit=visit.actor.may(Action.TRANSFERS_WRITE),
        **await history_of(visit, "transfer", slug),
    )


# ------------------------------------------------------------------------ the edit


async def _edit_form(session: AsyncSession, transfer: Transfer) -> Form:
    categories = await _category_keys(session, transfer.activity_id)
    return Form(_terms(await _decision_slugs(session), categories), mutation="updateTransfer")


def _edit_shown(slug: str) -> Shown:
    return Shown(f"Edit transfer {slug}", f"/transfers/{slug}/edit", f"/transfers/{slug}")


@page
async def edit_form(visit: Visit) -> Response:
    visit.require(Action.TRANSFERS_WRITE)
    transfer = await transfers.transfer_by_slug(visit.db, visit.request.path_params["slug"])
    form = await _edit_form(visit.db, transfer)
    return render(visit, form, _edit_shown(transfer.slug), await _current(visit.db, transfer))


@page
async def edit(visit: Visit) -> Response:
    visit.require(Action.TRANSFERS_WRITE)
    transfer = await transfers.transfer_by_slug(visit.db, visit.request.path_params["slug"])
    slug, current = transfer.slug, await _current(visit.db, transfer)
    form = await _edit_form(visit.db, transfer)
    return await submitted(
        visit,
        form,
        _edit_shown(slug),
        lambda given: transfers.update_transfer(
            session=visit.db,
            actor=visit.actor,
            slug=slug,
            changes=form.for_service(changed(given, current)),
            reason=given[REASON],
        ),
        lambda _: f"/transfers/{slug}",
    )


# ------------------------------------------------------------------------ a new one


async def _new_form(session: AsyncSession) -> Form:
    activities = (
        await session.scalars(
            select(Activity).where(col(Activity.retired_on).is_(None)).order_by(col(Activity.slug))
        )
    ).all()
    entities = (await session.scalars(select(Entity).order_by(col(Entity.slug)))).all()
    parties = [(entity.slug, f"{entity.legal_name} ({entity.slug})") for entity in entities]
    ends = [
        Field(
            "activity",
            "Activity",
            Kind.SELECT,
            [(a.slug, a.name) for a in activities],
            key="activity_slug",
        ),
        Field("exporter", "Exporter", Kind.SELECT, [NONE, *parties], key="exporter_slug"),
        Field("importer", "Importer", Kind.SELECT, [NONE, *parties], key="importer_slug"),
        Field("slug", "Slug", hint="Left empty: exporter--importer."),
    ]
    terms = _terms(await _decision_slugs(session), await _category_keys(session))
    return Form([*ends, *terms], mutation="createTransfer", asks_reason=False)


NEW = Shown("Record a transfer", "/transfers/new", "/transfers", submit="Record")


@page
async def new_form(visit: Visit) -> Response:
    visit.require(Action.TRANSFERS_WRITE)
    # The entity page's link names the exporter: the form starts from it.
    exporter = visit.request.query_params.get("exporter")
    return render(visit, await _new_form(visit.db), NEW, {"exporter": exporter})


@page
async def create(visit: Visit) -> Response:
    visit.require(Action.TRANSFERS_WRITE)
    form = await _new_form(visit.db)
    return await submitted(
        visit,
        form,
        NEW,
        lambda given: transfers.create_transfer(
            session=visit.db,
            actor=visit.actor,
            draft=drafted(transfers.TransferDraft, form.for_service(given)),
        ),
        lambda made: f"/transfers/{made.slug}",
    )


def routes() -> list[Route]:
    # ``/transfers/new`` before ``/transfers/{slug}``, which would take it for a slug.
    return [
        Route("/transfers/new", new_form, methods=["GET"]),
        Route("/transfers/new", create, methods=["POST"]),
        Route("/transfers/{slug}", transfer_page, methods=["GET"]),
        Route("/transfers/{slug}/edit", edit_form, methods=["GET"]),
        Route("/transfers/{slug}/edit", edit, methods=["POST"]),
    ]
