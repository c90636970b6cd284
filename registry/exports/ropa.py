"""The records of processing (Art. 30), flattened into rows of text for export.

One row per activity and controller (Art. 30(1)), and one per activity and processor
(Art. 30(2)). The rows are built from the inventory's services, as every other door
is, so an export says what GraphQL says. What the record lacks stays empty and is
named in ``gaps`` (R-INV-5): an export is evidence, so nothing is filled in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from registry import clock
from registry.access.policy import Action
from registry.access.service import Actor
from registry.errors import InvalidInput
from registry.record import answers as record
from registry.record.answers import (
    ActivityFacts,
    ControllerRecord,
    EntityGap,
    EntityGapReason,
    Processing,
    ProcessingRole,
    ProcessorRecord,
)
from registry.record.documents import service as documents
from registry.record.documents.models import Document, DocumentKind
from registry.record.graph import Flow
from registry.record.history.events import EVENT_KINDS
from registry.record.history.models import Change, ChangeEvent
from registry.record.imports.listing import entity_rows
from registry.record.inventory.models import Activity, DataCategory, Entity, LegalBasis
from registry.record.past.as_of import session_as_of
from registry.record.supervision.models import AuthorityRole
from registry.record.transfers.models import Mechanism, Transfer
from registry.record.transfers.safeguards import SIGNED_PAPERS, Safeguard

Cell = str | tuple[str, ...]

CONTROLLER_ROLES = frozenset({ProcessingRole.JOINT_CONTROLLER})
PROCESSOR_ROLES = frozenset({ProcessingRole.PROCESSOR, ProcessingRole.SUB_PROCESSOR})

LEGAL_BASES = {
    LegalBasis.CONSENT: "Art. 6(1)(a) consent",
    LegalBasis.CONTRACT: "Art. 6(1)(b) contract",
    LegalBasis.LEGAL_OBLIGATION: "Art. 6(1)(c) legal obligation",
    LegalBasis.VITAL_INTERESTS: "Art. 6(1)(d) vital interests",
    LegalBasis.PUBLIC_TASK: "Art. 6(1)(e) public task",
    LegalBasis.LEGITIMATE_INTERESTS: "Art. 6(1)(f) legitimate interests",
}
GAP_REASONS = {
    EntityGapReason.NO_REGISTERED_OFFICE: "no registered office",
    EntityGapReason.UNVERIFIED_NAME: "name not verified",
    EntityGapReason.NO_CONTACT: "no contact",
    EntityGapReason.NO_LEAD_AUTHORITY: "no lead supervisory authority",
}
ROLES = {
    ProcessingRole.JOINT_CONTROLLER: "joint controller",
    ProcessingRole.PROCESSOR: "processor",
    ProcessingRole.SUB_PROCESSOR: "sub-processor",
}
MECHANISMS = {
    Mechanism.SCC_2021_914: "standard contractual clauses (EU) 2021/914",
    Mechanism.ADEQUACY_DECISION: "adequacy decision (Art. 45)",
    Mechanism.BCR: "binding corporate rules (Art. 47)",
    Mechanism.ART49_DEROGATION: "derogation (Art. 49)",
    Mechanism.UK_IDTA: "UK International Data Transfer Agreement",
    Mechanism.UK_ADDENDUM: "UK Addendum to the standard contractual clauses (EU) 2021/914",
}
SAFEGUARDS = {
    Safeguard.WITHIN_EEA: "within the EEA",
    Safeguard.NOT_A_TRANSFER_FROM_THE_EEA: "not a transfer from the EEA",
    Safeguard.NOT_A_TRANSFER: "not a transfer: within one country",
    Safeguard.ADEQUACY: "adequacy",
    Safeguard.TRANSFER_MECHANISM: "transfer mechanism",
    Safeguard.GAP: "no valid safeguard",
}
# The rights the registry runs for every data subject of an activity, as the notice gives
# them and R-DSR-1 lists them: the same for every activity, so a fixed list.
RIGHTS = (
    "access (Art. 15)",
    "rectification (Art. 16)",
    "erasure (Art. 17)",
    "restriction (Art. 18)",
    "portability (Art. 20)",
    "objection (Art. 21)",
    "withdrawal of consent (Art. 7(3))",
    "complaint to a supervisory authority (Art. 77)",
)
# Where the proof of consent is: each call's consent steps (R-CON-1), kept with the call.
CONSENT_RECORDS = (
    "consent steps of each call (IVR choice, agent's answer, refusal, withdrawal; R-CON-1), "
    "kept with the call in the registry (table consent_event, GraphQL query call)"
)
NOT_RECORDED = "not recorded"
NO_PRIVACY_CONTACT = "group privacy contact not configured (set REGISTRY_PRIVACY_CONTACT) [R-INV-5]"
# The change log's subjects that are an activity or one of its links (slug "activity>...").
ACTIVITY_SUBJECT = "activity"
ACTIVITY_LINKS = frozenset({"activity_party", "activity_data_category"})


@dataclass(frozen=True)
class ControllerRow:
    """Art. 30(1), fields (a) to (g), of one controller for one activity."""

    activity: str = field(metadata={"label": "Activity"})
    activity_name: str = field(metadata={"label": "Processing activity"})
    controller: str = field(metadata={"label": "Controller"})
    legal_name: str = field(metadata={"label": "(a) Name of the controller"})
    known_as: str = field(metadata={"label": "(a) Known as"})
    country_code: str = field(metadata={"label": "(a) Country"})
    registered_office: str = field(metadata={"label": "(a) Registered office"})
    contact: str = field(metadata={"label": "(a) Contact"})
    dpo: str = field(metadata={"label": "(a) Data protection officer"})
    representative: str = field(metadata={"label": "(a) Representative"})
    lead_authority: str = field(metadata={"label": "Lead supervisory authority"})
    complaint_authority: str = field(metadata={"label": "Supervisory authority for complaints"})
    joint_controllers: tuple[str, ...] = field(metadata={"label": "(a) Joint controllers"})
    purposes: tuple[str, ...] = field(metadata={"label": "(b) Purposes and legal bases"})
    subject_categories: tuple[str, ...] = field(metadata={"label": "(c) Data subjects"})
    data_categories: tuple[str, ...] = field(metadata={"label": "(c) Personal data"})
    recipient_categories: tuple[str, ...] = field(metadata={"label": "(d) Recipients"})
    recipients: tuple[str, ...] = field(metadata={"label": "(d) Processors"})
    transfers: tuple[str, ...] = field(metadata={"label": "(e) Transfers out"})
    transfers_in: tuple[str, ...] = field(metadata={"label": "(e) Transfers in"})
    retention: tuple[str, ...] = field(metadata={"label": "(f) Time limits for erasure"})
    security_measures: tuple[str, ...] = field(metadata={"label": "(g) Security measures"})
    source: str = field(metadata={"label": "Source of the data"})
    automated_decisions: str = field(metadata={"label": "Automated decision-making"})
    rights: tuple[str, ...] = field(metadata={"label": "Rights of the data subjects"})
    locations: tuple[str, ...] = field(metadata={"label": "Location of the data (countries)"})
    consent_records: str = field(metadata={"label": "Consent records"})
    dpia_status: str = field(metadata={"label": "DPIA status"})
    dpia_reference: str = field(metadata={"label": "DPIA reference"})
    lia_reference: str = field(metadata={"label": "LIA reference"})
    notice_last_updated: str = field(metadata={"label": "Notice last updated"})
    notice_authoritative_language: str = field(metadata={"label": "Notice: authoritative version"})
    platform: str = field(metadata={"label": "Platform"})
    contracts: str = field(metadata={"label": "Contracts and DPA"})
    created_at: str = field(metadata={"label": "Activity created"})
    updated_at: str = field(metadata={"label": "Activity last updated"})
    gaps: tuple[str, ...] = field(metadata={"label": "Gaps in the record"})


@dataclass(frozen=True)
class ProcessorRow:
    """Art. 30(2), fields (a) to (d), of one processor or sub-processor for one activity."""

    activity: str = field(metadata={"label": "Activity"})
    activity_name: str = field(metadata={"label": "Processing activity"})
    processor: str = field(metadata={"label": "Processor"})
    role: str = field(metadata={"label": "Role"})
    legal_name: str = field(metadata={"label": "(a) Name of the processor"})
    known_as: str = field(metadata={"label": "(a) Known as"})
    country_code: str = field(metadata={"label": "(a) Country"})
    registered_office: str = field(metadata={"label": "(a) Registered office"})
    contact: str = field(metadata={"label": "(a) Contact"})
    dpo: str = field(metadata={"label": "(a) Data protection officer"})
    representative: str = field(metadata={"label": "(a) Representative"})
    controllers: tuple[str, ...] = field(metadata={"label": "(a) Controllers"})
    controllers_contact: tuple[str, ...] = field(metadata={"label": "(a) Controllers' contact"})
    sub_processors: tuple[str, ...] = field(metadata={"label": "(a) Sub-processors"})
    operations: tuple[str, ...] = field(metadata={"label": "(b) Processing carried out"})
    transfers: tuple[str, ...] = field(metadata={"label": "(c) Transfers"})
    security_measures: tuple[str, ...] = field(metadata={"label": "(d) Security measures"})
    gaps: tuple[str, ...] = field(metadata={"label": "Gaps in the record"})


@dataclass(frozen=True)
class TransferRow:
    """One judged hop of an activity's data across a border, with its safeguard or its gap."""

    activity: str = field(metadata={"label": "Activity"})
    exporter: str = field(metadata={"label": "Exporter"})
    exporter_country: str = field(metadata={"label": "Exporter's country"})
    importer: str = field(metadata={"label": "Importer"})
    importer_country: str = field(metadata={"label": "Importer's country"})
    destination: str = field(metadata={"label": "Destination"})
    safeguard: str = field(metadata={"label": "Safeguard"})
    mechanism: str = field(metadata={"label": "Mechanism"})
    scc_module: str = field(metadata={"label": "SCC module"})
    signed_on: str = field(metadata={"label": "Signed on"})
    tia_reference: str = field(metadata={"label": "TIA reference"})
    tia_date: str = field(metadata={"label": "TIA date"})
    supplementary_measures: str = field(metadata={"label": "Supplementary measures"})
    gap_rule: str = field(metadata={"label": "Gap: rule"})
    gap_reason: str = field(metadata={"label": "Gap: reason"})


@dataclass(frozen=True)
class RopaExport:
    """The records as of one day: safeguards are judged on that day. ``exported_at`` is
    when the export was made, which an authority asks for beside the day it describes."""

    as_of: date
    controllers: list[ControllerRow]
    processors: list[ProcessorRow]
    transfers: list[TransferRow] = field(default_factory=list)
    exported_at: datetime = field(default_factory=clock.now)
    # Every entity, one row each in the entity list's layout (the import reads it back).
    entities: list[tuple[str, ...]] = field(default_factory=list)


async def build(
    *,
    session: AsyncSession,
    actor: Actor,
    contact: str | None,
    controller: str | None = None,
    as_of: date | None = None,
) -> RopaExport:
    """The joint controllers' records (or one's), and those of the processors acting for them.

    ``contact`` is the group's privacy contact, shown for controllers without their own;
    None while it is not configured, a gap.
    ``as_of``: the records as they stood at the end of that day, judged on that day.
    """
    reading = Action.INVENTORY_READ
    exported_at = clock.now()
    async with session_as_of(session=session, actor=actor, day=as_of, reading=reading) as past:
        # The log is read where it is kept: a rebuilt past holds the record, not its log.
        dates = await _activity_dates(session, as_of)
        export = await _build(
            session=past, actor=actor, contact=contact, controller=controller, on=as_of
        )
        entities = await entity_rows(session=past, actor=actor, on=as_of)
    controllers = [_dated(row, dates) for row in export.controllers]
    return RopaExport(
        export.as_of, controllers, export.processors, export.transfers, exported_at, entities
    )


async def _build(
    *,
    session: AsyncSession,
    actor: Actor,
    contact: str | None,
    controller: str | None,
    on: date | None,
) -> RopaExport:
    found = await record.who_processes(session=session, actor=actor, on=on)
    parties = _parties_by_activity(found)
    slugs = [controller] if controller is not None else _slugs(found, CONTROLLER_ROLES)
    records = [
        await record.controller_record(
            session=session, actor=actor, slug=slug, contact=contact, on=on
        )
        for slug in slugs
    ]
    if controller is not None and not records[0].activities:
        raise InvalidInput(
            f"{controller!r} is not a joint controller of any activity", field="controller"
        )
    day = on or clock.today()
    contracts = await documents.contracts_of(
        session, [rec.controller.id for rec in records], on=day
    )
    processor_slugs = _slugs(found, PROCESSOR_ROLES)
    activity_ids = {facts.activity.id for rec in records for facts in rec.activities}
    if controller is not None:
        # One controller's export shows the processors acting for it, in its activities.
        acting_for_it = {e.slug for e in records[0].recipients}
        processor_slugs = [slug for slug in processor_slugs if slug in acting_for_it]
    processor_records = [
        await record.processor_record(session=session, actor=actor, slug=slug, on=on)
        for slug in processor_slugs
    ]
    return RopaExport(
        as_of=day,
        controllers=[
            _controller_row(
                rec, facts, parties[facts.activity.id], contracts.get(rec.controller.id, [])
            )
            for rec in records
            for facts in rec.activities
        ],
        processors=[
            _processor_row(rec, facts, parties[facts.activity.id], contact)
            for rec in processor_records
            for facts in rec.activities
            if controller is None or facts.activity.id in activity_ids
        ],
        transfers=_transfer_rows(
            [*records, *processor_records],
            {facts.activity.id: facts.activity.slug for rec in records for facts in rec.activities},
        ),
    )


def _parties_by_activity(found: Sequence[Processing]) -> dict[int, dict[int, Processing]]:
    # A record spans all its entity's activities; a row keeps the parties of its own one.
    parties: dict[int, dict[int, Processing]] = {}
    for processing in found:
        in_activity = parties.setdefault(processing.facts.activity.id, {})
        in_activity.setdefault(processing.entity.id, processing)
    return parties


def _slugs(found: Sequence[Processing], roles: frozenset[ProcessingRole]) -> list[str]:
    return list(dict.fromkeys(p.entity.slug for p in found if p.role in roles))


def _controller_row(
    rec: ControllerRecord,
    facts: ActivityFacts,
    parties: dict[int, Processing],
    contracts: Sequence[Document],
) -> ControllerRow:
    entity = rec.controller
    activity = facts.activity
    flows = [flow for flow in rec.transfers if flow.activity_id == activity.id]
    sent = [flow for flow in flows if flow.exporter.id == entity.id]
    received = [flow for flow in flows if flow.importer.id == entity.id]
    return ControllerRow(
        activity=activity.slug,
        activity_name=activity.name,
        controller=entity.slug,
        legal_name=entity.legal_name,
        known_as=entity.known_as or "",
        country_code=entity.country_code,
        registered_office=entity.registered_office or "",
        contact=rec.contact or "",
        dpo=entity.dpo or "",
        representative=entity.representative or "",
        lead_authority=_authority(rec, AuthorityRole.LEAD),
        complaint_authority=_authority(rec, AuthorityRole.COMPLAINT),
        joint_controllers=_names(e for e in rec.joint_controllers if e.id in parties),
        purposes=_purposes(facts),
        subject_categories=tuple(subject.name for subject in facts.subjects),
        data_categories=tuple(_data_category(item.data_category) for item in facts.retention),
        recipient_categories=tuple(activity.recipient_categories),
        recipients=tuple(
            f"{_name(e)}, {ROLES[parties[e.id].role]}" for e in rec.recipients if e.id in parties
        ),
        transfers=tuple(_flow(flow) for flow in sent),
        transfers_in=tuple(_flow(flow) for flow in received),
        retention=_retention(facts),
        security_measures=_security_measures(activity),
        source=activity.source,
        automated_decisions=activity.automated_decisions,
        rights=RIGHTS,
        locations=tuple(sorted({p.entity.country_code for p in parties.values()})),
        consent_records=CONSENT_RECORDS,
        **_assessments(activity),
        notice_last_updated=activity.notice_last_updated or NOT_RECORDED,
        notice_authoritative_language=activity.notice_authoritative_language or NOT_RECORDED,
        platform=activity.platform or NOT_RECORDED,
        contracts="; ".join(_reference(d) for d in contracts) or NOT_RECORDED,
        # Filled from the change log by ``build`` (``_dated``).
        created_at="",
        updated_at="",
        gaps=(
            *_gaps([g for g in rec.gaps if g.entity.id in parties], flows),
            *_retention_gaps(facts),
            *(() if rec.contact else (NO_PRIVACY_CONTACT,)),
        ),
    )


def _authority(rec: ControllerRecord, role: AuthorityRole) -> str:
    """The authority named for the controller in ``role``, with its country; else the rule
    that names it; else "not recorded"."""
    entry = rec.authorities.get(role)
    if entry is None:
        return NOT_RECORDED
    if entry.authority is None:
        return entry.note or NOT_RECORDED
    named = f"{entry.authority.name} ({entry.authority.country_code})"
    return f"{named}; {entry.note}" if entry.note else named


def _assessments(activity: Activity) -> dict[str, str]:
    """The activity's DPIA and LIA as the record states them, or "not recorded"; read by
    name, so an activity that has no such field yet says so instead of failing."""
    names = ("dpia_status", "dpia_reference", "lia_reference")
    return {name: str(getattr(activity, name, None) or NOT_RECORDED) for name in names}


async def _activity_dates(session: AsyncSession, day: date | None) -> dict[str, tuple[str, str]]:
    """Per activity slug: when it was created and last changed, by the end of ``day`` (or
    by now: the record as it is includes every change, whatever the clock says).

    Created: its own first change (subject type ``activity``), else the seeds' first load,
    as seeded activities have no change of their own. Last updated: the last change of it
    or of its links (parties, data categories), else the seeds' last load.
    """
    seeds = EVENT_KINDS[ChangeEvent.SEEDS_LOADED].subject_type
    types = {ACTIVITY_SUBJECT, seeds, *ACTIVITY_LINKS}
    query = select(col(Change.subject_type), col(Change.subject_slug), col(Change.at)).where(
        col(Change.subject_type).in_(types)
    )
    if day is not None:
        query = query.where(
            col(Change.at) < datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)
        )
    # In the log's own order: first and last are by sequence, as followers read it.
    rows = await session.execute(query.order_by(col(Change.sequence), col(Change.id)))
    loads: list[datetime] = []
    own: dict[str, list[datetime]] = {}
    linked: dict[str, list[datetime]] = {}
    for subject_type, slug, at in rows.all():
        if subject_type == seeds:
            loads.append(at)
        elif subject_type == ACTIVITY_SUBJECT:
            own.setdefault(slug, []).append(at)
            linked.setdefault(slug, []).append(at)
        else:
            linked.setdefault(slug.split(">")[0], []).append(at)
    dates = {}
    for slug in set(own) | set(linked) | {""}:
        created = own.get(slug) or loads
        updated = linked.get(slug) or loads
        dates[slug] = (
            _moment(created[0] if created else None),
            _moment(updated[-1] if updated else None),
        )
    return dates


def _moment(at: datetime | None) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds") if at is not None else NOT_RECORDED


def _dated(row: ControllerRow, dates: dict[str, tuple[str, str]]) -> ControllerRow:
    created, updated = dates.get(row.activity, dates[""])
    return replace(row, created_at=created, updated_at=updated)


def _transfer_rows(
    records: Sequence[ControllerRecord | ProcessorRecord], activities: dict[int, str]
) -> list[TransferRow]:
    """Each hop the records judge, once: a hop is in both its exporter's and importer's."""
    hops: dict[tuple[int, int, int], Flow] = {}
    for rec in records:
        for flow in rec.transfers:
            if flow.activity_id in activities:
                hops.setdefault((flow.activity_id, flow.exporter.id, flow.importer.id), flow)
    return [_transfer_row(activities[flow.activity_id], flow) for flow in hops.values()]


def _transfer_row(activity: str, flow: Flow) -> TransferRow:
    # The papers on record for the hop, whether they make it safe or fall short (a gap).
    transfer = flow.transfer
    gap = flow.safeguard is Safeguard.GAP
    return TransferRow(
        activity=activity,
        exporter=flow.exporter.legal_name,
        exporter_country=flow.exporter.country_code,
        importer=flow.importer.legal_name,
        importer_country=flow.importer.country_code,
        destination=flow.destination_code,
        safeguard=_safeguard(flow),
        mechanism=MECHANISMS[transfer.mechanism] if transfer else "",
        scc_module=str(transfer.scc_module) if transfer and transfer.scc_module else "",
        **_papers(flow),
        supplementary_measures=(transfer.supplementary_measures or "") if transfer else "",
        gap_rule=(flow.rule_id or "") if gap else "",
        gap_reason=(flow.reason or "") if gap else "",
    )


def _reference(document: Document) -> str:
    """Where a document is to be found, and whether it is signed: never more than the record
    holds."""
    where = document.location or f"location {NOT_RECORDED}"
    signed = f"signed on {document.signed_on}" if document.signed_on else f"signing {NOT_RECORDED}"
    return f"{document.title} ({where}; {signed})"


def _papers(flow: Flow) -> dict[str, str]:
    """The transfer's signature and TIA as its documents give them, when it has any of the
    kind; else as the transfer record states them."""
    transfer = flow.transfer
    if transfer is None:
        return {"signed_on": "", "tia_reference": "", "tia_date": ""}
    kind = SIGNED_PAPERS.get(transfer.mechanism)
    signed = [d.signed_on for d in flow.documents if d.kind is kind and d.signed_on]
    tias = [d for d in flow.documents if d.kind is DocumentKind.TIA]
    tia_days = [day for d in tias if (day := d.signed_on or d.effective_from)]
    return {
        "signed_on": _day(max(signed) if signed else transfer.signed_on),
        "tia_reference": "; ".join(_reference(d) for d in tias) or transfer.tia_reference or "",
        "tia_date": _day(max(tia_days) if tia_days else transfer.tia_date),
    }


def _day(day: date | None) -> str:
    return day.isoformat() if day is not None else ""


def _processor_row(
    rec: ProcessorRecord,
    facts: ActivityFacts,
    parties: dict[int, Processing],
    contact: str | None,
) -> ProcessorRow:
    entity = rec.processor
    activity = facts.activity
    controllers = [e for e in rec.controllers if e.id in parties]
    transfers = [flow for flow in rec.transfers if flow.activity_id == activity.id]
    return ProcessorRow(
        activity=activity.slug,
        activity_name=activity.name,
        processor=entity.slug,
        role=ROLES[parties[entity.id].role],
        legal_name=entity.legal_name,
        known_as=entity.known_as or "",
        country_code=entity.country_code,
        registered_office=entity.registered_office or "",
        contact=entity.contact or "",
        dpo=entity.dpo or "",
        representative=entity.representative or "",
        controllers=_names(controllers),
        # As controller_record does: a controller without its own contact is reached
        # through the group's privacy contact.
        controllers_contact=tuple(
            dict.fromkeys(found for e in controllers if (found := e.contact or contact))
        ),
        sub_processors=_names(e for e in rec.sub_processors if e.id in parties),
        operations=tuple(activity.operations),
        transfers=tuple(_flow(flow) for flow in transfers),
        security_measures=_security_measures(activity),
        gaps=_gaps(rec.gaps, transfers),
    )


def _name(entity: Entity) -> str:
    # Legal names repeat across countries (two "Mood Media GmbH"), so the country goes along.
    return f"{entity.legal_name} ({entity.country_code})"


def _names(entities: Iterable[Entity]) -> tuple[str, ...]:
    return tuple(_name(entity) for entity in entities)


def _purposes(facts: ActivityFacts) -> tuple[str, ...]:
    lines = []
    for item in facts.purposes:
        if not item.bases:
            lines.append(f"{item.purpose.name}: no legal basis on record")
        for basis in item.bases:
            note = f" ({basis.note})" if basis.note else ""
            lines.append(
                f"{item.purpose.name} — {basis.subject_category.name}: "
                f"{LEGAL_BASES[basis.legal_basis]}{note}"
            )
    return tuple(lines)


def _data_category(category: DataCategory) -> str:
    special = ", special category (Art. 9)" if category.special_category else ""
    return f"{category.name} ({category.key}){special}"


def _retention(facts: ActivityFacts) -> tuple[str, ...]:
    lines = []
    for item in facts.retention:
        if not item.stated:
            period = "not stated [R-INV-6]"
        elif item.days is None:
            period = "no fixed period"
        else:
            period = f"{item.days} day" if item.days == 1 else f"{item.days} days"
        lines.append(f"{item.data_category.name}: {period} — {item.criterion}")
    return tuple(lines)


def _retention_gaps(facts: ActivityFacts) -> tuple[str, ...]:
    return tuple(
        f"{gap.retention.data_category.name}: retention not stated [R-INV-6]"
        for gap in record.retention_gaps([facts])
    )


def _security_measures(activity: Activity) -> tuple[str, ...]:
    return tuple(
        f"{measure['description']} — contract: {contract}"
        if (contract := measure.get("contract_reference"))
        else str(measure["description"])
        for measure in activity.security_measures
    )


def _flow(flow: Flow) -> str:
    return f"{_hop(flow)}: {_safeguard(flow)}"


def _hop(flow: Flow) -> str:
    return f"{_name(flow.exporter)} → {_name(flow.importer)}, to {flow.destination_code}"


def _safeguard(flow: Flow) -> str:
    if flow.safeguard is Safeguard.ADEQUACY:
        # A hop out of the UK says which UK adequacy it rests on (R-INV-7).
        basis = f" ({flow.adequacy_basis})" if flow.adequacy_basis else ""
        if flow.adequacy_decision is not None:
            return f"adequacy decision, {flow.adequacy_decision.reference}{basis}"
        return f"{SAFEGUARDS[flow.safeguard]}{basis}"
    if flow.safeguard is Safeguard.TRANSFER_MECHANISM and flow.transfer is not None:
        return _mechanism(flow.transfer)
    if flow.safeguard is Safeguard.GAP:
        reason = f": {flow.reason}" if flow.reason else ""
        rule = f" [{flow.rule_id}]" if flow.rule_id else ""
        return f"{SAFEGUARDS[flow.safeguard]}{reason}{rule}"
    return SAFEGUARDS[flow.safeguard]


def _mechanism(transfer: Transfer) -> str:
    label = MECHANISMS[transfer.mechanism]
    if transfer.mechanism is Mechanism.SCC_2021_914:
        return f"{label}, module {transfer.scc_module}"
    if transfer.mechanism is Mechanism.ART49_DEROGATION and transfer.derogation:
        return f"{label}, {transfer.derogation}"
    return label


def _gaps(entities: Sequence[EntityGap], flows: Sequence[Flow]) -> tuple[str, ...]:
    lines = []
    for gap in entities:
        reasons = ", ".join(GAP_REASONS[reason] for reason in gap.reasons)
        note = f" — {gap.note}" if gap.note else ""
        lines.append(f"{_name(gap.entity)}: {reasons} [R-INV-5]{note}")
    lines += [_flow(flow) for flow in flows if flow.safeguard is Safeguard.GAP]
    return tuple(lines)
