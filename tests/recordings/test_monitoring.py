"""Live monitoring (R-MON-1..3): who, why, whose calls, and only with the caller's consent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from registry import clock
from registry.access.policy import Role
from registry.audit.models import AuditEvent, Outcome
from registry.audit.service import AuditLog
from registry.countries import Country
from registry.db import transaction
from registry.errors import RuleBroken
from registry.recordings import calls, monitoring
from registry.recordings.models import MonitoringReason, MonitoringSession
from tests.conftest import NOW, Api
from tests.recordings.conftest import SYSTEM, Scene

SUBJECT = "mutation($input: SubjectInput!) { registerSubject(input: $input) { subject { id } errors { __typename message } } }"
CALL = "mutation($input: CallInput!) { registerCall(input: $input) { call { id } errors { __typename message } } }"
IVR = "mutation($call: String!, $digit: String!) { recordIvrChoice(call: $call, digit: $digit) { call { consent monitoringConsent } errors { __typename message } } }"
AGENT_ANSWER = "mutation($call: String!) { recordAgentAnswer(call: $call, approved: true) { call { consent monitoringConsent } errors { __typename message } } }"
START = "mutation($call: String!, $reason: MonitoringReason!) { startMonitoring(call: $call, reason: $reason) { session { id callId monitor reason startedAt endedAt } errors { __typename message ... on RuleBrokenError { ruleId } } } }"
END = "mutation($session: Int!) { endMonitoring(session: $session) { session { id monitor endedAt } errors { __typename message } } }"
MONITORS = {Role.QA_SPECIALIST, Role.SUPERVISOR}


async def call_from(api: Api, country: str, *, direction: str = "INBOUND") -> str:
    """A call registered by call-centre tooling (IT), from a customer in ``country``."""
    customer = await api.data(
        SUBJECT,
        {"input": {"kind": "CUSTOMER", "phone": "+44 20 7946 0001", "countryCode": country}},
        role=Role.IT_OPERATOR,
    )
    registered = await api.data(
        CALL,
        {
            "input": {
                "direction": direction,
                "company": "mood-media-uk",
                "customer": customer["registerSubject"]["subject"]["id"],
                "customerCountry": country,
            }
        },
        role=Role.IT_OPERATOR,
    )
    call_id: str = registered["registerCall"]["call"]["id"]
    return call_id


async def consented_call(api: Api, country: str = "GB") -> str:
    """An inbound call whose caller pressed 1: consent to recording and to live monitoring."""
    call_id = await call_from(api, country)
    answered = await api.data(IVR, {"call": call_id, "digit": "1"}, role=Role.AGENT)
    assert answered["recordIvrChoice"]["call"] == {"consent": "GIVEN", "monitoringConsent": True}
    return call_id


async def start(
    api: Api, call_id: str, role: Role, reason: str = "SERVICE_QUALITY"
) -> dict[str, Any]:
    payload: dict[str, Any] = (
        await api.data(START, {"call": call_id, "reason": reason}, role=role)
    )["startMonitoring"]
    return payload


async def sessions_of(scene: Scene, call_id: str) -> list[MonitoringSession]:
    async with scene.sessions() as session:
        rows = await session.scalars(
            select(MonitoringSession)
            .where(MonitoringSession.call_id == call_id)
            .order_by(MonitoringSession.id)
        )
        return list(rows.all())


async def events(log: AuditLog, action: str) -> list[AuditEvent]:
    found = await log.events(actor=SYSTEM, after_seq=0, limit=1000, action=action)
    return list(found)


async def test_r_mon_1_only_qa_specialists_and_supervisors_may_monitor(
    api: Api, scene: Scene, audit_log: AuditLog
) -> None:
    """R-MON-1: only qa specialists and supervisors may monitor."""
    call_id = await consented_call(api)
    for role in Role:
        payload = await start(api, call_id, role)
        if role in MONITORS:
            assert payload["errors"] == [], role
            assert payload["session"]["monitor"] == f"test-{role.value.replace('_', '-')}"
        else:
            assert payload["session"] is None, role
            assert [e["__typename"] for e in payload["errors"]] == ["ForbiddenError"], role
    monitors = {s.monitor for s in await sessions_of(scene, call_id)}
    assert monitors == {"test-qa-specialist", "test-supervisor"}
    denied = [e for e in await events(audit_log, "startMonitoring") if e.outcome is Outcome.DENIED]
    assert len(denied) == len(Role) - len(MONITORS)
    assert {e.target for e in denied} == {f"call={call_id}"}


async def test_r_mon_1_only_who_started_a_session_ends_it_and_others_may_not_try(
    api: Api, scene: Scene
) -> None:
    """R-MON-1: only who started a session ends it and others may not try."""
    call_id = await consented_call(api)
    started = await start(api, call_id, Role.QA_SPECIALIST)
    session_id = started["session"]["id"]
    by_agent = (await api.data(END, {"session": session_id}, role=Role.AGENT))["endMonitoring"]
    assert [e["__typename"] for e in by_agent["errors"]] == ["ForbiddenError"]
    by_other = (await api.data(END, {"session": session_id}, role=Role.SUPERVISOR))["endMonitoring"]
    assert [e["__typename"] for e in by_other["errors"]] == ["InvalidInputError"]
    (kept,) = await sessions_of(scene, call_id)
    assert kept.ended_at is None


async def test_r_mon_2_each_of_the_three_reasons_is_recorded(api: Api, scene: Scene) -> None:
    """R-MON-2: each of the three reasons is recorded."""
    call_id = await consented_call(api)
    for reason in MonitoringReason:
        payload = await start(api, call_id, Role.SUPERVISOR, reason.name)
        assert payload["errors"] == [] and payload["session"]["reason"] == reason.name
    recorded = [s.reason for s in await sessions_of(scene, call_id)]
    assert recorded == list(MonitoringReason)


async def test_r_mon_2_any_other_reason_is_refused(api: Api, scene: Scene) -> None:
    call_id = await consented_call(api)
    # GraphQL's enum lets no other reason through; the service refuses it whatever the door.
    body = await api.query(START, {"call": call_id, "reason": "MARKETING"}, role=Role.QA_SPECIALIST)
    assert body.get("data") is None and body["errors"]
    for reason in ("marketing", "", "SERVICE_QUALITY", "curiosity"):
        with pytest.raises(RuleBroken) as raised:
            async with transaction(scene.sessions) as session:
                await monitoring.start_monitoring(
                    session=session, actor=SYSTEM, call_id=call_id, reason=reason
                )
        assert raised.value.rule_id == "R-MON-2" and raised.value.field == "reason"
    assert await sessions_of(scene, call_id) == []


async def test_r_mon_3_a_call_from_a_customer_in_the_eu_is_never_monitored(
    api: Api, scene: Scene
) -> None:
    call_id = await consented_call(api, "DE")
    for role in MONITORS:
        payload = await start(api, call_id, role)
        assert payload["session"] is None
        (error,) = payload["errors"]
        assert (error["__typename"], error["ruleId"]) == ("RuleBrokenError", "R-MON-3")
    assert await sessions_of(scene, call_id) == []


async def test_r_mon_3_no_eu_country_is_monitored_by_any_door(scene: Scene) -> None:
    async with scene.sessions() as session:
        eu = list((await session.scalars(select(Country.code).where(Country.eu))).all())
    assert len(eu) == 27
    for country in eu:
        call_id = await scene.call(country=country)
        async with transaction(scene.sessions) as session:
            await calls.record_ivr_choice(session=session, actor=SYSTEM, call_id=call_id, digit="1")
        with pytest.raises(RuleBroken) as raised:
            async with transaction(scene.sessions) as session:
                await monitoring.start_monitoring(
                    session=session, actor=SYSTEM, call_id=call_id, reason="service_quality"
                )
        assert raised.value.rule_id == "R-MON-3", country
    async with scene.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(MonitoringSession)) == 0


@pytest.mark.parametrize("country", ["GB", "IS", "NO", "US"])
async def test_r_mon_3_customers_outside_the_eu_may_be_monitored(
    api: Api, scene: Scene, country: str
) -> None:
    # Iceland and Norway are in the EEA but not in the EU: the rule names the EU.
    """R-MON-3: customers outside the eu may be monitored."""
    call_id = await consented_call(api, country)
    payload = await start(api, call_id, Role.QA_SPECIALIST)
    assert payload["errors"] == [] and payload["session"]["callId"] == call_id


async def test_r_con_1_no_monitoring_without_the_callers_consent_to_it(
    api: Api, scene: Scene
) -> None:
    unanswered = await call_from(api, "GB")
    refused = await call_from(api, "GB")
    await api.data(IVR, {"call": refused, "digit": "2"}, role=Role.AGENT)
    # An outbound call's customer approves the recording only: nobody asked about monitoring.
    outbound = await call_from(api, "GB", direction="OUTBOUND")
    approved = await api.data(AGENT_ANSWER, {"call": outbound}, role=Role.AGENT)
    assert approved["recordAgentAnswer"]["call"] == {"consent": "GIVEN", "monitoringConsent": False}
    withdrawn = await consented_call(api)
    async with transaction(scene.sessions) as session:
        await calls.withdraw_consent(session=session, actor=SYSTEM, call_id=withdrawn)
    for call_id in (unanswered, refused, outbound, withdrawn):
        payload = await start(api, call_id, Role.SUPERVISOR)
        assert payload["session"] is None
        assert [(e["__typename"], e["ruleId"]) for e in payload["errors"]] == [
            ("RuleBrokenError", "R-CON-1")
        ]
        assert await sessions_of(scene, call_id) == []


async def test_r_min_1_a_childs_call_is_never_monitored(api: Api, scene: Scene) -> None:
    call_id = await scene.call()
    async with transaction(scene.sessions) as session:
        await calls.record_ivr_choice(session=session, actor=SYSTEM, call_id=call_id, digit="1")
        await calls.mark_under_16(session=session, actor=SYSTEM, subject_id=scene.customer_id)
    payload = await start(api, call_id, Role.QA_SPECIALIST)
    assert [(e["__typename"], e["ruleId"]) for e in payload["errors"]] == [
        ("RuleBrokenError", "R-MIN-1")
    ]
    assert await sessions_of(scene, call_id) == []


async def test_r_mon_1_sessions_are_recorded_and_audited(
    api: Api, scene: Scene, audit_log: AuditLog, frozen_clock: clock.FrozenClock
) -> None:
    """R-MON-1: sessions are recorded and audited."""
    call_id = await consented_call(api)
    started = await start(api, call_id, Role.QA_SPECIALIST, "PROBATION")
    assert started["session"] == {
        "id": started["session"]["id"],
        "callId": call_id,
        "monitor": "test-qa-specialist",
        "reason": "PROBATION",
        "startedAt": NOW.isoformat(),
        "endedAt": None,
    }
    frozen_clock.advance(timedelta(minutes=7))
    ended = await api.data(END, {"session": started["session"]["id"]}, role=Role.QA_SPECIALIST)
    assert ended["endMonitoring"]["session"]["endedAt"] == (NOW + timedelta(minutes=7)).isoformat()
    (row,) = await sessions_of(scene, call_id)
    assert (row.monitor, row.reason, row.started_at, row.ended_at) == (
        "test-qa-specialist",
        MonitoringReason.PROBATION,
        NOW,
        NOW + timedelta(minutes=7),
    )
    (audited,) = await events(audit_log, "startMonitoring")
    assert (audited.principal, audited.outcome, audited.target) == (
        "test-qa-specialist",
        Outcome.ALLOWED,
        f"call={call_id}",
    )
    (closed,) = await events(audit_log, "endMonitoring")
    assert (closed.principal, closed.outcome) == ("test-qa-specialist", Outcome.ALLOWED)


async def test_r_mon_1_a_refused_attempt_is_audited_with_the_broken_rule(
    api: Api, scene: Scene, audit_log: AuditLog
) -> None:
    """R-MON-1: a refused attempt is audited with the broken rule."""
    call_id = await consented_call(api, "FR")
    await start(api, call_id, Role.SUPERVISOR)
    (audited,) = await events(audit_log, "startMonitoring")
    assert (audited.principal, audited.outcome, audited.target) == (
        "test-supervisor",
        Outcome.DENIED,
        f"call={call_id}",
    )
    assert audited.detail == {"code": "RULE_BROKEN", "ruleId": "R-MON-3"}
