"""Documents over GraphQL, on transfers and entities, and as of a day (R-INV-2, R-INV-4)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry import clock
from registry.access.policy import Role
from tests.conftest import Api
from tests.history.past import day_after_seeding

Sessions = async_sessionmaker[AsyncSession]
TRANSFER = "mood-media-austria--talkdesk"

ADD = """
mutation Add($signedOn: Date) {
  addDocument(input: {
    slug: "scc-austria-talkdesk", kind: SCC_2021_914, sccModule: 2,
    title: "SCCs Austria - Talkdesk", location: "dms://contracts/4711", signedOn: $signedOn,
    parties: [{entity: "mood-media-austria", role: EXPORTER},
              {entity: "talkdesk", role: IMPORTER}],
    transfers: ["mood-media-austria--talkdesk"]
  }) {
    document { slug kind sccModule signedOn parties { entity { slug } role } transfers { slug } }
    errors { __typename message ... on RuleBrokenError { ruleId } }
  }
}
"""
GAPS = """
query Gaps($asOf: Date) {
  transferGaps(asOf: $asOf) { transfers { exporter { slug } importer { slug } reason } }
  documents(asOf: $asOf, filter: {transfer: "mood-media-austria--talkdesk"}) {
    edges { node { slug signedOn } }
  }
}
"""


def gap_to_talkdesk(data: dict[str, object]) -> str | None:
    gaps = data["transferGaps"]["transfers"]  # type: ignore[index]
    for gap in gaps:
        if (gap["exporter"]["slug"], gap["importer"]["slug"]) == ("mood-media-austria", "talkdesk"):
            return str(gap["reason"])
    return None


async def test_r_inv_2_a_signed_scc_added_over_graphql_closes_the_gap(api: Api) -> None:
    """R-INV-2: the gap names the missing signed SCC; once one is added covering the
    transfer, it is shown on the transfer and the entity, and the gap is gone."""
    reason = gap_to_talkdesk(await api.data(GAPS))
    assert reason is not None and reason.startswith("no signed SCC on record")

    added = await api.data(ADD, {"signedOn": "2026-10-01"})
    assert added["addDocument"]["errors"] == []
    document = added["addDocument"]["document"]
    assert document["parties"] == [
        {"entity": {"slug": "mood-media-austria"}, "role": "EXPORTER"},
        {"entity": {"slug": "talkdesk"}, "role": "IMPORTER"},
    ]
    assert document["transfers"] == [{"slug": TRANSFER}]
    assert gap_to_talkdesk(await api.data(GAPS)) is None

    shown = await api.data(
        """{ transfer(slug: "mood-media-austria--talkdesk") { documents { slug } }
             entity(slug: "talkdesk") { documents { slug kind } } }"""
    )
    assert {"slug": "scc-austria-talkdesk"} in shown["transfer"]["documents"]
    assert {"slug": "scc-austria-talkdesk", "kind": "SCC_2021_914"} in shown["entity"]["documents"]


async def test_r_inv_3_a_wrong_module_is_a_typed_error_naming_the_rule(api: Api) -> None:
    """R-INV-3: over GraphQL a refusal is a typed error in the payload; nothing is added."""
    wrong = ADD.replace("sccModule: 2", "sccModule: 1")
    payload = (await api.data(wrong))["addDocument"]
    assert payload["document"] is None
    assert [e.get("ruleId") for e in payload["errors"]] == ["R-INV-3"]
    listed = await api.data(
        "{ documents(filter: {kind: SCC_2021_914}) { edges { node { slug } } } }"
    )
    assert "scc-austria-talkdesk" not in {e["node"]["slug"] for e in listed["documents"]["edges"]}


async def test_documents_are_written_by_the_privacy_officer_only(api: Api) -> None:
    body = await api.query(ADD, role=Role.INTEGRATION)
    assert body["data"]["addDocument"]["errors"][0]["__typename"] == "ForbiddenError"
    readable = await api.data("{ documents { edges { node { slug } } } }", role=Role.INTEGRATION)
    assert readable["documents"]["edges"]


async def test_r_inv_4_gaps_and_documents_as_of_a_day_replay_the_document_events(
    api: Api, seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    """R-INV-4: the signed SCC recorded the day after T is absent as of T, where the gap
    still shows; withdrawn later, the record as of the day it was signed still has it."""
    day = await day_after_seeding(seeded, frozen_clock)
    frozen_clock.advance(timedelta(days=1))
    signed_day = clock.today()
    assert (await api.data(ADD, {"signedOn": signed_day.isoformat()}))["addDocument"][
        "errors"
    ] == []
    frozen_clock.advance(timedelta(days=1))
    withdrawn = await api.data(
        'mutation { withdrawDocument(slug: "scc-austria-talkdesk", reason: "Ended.")'
        " { document { withdrawnOn } errors { message } } }"
    )
    assert withdrawn["withdrawDocument"]["document"]["withdrawnOn"] == clock.today().isoformat()

    then = await api.data(GAPS, {"asOf": day.isoformat()})
    signed = await api.data(GAPS, {"asOf": signed_day.isoformat()})
    now = await api.data(GAPS)

    assert gap_to_talkdesk(then) is not None
    assert then["documents"]["edges"] == [
        {"node": {"slug": "scc-group-to-talkdesk", "signedOn": None}}
    ]
    assert gap_to_talkdesk(signed) is None
    assert {"node": {"slug": "scc-austria-talkdesk", "signedOn": signed_day.isoformat()}} in signed[
        "documents"
    ]["edges"]
    reason = gap_to_talkdesk(now)
    assert reason is not None and "scc-austria-talkdesk was withdrawn" in reason
