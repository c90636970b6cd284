"""What a data subject is handed (R-DSR-1, R-DSR-5), built from the record, then sealed.

- ``access_package`` (Art. 15): a ZIP of ``answer.json`` (that their data is processed,
  for which purposes on which legal bases, which data, kept how long, by whom, sent where
  under which safeguards, from what source, and their rights), ``data.json`` (their
  identifiers, calls, consent and recordings) and the audio of every recording still held.
- ``portability_package`` (Art. 20): one JSON document of what the subject provided.
- ``arrangement_package`` (Art. 26(2)): the essence of the joint controllers' arrangement.

Everything the record holds comes from it; only what the Regulation itself says (the
list of rights) is written here.

Confidential parts of the arrangement (R-DSR-5): the privacy team encloses what must not
reach a data subject in ``[confidential]`` and ``[/confidential]`` (any letter case, across
lines; markers may nest). Each enclosed part is replaced by ``[redacted]``. A part never
closed is hidden to the end of the text, so a forgotten closing marker leaks nothing; a
closing marker with no opening one is dropped.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from registry import clock
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.blobs import BlobStore
from registry.crypto import KeyRing
from registry.exports.ropa import LEGAL_BASES, MECHANISMS, SAFEGUARDS
from registry.record import answers as record
from registry.record.answers import CROSS_BORDER, Processing, ProcessingRole
from registry.record.graph import Flow
from registry.record.inventory.models import Entity, EntityKind, LegalBasis
from registry.recordings.models import Subject, SubjectKind
from registry.rights.held import data_document, load_held, portability_document, when
from registry.rights.models import Package, PackageKind, RightsRequest
from registry.rights.package import Entry, audio_entries, build_package, servable

VERSION = 1
AUDIO_FOLDER = "recordings"
# The subject category of the record that each kind of subject belongs to.
SUBJECT_CATEGORIES = {SubjectKind.CUSTOMER: "customer", SubjectKind.AGENT: "employee.agent"}
REDACTED = "[redacted]"
_MARKER = re.compile(r"\[\s*(/?)\s*confidential\s*\]", re.IGNORECASE)

# The rights of Art. 13(2), 14(2) and 15(1); some only where a legal basis makes them apply.
RIGHTS: list[tuple[str, str, str, frozenset[LegalBasis] | None]] = [
    ("access", "Art. 15", "to a copy of your data and to this information", None),
    ("rectification", "Art. 16", "to have inaccurate data corrected", None),
    ("erasure", "Art. 17", "to have your data erased", None),
    (
        "restriction",
        "Art. 18",
        "to have processing restricted, e.g. while accuracy is contested",
        None,
    ),
    (
        "portability",
        "Art. 20",
        "to receive the data you provided in a structured, machine-readable format",
        frozenset({LegalBasis.CONSENT, LegalBasis.CONTRACT}),
    ),
    # The notice lets customers object at any time too: on consent, as a withdrawal of it.
    (
        "objection",
        "Art. 21",
        "to object to processing at any time: based on legitimate interests, it stops unless"
        " compelling legitimate grounds are recorded; based on consent, your objection"
        " withdraws it",
        None,
    ),
    (
        "withdraw_consent",
        "Art. 7(3)",
        "to withdraw consent at any time, without affecting processing before it",
        frozenset({LegalBasis.CONSENT}),
    ),
    (
        "no_automated_decisions",
        "Art. 22",
        "not to be subject to a decision based solely on automated processing",
        None,
    ),
    (
        "complaint",
        "Art. 77",
        "to lodge a complaint with a supervisory authority, in particular in the member state"
        " of your habitual residence, place of work or of the alleged infringement",
        None,
    ),
]


async def access_package(
    *,
    session: AsyncSession,
    actor: Actor,
    ring: KeyRing,
    blobs: BlobStore,
    request: RightsRequest,
    subject: Subject,
    privacy_contact: str | None = None,
) -> Package:
    """Art. 15: the answer, the subject's data, and the audio of their recordings still held.

    ``privacy_contact`` is the group's contact (configuration), shown for joint controllers
    that have none of their own; without it their contact is left empty, not made up.
    """
    authorize(actor, Action.RIGHTS_MANAGE)
    held = await load_held(session, ring, subject)
    category = SUBJECT_CATEGORIES[subject.kind]
    found = await record.who_processes(session=session, actor=actor, subject_category=category)
    controller = await session.get_one(Entity, request.controller_id)
    companies = {controller.id} | {call.company_id for call in held.calls}
    activities = [
        parties
        for parties in _by_activity(found)
        if any(p.entity.id in companies for p in _in_role(parties, ProcessingRole.JOINT_CONTROLLER))
    ]
    answer = {
        "format": "registry.access-answer",
        "version": VERSION,
        "request": {
            "id": request.id,
            "received_at": when(request.received_at),
            "answered_at": when(clock.now()),
            "made_to": _entity(controller, privacy_contact),
        },
        "confirmation": {
            "your_data_is_processed": held.holds_data,
            "as": next(
                (s.name for ps in activities for s in ps[0].facts.subjects if s.key == category),
                category,
            ),
        },
        "processing": [_activity(parties, privacy_contact) for parties in activities],
        "rights": _rights(activities),
        "contact": privacy_contact,
    }
    audio = audio_entries(
        ring=ring,
        blobs=blobs,
        recordings=await servable(session, held.recordings),
        folder=AUDIO_FOLDER,
    )
    return await build_package(
        session=session,
        actor=actor,
        ring=ring,
        blobs=blobs,
        kind=PackageKind.ACCESS,
        file_name=f"access-{request.id}.zip",
        media_type="application/zip",
        entries=[
            _json_entry("answer.json", answer),
            _json_entry(
                "data.json", data_document(held, VERSION, {e.name for e in audio}, AUDIO_FOLDER)
            ),
            *audio,
        ],
        rights_request_id=request.id,
    )


async def portability_package(
    *,
    session: AsyncSession,
    actor: Actor,
    ring: KeyRing,
    blobs: BlobStore,
    request: RightsRequest,
    subject: Subject,
) -> Package:
    """Art. 20: what the subject provided (identifiers, calls, consent choices), as JSON."""
    authorize(actor, Action.RIGHTS_MANAGE)
    held = await load_held(session, ring, subject)
    document = portability_document(held, VERSION)
    return await _json_package(
        session, actor, ring, blobs, request, PackageKind.PORTABILITY, "portability", document
    )


async def arrangement_package(
    *,
    session: AsyncSession,
    actor: Actor,
    ring: KeyRing,
    blobs: BlobStore,
    request: RightsRequest,
    privacy_contact: str | None = None,
) -> Package:
    """R-DSR-5: the essence of the arrangement and its joint controllers, confidential parts
    redacted, for each activity of the controller the request was made to."""
    authorize(actor, Action.RIGHTS_MANAGE)
    found = await record.who_processes(session=session, actor=actor)
    document = {
        "format": "registry.arrangement",
        "version": VERSION,
        "generated_at": when(clock.now()),
        "arrangements": [
            _arrangement(parties, privacy_contact)
            for parties in _by_activity(found)
            if any(
                p.entity.id == request.controller_id
                for p in _in_role(parties, ProcessingRole.JOINT_CONTROLLER)
            )
        ],
        "contact": privacy_contact,
    }
    return await _json_package(
        session, actor, ring, blobs, request, PackageKind.ARRANGEMENT, "arrangement", document
    )


async def _json_package(
    session: AsyncSession,
    actor: Actor,
    ring: KeyRing,
    blobs: BlobStore,
    request: RightsRequest,
    kind: PackageKind,
    name: str,
    document: dict[str, Any],
) -> Package:
    """An answer that is one JSON document, handed out as it is."""
    return await build_package(
        session=session,
        actor=actor,
        ring=ring,
        blobs=blobs,
        kind=kind,
        file_name=f"{name}-{request.id}.json",
        media_type="application/json",
        entries=[_json_entry(f"{name}.json", document)],
        zipped=False,
        rights_request_id=request.id,
    )


def redact_confidential(text: str) -> str:
    """``text`` with each part marked confidential replaced by ``[redacted]`` (see above)."""
    parts: list[str] = []
    depth = 0
    position = 0
    for marker in _MARKER.finditer(text):
        if depth == 0:
            parts.append(text[position : marker.start()])
        if marker.group(1) != "/":
            depth += 1
        elif depth > 0:
            depth -= 1
            if depth == 0:
                parts.append(REDACTED)
        position = marker.end()
    parts.append(REDACTED if depth else text[position:])
    return "".join(parts)


# ---------------------------------------------------------------- the record's side


def _by_activity(found: Sequence[Processing]) -> list[list[Processing]]:
    grouped: dict[int, list[Processing]] = defaultdict(list)
    for processing in found:
        grouped[processing.facts.activity.id].append(processing)
    return [grouped[activity_id] for activity_id in sorted(grouped)]


def _in_role(parties: Iterable[Processing], role: ProcessingRole) -> list[Processing]:
    return [p for p in parties if p.role is role]


def _activity(parties: list[Processing], privacy_contact: str | None) -> dict[str, Any]:
    facts = parties[0].facts
    activity = facts.activity

    def entities(role: ProcessingRole) -> list[dict[str, Any]]:
        return [_entity(p.entity, privacy_contact) for p in _in_role(parties, role)]

    return {
        "activity": activity.name,
        "description": activity.description,
        "purposes": [
            {
                "purpose": item.purpose.name,
                "legal_bases": [
                    {"basis": LEGAL_BASES[b.legal_basis], "note": b.note} for b in item.bases
                ],
            }
            for item in parties[0].purposes
        ],
        "personal_data": [
            {
                "category": r.data_category.name,
                "key": r.data_category.key,
                "special_category": r.data_category.special_category,
                "retention_days": r.days,
                "retention": r.criterion,
            }
            for r in facts.retention
        ],
        "recipients": {
            "joint_controllers": entities(ProcessingRole.JOINT_CONTROLLER),
            "processors": entities(ProcessingRole.PROCESSOR),
            "sub_processors": entities(ProcessingRole.SUB_PROCESSOR),
            "categories": activity.recipient_categories,
        },
        "transfers_outside_the_eea": _transfers(parties),
        "source": activity.source,
        "automated_decisions": activity.automated_decisions,
    }


def _arrangement(parties: list[Processing], privacy_contact: str | None) -> dict[str, Any]:
    activity = parties[0].facts.activity
    return {
        "activity": activity.name,
        "essence": redact_confidential(activity.arrangement_summary),
        "joint_controllers": [
            _entity(p.entity, privacy_contact)
            for p in _in_role(parties, ProcessingRole.JOINT_CONTROLLER)
        ],
    }


def _transfers(parties: Iterable[Processing]) -> list[dict[str, Any]]:
    flows: dict[tuple[int, int], Flow] = {}
    for processing in parties:
        for path in processing.paths:
            for flow in path:
                if flow.safeguard in CROSS_BORDER:
                    flows.setdefault((flow.exporter.id, flow.importer.id), flow)
    return [_transfer(flow) for flow in flows.values()]


def _transfer(flow: Flow) -> dict[str, Any]:
    transfer, decision = flow.transfer, flow.adequacy_decision
    return {
        "from": _name(flow.exporter),
        "to": _name(flow.importer),
        "destination_country": flow.destination_code,
        "safeguard": SAFEGUARDS[flow.safeguard],
        "mechanism": MECHANISMS[transfer.mechanism] if transfer else None,
        "scc_module": transfer.scc_module if transfer else None,
        "supplementary_measures": transfer.supplementary_measures if transfer else None,
        "adequacy_decision": decision.reference if decision else None,
        # A gap is said as it is (R-INV-5), never dressed up as a safeguard.
        "gap": flow.reason,
    }


def _rights(activities: Sequence[list[Processing]]) -> list[dict[str, str]]:
    bases = {
        basis.legal_basis
        for parties in activities
        for item in parties[0].purposes
        for basis in item.bases
    }
    automated = "; ".join(parties[0].facts.activity.automated_decisions for parties in activities)
    rights = []
    for key, article, description, needs in RIGHTS:
        if needs is not None and not needs & bases:
            continue
        right = {"right": key, "article": article, "description": description}
        if key == "no_automated_decisions" and automated:
            right["in_this_processing"] = automated
        rights.append(right)
    return rights


def _name(entity: Entity) -> str:
    return f"{entity.legal_name} ({entity.country_code})"


def _entity(entity: Entity, privacy_contact: str | None) -> dict[str, Any]:
    # Group companies are reached through the group's privacy contact (configuration).
    shared = privacy_contact if entity.kind is EntityKind.GROUP_COMPANY else None
    return {
        "name": entity.legal_name,
        "known_as": entity.known_as,
        "country": entity.country_code,
        "registered_office": entity.registered_office,
        "contact": entity.contact or shared,
        "name_verified": entity.verified,
    }


def _json_entry(name: str, document: dict[str, Any]) -> Entry:
    body = json.dumps(document, indent=2, ensure_ascii=False).encode()

    async def content() -> AsyncIterator[bytes]:
        yield body

    return Entry(name, content)
