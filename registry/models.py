"""Every table of the main database, imported in one place for Alembic and the tests."""

from registry.access.models import ApiToken, ConsoleSession, ExternalIdentity, Principal
from registry.authorities.models import AuthorityRequest, DisclosureItem
from registry.countries import AdequacyDecision, Country
from registry.db import Base
from registry.record.documents.models import Document, DocumentParty, DocumentTransfer
from registry.record.history.models import Change
from registry.record.inventory.models import (
    Activity,
    ActivityDataCategory,
    ActivityParty,
    ActivitySubject,
    DataCategory,
    Engagement,
    Entity,
    Purpose,
    PurposeBasis,
    SubjectCategory,
)
from registry.record.supervision.models import ControllerAuthority, SupervisoryAuthority
from registry.record.transfers.models import Transfer, TransferDataCategory
from registry.recordings.models import (
    Call,
    ConsentEvent,
    LegalHold,
    MonitoringSession,
    PendingBlobDeletion,
    PendingUpload,
    Recording,
    SeparateConsent,
    Subject,
    Tombstone,
)
from registry.rights.models import (
    Objection,
    Package,
    RecipientNotice,
    RequestStep,
    Restriction,
    RightsRequest,
)

__all__ = [
    "Activity",
    "ActivityDataCategory",
    "ActivityParty",
    "ActivitySubject",
    "AdequacyDecision",
    "ApiToken",
    "AuthorityRequest",
    "Base",
    "Call",
    "Change",
    "ConsentEvent",
    "ConsoleSession",
    "ControllerAuthority",
    "Country",
    "DataCategory",
    "DisclosureItem",
    "Document",
    "DocumentParty",
    "DocumentTransfer",
    "Engagement",
    "Entity",
    "ExternalIdentity",
    "LegalHold",
    "MonitoringSession",
    "Objection",
    "Package",
    "PendingBlobDeletion",
    "PendingUpload",
    "Principal",
    "Purpose",
    "PurposeBasis",
    "RecipientNotice",
    "Recording",
    "RequestStep",
    "Restriction",
    "RightsRequest",
    "SeparateConsent",
    "Subject",
    "SubjectCategory",
    "SupervisoryAuthority",
    "Tombstone",
    "Transfer",
    "TransferDataCategory",
]
