"""Disclosures to authorities through GraphQL, as a privacy officer handles them (R-ACC-5):
only on an explicit legal request, recorded, reviewed for necessity against compatibility
with the original purpose, and released only once approved, listing what went out.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from registry import clock
from registry.access.policy import Role
from registry.audit.models import AuditEvent, Outcome
from registry.audit.service import AuditLog
from registry.authorities.models import AuthorityRequest, DisclosureItem
from registry.db import Base, transaction
from registry.recordings import erasure, retention
from registry.recordings.models import HoldGround
from registry.rights.models import Package
from tests.authorities.conftest import RECORDER, RELEASER, REVIEWER, Desk, Recorder
from tests.conftest import NOW, Api
from tests.recordings.conftest import SYSTEM, Sessions

ERRORS = "errors { __typename message field ... on RuleBrokenError { ruleId } }"
FIELDS = """id authority reference legalBasis scope status receivedBy necessity compatibility
  reviewedBy releasedBy releasedAt packageId items { recordingId releasedAt withheldReason }"""
RECORD = f"""mutation ($input: AuthorityRequestInput!) {{
  recordAuthorityRequest(input: $input) {{ authorityRequest {{ {FIELDS} }} {ERRORS} }} }}"""
REVIEW = f"""mutation ($request: Int!, $approve: Boolean!, $necessity: String!, $compatibility: String!) {{
  reviewAuthorityRequest(request: $request, approve: $approve, necessity: $necessity,
    compatibility: $compatibility) {{ authorityRequest {{ {FIELDS} }} {ERRORS} }} }}"""
RELEASE = f"""mutation ($request: Int!) {{
  releaseDisclosure(request: $request) {{ authorityRequest {{ {FIELDS} }} {ERRORS} }} }}"""
ONE = f"query ($id: Int!) {{ authorityRequest(id: $id) {{ {FIELDS} }} }}"
LIST = """query ($status: DisclosureStatus, $first: Int, $after: String) {
  authorityRequests(status: $status, first: $first, after: $after) {
    nodes { id status } pageInfo { hasNextPage endCursor } } }"""
NECESSITY = "The recording is the only evidence of the threat the police are investigating."
COMPATIBILITY = "Recorded for quality control; answering a court order binding on the controller."


def request_input(recordings: list[str], **changes: str) -> dict[str, Any]:
    return {
        "input": {
            "authority": "Metropolitan Police Service",
            "reference": "Production order 2026/4471",
            "legalBasis": "Police and Criminal Evidence Act 1984, Schedule 1",
            "scope": "Calls of 28 November 2026 about the reported threat",
            "recordings": recordings,
            **changes,
        }
    }


def rules(payload: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    return [(e["__typename"], e.get("ruleId"), e["field"]) for e in payload["errors"]]


async def record(api: Api, recordings: list[str], **changes: str) -> dict[str, Any]:
    payload: dict[str, Any] = (await api.data(RECORD, request_input(recordings, **changes)))[
        "recordAuthorityRequest"
    ]
    return payload


async def review(
    api: Api,
    request: int,
    *,
    approve: bool = True,
    necessity: str = NECESSITY,
    compatibility: str = COMPATIBILITY,
) -> dict[str, Any]:
    variables = {
        "request": request,
        "approve": approve,
        "necessity": necessity,
        "compatibility": compatibility,
    }
    payload: dict[str, Any] = (await api.data(REVIEW, variables))["reviewAuthorityRequest"]
    return payload


async def release(api: Api, request: int) -> dict[str, Any]:
    payload: dict[str, Any] = (await api.data(RELEASE, {"request": request}))["releaseDisclosure"]
    return payload


async def received(api: Api, recordings: list[str]) -> int:
    recorded = await record(api, recordings)
    assert recorded["errors"] == [], recorded
    request_id: int = recorded["authorityRequest"]["id"]
    return request_id


async def approved(desk: Desk, recordings: list[str]) -> int:
    """A request recorded by one privacy officer and approved by another (R-ACC-5)."""
    request_id = await received(desk.recorder, recordings)
    assert (await review(desk.reviewer, request_id))["errors"] == []
    return request_id


async def count(sessions: Sessions, table: type[Base]) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(table)) or 0


async def download(api: Api, package_id: str) -> zipfile.ZipFile:
    """The released package, as the privacy officer downloads it to hand it over."""
    response = await api.client.get(
        f"/packages/{package_id}",
        headers={"Authorization": f"Bearer {api.tokens[Role.PRIVACY_OFFICER]}"},
    )
    assert response.status_code == 200, response.text
    return zipfile.ZipFile(io.BytesIO(response.content))


def sealed_blobs(recorder: Recorder) -> set[str]:
    return {path.name for path in recorder.blobs.root.iterdir()}


async def events(log: AuditLog, action: str) -> list[AuditEvent]:
    return list(await log.events(actor=SYSTEM, after_seq=0, limit=1000, action=action))


async def test_r_acc_5_a_request_without_legal_basis_or_reference_is_refused_and_nothing_written(
    api: Api, recorder: Recorder
) -> None:
    (recording_id,) = await recorder.record(1)
    for field, value in (
        ("legalBasis", ""),
        ("legalBasis", "  \n "),
        ("reference", ""),
        ("reference", "\t"),
    ):
        refused = await record(api, [recording_id], **{field: value})
        assert refused["authorityRequest"] is None
        snake = "legal_basis" if field == "legalBasis" else field
        assert rules(refused) == [("RuleBrokenError", "R-ACC-5", snake)], field
    for field in ("authority", "scope"):
        refused = await record(api, [recording_id], **{field: " "})
        assert rules(refused) == [("InvalidInputError", None, field)]
    assert await count(recorder.scene.sessions, AuthorityRequest) == 0
    assert await count(recorder.scene.sessions, DisclosureItem) == 0


async def test_r_acc_5_a_request_names_recordings_that_exist_and_not_too_many(
    api: Api, recorder: Recorder
) -> None:
    """R-ACC-5: a request names recordings that exist and not too many."""
    (recording_id,) = await recorder.record(1)
    unknown = await record(api, [recording_id, "no-such-recording"])
    assert rules(unknown) == [("NotFoundError", None, "recordings")]
    assert rules(await record(api, [])) == [("InvalidInputError", None, "recordings")]
    too_many = [recording_id] + [f"r-{n}" for n in range(50)]
    assert rules(await record(api, too_many)) == [("InvalidInputError", None, "recordings")]
    assert await count(recorder.scene.sessions, AuthorityRequest) == 0
    assert await count(recorder.scene.sessions, DisclosureItem) == 0


async def test_r_acc_5_a_request_is_recorded_as_received_with_what_it_asks_for(
    api: Api, recorder: Recorder
) -> None:
    """R-ACC-5: a request is recorded as received with what it asks for."""
    first, second = await recorder.record(2)
    # Asked twice for the same recording: it is one item.
    recorded = await record(api, [first, second, first], reference="  Order 2026/4471 ")
    assert recorded["errors"] == []
    shown = recorded["authorityRequest"]
    assert {k: v for k, v in shown.items() if k != "id"} == {
        "authority": "Metropolitan Police Service",
        "reference": "Order 2026/4471",
        "legalBasis": "Police and Criminal Evidence Act 1984, Schedule 1",
        "scope": "Calls of 28 November 2026 about the reported threat",
        "status": "RECEIVED",
        "receivedBy": RECORDER,
        "necessity": None,
        "compatibility": None,
        "reviewedBy": None,
        "releasedBy": None,
        "releasedAt": None,
        "packageId": None,
        "items": [
            {"recordingId": first, "releasedAt": None, "withheldReason": None},
            {"recordingId": second, "releasedAt": None, "withheldReason": None},
        ],
    }
    assert (await api.data(ONE, {"id": shown["id"]}))["authorityRequest"] == shown


async def test_r_acc_5_a_review_without_necessity_or_compatibility_is_refused(
    api: Api, desk: Desk, recorder: Recorder
) -> None:
    request_id = await received(api, list(await recorder.record(1)))
    for approve in (True, False):
        for blank in ("necessity", "compatibility"):
            refused = await review(desk.reviewer, request_id, approve=approve, **{blank: " \n"})
            assert refused["authorityRequest"] is None
            assert rules(refused) == [("RuleBrokenError", "R-ACC-5", blank)]
    unchanged = (await api.data(ONE, {"id": request_id}))["authorityRequest"]
    assert (unchanged["status"], unchanged["necessity"], unchanged["reviewedBy"]) == (
        "RECEIVED",
        None,
        None,
    )
    reviewed = (await review(desk.reviewer, request_id))["authorityRequest"]
    assert (reviewed["status"], reviewed["necessity"], reviewed["compatibility"]) == (
        "APPROVED",
        NECESSITY,
        COMPATIBILITY,
    )
    assert reviewed["reviewedBy"] == REVIEWER


async def test_r_acc_5_who_recorded_a_request_cannot_review_it(
    api: Api, desk: Desk, recorder: Recorder
) -> None:
    request_id = await received(desk.recorder, list(await recorder.record(1)))
    for approve in (True, False):
        refused = await review(desk.recorder, request_id, approve=approve)
        assert refused["authorityRequest"] is None
        assert rules(refused) == [("RuleBrokenError", "R-ACC-5", "request")]
        assert "four eyes" in refused["errors"][0]["message"]
    unchanged = (await api.data(ONE, {"id": request_id}))["authorityRequest"]
    assert (unchanged["status"], unchanged["necessity"], unchanged["reviewedBy"]) == (
        "RECEIVED",
        None,
        None,
    )
    # A colleague reviews it.
    reviewed = (await review(desk.reviewer, request_id))["authorityRequest"]
    assert (reviewed["status"], reviewed["receivedBy"], reviewed["reviewedBy"]) == (
        "APPROVED",
        RECORDER,
        REVIEWER,
    )


async def test_r_acc_5_the_reviewer_does_not_release_alone(
    api: Api, desk: Desk, recorder: Recorder
) -> None:
    made = await recorder.record(1)
    request_id = await approved(desk, list(made))
    refused = await release(desk.reviewer, request_id)
    assert refused["authorityRequest"] is None
    assert rules(refused) == [("RuleBrokenError", "R-ACC-5", "request")]
    assert "four eyes" in refused["errors"][0]["message"]
    after = (await api.data(ONE, {"id": request_id}))["authorityRequest"]
    assert (after["status"], after["releasedBy"], after["packageId"]) == ("APPROVED", None, None)
    assert {item["releasedAt"] for item in after["items"]} == {None}
    assert await count(recorder.scene.sessions, Package) == 0
    assert sealed_blobs(recorder) == {f"{r}.sealed" for r in made}
    # Someone other than the reviewer releases it.
    released = (await release(desk.releaser, request_id))["authorityRequest"]
    assert (released["status"], released["reviewedBy"], released["releasedBy"]) == (
        "RELEASED",
        REVIEWER,
        RELEASER,
    )


async def test_r_acc_5_only_a_received_request_is_reviewed_and_a_second_review_changes_nothing(
    api: Api, desk: Desk, recorder: Recorder
) -> None:
    """R-ACC-5: only a received request is reviewed and a second review changes nothing."""
    request_id = await approved(desk, list(await recorder.record(1)))
    again = await review(desk.reviewer, request_id, approve=False, necessity="Changed my mind")
    assert rules(again) == [("InvalidInputError", None, "request")]
    kept = (await api.data(ONE, {"id": request_id}))["authorityRequest"]
    assert (kept["status"], kept["necessity"]) == ("APPROVED", NECESSITY)
    missing = await review(desk.reviewer, 999_999)
    assert rules(missing) == [("NotFoundError", None, "request")]


async def test_r_acc_5_release_before_approval_is_refused_and_nothing_is_released(
    api: Api, desk: Desk, recorder: Recorder
) -> None:
    recordings = list(await recorder.record(2))
    request_id = await received(api, recordings)
    refused = await release(desk.releaser, request_id)
    assert refused["authorityRequest"] is None
    assert rules(refused) == [("RuleBrokenError", "R-ACC-5", "request")]
    assert "only an approved disclosure releases data" in refused["errors"][0]["message"]
    after = (await api.data(ONE, {"id": request_id}))["authorityRequest"]
    assert (after["status"], after["releasedAt"], after["packageId"]) == ("RECEIVED", None, None)
    assert {item["releasedAt"] for item in after["items"]} == {None}
    assert await count(recorder.scene.sessions, Package) == 0
    # No package was sealed either: the blob store holds the recordings and nothing else.
    assert sealed_blobs(recorder) == {f"{r}.sealed" for r in recordings}


async def test_r_acc_5_a_rejected_request_can_never_be_released(
    api: Api, desk: Desk, recorder: Recorder
) -> None:
    recordings = list(await recorder.record(1))
    request_id = await received(api, recordings)
    rejected = await review(desk.reviewer, request_id, approve=False)
    assert rejected["authorityRequest"]["status"] == "REJECTED"
    assert rules(await release(desk.releaser, request_id)) == [
        ("RuleBrokenError", "R-ACC-5", "request")
    ]
    # Nor can it be approved afterwards, to be released then.
    assert rules(await review(desk.reviewer, request_id)) == [
        ("InvalidInputError", None, "request")
    ]
    assert rules(await release(desk.releaser, request_id)) == [
        ("RuleBrokenError", "R-ACC-5", "request")
    ]
    after = (await api.data(ONE, {"id": request_id}))["authorityRequest"]
    assert (after["status"], after["packageId"]) == ("REJECTED", None)
    assert await count(recorder.scene.sessions, Package) == 0
    assert sealed_blobs(recorder) == {f"{r}.sealed" for r in recordings}


async def test_r_acc_5_an_approved_request_releases_exactly_the_recordings_it_lists(
    api: Api, desk: Desk, recorder: Recorder
) -> None:
    made = await recorder.record(3)
    first, second, other = made
    request_id = await approved(desk, [first, second])
    released = await release(desk.releaser, request_id)
    assert released["errors"] == []
    shown = released["authorityRequest"]
    assert (shown["status"], shown["releasedBy"], shown["releasedAt"]) == (
        "RELEASED",
        RELEASER,
        NOW.isoformat(),
    )
    assert shown["items"] == [
        {"recordingId": first, "releasedAt": NOW.isoformat(), "withheldReason": None},
        {"recordingId": second, "releasedAt": NOW.isoformat(), "withheldReason": None},
    ]
    package = await download(api, shown["packageId"])
    manifest = json.loads(package.read("manifest.json"))
    assert (manifest["reference"], manifest["withheld"]) == ("Production order 2026/4471", [])
    files = {entry["recording"]: entry["file"] for entry in manifest["released"]}
    assert set(files) == {first, second}
    assert sorted(package.namelist()) == sorted(["manifest.json", *files.values()])
    for recording_id, name in files.items():
        assert package.read(name) == made[recording_id]
    assert all(made[other] != package.read(name) for name in files.values())
    # Released once: a second release is refused and makes no second package.
    assert rules(await release(desk.releaser, request_id)) == [
        ("RuleBrokenError", "R-ACC-5", "request")
    ]
    assert await count(recorder.scene.sessions, Package) == 1


async def test_r_acc_5_a_recording_erased_before_release_is_withheld_and_says_why(
    api: Api, desk: Desk, recorder: Recorder
) -> None:
    """R-ACC-5: a recording erased before release is withheld and says why."""
    made = await recorder.record(2)
    kept, erased = made
    request_id = await approved(desk, [kept, erased])
    async with transaction(recorder.scene.sessions) as session:
        await erasure.erase_recording(session=session, actor=SYSTEM, recording_id=erased)
    shown = (await release(desk.releaser, request_id))["authorityRequest"]
    assert shown["items"] == [
        {"recordingId": kept, "releasedAt": NOW.isoformat(), "withheldReason": None},
        {
            "recordingId": erased,
            "releasedAt": None,
            "withheldReason": "erased before release (erasure_request)",
        },
    ]
    package = await download(api, shown["packageId"])
    manifest = json.loads(package.read("manifest.json"))
    assert manifest["withheld"] == [
        {"recording": erased, "reason": "erased before release (erasure_request)"}
    ]
    ((recording_id, name),) = ((e["recording"], e["file"]) for e in manifest["released"])
    assert recording_id == kept
    assert sorted(package.namelist()) == sorted(["manifest.json", name])
    assert package.read(name) == made[kept]


async def test_r_ret_1_a_recording_past_its_period_is_withheld_even_before_the_sweep(
    api: Api, desk: Desk, recorder: Recorder, frozen_clock: clock.FrozenClock
) -> None:
    """R-RET-1: a recording past its period is withheld even before the sweep."""
    expired, held = made = await recorder.record(2)
    async with transaction(recorder.scene.sessions) as session:
        await retention.place_hold(
            session=session,
            actor=SYSTEM,
            recording_id=held,
            ground=HoldGround.LEGAL_CLAIMS,
            justification="evidence in the customer's claim",
            ends_on=date(2027, 6, 30),
        )
    frozen_clock.advance(timedelta(days=20))
    (fresh,) = fresh_made = await recorder.record(1)
    request_id = await approved(desk, [expired, held, fresh])
    # 35 days after the first two were made: past their 30 days, and no sweep has run.
    frozen_clock.advance(timedelta(days=15))
    shown = (await release(desk.releaser, request_id))["authorityRequest"]
    expired_until = (NOW + timedelta(days=30)).isoformat()
    assert shown["items"] == [
        {
            "recordingId": expired,
            "releasedAt": None,
            "withheldReason": f"expired before release (kept until {expired_until})",
        },
        # A hold keeps a recording past its period (R-RET-2): it is still held, and released.
        {"recordingId": held, "releasedAt": shown["releasedAt"], "withheldReason": None},
        {"recordingId": fresh, "releasedAt": shown["releasedAt"], "withheldReason": None},
    ]
    package = await download(api, shown["packageId"])
    manifest = json.loads(package.read("manifest.json"))
    assert [w["recording"] for w in manifest["withheld"]] == [expired]
    files = {entry["recording"]: entry["file"] for entry in manifest["released"]}
    assert set(files) == {held, fresh}
    assert sorted(package.namelist()) == sorted(["manifest.json", *files.values()])
    assert package.read(files[held]) == made[held]
    assert package.read(files[fresh]) == fresh_made[fresh]


async def test_r_acc_5_every_step_leaves_an_audit_entry(
    api: Api, desk: Desk, recorder: Recorder, audit_log: AuditLog
) -> None:
    recordings = list(await recorder.record(1))
    request_id = await received(api, recordings)
    await release(desk.releaser, request_id)
    await review(desk.reviewer, request_id)
    await release(desk.releaser, request_id)
    await api.data(ONE, {"id": request_id})
    await api.data(LIST, {"status": "RELEASED"})
    target = f"request={request_id}"
    assert [
        (e.principal, e.outcome, e.target)
        for e in await events(audit_log, "recordAuthorityRequest")
    ] == [(RECORDER, Outcome.ALLOWED, "reference=Production order 2026/4471")]
    assert [
        (e.principal, e.outcome, e.target)
        for e in await events(audit_log, "reviewAuthorityRequest")
    ] == [(REVIEWER, Outcome.ALLOWED, target)]
    refused, done = await events(audit_log, "releaseDisclosure")
    assert (refused.outcome, refused.target, refused.detail) == (
        Outcome.DENIED,
        target,
        {"code": "RULE_BROKEN", "ruleId": "R-ACC-5"},
    )
    assert (done.principal, done.outcome, done.target) == (RELEASER, Outcome.ALLOWED, target)
    (read,) = await events(audit_log, "authorityRequest")
    assert (read.principal, read.target) == (RECORDER, f"authorityRequest:{request_id}")
    (listed,) = await events(audit_log, "authorityRequests")
    assert (listed.target, listed.detail) == ("status=released", {"authorityRequests": 1})


async def test_r_acc_5_roles_other_than_privacy_officer_are_refused_at_every_step(
    api: Api, recorder: Recorder
) -> None:
    """R-ACC-5: roles other than privacy officer are refused at every step."""
    recordings = list(await recorder.record(1))
    request_id = await received(api, recordings)
    steps: list[tuple[str, dict[str, Any], str]] = [
        (RECORD, request_input(recordings), "recordAuthorityRequest"),
        (
            REVIEW,
            {
                "request": request_id,
                "approve": True,
                "necessity": NECESSITY,
                "compatibility": COMPATIBILITY,
            },
            "reviewAuthorityRequest",
        ),
        (RELEASE, {"request": request_id}, "releaseDisclosure"),
    ]
    for role in set(Role) - {Role.PRIVACY_OFFICER}:
        for document, variables, field in steps:
            payload = (await api.data(document, variables, role=role))[field]
            assert [e["__typename"] for e in payload["errors"]] == ["ForbiddenError"], role
        for document, variables in ((ONE, {"id": request_id}), (LIST, {})):
            body = await api.query(document, variables, role=role)
            assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], role
    assert await count(recorder.scene.sessions, AuthorityRequest) == 1
    still = (await api.data(ONE, {"id": request_id}))["authorityRequest"]
    assert (still["status"], still["reviewedBy"]) == ("RECEIVED", None)


async def test_authority_requests_are_listed_by_status_a_page_at_a_time(
    api: Api, desk: Desk, recorder: Recorder
) -> None:
    recordings = list(await recorder.record(1))
    ids = [await received(api, recordings) for _ in range(3)]
    await review(desk.reviewer, ids[1], approve=False)
    received_only = (await api.data(LIST, {"status": "RECEIVED"}))["authorityRequests"]
    assert received_only["nodes"] == [
        {"id": ids[0], "status": "RECEIVED"},
        {"id": ids[2], "status": "RECEIVED"},
    ]
    first = (await api.data(LIST, {"first": 2}))["authorityRequests"]
    assert [n["id"] for n in first["nodes"]] == ids[:2]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = (await api.data(LIST, {"first": 2, "after": first["pageInfo"]["endCursor"]}))[
        "authorityRequests"
    ]
    assert rest["nodes"] == [{"id": ids[2], "status": "RECEIVED"}]
    assert rest["pageInfo"]["hasNextPage"] is False
    assert (await api.data(ONE, {"id": 999_999}))["authorityRequest"] is None
