"""A mutation's payload shows only what its caller may read, as the object's own query
would (R-ACC-1, R-ACC-6); reading the deletions owed is audited like any personal data."""

from __future__ import annotations

from typing import Any

from registry.access.policy import Role
from registry.audit.models import Outcome
from registry.audit.service import AuditLog
from registry.blobs import LocalBlobStore
from registry.crypto import KeyRing
from registry.db import transaction
from registry.recordings import calls
from registry.recordings.models import Direction
from tests.conftest import Api
from tests.recordings.conftest import SYSTEM, Scene
from tests.recordings.test_retention import recorded

CALL = "call { id consent steps { step actor } recordings { id } }"
REGISTER = f'mutation($customer: Int!) {{ registerCall(input: {{direction: INBOUND, company: "mood-media-uk", customer: $customer, customerCountry: "GB"}}) {{ {CALL} errors {{ __typename }} }} }}'
IVR = f'mutation($call: String!) {{ recordIvrChoice(call: $call, digit: "1") {{ {CALL} errors {{ __typename }} }} }}'
WITHDRAW = f"mutation($call: String!) {{ withdrawConsent(call: $call) {{ {CALL} errors {{ __typename }} }} }}"
OWED = "{ deletionsOwed { ageHours call { id steps { step } recordings { id } } } }"


def refused_fields(body: dict[str, Any]) -> set[str]:
    return {
        str(error["path"][-1])
        for error in body.get("errors", [])
        if error["extensions"]["code"] == "FORBIDDEN"
    }


async def test_r_acc_1_an_agents_mutations_return_the_call_without_its_steps_or_recordings(
    api: Api, scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    """R-ACC-1: an agents mutations return the call without its steps or recordings."""
    registered = await api.query(REGISTER, {"customer": scene.customer_id}, role=Role.AGENT)
    payload = registered["data"]["registerCall"]
    call_id = payload["call"]["id"]
    assert payload["call"]["steps"] is None and payload["call"]["recordings"] is None
    assert refused_fields(registered) == {"steps", "recordings"}

    answered = await api.query(IVR, {"call": call_id}, role=Role.IT_OPERATOR)
    assert answered["data"]["recordIvrChoice"]["call"] == {
        "id": call_id,
        "consent": "GIVEN",
        "steps": None,
        "recordings": None,
    }
    assert refused_fields(answered) == {"steps", "recordings"}

    (recording_id,) = await recorded(scene, ring, blobs)
    async with scene.sessions() as session:
        recorded_call = (await session.get_one(calls.Recording, recording_id)).call_id
    withdrawn = await api.query(WITHDRAW, {"call": recorded_call}, role=Role.AGENT)
    assert withdrawn["data"]["withdrawConsent"] == {
        "call": {"id": recorded_call, "consent": "WITHDRAWN", "steps": None, "recordings": None},
        "errors": [],
    }
    assert refused_fields(withdrawn) == {"steps", "recordings"}
    # The withdrawal took effect all the same: only what is shown is held back.
    async with scene.sessions() as session:
        assert (await session.get_one(calls.Recording, recording_id)).wrapped_key is None


async def test_r_acc_1_those_who_read_calls_see_them_whole_in_a_payload(
    api: Api, scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    """R-ACC-1: those who read calls see them whole in a payload."""
    (recording_id,) = await recorded(scene, ring, blobs)
    async with scene.sessions() as session:
        call_id = (await session.get_one(calls.Recording, recording_id)).call_id
    withdrawn = await api.data(WITHDRAW, {"call": call_id}, role=Role.PRIVACY_OFFICER)
    call = withdrawn["withdrawConsent"]["call"]
    assert [s["step"] for s in call["steps"]] == ["IVR_DIGIT_1", "WITHDRAWN"]
    assert [r["id"] for r in call["recordings"]] == [recording_id]


async def test_r_acc_6_reading_the_deletions_owed_is_audited(
    api: Api, scene: Scene, audit_log: AuditLog
) -> None:
    """R-ACC-6: reading the deletions owed is audited."""
    call_id = await scene.call(Direction.OUTBOUND)
    async with transaction(scene.sessions) as session:
        await calls.record_agent_answer(
            session=session, actor=SYSTEM, call_id=call_id, approved=False
        )
    read = await api.data(OWED, role=Role.MANAGER)
    assert [d["call"]["id"] for d in read["deletionsOwed"]] == [call_id]
    (audited,) = await audit_log.events(actor=SYSTEM, after_seq=0, limit=10, action="deletionsOwed")
    assert (audited.principal, audited.outcome) == ("test-manager", Outcome.ALLOWED)
    assert audited.detail == {"calls": [call_id]}
    # IT is told what to delete, not the call's history (no calls.read).
    it = await api.query(OWED, role=Role.IT_OPERATOR)
    assert it["data"]["deletionsOwed"][0]["call"] == {
        "id": call_id,
        "steps": None,
        "recordings": None,
    }
    assert refused_fields(it) == {"steps", "recordings"}
