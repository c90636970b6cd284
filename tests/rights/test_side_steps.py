"""The side steps of an answered request in the one step table, and the service checking it
(R-DSR-1): compelling grounds on an objection, lifting a restriction, a recipient's
acknowledgement (Art. 19), each only once the request is answered, and only for the kinds
whose answer records what it acts on.

The expectations are written from the rules: an objection's answer records the objection,
a restriction's the restriction, and a rectification's, erasure's or restriction's answer
owes each recipient a notice; nothing is recorded before the answer.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from registry import clock
from registry.db import transaction
from registry.errors import InvalidInput
from registry.record.inventory.models import Entity
from registry.rights import effects
from registry.rights.models import Objection, RequestKind, RequestStatus, RightsRequest
from registry.rights.steps import Step, allowed_actions
from tests.recordings.conftest import SYSTEM, Scene, scene
from tests.rights.test_steps import OFFICER, request

__all__ = ["scene"]

SIDE = (Step.RECORD_GROUNDS, Step.LIFT_RESTRICTION, Step.ACKNOWLEDGE_RECIPIENT)
# Kind by kind, the side steps its answer allows.
EXPECTED = {
    RequestKind.OBJECTION: [Step.RECORD_GROUNDS],
    RequestKind.RESTRICTION: [Step.LIFT_RESTRICTION, Step.ACKNOWLEDGE_RECIPIENT],
    RequestKind.RECTIFICATION: [Step.ACKNOWLEDGE_RECIPIENT],
    RequestKind.ERASURE: [Step.ACKNOWLEDGE_RECIPIENT],
    RequestKind.ACCESS: [],
    RequestKind.PORTABILITY: [],
    RequestKind.CONSENT_WITHDRAWAL: [],
    RequestKind.ARRANGEMENT: [],
    RequestKind.CHILD_DELETION: [],
}


@pytest.fixture(autouse=True)
def _frozen(frozen_clock: clock.FrozenClock) -> None:
    del frozen_clock


@pytest.mark.parametrize("kind", list(RequestKind))
def test_r_dsr_1_an_answered_request_allows_the_side_steps_of_its_kind(kind: RequestKind) -> None:
    """R-DSR-1: once answered, each kind allows the side steps on what its answer recorded."""
    assert allowed_actions(request(RequestStatus.COMPLETED, kind=kind), OFFICER) == EXPECTED[kind]


@pytest.mark.parametrize("status", sorted(set(RequestStatus) - {RequestStatus.COMPLETED}))
def test_r_dsr_1_no_side_step_before_the_answer(status: RequestStatus) -> None:
    """R-DSR-1: an objection, a restriction or a notice is recorded by the answer: before it,
    or once the request is refused, there is none to act on."""
    for kind in (RequestKind.OBJECTION, RequestKind.RESTRICTION, RequestKind.ERASURE):
        offered = allowed_actions(request(status, kind=kind), OFFICER)
        assert not set(offered) & set(SIDE), (status, kind)


async def test_r_dsr_1_the_service_refuses_grounds_on_an_objection_of_a_request_not_answered(
    scene: Scene,
) -> None:
    """R-DSR-1: the service checks the table too: an objection tied to a request still in
    progress takes no grounds, and nothing is recorded."""
    async with transaction(scene.sessions) as session:
        controller = (
            await session.scalars(select(Entity).where(Entity.slug == "mood-media-uk"))
        ).one()
        pending = RightsRequest(
            kind=RequestKind.OBJECTION,
            status=RequestStatus.IN_PROGRESS,
            controller_id=controller.id,
            subject_id=scene.agent_id,
            received_at=clock.now(),
            received_by="officer",
            due_at=clock.now(),
            identity_established_at=clock.now(),
        )
        session.add(pending)
        await session.flush()
        objection = Objection(
            subject_id=scene.agent_id, request_id=pending.id, lodged_at=clock.now()
        )
        session.add(objection)
    async with transaction(scene.sessions) as session:
        with pytest.raises(
            InvalidInput, match="cannot record grounds before the request is answered"
        ):
            await effects.record_compelling_grounds(
                session=session, actor=SYSTEM, objection_id=objection.id, grounds="needed"
            )
    async with scene.sessions() as session:
        assert (await session.get_one(Objection, objection.id)).compelling_grounds is None
