"""What the registry holds about one data subject, and how it is written out for them.

Loaded in a fixed number of queries whatever the number of calls: their identifiers
opened from their sealed columns, and every call they took part in, as customer or as
agent, with its consent steps, live monitoring and recordings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from registry import clock
from registry.crypto import KeyRing, open_field
from registry.record.inventory.models import Entity
from registry.recordings.models import (
    Call,
    ConsentEvent,
    MonitoringSession,
    Recording,
    SeparateConsent,
    Subject,
)
from registry.rights.package import audio_file_name


@dataclass
class Held:
    subject: Subject
    name: str | None
    phone: str | None
    email: str | None
    calls: list[Call]
    companies: dict[int, Entity]
    recordings: list[Recording]
    steps: dict[str, list[ConsentEvent]] = field(default_factory=lambda: defaultdict(list))
    monitoring: dict[str, list[MonitoringSession]] = field(
        default_factory=lambda: defaultdict(list)
    )
    separate_consents: list[SeparateConsent] = field(default_factory=list)
    _by_call: dict[str, list[Recording]] = field(default_factory=lambda: defaultdict(list))

    def __post_init__(self) -> None:
        for recording in self.recordings:
            self._by_call[recording.call_id].append(recording)

    @property
    def holds_data(self) -> bool:
        identifiers = (self.name, self.phone, self.email, self.subject.principal_handle)
        return any(identifiers) or bool(self.calls or self.separate_consents)

    def recordings_of(self, call_id: str) -> list[Recording]:
        return self._by_call.get(call_id, [])


def _identifier(ring: KeyRing, subject: Subject, column: str) -> str | None:
    sealed: bytes | None = getattr(subject, f"{column}_sealed")
    # Bound to its row and column as registry.recordings.calls.seal_identifiers sealed it.
    return open_field(ring, sealed, f"subject:{subject.id}:{column}") if sealed else None


async def load_held(session: AsyncSession, ring: KeyRing, subject: Subject) -> Held:
    involved: ColumnElement[bool] = (col(Call.customer_id) == subject.id) | (
        col(Call.agent_id) == subject.id
    )
    call_ids = select(col(Call.id)).where(involved)
    calls = await session.scalars(
        select(Call).where(involved).order_by(col(Call.started_at), col(Call.id))
    )
    companies = await session.scalars(
        select(Entity).where(col(Entity.id).in_(select(col(Call.company_id)).where(involved)))
    )
    recordings = await session.scalars(
        select(Recording)
        .where(col(Recording.call_id).in_(call_ids))
        .order_by(col(Recording.made_at), col(Recording.id))
    )
    held = Held(
        subject=subject,
        name=_identifier(ring, subject, "name"),
        phone=_identifier(ring, subject, "phone"),
        email=_identifier(ring, subject, "email"),
        calls=list(calls),
        companies={company.id: company for company in companies},
        recordings=list(recordings),
    )
    steps = await session.scalars(
        select(ConsentEvent)
        .where(col(ConsentEvent.call_id).in_(call_ids))
        .order_by(col(ConsentEvent.at), col(ConsentEvent.id))
    )
    for step in steps:
        held.steps[step.call_id].append(step)
    sessions = await session.scalars(
        select(MonitoringSession)
        .where(col(MonitoringSession.call_id).in_(call_ids))
        .order_by(col(MonitoringSession.started_at), col(MonitoringSession.id))
    )
    for monitoring in sessions:
        held.monitoring[monitoring.call_id].append(monitoring)
    separate = await session.scalars(
        select(SeparateConsent)
        .where(col(SeparateConsent.subject_id) == subject.id)
        .order_by(col(SeparateConsent.given_at), col(SeparateConsent.id))
    )
    held.separate_consents = list(separate)
    return held


def data_document(
    held: Held, version: int, audio_files: Collection[str], folder: str
) -> dict[str, Any]:
    """Everything held (Art. 15(3)); ``audio_files`` names the audio the archive holds."""
    return {
        "format": "registry.subject-data",
        "version": version,
        "subject": {
            **_identity(held),
            "registered_at": when(held.subject.created_at),
            "identifiers_erased_at": when(held.subject.identifiers_erased_at),
            "consent_withdrawn_at": when(held.subject.consent_withdrawn_at),
        },
        "calls": [
            {
                **_call(held, call),
                "recording_stopped_at": when(call.recording_stopped_at),
                # Who took each step is staff's data (Art. 15(4)): the steps and their times.
                "consent_steps": _steps(held, call),
                "live_monitoring": [
                    {
                        "reason": m.reason.value,
                        "started_at": when(m.started_at),
                        "ended_at": when(m.ended_at),
                    }
                    for m in held.monitoring[call.id]
                ],
                "recordings": [
                    {
                        "id": r.id,
                        "segment": r.segment.value,
                        "made_at": when(r.made_at),
                        "kept_until": when(r.expires_at),
                        "status": r.status.value,
                        "file": name
                        if (name := audio_file_name(r.id, folder)) in audio_files
                        else None,
                    }
                    for r in held.recordings_of(call.id)
                ],
            }
            for call in held.calls
        ],
        "separate_consents": _separate_consents(held),
    }


def portability_document(held: Held, version: int) -> dict[str, Any]:
    """What the subject provided (Art. 20): identifiers, their calls and consent choices."""
    return {
        "format": "registry.portability",
        "version": version,
        "generated_at": when(clock.now()),
        "subject": _identity(held),
        "calls": [
            {**_call(held, call), "consent_choices": _steps(held, call)} for call in held.calls
        ],
        "separate_consents": _separate_consents(held),
    }


def when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _identity(held: Held) -> dict[str, Any]:
    return {
        "kind": held.subject.kind.value,
        "name": held.name,
        "phone": held.phone,
        "email": held.email,
        "country": held.subject.country_code,
        "user_id": held.subject.principal_handle,
    }


def _call(held: Held, call: Call) -> dict[str, Any]:
    company = held.companies[call.company_id]
    return {
        "id": call.id,
        "as": "customer" if call.customer_id == held.subject.id else "agent",
        "direction": call.direction.value,
        "company": company.legal_name,
        "company_country": company.country_code,
        "customer_country": call.customer_country_code,
        "started_at": when(call.started_at),
        "ended_at": when(call.ended_at),
        "consent": call.consent.value,
        "live_monitoring_consent": call.monitoring_consent,
    }


def _steps(held: Held, call: Call) -> list[dict[str, Any]]:
    return [{"step": step.step.value, "at": when(step.at)} for step in held.steps[call.id]]


def _separate_consents(held: Held) -> list[dict[str, Any]]:
    return [
        {"purpose": c.purpose, "given_at": when(c.given_at), "withdrawn_at": when(c.withdrawn_at)}
        for c in held.separate_consents
    ]
