"""Loading ``seeds/`` into the record. Creates what is missing and never overwrites.

Seeds are the record's starting point: once the privacy team edits an entity,
its edit stands, so running the seeds again changes nothing.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, col
from sqlmodel._compat import SQLModelConfig

from registry.access.service import Actor
from registry.countries import AdequacyDecision, AdequacyDecisionDraft, Country, CountryDraft
from registry.db import Base
from registry.record.activities import service as activities
from registry.record.countries import service as countries_service
from registry.record.documents import service as documents
from registry.record.documents.models import Document, DocumentKind, DocumentRole
from registry.record.history import service as history
from registry.record.history.models import ChangeEvent
from registry.record.inventory import service as inventory
from registry.record.inventory.models import (
    Activity,
    ActivityDataCategory,
    ActivityDraft,
    ActivityParty,
    DataCategory,
    Entity,
    EntityDraft,
    EntityKind,
    LegalBasis,
    PartyRole,
    SubjectCategory,
)
from registry.record.supervision import service as supervision
from registry.record.supervision.models import (
    AuthorityRole,
    ControllerAuthority,
    SupervisoryAuthority,
    SupervisoryAuthorityDraft,
)
from registry.record.transfers import decisions as decisions_service
from registry.record.transfers import service as transfers
from registry.record.transfers.models import Mechanism, Transfer

SEED_ACTOR = Actor.system("seed")
AUTHORITIES_FILE = "supervisory_authorities.yaml"


# A seed naming a field the record does not have is a mistake, not something to drop.
STRICT_DRAFT = SQLModelConfig(extra="forbid", frozen=True)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CountrySeed(CountryDraft):
    model_config = STRICT_DRAFT


class DecisionSeed(AdequacyDecisionDraft):
    """A decision as the seeds give it: its draft, its country named ``country``."""

    model_config = STRICT_DRAFT
    country_code: str = Field(alias="country")


class AuthoritySeed(SupervisoryAuthorityDraft):
    model_config = STRICT_DRAFT


class CategorySeed(_Strict):
    key: str
    name: str
    description: str | None = None
    special_category: bool = False


class SubjectSeed(_Strict):
    key: str
    name: str
    description: str | None = None


class EntitySeed(EntityDraft):
    """An entity as the seeds give it: its draft, nothing else."""

    model_config = STRICT_DRAFT


class BasisSeed(_Strict):
    subject: str
    legal_basis: LegalBasis
    note: str | None = None


class PurposeSeed(_Strict):
    key: str
    name: str
    description: str | None = None
    bases: list[BasisSeed]


class RetentionSeed(_Strict):
    key: str
    retention_criterion: str
    retention_days: int | None = None
    retention_stated: bool = True


class EntitySelector(_Strict):
    """Picks entities by kind and country, or names them."""

    kind: EntityKind | None = None
    eea: bool | None = None
    country: str | None = None
    slugs: list[str] | None = None

    def pick(self, entities: list[Entity], eea: set[str]) -> list[Entity]:
        return [
            e
            for e in entities
            if (self.kind is None or e.kind is self.kind)
            and (self.eea is None or (e.country_code in eea) is self.eea)
            and (self.country is None or e.country_code == self.country)
            and (self.slugs is None or e.slug in self.slugs)
        ]


class SecurityMeasureSeed(_Strict):
    key: str
    description: str
    enforced_by_software: bool
    contract_reference: str | None = None


class ActivitySeed(ActivityDraft):
    """The activity as the seeds give it: its facts, and what hangs off it."""

    model_config = STRICT_DRAFT
    security_measures: list[SecurityMeasureSeed]
    subject_categories: list[str]
    data_categories: list[RetentionSeed]
    purposes: list[PurposeSeed]
    joint_controllers: EntitySelector
    processors: list[str]


class TransferSetSeed(_Strict):
    activity: str
    exporters: EntitySelector
    importers: EntitySelector
    mechanism: Mechanism
    scc_module: int | None = None
    supplementary_measures: str | None = None


class DocumentPartySeed(_Strict):
    role: DocumentRole
    select: EntitySelector


class DocumentSeed(_Strict):
    slug: str
    kind: DocumentKind
    title: str
    scc_module: int | None = None
    note: str | None = None
    parties: list[DocumentPartySeed]
    covers_transfers_between_parties: bool = False


def _read(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path.name}: expected a mapping at the top")
    return data


async def _upsert_missing(
    session: AsyncSession, model: type[Base], key: str, rows: list[dict[str, Any]]
) -> int:
    column = getattr(model, key)
    existing = set((await session.scalars(select(column))).all())
    missing = [row for row in rows if row[key] not in existing]
    session.add_all(model(**row) for row in missing)
    await session.flush()
    return len(missing)


async def seed(*, session: AsyncSession, seeds_dir: Path) -> Counter[str]:
    """Creates every seeded record that is missing; returns how many of each were created."""
    created: Counter[str] = Counter()
    created.update(await _seed_countries(session, _read(seeds_dir / "countries.yaml")))
    taxonomy = _read(seeds_dir / "taxonomy.yaml")
    created["data_categories"] = await _upsert_missing(
        session,
        DataCategory,
        "key",
        [CategorySeed(**c).model_dump() for c in taxonomy["data_categories"]],
    )
    created["subject_categories"] = await _upsert_missing(
        session,
        SubjectCategory,
        "key",
        [SubjectSeed(**s).model_dump() for s in taxonomy["subject_categories"]],
    )
    created["entities"] = await _seed_entities(session, _read(seeds_dir / "entities.yaml"))
    for raw in _read(seeds_dir / "activity.yaml")["activities"]:
        created["activities"] += await _seed_activity(session, ActivitySeed(**raw))
    for raw in _read(seeds_dir / "transfers.yaml")["transfer_sets"]:
        created["transfers"] += await _seed_transfers(session, TransferSetSeed(**raw))
    created.update(await _seed_supervision(session, _read(seeds_dir / AUTHORITIES_FILE)))
    for raw in _read(seeds_dir / "documents.yaml")["documents"]:
        created["documents"] += await _seed_document(session, DocumentSeed(**raw))
    if created.total():
        # Seeded categories have no history of their own: one change says
        # the seeds were loaded, and moves the record's version for every reader.
        await history.record_change(
            session=session,
            actor=SEED_ACTOR,
            event=ChangeEvent.SEEDS_LOADED,
            subject_slug=seeds_dir.name,
            before=None,
            after=dict(created),
        )
    return created


async def _seed_countries(session: AsyncSession, data: dict[str, Any]) -> Counter[str]:
    # Through the same rules and log as the privacy team's edits: nothing seeded is special.
    created: Counter[str] = Counter()
    known = set((await session.scalars(select(col(Country.code)))).all())
    for raw in data["countries"]:
        country = CountrySeed(**raw)
        if country.code not in known:
            await countries_service.add_country(session=session, actor=SEED_ACTOR, draft=country)
            created["countries"] += 1
    decided = set((await session.scalars(select(col(AdequacyDecision.slug)))).all())
    for raw in data["adequacy_decisions"]:
        decision = DecisionSeed(**raw)
        if decision.slug not in decided:
            await decisions_service.create_adequacy_decision(
                session=session, actor=SEED_ACTOR, draft=decision
            )
            created["adequacy_decisions"] += 1
    return created


async def _seed_supervision(session: AsyncSession, data: dict[str, Any]) -> Counter[str]:
    """The authorities the notice names, and its complaint rule as each controller's entry."""
    created: Counter[str] = Counter()
    known = set((await session.scalars(select(col(SupervisoryAuthority.slug)))).all())
    for raw in data["authorities"]:
        authority = AuthoritySeed(**raw)
        if authority.slug not in known:
            await supervision.add_authority(session=session, actor=SEED_ACTOR, draft=authority)
            created["supervisory_authorities"] += 1
    with_entry = select(col(ControllerAuthority.controller_id)).where(
        col(ControllerAuthority.role) == AuthorityRole.COMPLAINT
    )
    controllers = await session.scalars(
        select(col(Entity.slug))
        .where(
            col(Entity.kind) == EntityKind.GROUP_COMPANY,
            col(Entity.id).not_in(with_entry),
        )
        .order_by(col(Entity.id))
    )
    for slug in controllers.all():
        await supervision.set_controller_authority(
            session=session,
            actor=SEED_ACTOR,
            controller_slug=slug,
            role=AuthorityRole.COMPLAINT,
            authority_slug=None,
            note=data["complaint_rule"],
        )
        created["complaint_entries"] += 1
    return created


async def _seed_entities(session: AsyncSession, data: dict[str, Any]) -> int:
    existing = set((await session.scalars(select(col(Entity.slug)))).all())
    count = 0
    for raw in data["entities"]:
        draft = EntitySeed(**raw)
        if draft.slug in existing:
            continue
        await inventory.create_entity(session=session, actor=SEED_ACTOR, draft=draft)
        count += 1
    return count


async def _seed_activity(session: AsyncSession, entry: ActivitySeed) -> int:
    if (
        await session.scalar(select(col(Activity.id)).where(col(Activity.slug) == entry.slug))
        is not None
    ):
        return 0
    # Through the same rules as the privacy team's edits, so each part has its change.
    await activities.create_activity(
        session=session,
        actor=SEED_ACTOR,
        draft=ActivityDraft.model_validate(
            entry.model_dump(include=set(ActivityDraft.model_fields))
        ),
        security_measures=[
            activities.SecurityMeasure(
                m.key, m.description, m.enforced_by_software, m.contract_reference
            )
            for m in entry.security_measures
        ],
    )
    for key in entry.subject_categories:
        await activities.add_activity_subject(
            session=session, actor=SEED_ACTOR, activity_slug=entry.slug, subject_key=key
        )
    for retention in entry.data_categories:
        await inventory.attach_data_category(
            session=session,
            actor=SEED_ACTOR,
            activity_slug=entry.slug,
            category_key=retention.key,
            retention_criterion=retention.retention_criterion,
            retention_days=retention.retention_days,
            retention_stated=retention.retention_stated,
        )
    for purpose in entry.purposes:
        await activities.add_purpose(
            session=session,
            actor=SEED_ACTOR,
            activity_slug=entry.slug,
            key=purpose.key,
            name=purpose.name,
            description=purpose.description,
        )
        for basis in purpose.bases:
            await activities.set_legal_basis(
                session=session,
                actor=SEED_ACTOR,
                activity_slug=entry.slug,
                purpose_key=purpose.key,
                subject_key=basis.subject,
                legal_basis=basis.legal_basis,
                note=basis.note,
            )
    entities = list((await session.scalars(select(Entity).order_by(col(Entity.id)))).all())
    eea = set((await session.scalars(select(col(Country.code)).where(col(Country.eea)))).all())
    for controller in entry.joint_controllers.pick(entities, eea):
        await _add_party(session, entry.slug, controller.slug, PartyRole.JOINT_CONTROLLER)
    for slug in entry.processors:
        await _add_party(session, entry.slug, slug, PartyRole.PROCESSOR)
    return 1


async def _add_party(
    session: AsyncSession, activity: str, entity: str, role: PartyRole
) -> ActivityParty:
    return await inventory.add_party(
        session=session, actor=SEED_ACTOR, activity_slug=activity, entity_slug=entity, role=role
    )


async def _seed_transfers(session: AsyncSession, entry: TransferSetSeed) -> int:
    entities = list((await session.scalars(select(Entity).order_by(col(Entity.id)))).all())
    eea = set((await session.scalars(select(col(Country.code)).where(col(Country.eea)))).all())
    existing = set((await session.scalars(select(col(Transfer.slug)))).all())
    activity = await inventory.activity_by_slug(session, entry.activity)
    keys = (
        await session.scalars(
            select(col(DataCategory.key))
            .join(
                ActivityDataCategory,
                col(ActivityDataCategory.data_category_id) == col(DataCategory.id),
            )
            .where(col(ActivityDataCategory.activity_id) == activity.id)
            .order_by(col(DataCategory.key))
        )
    ).all()
    count = 0
    for exporter in entry.exporters.pick(entities, eea):
        for importer in entry.importers.pick(entities, eea):
            slug = f"{exporter.slug}--{importer.slug}"
            if slug in existing or exporter.id == importer.id:
                continue
            draft = transfers.TransferDraft(
                slug=slug,
                activity_slug=entry.activity,
                exporter_slug=exporter.slug,
                importer_slug=importer.slug,
                mechanism=entry.mechanism,
                scc_module=entry.scc_module,
                supplementary_measures=entry.supplementary_measures,
                data_category_keys=tuple(keys),
            )
            await transfers.create_transfer(session=session, actor=SEED_ACTOR, draft=draft)
            count += 1
    return count


async def _seed_document(session: AsyncSession, entry: DocumentSeed) -> int:
    """Adds the document through its service, covering the transfers between its parties."""
    if await session.scalar(select(col(Document.id)).where(col(Document.slug) == entry.slug)):
        return 0
    entities = list((await session.scalars(select(Entity).order_by(col(Entity.id)))).all())
    eea = set((await session.scalars(select(col(Country.code)).where(col(Country.eea)))).all())
    parties = [
        (entity, party.role)
        for party in entry.parties
        for entity in party.select.pick(entities, eea)
    ]
    covered: list[str] = []
    if entry.covers_transfers_between_parties:
        exporters = {e.id for e, role in parties if role is DocumentRole.EXPORTER}
        importers = {e.id for e, role in parties if role is DocumentRole.IMPORTER}
        mechanisms = documents.PAPER_MECHANISMS.get(entry.kind, frozenset())
        covered = [
            t.slug
            for t in (await session.scalars(select(Transfer).order_by(col(Transfer.id)))).all()
            if t.exporter_id in exporters
            and t.importer_id in importers
            and t.mechanism in mechanisms
        ]
    draft = documents.DocumentDraft(
        slug=entry.slug,
        kind=entry.kind,
        title=entry.title,
        scc_module=entry.scc_module,
        note=entry.note,
        parties=tuple(
            documents.PartyDraft(entity_slug=entity.slug, role=role) for entity, role in parties
        ),
        transfer_slugs=tuple(covered),
    )
    await documents.add_document(session=session, actor=SEED_ACTOR, draft=draft)
    return 1
