"""The domain's enums, exposed to GraphQL under their own names."""

from __future__ import annotations

import strawberry

from registry.access.policy import Role
from registry.countries import AdequacyScope
from registry.record.answers import EntityGapReason, ProcessingRole
from registry.record.documents.models import DocumentKind, DocumentRole
from registry.record.history.models import ChangeAction, ChangeEvent
from registry.record.inventory.models import DpiaStatus, EntityKind, LegalBasis
from registry.record.transfers.models import Mechanism
from registry.record.transfers.safeguards import Safeguard

for enum in (
    AdequacyScope,
    ChangeAction,
    ChangeEvent,
    DocumentKind,
    DocumentRole,
    DpiaStatus,
    EntityGapReason,
    EntityKind,
    LegalBasis,
    Mechanism,
    ProcessingRole,
    Role,
    Safeguard,
):
    strawberry.enum(enum)
