"""The typed events of the change log: what subject each kind of write names, and how.

One shape for every event (R-INV-4): the subject's type and slug, its snapshot before and
after, who, when, why, and the request that made it. ``SCHEMA_VERSION`` names that shape for
integrations; it moves when an event type or a snapshot key is added (keys are only ever
added, never renamed or removed, so a follower written for an older version keeps working).
"""

from __future__ import annotations

from dataclasses import dataclass

from registry.record.history.models import ChangeAction, ChangeEvent

# 2: the events of countries, adequacy decisions created, supervisory authorities and
# documents; the import batch; the activity's notice facts and a retention's `stated` flag.
SCHEMA_VERSION = 2


@dataclass(frozen=True)
class EventKind:
    subject_type: str
    # The older, coarser verb, kept for followers written before events were typed.
    action: ChangeAction


EVENT_KINDS: dict[ChangeEvent, EventKind] = {
    ChangeEvent.ENTITY_CREATED: EventKind("entity", ChangeAction.CREATED),
    ChangeEvent.ENTITY_UPDATED: EventKind("entity", ChangeAction.UPDATED),
    ChangeEvent.ENTITY_RETIRED: EventKind("entity", ChangeAction.RETIRED),
    ChangeEvent.SUB_PROCESSOR_ENGAGED: EventKind("engagement", ChangeAction.LINKED),
    ChangeEvent.SUB_PROCESSOR_RELEASED: EventKind("engagement", ChangeAction.UNLINKED),
    ChangeEvent.ACTIVITY_PARTY_ADDED: EventKind("activity_party", ChangeAction.LINKED),
    ChangeEvent.DATA_CATEGORY_ATTACHED: EventKind("activity_data_category", ChangeAction.LINKED),
    ChangeEvent.TRANSFER_CREATED: EventKind("transfer", ChangeAction.CREATED),
    ChangeEvent.TRANSFER_UPDATED: EventKind("transfer", ChangeAction.UPDATED),
    ChangeEvent.ADEQUACY_DECISION_CHANGED: EventKind("adequacy_decision", ChangeAction.UPDATED),
    ChangeEvent.SEEDS_LOADED: EventKind("seeds", ChangeAction.CREATED),
    ChangeEvent.DATA_CATEGORY_ADDED: EventKind("data_category", ChangeAction.CREATED),
    ChangeEvent.SUBJECT_CATEGORY_ADDED: EventKind("subject_category", ChangeAction.CREATED),
    ChangeEvent.DATA_CATEGORY_DETACHED: EventKind("activity_data_category", ChangeAction.UNLINKED),
    ChangeEvent.RETENTION_CHANGED: EventKind("activity_data_category", ChangeAction.UPDATED),
    ChangeEvent.ACTIVITY_CREATED: EventKind("activity", ChangeAction.CREATED),
    ChangeEvent.ACTIVITY_UPDATED: EventKind("activity", ChangeAction.UPDATED),
    ChangeEvent.ACTIVITY_RETIRED: EventKind("activity", ChangeAction.RETIRED),
    ChangeEvent.PURPOSE_ADDED: EventKind("purpose", ChangeAction.CREATED),
    ChangeEvent.PURPOSE_UPDATED: EventKind("purpose", ChangeAction.UPDATED),
    ChangeEvent.PURPOSE_REMOVED: EventKind("purpose", ChangeAction.UNLINKED),
    ChangeEvent.LEGAL_BASIS_SET: EventKind("purpose_basis", ChangeAction.LINKED),
    ChangeEvent.LEGAL_BASIS_REMOVED: EventKind("purpose_basis", ChangeAction.UNLINKED),
    ChangeEvent.ACTIVITY_SUBJECT_ADDED: EventKind("activity_subject", ChangeAction.LINKED),
    ChangeEvent.ACTIVITY_SUBJECT_REMOVED: EventKind("activity_subject", ChangeAction.UNLINKED),
    ChangeEvent.COUNTRY_ADDED: EventKind("country", ChangeAction.CREATED),
    ChangeEvent.COUNTRY_UPDATED: EventKind("country", ChangeAction.UPDATED),
    ChangeEvent.ADEQUACY_DECISION_CREATED: EventKind("adequacy_decision", ChangeAction.CREATED),
    ChangeEvent.SUPERVISORY_AUTHORITY_ADDED: EventKind(
        "supervisory_authority", ChangeAction.CREATED
    ),
    ChangeEvent.SUPERVISORY_AUTHORITY_UPDATED: EventKind(
        "supervisory_authority", ChangeAction.UPDATED
    ),
    ChangeEvent.CONTROLLER_AUTHORITY_SET: EventKind("controller_authority", ChangeAction.LINKED),
    ChangeEvent.CONTROLLER_AUTHORITY_CLEARED: EventKind(
        "controller_authority", ChangeAction.UNLINKED
    ),
    # A document is logged whole, its parties and transfers included, whatever the write.
    ChangeEvent.DOCUMENT_ADDED: EventKind("document", ChangeAction.CREATED),
    ChangeEvent.DOCUMENT_UPDATED: EventKind("document", ChangeAction.UPDATED),
    ChangeEvent.DOCUMENT_WITHDRAWN: EventKind("document", ChangeAction.RETIRED),
    ChangeEvent.DOCUMENT_ATTACHED: EventKind("document", ChangeAction.LINKED),
    ChangeEvent.DOCUMENT_DETACHED: EventKind("document", ChangeAction.UNLINKED),
}

SUBJECT_TYPES = frozenset(kind.subject_type for kind in EVENT_KINDS.values())


def link_slug(*ends: str) -> str:
    """The slug of a link between records, e.g. ``processor>sub-processor``: kept as the
    feed has always named links; the snapshots name each end on its own."""
    return ">".join(ends)
