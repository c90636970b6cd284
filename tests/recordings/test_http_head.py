"""A HEAD request on a download route would run the download and send nothing: it is
refused, so that it neither counts as a download nor writes an audit entry (R-ACC-6)."""

from __future__ import annotations

from registry.access.policy import Role
from registry.audit.service import AuditLog
from registry.blobs import LocalBlobStore
from registry.crypto import KeyRing
from registry.rights.models import Package, RequestKind
from tests.conftest import Api
from tests.recordings.conftest import Sessions
from tests.recordings.test_http import bearer, events, recording_id
from tests.rights.test_packages import answer, new_request

__all__ = ["recording_id"]


async def test_r_acc_6_a_head_request_downloads_nothing_and_counts_and_audits_nothing(
    api: Api,
    seeded: Sessions,
    ring: KeyRing,
    blobs: LocalBlobStore,
    audit_log: AuditLog,
    recording_id: str,
) -> None:
    """R-ACC-6: a head request downloads nothing and counts and audits nothing."""
    request_id = await new_request(seeded, RequestKind.ARRANGEMENT, None)
    package_id = await answer(seeded, ring, blobs, request_id)
    officer = bearer(api.tokens[Role.PRIVACY_OFFICER])
    heads = [
        await api.client.head(f"/packages/{package_id}", headers=officer),
        await api.client.head(
            f"/recordings/{recording_id}/audio?purpose=quality-control",
            headers=bearer(api.tokens[Role.QA_SPECIALIST]),
        ),
    ]
    for response in heads:
        assert response.status_code == 405
        assert response.headers["Allow"] == "GET"
    async with seeded() as session:
        assert (await session.get_one(Package, package_id)).downloads == 0
    assert await events(audit_log, action="downloadPackage") == []
    assert await events(audit_log, action="recording.download") == []
