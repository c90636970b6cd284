"""Live monitoring of calls (R-MON-1..3)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from registry import clock
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.countries import Country
from registry.errors import InvalidInput, NotFound, RuleBroken
from registry.recordings.calls import call_by_id
from registry.recordings.models import Consent, MonitoringReason, MonitoringSession, Subject
from registry.rights.guards import require_use_allowed


async def start_monitoring(
    *, session: AsyncSession, actor: Actor, call_id: str, reason: str
) -> MonitoringSession:
    """Only QA specialists and supervisors (R-MON-1, by the policy table), for one of the
    three reasons (R-MON-2), never a call from a customer in the EU (R-MON-3) or from a
    child (R-MIN-1), never without the caller's consent to monitoring (R-CON-1, R-CON-3),
    and never while a restriction or an objection stops it (R-DSR-1)."""
    authorize(actor, Action.MONITOR)
    try:
        why = MonitoringReason(reason)
    except ValueError:
        raise RuleBroken(
            "R-MON-2",
            "monitoring serves service quality, probation or an employment contract only",
            field="reason",
        ) from None
    call = await call_by_id(session, call_id)
    if call.ended_at is not None:
        raise InvalidInput("the call has ended: there is nothing live to monitor", field="call")
    country = await session.get_one(Country, call.customer_country_code)
    if country.eu:
        raise RuleBroken("R-MON-3", "calls placed by customers in the EU are never live-monitored")
    customer = await session.get_one(Subject, call.customer_id)
    # Marking a subject under 16 erases their audio but leaves their calls' consent as it was.
    if customer.under_16:
        raise RuleBroken("R-MIN-1", "no data of children under 16 is processed")
    if call.consent is not Consent.GIVEN or not call.monitoring_consent:
        raise RuleBroken("R-CON-1", "the caller has not consented to live monitoring")
    if customer.consent_withdrawn_at is not None:
        raise RuleBroken("R-CON-3", "the customer withdrew consent: nobody listens live")
    await require_use_allowed(session, call, purpose=None)
    monitoring = MonitoringSession(
        call_id=call.id, monitor=actor.handle, reason=why, started_at=clock.now()
    )
    session.add(monitoring)
    await session.flush()
    return monitoring


async def end_monitoring(
    *, session: AsyncSession, actor: Actor, session_id: int
) -> MonitoringSession:
    authorize(actor, Action.MONITOR)
    monitoring = await session.get(MonitoringSession, session_id)
    if monitoring is None or monitoring.ended_at is not None:
        raise NotFound(f"no monitoring session {session_id} in progress")
    if monitoring.monitor != actor.handle:
        raise InvalidInput("only who started a session ends it", field="session")
    monitoring.ended_at = clock.now()
    await session.flush()
    return monitoring
