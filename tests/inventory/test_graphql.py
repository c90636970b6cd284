"""The inventory through the real GraphQL endpoint, on both backends."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from registry.access.policy import Role
from registry.db import transaction
from registry.record.inventory import service as inventory
from registry.record.inventory.models import EntityKind
from registry.record.transfers import service as transfers
from registry.record.transfers.models import Mechanism
from tests.conftest import OFFICER, Api
from tests.documents.papers import sign_seeded_sccs

Sessions = async_sessionmaker[AsyncSession]

WHO = """
query Who($category: String, $subject: String, $country: String) {
  whoProcesses(dataCategory: $category, subjectCategory: $subject, country: $country) {
    entity { slug countryCode }
    role
    activity { slug }
    purposes { key legalBases { subjectCategory { key } legalBasis } }
    paths { exporter { slug } importer { slug } safeguard transfer { mechanism sccModule } }
  }
}
"""


async def test_who_processes_voice_recordings_in_the_us(api: Api, seeded: Sessions) -> None:
    # The SCCs safeguard the hops from the EEA once their signed copies are on record.
    await sign_seeded_sccs(seeded)
    data = await api.data(WHO, {"category": "user.voice", "country": "us"})
    found = {p["entity"]["slug"]: p for p in data["whoProcesses"]}
    assert set(found) == {
        "convergence-us",
        "dmx-us",
        "mood-media-north-america-holdings",
        "muzak-us",
        "servicenet-exp-us",
        "technical-media-solutions-us",
        "playnetwork-us",
        "talkdesk",
    }
    talkdesk = found["talkdesk"]
    assert talkdesk["role"] == "PROCESSOR"
    assert talkdesk["activity"]["slug"] == "call-recording-and-monitoring"
    # Talkdesk receives from every joint controller; from the EEA under SCC Module 2.
    assert len(talkdesk["paths"]) == 28
    from_eea = [p[0] for p in talkdesk["paths"] if p[0]["safeguard"] == "TRANSFER_MECHANISM"]
    assert len(from_eea) == 19
    assert {hop["transfer"]["sccModule"] for hop in from_eea} == {2}
    muzak = found["muzak-us"]
    assert muzak["role"] == "JOINT_CONTROLLER"
    assert {p[0]["transfer"]["sccModule"] for p in muzak["paths"]} == {1}


async def test_who_processes_gives_the_legal_basis_per_subject_category(api: Api) -> None:
    data = await api.data(WHO, {"subject": "customer", "country": "AT"})
    (austria,) = data["whoProcesses"]
    bases = {
        (p["key"], b["subjectCategory"]["key"], b["legalBasis"])
        for p in austria["purposes"]
        for b in p["legalBases"]
    }
    assert bases == {
        ("quality-control", "customer", "CONSENT"),
        ("employee-evaluation", "customer", "CONSENT"),
        ("training", "customer", "CONSENT"),
    }
    employees = await api.data(WHO, {"subject": "employee.agent", "country": "AT"})
    assert {
        b["legalBasis"] for p in employees["whoProcesses"][0]["purposes"] for b in p["legalBases"]
    } == {"LEGITIMATE_INTERESTS"}


async def test_who_processes_refuses_an_unknown_category(api: Api) -> None:
    body = await api.query(WHO, {"category": "user.shoe_size"})
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


async def test_entities_filter_and_page(api: Api) -> None:
    query = """
    query($filter: EntityFilter, $after: String) {
      entities(filter: $filter, first: 5, after: $after) {
        edges { cursor node { slug } }
        pageInfo { hasNextPage endCursor }
      }
    }"""
    seen: list[str] = []
    after = None
    while True:
        data = await api.data(
            query, {"filter": {"eea": False, "kinds": ["GROUP_COMPANY"]}, "after": after}
        )
        page = data["entities"]
        seen += [edge["node"]["slug"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 9  # 2 in the UK, 7 in the US


async def test_entities_filter_by_data_category_and_purpose(api: Api) -> None:
    query = """query($f: EntityFilter) { entities(filter: $f, first: 100) { nodes { slug } } }"""
    by_category = await api.data(query, {"f": {"dataCategory": "user.contact.phone"}})
    by_purpose = await api.data(query, {"f": {"purpose": "training", "countries": ["US"]}})
    nothing = await api.data(query, {"f": {"purpose": "marketing"}})
    assert len(by_category["entities"]["nodes"]) == 29
    assert len(by_purpose["entities"]["nodes"]) == 8
    assert nothing["entities"]["nodes"] == []


async def test_first_is_capped(api: Api) -> None:
    body = await api.query("{ entities(first: 1000) { nodes { slug } } }")
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


async def test_node_fetches_by_global_id(api: Api) -> None:
    data = await api.data('{ entity(slug: "talkdesk") { id legalName } }')
    node = await api.data(
        "query($id: ID!) { node(id: $id) { id ... on Entity { slug legalName } } }",
        {"id": data["entity"]["id"]},
    )
    assert node["node"]["slug"] == "talkdesk"
    assert node["node"]["id"] == data["entity"]["id"]
    bad = await api.query('{ node(id: "not-an-id") { id } }')
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


async def test_transfer_gaps_lists_entities_missing_art_30_data_r_inv_5(
    api: Api, seeded: Sessions
) -> None:
    await sign_seeded_sccs(seeded)
    data = await api.data(
        "{ transferGaps { transfers { exporter { slug } } entities { entity { slug } reasons note } } }"
    )
    gaps = {g["entity"]["slug"]: g for g in data["transferGaps"]["entities"]}
    # Only the UK companies' exports, which the notice leaves without a UK mechanism (R-INV-7).
    assert {g["exporter"]["slug"] for g in data["transferGaps"]["transfers"]} == {
        "mood-media-uk",
        "playnetwork-uk",
    }
    assert gaps["mood-media-europe"]["reasons"] == ["NO_REGISTERED_OFFICE", "UNVERIFIED_NAME"]
    assert "BV" in gaps["mood-media-europe"]["note"]


async def test_controller_record_has_art_30_1_fields(api: Api) -> None:
    data = await api.data(
        """{ controllerRecord(slug: "mood-media-france") {
          controller { legalName registeredOffice } contact
          jointControllers { slug }
          activities { purposes { key } subjectCategories { key }
                       dataCategories { dataCategory { key } days criterion }
                       recipientCategories securityMeasures { key } }
          recipients { slug }
          transfers { importer { slug } safeguard transfer { sccModule } adequacyDecision { slug } }
          gaps { entity { slug } reasons }
        } }"""
    )
    rec = data["controllerRecord"]
    assert rec["controller"]["legalName"] == "Mood Media SAS"
    assert rec["contact"] == "privacy@example.test"
    assert len(rec["jointControllers"]) == 27
    (activity,) = rec["activities"]
    assert {p["key"] for p in activity["purposes"]} == {
        "quality-control",
        "employee-evaluation",
        "training",
    }
    assert [r["slug"] for r in rec["recipients"]] == ["talkdesk"]
    importers = {t["importer"]["slug"]: t for t in rec["transfers"]}
    assert importers["talkdesk"]["transfer"]["sccModule"] == 2
    assert importers["mood-media-uk"]["adequacyDecision"]["slug"] == "uk-gdpr"
    assert "talkdesk" in {g["entity"]["slug"] for g in rec["gaps"]}


async def test_processor_record_has_art_30_2_fields(api: Api) -> None:
    data = await api.data(
        """{ processorRecord(slug: "talkdesk") {
          processor { legalName } controllers { slug } activities { operations }
          subProcessors { slug } transfers { exporter { slug } safeguard } gaps { reasons }
        } }"""
    )
    rec = data["processorRecord"]
    assert len(rec["controllers"]) == 28
    # From the EEA controllers under SCCs, and from the UK ones without a UK mechanism
    # (R-INV-7); the US ones send to Talkdesk within the US.
    assert len(rec["transfers"]) == 21
    assert rec["subProcessors"] == []


CREATE = """
mutation($input: CreateEntityInput!) {
  createEntity(input: $input) {
    entity { slug kind gaps }
    errors { __typename message field ... on RuleBrokenError { ruleId } }
  }
}"""


def new_entity(**overrides: Any) -> dict[str, Any]:
    return {
        "slug": "acme-hosting",
        "kind": "SUB_PROCESSOR",
        "legalName": "Acme Hosting Ltd",
        "countryCode": "IE",
        **overrides,
    }


async def test_the_privacy_officer_creates_and_the_feed_shows_it(api: Api) -> None:
    data = await api.data(CREATE, {"input": new_entity()})
    assert data["createEntity"]["errors"] == []
    assert data["createEntity"]["entity"]["gaps"] == [
        "NO_REGISTERED_OFFICE",
        "UNVERIFIED_NAME",
        "NO_CONTACT",
    ]
    feed = await api.data(
        '{ changes(subjectType: "entity", subjectSlug: "acme-hosting") '
        "{ nodes { actor action before after } } }",
        role=Role.INTEGRATION,
    )
    (change,) = feed["changes"]["nodes"]
    assert change["actor"] == "test-privacy-officer"
    assert change["before"] is None and change["after"]["legal_name"] == "Acme Hosting Ltd"


async def test_invalid_input_is_a_typed_error_and_changes_nothing(api: Api) -> None:
    data = await api.data(CREATE, {"input": new_entity(countryCode="XX")})
    (error,) = data["createEntity"]["errors"]
    assert error["__typename"] == "InvalidInputError" and error["field"] == "country_code"
    assert data["createEntity"]["entity"] is None
    after = await api.data('{ entity(slug: "acme-hosting") { slug } }')
    assert after["entity"] is None


async def test_r_inv_1_attaching_a_special_category_is_a_typed_error(api: Api) -> None:
    data = await api.data(
        """mutation { attachDataCategory(activity: "call-recording-and-monitoring",
             category: "user.special.health", retentionCriterion: "30 days", retentionDays: 30) {
             activity { slug } errors { __typename ... on RuleBrokenError { ruleId } } } }"""
    )
    assert data["attachDataCategory"]["errors"] == [
        {"__typename": "RuleBrokenError", "ruleId": "R-INV-1"}
    ]


async def test_r_inv_3_a_wrong_module_is_a_typed_error(api: Api) -> None:
    data = await api.data(
        """mutation { createTransfer(input: {activity: "call-recording-and-monitoring",
             exporter: "mood-media-uk", importer: "talkdesk", mechanism: SCC_2021_914, sccModule: 1}) {
             transfer { slug } errors { message ... on RuleBrokenError { ruleId } } } }"""
    )
    (error,) = data["createTransfer"]["errors"]
    assert error["ruleId"] == "R-INV-3" and "module 2" in error["message"]


async def test_a_failed_mutation_does_not_undo_an_earlier_one_in_the_request(api: Api) -> None:
    data = await api.data(
        """mutation {
          good: updateEntity(slug: "dmx-us", input: {registeredOffice: "1 Main St"}) { errors { message } }
          bad: updateEntity(slug: "dmx-us", input: {countryCode: "XX"}) { errors { message } }
        }"""
    )
    assert data["good"]["errors"] == [] and data["bad"]["errors"]
    after = await api.data('{ entity(slug: "dmx-us") { registeredOffice countryCode } }')
    assert after["entity"] == {"registeredOffice": "1 Main St", "countryCode": "US"}


async def test_update_clears_a_field_with_null_and_leaves_the_rest(api: Api) -> None:
    await api.data(
        'mutation { updateEntity(slug: "talkdesk", input: {contact: "dpo@talkdesk.example"}) { errors { message } } }'
    )
    await api.data(
        'mutation { updateEntity(slug: "talkdesk", input: {contact: null}) { errors { message } } }'
    )
    after = await api.data('{ entity(slug: "talkdesk") { contact legalName } }')
    assert after["entity"] == {"contact": None, "legalName": "Talkdesk Inc."}


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.PRIVACY_OFFICER])
async def test_only_the_privacy_officer_may_change_the_inventory(api: Api, role: Role) -> None:
    data = await api.data(CREATE, {"input": new_entity()}, role=role)
    assert [e["__typename"] for e in data["createEntity"]["errors"]] == ["ForbiddenError"]


async def test_unauthenticated_requests_see_nothing(api: Api) -> None:
    for headers in ({}, {"Authorization": "Bearer rgt_wrong"}, {"Authorization": "Basic x"}):
        response = await api.client.post(
            "/graphql", json={"query": "{ entities { nodes { slug } } }"}, headers=headers
        )
        assert response.status_code == 401
        assert "data" not in response.json()
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def count_statements(engine: AsyncEngine) -> list[str]:
    statements: list[str] = []
    event.listen(
        engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2])
    )
    return statements


NESTED = """
{ entities(first: 100) { nodes {
    slug country { name eea }
    transfersOut { slug destination { code } importer { slug legalName country { code } transfersOut { slug } } }
    transfersIn { slug exporter { slug } }
} } }"""


async def test_statements_per_request_do_not_grow_with_rows(
    api: Api, engine: AsyncEngine, seeded: async_sessionmaker[AsyncSession]
) -> None:
    await api.data("{ me { handle } }")  # the token's first use is written once; not counted
    statements = count_statements(engine)
    small = await api.data(NESTED)
    small_count = len(statements)
    async with transaction(seeded) as session:
        for n in range(40):
            slug = f"extra-controller-{n}"
            await inventory.create_entity(
                session=session,
                actor=OFFICER,
                draft=inventory.EntityDraft(
                    slug=slug, kind=EntityKind.GROUP_COMPANY, legal_name=slug, country_code="DE"
                ),
            )
            await inventory.add_party(
                session=session,
                actor=OFFICER,
                activity_slug="call-recording-and-monitoring",
                entity_slug=slug,
                role=inventory.PartyRole.JOINT_CONTROLLER,
            )
            await transfers.create_transfer(
                session=session,
                actor=OFFICER,
                draft=transfers.TransferDraft(
                    activity_slug="call-recording-and-monitoring",
                    exporter_slug=slug,
                    importer_slug="talkdesk",
                    mechanism=Mechanism.SCC_2021_914,
                    scc_module=2,
                ),
            )
    statements.clear()
    large = await api.data(NESTED)
    assert len(large["entities"]["nodes"]) == 69 > len(small["entities"]["nodes"]) == 29
    assert len(statements) == small_count


PARTIES_NESTED = """
{ entities(first: 100) { nodes {
    transfersOut { slug importer { slug legalName gaps country { code } transfersOut { slug } } }
    transfersIn { slug exporter { slug kind } }
} } }"""

PARTIES_ALONE = """
query Alone($after: String) { transfers(first: 100, after: $after) {
    nodes {
        slug
        exporter { slug kind }
        importer { slug legalName gaps country { code } transfersOut { slug } }
    }
    pageInfo { hasNextPage endCursor }
} }"""


async def test_parties_joined_into_a_transfer_list_are_those_loaded_alone(api: Api) -> None:
    # Below an entity, a transfer's parties come joined into the transfers' statement; from
    # the transfers page, by a statement of their own. Both must give the same parties.
    alone: dict[str, Any] = {}
    after = None
    while True:
        page = (await api.data(PARTIES_ALONE, {"after": after}))["transfers"]
        alone |= {transfer["slug"]: transfer for transfer in page["nodes"]}
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    nested = (await api.data(PARTIES_NESTED))["entities"]["nodes"]
    compared = 0
    for entity in nested:
        for transfer in entity["transfersOut"]:
            assert transfer["importer"] == alone[transfer["slug"]]["importer"]
            compared += 1
        for transfer in entity["transfersIn"]:
            assert transfer["exporter"] == alone[transfer["slug"]]["exporter"]
    assert compared == len(alone) > 0
