"""Which step a rights request may take next, and who may take it: the one table.

The service checks every step against it before taking it (``service.guarded``), and the
console shows a request's next actions from it, so what a status allows is written once.
A step is offered only when the request alone does not already rule it out: a second
extension, an extension once the deadline has passed, registration or completion without
established identity (R-DSR-2, R-DSR-3), a second fee.

Three side steps follow an answered request, on what its answer recorded (R-DSR-1): an
objection's compelling grounds, the lifting of a restriction, a recipient's acknowledgement
of the Art. 19 notice. Each is for the kinds of request whose answer records it; whether the
one objection, restriction or notice still allows it is the service's to say.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from registry import clock
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.errors import DomainError, Forbidden, InvalidInput, RuleBroken
from registry.rights.models import RequestKind, RequestStatus, RightsRequest

OPEN = frozenset(
    {
        RequestStatus.RECEIVED,
        RequestStatus.IDENTITY_PENDING,
        RequestStatus.REGISTERED,
        RequestStatus.IN_PROGRESS,
        RequestStatus.EXTENDED,
    }
)
BEFORE_REGISTRATION = frozenset({RequestStatus.RECEIVED, RequestStatus.IDENTITY_PENDING})
UNDER_WAY = frozenset({RequestStatus.IN_PROGRESS, RequestStatus.EXTENDED})
# Art. 19: these answers change what recipients hold, so each recipient is told.
TOLD_TO_RECIPIENTS = frozenset(
    {RequestKind.RECTIFICATION, RequestKind.ERASURE, RequestKind.RESTRICTION}
)


class Step(StrEnum):
    """A step of the workflow, in the order it is usually taken."""

    ASK_FOR_PROOF = "ask_for_proof"
    ESTABLISH_IDENTITY = "establish_identity"
    REGISTER = "register"
    START = "start"
    EXTEND = "extend"
    CHARGE_FEE = "charge_fee"
    REFUSE = "refuse"
    COMPLETE = "complete"
    # Side steps, on what the answer recorded.
    RECORD_GROUNDS = "record_grounds"
    LIFT_RESTRICTION = "lift_restriction"
    ACKNOWLEDGE_RECIPIENT = "acknowledge_recipient"

    @property
    def doing(self) -> str:
        return self.value.replace("_", " ")


# The statuses each step may be taken from.
ALLOWED_FROM: Mapping[Step, frozenset[RequestStatus]] = {
    Step.ASK_FOR_PROOF: frozenset({RequestStatus.RECEIVED}),
    Step.ESTABLISH_IDENTITY: BEFORE_REGISTRATION,
    Step.REGISTER: BEFORE_REGISTRATION,
    Step.START: frozenset({RequestStatus.REGISTERED}),
    # Identity may still be awaited when the deadline nears: an extension may come then too.
    Step.EXTEND: frozenset({RequestStatus.IDENTITY_PENDING, RequestStatus.REGISTERED, *UNDER_WAY}),
    Step.CHARGE_FEE: frozenset({RequestStatus.REGISTERED, *UNDER_WAY}),
    Step.REFUSE: OPEN,
    Step.COMPLETE: UNDER_WAY,
    Step.RECORD_GROUNDS: frozenset({RequestStatus.COMPLETED}),
    Step.LIFT_RESTRICTION: frozenset({RequestStatus.COMPLETED}),
    Step.ACKNOWLEDGE_RECIPIENT: frozenset({RequestStatus.COMPLETED}),
}
# The kinds of request whose answer records what a side step acts on.
FOR_KINDS: Mapping[Step, frozenset[RequestKind]] = {
    Step.RECORD_GROUNDS: frozenset({RequestKind.OBJECTION}),
    Step.LIFT_RESTRICTION: frozenset({RequestKind.RESTRICTION}),
    Step.ACKNOWLEDGE_RECIPIENT: TOLD_TO_RECIPIENTS,
}


def why_not(request: RightsRequest, step: Step) -> DomainError | None:
    """The error that refuses ``step`` on ``request`` as it stands, or None if it may go on."""
    if request.status not in ALLOWED_FROM[step] and step in FOR_KINDS:
        return InvalidInput(
            f"cannot {step.doing} before the request is answered ({request.status.value})",
            field="request",
        )
    if request.status not in ALLOWED_FROM[step]:
        return InvalidInput(
            f"cannot {step.doing} a request that is {request.status.value}", field="request"
        )
    if step in FOR_KINDS and request.kind not in FOR_KINDS[step]:
        return InvalidInput(
            f"cannot {step.doing} on a request of kind {request.kind.value}", field="request"
        )
    if step in (Step.REGISTER, Step.COMPLETE) and request.identity_established_at is None:
        return RuleBroken(
            "R-DSR-3", "the requester's identity is not established: the request cannot be answered"
        )
    if step is Step.EXTEND:
        if request.extended_to is not None:
            return RuleBroken("R-DSR-2", "the deadline was extended once already")
        if clock.now() > request.due_at:
            return RuleBroken("R-DSR-2", "the deadline has passed: it can no longer be extended")
    if step is Step.CHARGE_FEE and request.fee_cents is not None:
        return InvalidInput("a fee was charged already", field="request")
    return None


def allowed_actions(request: RightsRequest, actor: Actor) -> list[Step]:
    """The steps ``actor`` may take on ``request`` now; none for who may not run requests,
    nor for one not cleared (R-ACC-3): the service would refuse them all."""
    try:
        authorize(actor, Action.RIGHTS_MANAGE)
    except Forbidden:
        return []
    return [step for step in Step if why_not(request, step) is None]
