"""The request workflow walked through GraphQL as a privacy officer would (R-DSR-2..4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from registry import clock
from registry.access.policy import Role
from registry.blobs import LocalBlobStore
from registry.crypto import KeyRing
from registry.db import transaction
from registry.rights import service
from registry.rights.deadlines import add_months, deadline, first_deadline
from registry.rights.models import RequestKind
from tests.conftest import Api
from tests.recordings.conftest import SYSTEM, Scene

FIELDS = """
    id kind status controller subjectId receivedAt dueAt extendedTo deadline overdue
    extensionReason extensionNotifiedAt identityRequestedAt identityEstablishedAt
    confirmedAt answerable feeCents feeGround feeReason refusalGround refusalReason
    closedAt outcome earlierRequests steps { status action actor at detail }
    recipientNotices { id recipient acknowledgedAt }
    packages { id kind fileName downloadPath }
"""
ERRORS = "errors { __typename message field ... on RuleBrokenError { ruleId } }"
RECEIVE = f"""mutation($input: RightsRequestInput!) {{
    receiveRightsRequest(input: $input) {{ request {{ {FIELDS} }} {ERRORS} }} }}"""
ONE = f"query($id: Int!) {{ rightsRequest(id: $id) {{ {FIELDS} }} }}"
STEP = f"""mutation($request: Int!) {{ %s(request: $request) {{ request {{ {FIELDS} }} {ERRORS} }} }}"""
ESTABLISH = f"""mutation($request: Int!, $evidence: String!, $subject: Int) {{
    establishIdentity(request: $request, evidence: $evidence, subject: $subject) {{
        request {{ {FIELDS} }} {ERRORS} }} }}"""
EXTEND = f"""mutation($request: Int!, $months: Int!, $reason: String!) {{
    extendRightsRequest(request: $request, months: $months, reason: $reason) {{
        request {{ {FIELDS} }} {ERRORS} }} }}"""
FEE = f"""mutation($request: Int!, $cents: Int!, $ground: FeeGround!, $reason: String!) {{
    chargeFee(request: $request, amountCents: $cents, ground: $ground, reason: $reason) {{
        request {{ {FIELDS} }} {ERRORS} }} }}"""
REFUSE = f"""mutation($request: Int!, $ground: RefusalGround!, $reason: String!) {{
    refuseRightsRequest(request: $request, ground: $ground, reason: $reason) {{
        request {{ {FIELDS} }} {ERRORS} }} }}"""
COMPLETE = f"""mutation($request: Int!, $until: Date, $reason: String) {{
    completeRightsRequest(request: $request, restrictedUntil: $until, restrictionReason: $reason) {{
        request {{ {FIELDS} }} package {{ id kind fileName mediaType downloadPath }} {ERRORS} }} }}"""
QUEUE = """query($status: [RequestStatus!], $kind: [RequestKind!], $controller: String,
    $dueWithinDays: Int, $overdue: Boolean!) {
    rightsRequests(status: $status, kind: $kind, controller: $controller,
        dueWithinDays: $dueWithinDays, overdue: $overdue, first: 50) { nodes { id status } } }"""
FIND = "query($phone: String, $email: String) { findSubjects(phone: $phone, email: $email) { subjectId kind callsAsCustomer callsAsAgent recordings calls { id consent recordings { id status } } } }"

PHONE = "+44 20 7946 0000"


async def mutate(api: Api, query: str, field: str, **variables: Any) -> dict[str, Any]:
    data = await api.data(query, variables)
    result: dict[str, Any] = data[field]
    return result


async def receive(api: Api, kind: str = "ACCESS", **more: Any) -> dict[str, Any]:
    given = {"kind": kind, "controller": "mood-media-uk", "phone": PHONE, **more}
    result = await mutate(api, RECEIVE, "receiveRightsRequest", input=given)
    assert result["errors"] == [], result["errors"]
    request: dict[str, Any] = result["request"]
    return request


async def step(api: Api, name: str, request: int) -> dict[str, Any]:
    return await mutate(api, STEP % name, name, request=request)


async def registered(api: Api, kind: str = "ACCESS", **more: Any) -> dict[str, Any]:
    """A request received, identity established, registered and started."""
    request = await receive(api, kind, **more)
    done = await mutate(
        api,
        ESTABLISH,
        "establishIdentity",
        request=request["id"],
        evidence="call-back to the number on file",
    )
    assert done["errors"] == [], done["errors"]
    assert (await step(api, "registerRightsRequest", request["id"]))["errors"] == []
    started = await step(api, "startRightsRequest", request["id"])
    assert started["errors"] == [], started["errors"]
    return dict(started["request"])


def rule_of(result: dict[str, Any]) -> str | None:
    errors = result["errors"]
    assert errors, "expected an error"
    rule: str | None = errors[0].get("ruleId")
    return rule


async def test_a_request_goes_from_receipt_to_answer_with_every_step_recorded_R_DSR_2(
    api: Api, scene: Scene
) -> None:
    request = await receive(api)
    assert request["status"] == "RECEIVED"
    # Found through the blind index of the phone number: nobody typed the subject's ID.
    assert request["subjectId"] == scene.customer_id
    assert request["dueAt"].startswith("2026-12-30T09:00")

    proof = await step(api, "requestIdentityProof", request["id"])
    assert proof["request"]["status"] == "IDENTITY_PENDING"
    established = await mutate(
        api, ESTABLISH, "establishIdentity", request=request["id"], evidence="passport seen"
    )
    assert established["request"]["identityEstablishedAt"] is not None
    done = await step(api, "registerRightsRequest", request["id"])
    assert done["request"]["status"] == "REGISTERED"
    # R-DSR-2: the confirmation that the request is registered, with its time.
    assert done["request"]["confirmedAt"] is not None
    await step(api, "startRightsRequest", request["id"])
    completed = await mutate(api, COMPLETE, "completeRightsRequest", request=request["id"])
    assert completed["errors"] == [], completed["errors"]
    final = completed["request"]
    assert final["status"] == "COMPLETED" and final["closedAt"] is not None
    assert [s["action"] for s in final["steps"]] == [
        "received",
        "identity_proof_requested",
        "identity_established",
        "registered_and_confirmed",
        "started",
        "completed",
    ]
    assert {s["actor"] for s in final["steps"]} == {"test-privacy-officer"}


async def test_without_established_identity_a_request_cannot_be_answered_R_DSR_3(
    api: Api, scene: Scene
) -> None:
    request = await receive(api)
    assert request["answerable"] is False
    refused = await step(api, "registerRightsRequest", request["id"])
    assert rule_of(refused) == "R-DSR-3"
    # Refusing for want of identity needs proof to have been asked for first.
    early = await mutate(
        api,
        REFUSE,
        "refuseRightsRequest",
        request=request["id"],
        ground="IDENTITY_NOT_ESTABLISHED",
        reason="no answer",
    )
    assert rule_of(early) == "R-DSR-3"
    await step(api, "requestIdentityProof", request["id"])
    closed = await mutate(
        api,
        REFUSE,
        "refuseRightsRequest",
        request=request["id"],
        ground="IDENTITY_NOT_ESTABLISHED",
        reason="no proof within the deadline",
    )
    assert closed["request"]["status"] == "REFUSED"
    assert closed["request"]["refusalGround"] == "IDENTITY_NOT_ESTABLISHED"


async def test_an_invalid_step_changes_nothing(api: Api, scene: Scene) -> None:
    request = await receive(api)
    before = (await api.data(ONE, {"id": request["id"]}))["rightsRequest"]
    for name in ("startRightsRequest", "completeRightsRequest"):
        refused = await mutate(
            api,
            STEP % name if name != "completeRightsRequest" else COMPLETE,
            name,
            request=request["id"],
        )
        assert refused["errors"][0]["__typename"] == "InvalidInputError"
    assert (await api.data(ONE, {"id": request["id"]}))["rightsRequest"] == before


async def test_bad_input_is_refused_with_a_typed_error_and_nothing_is_written(
    api: Api, scene: Scene
) -> None:
    cases = [
        {"kind": "ACCESS", "controller": "talkdesk", "phone": PHONE},
        {"kind": "ACCESS", "controller": "mood-media-uk"},
        {"kind": "ACCESS", "controller": "mood-media-uk", "phone": PHONE, "byGuardian": True},
        {"kind": "RECTIFICATION", "controller": "mood-media-uk", "phone": PHONE},
        {
            "kind": "ERASURE",
            "controller": "mood-media-uk",
            "phone": PHONE,
            "corrections": {"name": "X"},
        },
    ]
    for given in cases:
        result = await mutate(api, RECEIVE, "receiveRightsRequest", input=given)
        assert (
            result["request"] is None and result["errors"][0]["__typename"] == "InvalidInputError"
        )
    queue = await api.data(QUEUE, {"overdue": False})
    assert queue["rightsRequests"]["nodes"] == []


@pytest.mark.parametrize(
    ("received", "due"),
    [
        # Through February a month is the shorter: 28 (29) days, never past the GDPR's month.
        (datetime(2026, 1, 31, 12, tzinfo=UTC), datetime(2026, 2, 28, 12, tzinfo=UTC)),
        (datetime(2028, 1, 31, tzinfo=UTC), datetime(2028, 2, 29, tzinfo=UTC)),
        (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)),
        # Elsewhere 30 days come first (or with the month): the notice's promise.
        (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC)),
        (datetime(2026, 12, 15, 8, tzinfo=UTC), datetime(2027, 1, 14, 8, tzinfo=UTC)),
        (datetime(2026, 11, 30, 9, tzinfo=UTC), datetime(2026, 12, 30, 9, tzinfo=UTC)),
        (datetime(2026, 4, 15, tzinfo=UTC), datetime(2026, 5, 15, tzinfo=UTC)),
    ],
)
def test_r_dsr_2_the_deadline_is_30_days_or_a_month_whichever_comes_first(
    received: datetime, due: datetime
) -> None:
    # R-DSR-2: the notice promises 30 days; the GDPR allows at most one calendar month.
    assert first_deadline(received) == due


async def test_r_dsr_2_a_request_received_on_1_march_is_due_on_31_march(
    scene: Scene, ring: KeyRing, frozen_clock: clock.FrozenClock
) -> None:
    """R-DSR-2: a request received on 1 march is due on 31 march."""
    frozen_clock.current = datetime(2027, 3, 1, 10, tzinfo=UTC)
    received = service.Received(kind=RequestKind.ACCESS, controller="mood-media-uk", phone=PHONE)
    async with transaction(scene.sessions) as session:
        request = await service.receive(session=session, actor=SYSTEM, ring=ring, received=received)
        assert request.due_at == datetime(2027, 3, 31, 10, tzinfo=UTC)
        assert deadline(request) == request.due_at


def test_an_extension_adds_calendar_months_R_DSR_2() -> None:
    # The extension rules stay: one or two calendar months added to the first deadline.
    assert add_months(datetime(2026, 1, 31, 12, tzinfo=UTC), 1) == datetime(
        2026, 2, 28, 12, tzinfo=UTC
    )
    assert add_months(datetime(2028, 1, 31, tzinfo=UTC), 1) == datetime(2028, 2, 29, tzinfo=UTC)
    assert add_months(datetime(2026, 11, 30, tzinfo=UTC), 3) == datetime(2027, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2026, 12, 15, tzinfo=UTC), 1) == datetime(2027, 1, 15, tzinfo=UTC)


async def test_the_deadline_is_extended_once_by_at_most_two_months_before_it_passes_R_DSR_2(
    api: Api, scene: Scene, frozen_clock: clock.FrozenClock
) -> None:
    request = await registered(api)
    for months, reason, rule in ((3, "complex", "R-DSR-2"), (2, "  ", None)):
        refused = await mutate(
            api, EXTEND, "extendRightsRequest", request=request["id"], months=months, reason=reason
        )
        assert refused["errors"] and rule_of(refused) == rule
    extended = await mutate(
        api,
        EXTEND,
        "extendRightsRequest",
        request=request["id"],
        months=2,
        reason="many recordings to review",
    )
    assert extended["errors"] == []
    shown = extended["request"]
    assert shown["status"] == "EXTENDED"
    assert shown["extendedTo"].startswith("2027-02-28T09:00")
    assert shown["deadline"] == shown["extendedTo"]
    assert shown["extensionReason"] == "many recordings to review"
    # The requester's notification of the extension is recorded with it.
    assert shown["extensionNotifiedAt"] is not None
    assert shown["steps"][-1]["action"] == "extended_and_requester_notified"
    again = await mutate(
        api, EXTEND, "extendRightsRequest", request=request["id"], months=1, reason="more"
    )
    assert rule_of(again) == "R-DSR-2"

    late = await registered(api, "PORTABILITY")
    frozen_clock.advance(timedelta(days=31))
    refused = await mutate(
        api, EXTEND, "extendRightsRequest", request=late["id"], months=1, reason="late"
    )
    assert rule_of(refused) == "R-DSR-2"
    assert (await api.data(ONE, {"id": late["id"]}))["rightsRequest"]["extendedTo"] is None


async def test_the_queue_shows_requests_due_soon_and_overdue(
    api: Api, scene: Scene, frozen_clock: clock.FrozenClock
) -> None:
    old = await registered(api)
    frozen_clock.advance(timedelta(days=20))
    new = await receive(api, "OBJECTION", email="bo@example.test")
    due_soon = await api.data(QUEUE, {"dueWithinDays": 14, "overdue": False})
    assert [n["id"] for n in due_soon["rightsRequests"]["nodes"]] == [old["id"]]
    frozen_clock.advance(timedelta(days=15))
    overdue = await api.data(QUEUE, {"overdue": True})
    assert [n["id"] for n in overdue["rightsRequests"]["nodes"]] == [old["id"]]
    shown = (await api.data(ONE, {"id": old["id"]}))["rightsRequest"]
    assert shown["overdue"] is True
    by_kind = await api.data(QUEUE, {"kind": ["OBJECTION"], "overdue": False})
    assert [n["id"] for n in by_kind["rightsRequests"]["nodes"]] == [new["id"]]
    by_controller = await api.data(QUEUE, {"controller": "talkdesk", "overdue": False})
    assert by_controller["rightsRequests"]["nodes"] == []
    # A completed request is no longer overdue.
    await mutate(api, COMPLETE, "completeRightsRequest", request=old["id"])
    assert (await api.data(QUEUE, {"overdue": True}))["rightsRequests"]["nodes"] == []


@pytest.mark.parametrize("days", [2147483647, -2147483648, 367, -1])
async def test_a_queue_window_out_of_range_is_invalid_input_not_an_internal_error(
    api: Api, scene: Scene, days: int
) -> None:
    await registered(api)
    body = await api.query(QUEUE, {"dueWithinDays": days, "overdue": False})
    assert body["data"] is None
    assert [(e["extensions"]["code"], e["path"]) for e in body["errors"]] == [
        ("INVALID_INPUT", ["rightsRequests"])
    ]
    assert "due within 0 to 366 days" in body["errors"][0]["message"]
    # The widest window allowed still answers.
    widest = await api.data(QUEUE, {"dueWithinDays": 366, "overdue": False})
    assert len(widest["rightsRequests"]["nodes"]) == 1
    # The other int arguments of the rights queries: a page size out of range is invalid
    # input, an ID out of range finds nothing.
    pages = await api.query(
        "query($n: Int!) { rightsRequests(first: $n) { nodes { id } } }", {"n": days}
    )
    assert [e["extensions"]["code"] for e in pages["errors"]] == ["INVALID_INPUT"]
    one = await api.data("query($id: Int!) { rightsRequest(id: $id) { id } }", {"id": days})
    assert one == {"rightsRequest": None}


async def test_a_fee_or_a_refusal_needs_an_allowed_ground_and_its_reason_R_DSR_4(
    api: Api, scene: Scene
) -> None:
    first = await registered(api)
    # No earlier request: it cannot be called repetitive.
    not_repeated = await mutate(
        api, FEE, "chargeFee", request=first["id"], cents=1000, ground="REPETITIVE", reason="again"
    )
    assert rule_of(not_repeated) == "R-DSR-4"
    no_reason = await mutate(
        api, FEE, "chargeFee", request=first["id"], cents=1000, ground="EXCESSIVE", reason=" "
    )
    assert no_reason["errors"][0]["field"] == "reason"
    second = await registered(api)
    # The repeat is detected and shown, whoever of the two numbers was given.
    assert second["earlierRequests"] == [first["id"]]
    charged = await mutate(
        api,
        FEE,
        "chargeFee",
        request=second["id"],
        cents=1500,
        ground="REPETITIVE",
        reason="third copy of the same recordings this month",
    )
    assert charged["errors"] == []
    assert charged["request"]["feeCents"] == 1500
    assert charged["request"]["feeGround"] == "REPETITIVE"
    refused = await mutate(
        api,
        REFUSE,
        "refuseRightsRequest",
        request=second["id"],
        ground="MANIFESTLY_UNFOUNDED",
        reason="asks for recordings of calls never made",
    )
    assert refused["request"]["refusalReason"] == "asks for recordings of calls never made"
    # A request of another kind is no repeat of these.
    other = await registered(api, "PORTABILITY")
    assert other["earlierRequests"] == []


async def test_subjects_are_found_by_phone_or_email_through_their_blind_index(
    api: Api,
    scene: Scene,
    ring: KeyRing,
    blobs: LocalBlobStore,
    frozen_clock: clock.FrozenClock,
) -> None:
    recording_id = await scene.recorded(ring, blobs, b"a call about a parcel" * 100)
    frozen_clock.advance(timedelta(minutes=5))
    silent_call = await scene.call()
    by_phone = (await api.data(FIND, {"phone": "+44 (20) 7946-0000"}))["findSubjects"]
    assert [(m["subjectId"], m["kind"]) for m in by_phone] == [(scene.customer_id, "customer")]
    (customer,) = by_phone
    assert (customer["callsAsCustomer"], customer["callsAsAgent"], customer["recordings"]) == (
        2,
        0,
        1,
    )
    assert [(c["consent"], [r["id"] for r in c["recordings"]]) for c in customer["calls"]] == [
        ("GIVEN", [recording_id]),
        ("PENDING", []),
    ]
    assert customer["calls"][1]["id"] == silent_call
    by_email = (await api.data(FIND, {"email": "BO@example.test"}))["findSubjects"]
    assert [(m["subjectId"], m["callsAsAgent"], m["recordings"]) for m in by_email] == [
        (scene.agent_id, 2, 1)
    ]
    assert (await api.data(FIND, {"email": "nobody@example.test"}))["findSubjects"] == []
    assert "errors" in await api.query(FIND, {})


@pytest.mark.parametrize("role", [Role.AGENT, Role.QA_SPECIALIST, Role.SECURITY_AUDITOR])
async def test_only_the_privacy_team_works_on_requests(api: Api, scene: Scene, role: Role) -> None:
    body = await api.query(
        RECEIVE,
        {"input": {"kind": "ACCESS", "controller": "mood-media-uk", "phone": PHONE}},
        role=role,
    )
    assert body["data"]["receiveRightsRequest"]["errors"][0]["__typename"] == "ForbiddenError"
    assert "errors" in await api.query(QUEUE, {"overdue": False}, role=role)


# What each kind needs at receipt and completion, and what its answer shows.
KINDS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "ACCESS": ({}, {}),
    "PORTABILITY": ({}, {}),
    "ARRANGEMENT": ({}, {}),
    "ERASURE": ({}, {}),
    "RESTRICTION": ({}, {"until": "2027-03-31", "reason": "the customer contests the address"}),
    "OBJECTION": ({"email": "bo@example.test", "phone": None}, {}),
    "CONSENT_WITHDRAWAL": ({}, {}),
    "RECTIFICATION": ({"corrections": {"email": "ana.new@example.test"}}, {}),
    "CHILD_DELETION": ({"byGuardian": True}, {}),
}
ANSWERED_WITH_A_FILE = {
    "ACCESS": "access",
    "PORTABILITY": "portability",
    "ARRANGEMENT": "arrangement",
}
TOLD_TO_RECIPIENTS = {"ERASURE", "RESTRICTION", "RECTIFICATION"}


@pytest.mark.parametrize("kind", list(KINDS))
async def test_a_request_of_each_kind_is_walked_through_graphql_R_DSR_1(
    api: Api, scene: Scene, kind: str
) -> None:
    given, terms = KINDS[kind]
    request = await registered(api, kind, **given)
    completed = await mutate(api, COMPLETE, "completeRightsRequest", request=request["id"], **terms)
    assert completed["errors"] == [], completed["errors"]
    final = completed["request"]
    assert final["status"] == "COMPLETED"
    assert final["outcome"] is not None
    package = completed["package"]
    if kind in ANSWERED_WITH_A_FILE:
        assert package["kind"] == ANSWERED_WITH_A_FILE[kind].upper()
        assert package["downloadPath"] == f"/packages/{package['id']}"
        assert [p["id"] for p in final["packages"]] == [package["id"]]
        response = await api.client.get(
            package["downloadPath"],
            headers={"Authorization": f"Bearer {api.tokens[Role.PRIVACY_OFFICER]}"},
        )
        assert response.status_code == 200 and response.content
    else:
        assert package is None
    assert bool(final["recipientNotices"]) == (kind in TOLD_TO_RECIPIENTS)
