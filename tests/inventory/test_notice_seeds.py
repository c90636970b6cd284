"""The seeded record says what the notice (``privacy-notice.zh.txt``) says, and no more:
what it renders by translation is unverified (R-INV-5), what it does not state is a gap
(R-INV-6), never a value made up. Expectations are read from the notice, quoted beside them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from registry import clock
from registry.access.policy import Action
from registry.db import transaction
from registry.errors import InvalidInput, RuleBroken
from registry.record import answers as record
from registry.record.activities import service as activities
from registry.record.answers import EntityGapReason
from registry.record.inventory import service as inventory
from registry.record.inventory.models import Activity, Entity, LegalBasis
from registry.record.past import as_of
from registry.record.taxonomy import service as taxonomy
from registry.settings import PRIVACY_CONTACT_PLACEHOLDER
from tests.conftest import OFFICER, Api, Serve
from tests.history.past import day_after_seeding

Sessions = async_sessionmaker[AsyncSession]
ACTIVITY = "call-recording-and-monitoring"

# Legal names the notice renders, in whole or in part, in Chinese (as it prints them).
RENDERED_BY_TRANSLATION = {
    "mood-media-austria": "Mood Media有限公司",
    "mood-media-belgium": "比利时Mood MediaSA",
    "mood-media-germany": "Mood Media有限公司",
    "mood-media-hungary": "匈牙利Mood MediaKFT",
    "mood-media-poland": "MoodPolska Sp. 动物园",
    "mood-media-spain": "店内营销解决方案,SAU",
    "mood-media-greece": "新视听解决方案和应用有限公司",
    "mood-media-ireland": "爱尔兰Mood Media有限公司",
    "city-tv-ee": "城市卫视OU",
    "easy-new-media-it": "易新媒体 SRL",
    "playnetwork-uk": "播放网络有限公司",
    "convergence-us": "收敛有限责任公司",
    "dmx-us": "DMX,有限责任公司",
    "muzak-us": "穆扎克有限责任公司",
    "technical-media-solutions-us": "技术媒体解决方案有限责任公司",
    "playnetwork-us": "播放网络公司",
}
# Legal names the notice gives whole in Latin script.
GIVEN_IN_LATIN = {
    "mood-media-cz": "Mood MediaGroup CZ sro",
    "mood-media-france": "Mood MediaSAS",
    "mood-media-netherlands": "Mood MediaNetherlands BV",
    "mood-media-romania": "S.C.Mood MediaRomania S.R.L.",
    "mmc-romania": "Mood MediaComercial SRL",
    "mood-media-denmark": "Mood MediaA/S",
    "mood-media-sweden": "Mood MediaAktiebolag (AB)",
    "mood-media-bulgaria": "Mood MediaBulgaria EOOD/ Virgina Records",
    "mood-media-uk": "Mood MediaLimited",
    "mood-media-north-america-holdings": "Mood MediaNorth America Holdings Corp.",
    "servicenet-exp-us": "ServiceNET Exp, LLC",
    # "Talkdesk Inc. 作为处理者": the processor's name, given whole.
    "talkdesk": "Talkdesk Inc.",
}
# The categories the notice lists besides the voice; it states a period for recordings only:
# "录音保存期限为 30 天,除非Mood Media的合法利益要求更长的保存期限".
UNSTATED = [
    "user.contact.email",
    "user.contact.phone",
    "user.job.department",
    "user.job.title",
    "user.location",
    "user.name",
    "user.volunteered",
]
# The notice's only legitimate interest: "Mood Media评估员工表现并提供反馈的合法权益".
EMPLOYEE_INTEREST = "legitimate interest in evaluating employee performance and providing feedback"
ISMS_AREAS = [
    "policies",
    "awareness",
    "two-factor",
    "audit logs",
    "breach",
    "firewalls",
    "cloud providers",
    "disaster recovery",
    "peer review",
    "periodic review",
]


async def entities(sessions: Sessions) -> dict[str, Entity]:
    async with sessions() as session:
        return {e.slug: e for e in (await session.scalars(select(Entity))).all()}


async def activity(sessions: Sessions) -> Activity:
    async with sessions() as session:
        return (await session.scalars(select(Activity).where(col(Activity.slug) == ACTIVITY))).one()


async def test_r_inv_5_every_name_rendered_by_translation_is_unverified_alike(
    seeded: Sessions,
) -> None:
    """R-INV-5: every name rendered by translation is unverified alike."""
    found = await entities(seeded)
    translated = [found[slug] for slug in RENDERED_BY_TRANSLATION]
    assert [e.slug for e in translated if e.verified] == []
    # One wording for all of them (an address rendered the same way adds a sentence).
    wording = found["mood-media-austria"].verification_note or ""
    assert "translation or transliteration" in wording and "English original" in wording
    assert [e.slug for e in translated if not (e.verification_note or "").startswith(wording)] == []
    assert [slug for slug in GIVEN_IN_LATIN if not found[slug].verified] == []


async def test_r_inv_5_translated_names_are_listed_as_gaps(seeded: Sessions) -> None:
    """R-INV-5: translated names are listed as gaps."""
    async with seeded() as session:
        gaps = await record.gaps(session=session, actor=OFFICER)
    unverified = {
        g.entity.slug for g in gaps.entities if EntityGapReason.UNVERIFIED_NAME in g.reasons
    }
    assert set(RENDERED_BY_TRANSLATION) <= unverified
    assert not set(GIVEN_IN_LATIN) & unverified


async def test_mmc_romanias_address_is_the_one_the_notice_gives(seeded: Sessions) -> None:
    # "布加勒斯特,乔治康斯坦丁内斯库街没有。 3, 入口 A 和 D, 一楼和三楼, 2 区, 020339"
    mmc = (await entities(seeded))["mmc-romania"]
    office = mmc.registered_office or ""
    for part in ("Gheorghe Constantinescu", "3", "entrances A and D", "sector 2", "020339"):
        assert part in office
    assert "3rd floor" in office and "Bucharest" in office
    # The notice says nothing of "the same building": no such note.
    assert "same building" not in (mmc.verification_note or "")


async def test_r_inv_6_only_the_recordings_retention_is_stated(seeded: Sessions) -> None:
    """R-INV-6: only the recordings retention is stated."""
    async with seeded() as session:
        facts = next(
            f
            for f in (await record.load_activity_facts(session)).values()
            if f.activity.slug == ACTIVITY
        )
    by_key = {r.data_category.key: r for r in facts.retention}
    voice = by_key["user.voice.recording"]
    assert (voice.days, voice.stated) == (30, True)
    assert "legitimate interest" in voice.criterion and "automatically" in voice.criterion
    for key in UNSTATED:
        assert (by_key[key].days, by_key[key].stated) == (None, False), key
        assert "not stated" in by_key[key].criterion.lower()


async def test_r_inv_6_an_unstated_retention_is_a_gap_until_it_is_recorded(
    seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    """R-INV-6: an unstated retention is a gap until it is recorded."""
    day = await day_after_seeding(seeded, frozen_clock)
    async with seeded() as session:
        gaps = await record.gaps(session=session, actor=OFFICER)
    assert [g.retention.data_category.key for g in gaps.retention] == UNSTATED
    assert all(g.activity.slug == ACTIVITY for g in gaps.retention)

    frozen_clock.advance(timedelta(days=1))
    async with transaction(seeded) as session:
        await taxonomy.update_retention(
            session=session,
            actor=OFFICER,
            activity_slug=ACTIVITY,
            category_key="user.name",
            retention_criterion="Kept with the recording in which it was given",
            retention_days=30,
        )
    async with seeded() as session:
        now = await record.gaps(session=session, actor=OFFICER)
        # The day before the change, rebuilt from the log, the name was still a gap.
        async with as_of.session_as_of(
            session=session, actor=OFFICER, day=day, reading=Action.INVENTORY_READ
        ) as past:
            then = await record.gaps(session=past, actor=OFFICER, on=day)
    assert [g.retention.data_category.key for g in now.retention] == [
        k for k in UNSTATED if k != "user.name"
    ]
    assert [g.retention.data_category.key for g in then.retention] == UNSTATED


async def test_r_inv_6_a_new_attachment_still_needs_a_retention(seeded: Sessions) -> None:
    async with transaction(seeded) as session:
        with pytest.raises(RuleBroken) as raised:
            await inventory.attach_data_category(
                session=session,
                actor=OFFICER,
                activity_slug=ACTIVITY,
                category_key="user.location",
                retention_criterion="  ",
            )
    assert raised.value.rule_id == "R-INV-6"


async def test_r_inv_6_a_retention_not_stated_has_no_days(seeded: Sessions) -> None:
    """R-INV-6: a retention not stated has no days."""
    async with transaction(seeded) as session:
        with pytest.raises(InvalidInput) as raised:
            await inventory.attach_data_category(
                session=session,
                actor=OFFICER,
                activity_slug=ACTIVITY,
                category_key="user.voice.recording",
                retention_criterion="Not stated in the notice",
                retention_days=30,
                retention_stated=False,
            )
    assert raised.value.field == "retention_days"


async def test_the_activity_keeps_the_notices_own_facts(seeded: Sessions) -> None:
    found = await activity(seeded)
    # "最后更新:2022 年 8 月"; "如果翻译之间出现任何歧义或冲突,英文版本具有权威性和控制性"
    assert (found.notice_last_updated, found.notice_authoritative_language) == (
        "2022-08",
        "English",
    )
    # "通过 Talkdesk Live 进行“实时监控”"; "https://moodmedia.mytalkdesk.com/"
    assert "Talkdesk Live" in (found.platform or "")
    assert "moodmedia.mytalkdesk.com" in (found.platform or "")


async def test_talkdesks_isms_is_on_record_with_the_sccs_as_its_contract(
    seeded: Sessions,
) -> None:
    measures = (await activity(seeded)).security_measures
    talkdesk = [m for m in measures if "Talkdesk" in m["description"]]
    text = " ".join(m["description"] for m in talkdesk).lower()
    assert [area for area in ISMS_AREAS if area not in text] == []
    assert {m.get("contract_reference") for m in talkdesk} == {"SCCs (Decision 2021/914)"}
    # The group's own measures (section VI c) are not the processor's contract.
    assert any(m.get("contract_reference") is None for m in measures)


async def test_the_notes_say_only_what_the_notice_says(seeded: Sessions) -> None:
    found = await activity(seeded)
    # Sentences the notice does not contain are not on record as if it did.
    for unsupported in ("Each company answers", "processing agreement", "until a set end"):
        assert unsupported not in found.arrangement_summary
    assert "not on record" in found.arrangement_summary
    async with seeded() as session:
        facts = next(
            f
            for f in (await record.load_activity_facts(session)).values()
            if f.activity.slug == ACTIVITY
        )
    interests = {
        basis.note
        for purpose in facts.purposes
        for basis in purpose.bases
        if basis.legal_basis is LegalBasis.LEGITIMATE_INTERESTS
    }
    assert len(interests) == 1 and EMPLOYEE_INTEREST in (interests.pop() or "")


GAPS = """{ transferGaps { noPrivacyContact retention { activity retention {
  dataCategory { key } days criterion stated } } } }"""
RECORD = """{ controllerRecord(slug: "mood-media-france") { contact
  activities { platform noticeLastUpdated noticeAuthoritativeLanguage
    securityMeasures { key contractReference } dataCategories { dataCategory { key } stated } }
  retentionGaps { retention { dataCategory { key } } } } }"""


async def test_r_inv_6_graphql_lists_unstated_retention_and_the_notices_facts(api: Api) -> None:
    """R-INV-6: graphql lists unstated retention and the notices facts."""
    gaps = (await api.data(GAPS))["transferGaps"]
    assert [g["retention"]["dataCategory"]["key"] for g in gaps["retention"]] == UNSTATED
    assert {(g["retention"]["days"], g["retention"]["stated"]) for g in gaps["retention"]} == {
        (None, False)
    }
    # The test app configures a contact: no gap there.
    assert gaps["noPrivacyContact"] is False
    found = (await api.data(RECORD))["controllerRecord"]
    assert found["contact"] == "privacy@example.test"
    (facts,) = found["activities"]
    assert (facts["noticeLastUpdated"], facts["noticeAuthoritativeLanguage"]) == (
        "2022-08",
        "English",
    )
    stated = {c["dataCategory"]["key"]: c["stated"] for c in facts["dataCategories"]}
    assert stated == {"user.voice.recording": True, **dict.fromkeys(UNSTATED, False)}
    assert [g["retention"]["dataCategory"]["key"] for g in found["retentionGaps"]] == UNSTATED


async def test_r_inv_5_an_unconfigured_privacy_contact_is_a_gap(serve: Serve) -> None:
    """R-INV-5: an unconfigured privacy contact is a gap."""
    api = await serve(privacy_contact=PRIVACY_CONTACT_PLACEHOLDER)
    assert (await api.data(GAPS))["transferGaps"]["noPrivacyContact"] is True
    found = (await api.data(RECORD))["controllerRecord"]
    # No placeholder given out as if it were the contact.
    assert found["contact"] is None


@pytest.mark.parametrize("given", ["August 2022", "2022-13", "22-08"])
async def test_the_notices_date_is_a_month_or_a_day(seeded: Sessions, given: str) -> None:
    async with transaction(seeded) as session:
        with pytest.raises(InvalidInput) as raised:
            await activities.update_activity(
                session=session,
                actor=OFFICER,
                slug=ACTIVITY,
                changes={"notice_last_updated": given},
            )
    assert raised.value.field == "notice_last_updated"
    assert (await activity(seeded)).notice_last_updated == "2022-08"
