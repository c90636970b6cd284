"""The record beyond entities: the activity, transfers, gaps, who processes what, exports.

Each page reads as of its ``asOf`` day through the same services and rebuild as GraphQL,
with the signed-in actor.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from registry.access.policy import Action
from registry.console import fragments
from registry.console.entities import LIST_LIMIT, as_of
from registry.console.visits import Visit, page
from registry.errors import InvalidInput
from registry.exports import ropa
from registry.exports.writers import MEDIA_TYPES, Format, file_name, render
from registry.record import answers
from registry.record.past.as_of import session_as_of
from registry.record.transfers import service as transfers
from registry.record.transfers.models import Mechanism


@page
async def activities(visit: Visit) -> Response:
    day = as_of(visit)
    async with session_as_of(
        session=visit.db, actor=visit.actor, day=day, reading=Action.INVENTORY_READ
    ) as past:
        facts = await answers.load_activity_facts(past)
        return visit.render(
            "activities.html",
            activities=[facts[i] for i in sorted(facts)],
            may_create=visit.actor.may(Action.INVENTORY_WRITE) and day is None,
        )


@page
async def transfer_list(visit: Visit) -> Response:
    query = visit.request.query_params
    day = as_of(visit)
    mechanism = query.get("mechanism", "")
    country = query.get("country", "").strip().upper()
    flt = transfers.TransferFilter(
        destination_country_code=country or None,
        mechanism=Mechanism(mechanism) if mechanism in set(Mechanism) else None,
        include_ended=False,
        on=day,
    )
    async with session_as_of(
        session=visit.db, actor=visit.actor, day=day, reading=Action.TRANSFERS_READ
    ) as past:
        found = await transfers.list_transfers(
            session=past, actor=visit.actor, flt=flt, after_id=0, limit=LIST_LIMIT
        )
        gaps = (await answers.gaps(session=past, actor=visit.actor, on=day)).transfers
        gap_flows = [
            flow
            for flow in gaps
            if (not country or flow.destination_code == country)
            and (flt.mechanism is None or (flow.transfer and flow.transfer.mechanism == mechanism))
        ]
        return fragments.render(
            visit,
            "transfers.html",
            "_transfer_results.html",
            transfers=[] if query.get("gap") == "yes" else found,
            gap_flows=gap_flows,
            mechanisms=list(Mechanism),
            query=query,
            may_record=visit.actor.may(Action.TRANSFERS_WRITE) and day is None,
        )


@page
async def gaps(visit: Visit) -> Response:
    day = as_of(visit)
    async with session_as_of(
        session=visit.db, actor=visit.actor, day=day, reading=Action.TRANSFERS_READ
    ) as past:
        found = await answers.gaps(session=past, actor=visit.actor, on=day)
        return visit.render("gaps.html", gaps=found)


@page
async def who_processes(visit: Visit) -> Response:
    query = visit.request.query_params
    day = as_of(visit)
    async with session_as_of(
        session=visit.db, actor=visit.actor, day=day, reading=Action.TRANSFERS_READ
    ) as past:
        found = await answers.who_processes(
            session=past,
            actor=visit.actor,
            data_category=query.get("dataCategory") or None,
            subject_category=query.get("subjectCategory") or None,
            country_code=query.get("country") or None,
            on=day,
        )
        return visit.render("who_processes.html", found=found, query=query)


@page
async def exports(visit: Visit) -> Response:
    visit.require(Action.INVENTORY_READ)
    return visit.render("exports.html", formats=list(Format))


@page
async def export(visit: Visit) -> Response:
    """The Art. 30 export as a file, built and audited as ``GET /exports/ropa.*`` builds it."""
    name = visit.request.path_params["fmt"]
    if name not in set(Format):
        raise InvalidInput(f"no export format {name!r}", field="format")
    fmt = Format(name)
    built = await ropa.build(
        session=visit.db,
        actor=visit.actor,
        contact=visit.console.settings.privacy_contact,
        as_of=as_of(visit),
    )
    data = render(built, fmt)
    visit.audit("export.ropa", target=f"ropa.{fmt.value}", asOf=built.as_of.isoformat())
    return Response(
        data,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{file_name(built, fmt)}"'},
    )


def routes() -> list[Route]:
    return [
        Route("/activities", activities, methods=["GET"]),
        Route("/transfers", transfer_list, methods=["GET"]),
        Route("/gaps", gaps, methods=["GET"]),
        Route("/who-processes", who_processes, methods=["GET"]),
        Route("/exports", exports, methods=["GET"]),
        Route("/exports/ropa.{fmt}", export, methods=["GET"]),
    ]
