"""The table of a request's next steps, as the workflow's rules give them (R-DSR-2..4).

The expectations are written from the rules: what each status allows, and what the request
itself rules out (a second extension, a deadline passed, an unproven identity, a second fee).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from registry import clock
from registry.access.policy import Role
from registry.access.service import Actor
from registry.rights.models import RequestKind, RequestStatus, RightsRequest
from registry.rights.steps import Step, allowed_actions
from tests.conftest import NOW, Api
from tests.recordings.conftest import Scene
from tests.rights.test_workflow import receive, step

OFFICER = Actor(handle="officer", roles=frozenset({Role.PRIVACY_OFFICER}))
DAY = timedelta(days=1)


def request(status: RequestStatus, *, identified: bool = True, **more: object) -> RightsRequest:
    fields: dict[str, object] = {
        "kind": RequestKind.ACCESS,
        "status": status,
        "received_at": NOW - DAY,
        "due_at": NOW + 20 * DAY,
        "identity_established_at": NOW - DAY if identified else None,
        **more,
    }
    return RightsRequest(**fields)


# Status by status, the steps the workflow's rules allow (identity established, no extension
# and no fee yet, the deadline ahead).
EXPECTED = {
    RequestStatus.RECEIVED: [
        Step.ASK_FOR_PROOF,
        Step.ESTABLISH_IDENTITY,
        Step.REGISTER,
        Step.REFUSE,
    ],
    RequestStatus.IDENTITY_PENDING: [
        Step.ESTABLISH_IDENTITY,
        Step.REGISTER,
        Step.EXTEND,
        Step.REFUSE,
    ],
    RequestStatus.REGISTERED: [Step.START, Step.EXTEND, Step.CHARGE_FEE, Step.REFUSE],
    RequestStatus.IN_PROGRESS: [Step.EXTEND, Step.CHARGE_FEE, Step.REFUSE, Step.COMPLETE],
    RequestStatus.EXTENDED: [Step.EXTEND, Step.CHARGE_FEE, Step.REFUSE, Step.COMPLETE],
    RequestStatus.COMPLETED: [],
    RequestStatus.REFUSED: [],
}


@pytest.fixture(autouse=True)
def _frozen(frozen_clock: clock.FrozenClock) -> None:
    del frozen_clock


@pytest.mark.parametrize("status", list(RequestStatus))
def test_r_dsr_2_each_status_allows_its_next_steps(status: RequestStatus) -> None:
    """R-DSR-2: received, identity pending, registered, in progress, closed: each allows
    only the steps that follow it."""
    assert allowed_actions(request(status), OFFICER) == EXPECTED[status]


def test_r_dsr_3_without_identity_neither_registration_nor_answer_is_offered() -> None:
    """R-DSR-3: a request whose requester's identity is not established is not answered."""
    assert Step.REGISTER not in allowed_actions(
        request(RequestStatus.RECEIVED, identified=False), OFFICER
    )
    assert Step.COMPLETE not in allowed_actions(
        request(RequestStatus.IN_PROGRESS, identified=False), OFFICER
    )


def test_r_dsr_2_one_extension_and_only_before_the_deadline() -> None:
    """R-DSR-2: the deadline is extended once, before it passes."""
    extended = request(RequestStatus.EXTENDED, extended_to=NOW + 50 * DAY)
    late = request(RequestStatus.IN_PROGRESS, due_at=NOW - DAY)
    assert Step.EXTEND not in allowed_actions(extended, OFFICER)
    assert Step.EXTEND not in allowed_actions(late, OFFICER)


def test_r_dsr_4_one_fee_per_request() -> None:
    """R-DSR-4: a reasonable fee, charged once."""
    charged = request(RequestStatus.IN_PROGRESS, fee_cents=1000)
    assert Step.CHARGE_FEE not in allowed_actions(charged, OFFICER)


@pytest.mark.parametrize("role", sorted(set(Role) - {Role.PRIVACY_OFFICER}))
def test_only_the_privacy_team_is_offered_a_step(role: Role) -> None:
    """The privacy team alone runs data-subject requests (policy_spec, as for GraphQL)."""
    actor = Actor(handle="someone", roles=frozenset({role}))
    assert allowed_actions(request(RequestStatus.RECEIVED), actor) == []


def test_r_acc_3_an_officer_not_cleared_is_offered_nothing() -> None:
    """R-ACC-3: without the confidentiality commitment and training, no personal data."""
    uncleared = Actor(handle="new-officer", roles=frozenset({Role.PRIVACY_OFFICER}), cleared=False)
    assert allowed_actions(request(RequestStatus.RECEIVED), uncleared) == []


NEXT = "query($id: Int!) { rightsRequest(id: $id) { status nextActions } }"


async def test_r_dsr_3_graphql_gives_the_same_next_actions(api: Api, scene: Scene) -> None:
    """R-DSR-3: over GraphQL too, a request just received is offered proof of identity, not
    registration; once proof is asked, asking again is no longer offered."""
    request = await receive(api)
    before = (await api.data(NEXT, {"id": request["id"]}))["rightsRequest"]
    await step(api, "requestIdentityProof", request["id"])
    after = (await api.data(NEXT, {"id": request["id"]}))["rightsRequest"]

    assert before["nextActions"] == ["ASK_FOR_PROOF", "ESTABLISH_IDENTITY", "REFUSE"]
    assert after == {
        "status": "IDENTITY_PENDING",
        "nextActions": ["ESTABLISH_IDENTITY", "EXTEND", "REFUSE"],
    }
