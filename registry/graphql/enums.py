"""The domain's enums, exposed to GraphQL under their own names."""

from __future__ import annotations

import strawberry

from registry.access.policy import Role
from registry.history.models import ChangeAction
from registry.inventory.models import EntityKind, LegalBasis
from registry.inventory.record import EntityGapReason, ProcessingRole
from registry.transfers.models import AdequacyScope, Mechanism
from registry.transfers.safeguards import Safeguard

for enum in (
    AdequacyScope,
    ChangeAction,
    EntityGapReason,
    EntityKind,
    LegalBasis,
    Mechanism,
    ProcessingRole,
    Role,
    Safeguard,
):
    strawberry.enum(enum)
