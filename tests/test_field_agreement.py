"""Each field a user edits is declared once, and every layer that must keep its own list agrees.

An entity's, a transfer's, an activity's and a principal's fields are declared in one SQLModel
base (``EntityDraft``, ``TransferTerms``, ``ActivityDraft``, ``PrincipalProfile``) that the
table, the service's draft and the seeds derive from. GraphQL, the CLI and the exports keep
lists of their own, because they show or take less than the table holds, or name things
otherwise. These tests compare those lists with the table's columns, so that a field added in
one place and forgotten in another fails here, naming it. What a layer leaves out on purpose
is written below, each with its reason.
"""

from __future__ import annotations

import dataclasses
import inspect as pyinspect

from sqlalchemy import inspect
from strawberry.types.base import get_object_definition

from registry.access import commands as access_commands
from registry.access import service as access_service
from registry.access.graphql import CreatePrincipalInput, PrincipalType, UpdatePrincipalInput
from registry.access.models import Principal
from registry.db import Base
from registry.exports.ropa import ControllerRow, ProcessorRow
from registry.record.inventory import service as inventory_service
from registry.record.inventory.graphql import CreateEntityInput, UpdateEntityInput
from registry.record.inventory.models import Activity, Entity, EntityDraft
from registry.record.inventory.types import ActivityType, EntityType
from registry.record.transfers import service as transfer_service
from registry.record.transfers.graphql import CreateTransferInput, UpdateTransferInput
from registry.record.transfers.models import Transfer
from registry.record.transfers.types import TransferType
from registry.seeding import ActivitySeed, EntitySeed


def columns(model: type[Base]) -> set[str]:
    return set(inspect(model).columns.keys())


def graphql_fields(cls: type) -> set[str]:
    return {field.python_name for field in get_object_definition(cls, strict=True).fields}


def not_shown(expected: set[str], graphql_type: type) -> list[str]:
    """What a GraphQL type lacks of ``expected``: it may show more (relations, gaps)."""
    return sorted(expected - graphql_fields(graphql_type))


def disagreement(expected: set[str], found: set[str]) -> dict[str, list[str]]:
    """What one side has that the other lacks: empty when the lists agree."""
    return {
        side: sorted(names)
        for side, names in (("missing", expected - found), ("unexpected", found - expected))
        if names
    }


# A table's own identity: GraphQL shows it as the node's global ID, and nobody edits it.
IDENTITY = {"id"}

# --- entity ---

# Set by the system, not given: when and why it was retired (``retireEntity`` takes them).
ENTITY_LIFECYCLE = {"retired_on", "retirement_reason"}
# The number an entity has in the privacy notice: the notice's own, loaded with the seeds.
ENTITY_FROM_THE_NOTICE = {"notice_number"}
# Fixed once recorded: the slug names it in history and integrations, the kind decides its rules.
ENTITY_FIXED = {"slug", "kind", "notice_number"}


def test_an_entitys_table_is_its_draft_and_its_lifecycle() -> None:
    assert (
        disagreement(set(EntityDraft.model_fields) | IDENTITY | ENTITY_LIFECYCLE, columns(Entity))
        == {}
    )


def test_an_entity_is_created_over_graphql_with_every_field_of_its_draft_but_the_notices() -> None:
    assert (
        disagreement(
            set(EntityDraft.model_fields) - ENTITY_FROM_THE_NOTICE,
            graphql_fields(CreateEntityInput),
        )
        == {}
    )


def test_an_entity_update_offers_exactly_what_the_service_lets_change() -> None:
    editable = set(EntityDraft.model_fields) - ENTITY_FIXED
    assert disagreement(editable, set(inventory_service.EDITABLE_FIELDS)) == {}
    assert disagreement(editable, graphql_fields(UpdateEntityInput)) == {}


def test_graphql_shows_every_column_of_an_entity() -> None:
    assert not_shown(columns(Entity) - IDENTITY, EntityType) == []


def test_an_entity_seed_takes_its_draft_and_nothing_else() -> None:
    assert disagreement(set(EntityDraft.model_fields), set(EntitySeed.model_fields)) == {}
    assert EntitySeed.model_config.get("extra") == "forbid"


# Art. 30(1)(a) and 30(2)(a): the name and contact details of each controller or processor,
# its representative and its data protection officer. Each such field is a column of both rows.
ENTITY_FIELDS_IN_AN_EXPORT_ROW = {
    "legal_name",
    "known_as",
    "country_code",
    "registered_office",
    "contact",
    "dpo",
    "representative",
}
# What the rows carry otherwise, or not at all, and why.
ENTITY_FIELDS_NOT_IN_AN_EXPORT_ROW = {
    "id",
    "slug",  # the row's "Controller" / "Processor" column
    "kind",  # the processor row's "Role"
    "verified",  # a name not verified is named in "Gaps in the record"
    "verification_note",  # the privacy team's working note
    "dpf_certified",  # judged in the transfers' safeguard
    "notice_number",  # the notice's own numbering
    "active_from",  # retired entities are left out of the record altogether
    "retired_on",
    "retirement_reason",
}


def test_every_entity_field_is_exported_or_left_out_for_a_reason() -> None:
    assert (
        disagreement(
            columns(Entity),
            ENTITY_FIELDS_IN_AN_EXPORT_ROW | ENTITY_FIELDS_NOT_IN_AN_EXPORT_ROW,
        )
        == {}
    )
    for row in (ControllerRow, ProcessorRow):
        fields = {f.name for f in dataclasses.fields(row)}
        assert fields >= ENTITY_FIELDS_IN_AN_EXPORT_ROW, (
            row.__name__,
            ENTITY_FIELDS_IN_AN_EXPORT_ROW - fields,
        )


# --- transfer ---

# The table refers by id to what the draft and GraphQL name by slug or key.
TRANSFER_REFERENCES = {
    "activity_id": "activity",
    "exporter_id": "exporter",
    "importer_id": "importer",
    "adequacy_decision_id": "adequacy_decision",
}
# GraphQL names its inputs after the records they point at; the service's draft, after slugs.
TRANSFER_INPUT_NAMES = {
    "activity": "activity_slug",
    "exporter": "exporter_slug",
    "importer": "importer_slug",
    "adequacy_decision": "adequacy_decision_slug",
    "data_categories": "data_category_keys",
}
# Fixed once recorded: the slug names the transfer; the activity and parties are what it is.
TRANSFER_FIXED = {"slug", "activity_slug", "exporter_slug", "importer_slug"}


def as_draft_names(names: set[str]) -> set[str]:
    return {TRANSFER_INPUT_NAMES.get(name, name) for name in names}


def test_a_transfer_draft_names_by_slug_what_its_table_refers_to_by_id() -> None:
    draft = set(transfer_service.TransferDraft.model_fields)
    by_slug = {column: f"{name}_slug" for column, name in TRANSFER_REFERENCES.items()}
    expected = (columns(Transfer) - IDENTITY - set(by_slug)) | set(by_slug.values())
    # The draft also carries the data categories, which live in a table of their own.
    assert disagreement(expected | {"data_category_keys"}, draft) == {}


def test_a_transfer_is_created_over_graphql_with_every_field_of_its_draft() -> None:
    draft = set(transfer_service.TransferDraft.model_fields)
    assert disagreement(draft, as_draft_names(graphql_fields(CreateTransferInput))) == {}


def test_a_transfer_update_offers_exactly_what_the_service_lets_change() -> None:
    editable = set(transfer_service.TransferDraft.model_fields) - TRANSFER_FIXED
    assert disagreement(editable, set(transfer_service.EDITABLE_FIELDS)) == {}
    assert disagreement(editable, as_draft_names(graphql_fields(UpdateTransferInput))) == {}


def test_graphql_shows_every_column_of_a_transfer() -> None:
    expected = {TRANSFER_REFERENCES.get(name, name) for name in columns(Transfer) - IDENTITY}
    assert not_shown(expected, TransferType) == []


# --- activity ---

# Set by the system, not given: when and why it was retired (``retireActivity`` takes them).
ACTIVITY_LIFECYCLE = {"retired_on", "retirement_reason"}


def test_graphql_shows_every_column_of_an_activity() -> None:
    assert not_shown(columns(Activity) - IDENTITY, ActivityType) == []


def test_an_activity_seed_gives_every_column_of_an_activity() -> None:
    assert (
        disagreement(
            columns(Activity) - IDENTITY - ACTIVITY_LIFECYCLE,
            set(ActivitySeed.model_fields) & columns(Activity),
        )
        == {}
    )
    assert ActivitySeed.model_config.get("extra") == "forbid"


# Art. 30(1)(b), (d) and (g), 30(2)(b) and (d): what the rows say of the activity itself.
ACTIVITY_FIELDS_IN_AN_EXPORT_ROW = {
    "slug": "activity",
    "name": "activity_name",
    "recipient_categories": "recipient_categories",
    "security_measures": "security_measures",
    "source": "source",
    "automated_decisions": "automated_decisions",
    "dpia_status": "dpia_status",
    "dpia_reference": "dpia_reference",
    "lia_reference": "lia_reference",
    "notice_last_updated": "notice_last_updated",
    "notice_authoritative_language": "notice_authoritative_language",
    "platform": "platform",
}
# The rest is the notice's prose, shown by GraphQL and the Markdown export's preamble only.
ACTIVITY_FIELDS_NOT_IN_AN_EXPORT_ROW = {
    "id",
    "description",
    "arrangement_summary",
    "transfer_summary",
    "operations",  # the processor row's "(b) Processing carried out"
    # When and why an activity was retired: shown by GraphQL; a retired activity has no
    # participants, so no row.
    *ACTIVITY_LIFECYCLE,
}


def test_every_activity_field_is_exported_or_left_out_for_a_reason() -> None:
    assert (
        disagreement(
            columns(Activity),
            set(ACTIVITY_FIELDS_IN_AN_EXPORT_ROW) | ACTIVITY_FIELDS_NOT_IN_AN_EXPORT_ROW,
        )
        == {}
    )
    controller = {f.name for f in dataclasses.fields(ControllerRow)}
    assert set(ACTIVITY_FIELDS_IN_AN_EXPORT_ROW.values()) <= controller
    assert "operations" in {f.name for f in dataclasses.fields(ProcessorRow)}


# --- principal ---

# Set by the system: when it was created and deactivated (``deactivatePrincipal``).
PRINCIPAL_LIFECYCLE = {"created_at", "deactivated_at"}
# The handle is personal and for good (R-ACC-2).
PRINCIPAL_FIXED = {"handle"}
# The CLI's shorter option names.
CLI_NAMES = {"name": "display_name", "role": "roles"}


def cli_fields(command: object, *, besides: set[str]) -> set[str]:
    parameters = set(pyinspect.signature(command).parameters) - besides  # type: ignore[arg-type]
    return {CLI_NAMES.get(name, name) for name in parameters}


def test_a_principals_table_is_its_profile_and_its_lifecycle() -> None:
    from registry.access.models import PrincipalProfile

    assert (
        disagreement(
            set(PrincipalProfile.model_fields) | IDENTITY | PRINCIPAL_LIFECYCLE, columns(Principal)
        )
        == {}
    )


def test_a_principal_is_created_over_graphql_and_the_cli_with_its_whole_profile() -> None:
    profile = columns(Principal) - IDENTITY - PRINCIPAL_LIFECYCLE
    assert disagreement(profile, graphql_fields(CreatePrincipalInput)) == {}
    assert disagreement(profile, cli_fields(access_commands.principals_create, besides=set())) == {}


def test_a_principal_update_offers_exactly_what_the_service_lets_change() -> None:
    editable = columns(Principal) - IDENTITY - PRINCIPAL_LIFECYCLE - PRINCIPAL_FIXED
    assert disagreement(editable, set(access_service.EDITABLE_FIELDS)) == {}
    assert disagreement(editable, graphql_fields(UpdatePrincipalInput)) == {}
    # The CLI names the principal by its handle, and asks why a name changes.
    cli = cli_fields(access_commands.principals_update, besides={"handle", "reason"})
    assert disagreement(editable, cli) == {}


def test_graphql_shows_every_column_of_a_principal() -> None:
    assert not_shown(columns(Principal) - IDENTITY, PrincipalType) == []
