"""The group's privacy contact is redacted in the notice: until a deployment configures it,
no answer that gives it to a data subject is built (R-DSR-1, R-DSR-5), and nothing changes."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from registry.blobs import LocalBlobStore
from registry.crypto import KeyRing
from registry.db import transaction
from registry.errors import NotConfigured
from registry.rights import completion, service
from registry.rights.models import Package, RequestKind, RequestStatus, RightsRequest
from registry.settings import PRIVACY_CONTACT_PLACEHOLDER, Settings
from tests.recordings.conftest import SYSTEM, Scene

AUDIO = b"a recorded call about a delivery " * 300
PHONE = "+44 20 7946 0000"


async def started(scene: Scene, ring: KeyRing, kind: RequestKind) -> int:
    """A request of the scene's customer, received, identified, registered and under way."""
    received = service.Received(kind=kind, controller="mood-media-uk", phone=PHONE)
    async with transaction(scene.sessions) as session:
        request = await service.receive(session=session, actor=SYSTEM, ring=ring, received=received)
        await service.establish_identity(
            session=session,
            actor=SYSTEM,
            request_id=request.id,
            evidence="id card",
            subject_id=scene.customer_id if kind is RequestKind.ACCESS else None,
        )
        await service.register(session=session, actor=SYSTEM, request_id=request.id)
        await service.start(session=session, actor=SYSTEM, request_id=request.id)
    return request.id


@pytest.mark.parametrize("kind", [RequestKind.ACCESS, RequestKind.ARRANGEMENT])
async def test_r_dsr_1_no_package_is_built_without_a_configured_privacy_contact(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore, kind: RequestKind
) -> None:
    """R-DSR-1: an access package, as the arrangement's essence, gives the group's contact."""
    await scene.recorded(ring, blobs, AUDIO)
    request_id = await started(scene, ring, kind)
    unconfigured = Settings(privacy_contact=PRIVACY_CONTACT_PLACEHOLDER)
    with pytest.raises(NotConfigured) as refused:
        async with transaction(scene.sessions) as session:
            await completion.complete(
                session=session,
                actor=SYSTEM,
                ring=ring,
                blobs=blobs,
                request_id=request_id,
                terms=completion.Terms(privacy_contact=unconfigured.configured_privacy_contact),
            )
    assert refused.value.setting == "REGISTRY_PRIVACY_CONTACT"
    assert "REGISTRY_PRIVACY_CONTACT" in refused.value.message
    # Nothing was built, and the request is still under way, to be answered once configured.
    async with scene.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Package)) == 0
        request = await session.get_one(RightsRequest, request_id)
        assert request.status is RequestStatus.IN_PROGRESS
    async with transaction(scene.sessions) as session:
        done = await completion.complete(
            session=session,
            actor=SYSTEM,
            ring=ring,
            blobs=blobs,
            request_id=request_id,
            terms=completion.Terms(privacy_contact="privacy@example.test"),
        )
    assert done.package is not None and done.request.status is RequestStatus.COMPLETED


@pytest.mark.parametrize("given", [PRIVACY_CONTACT_PLACEHOLDER, "", "   "])
def test_a_placeholder_or_blank_contact_is_not_configured(given: str) -> None:
    assert Settings(privacy_contact=given).configured_privacy_contact is None
    assert Settings().configured_privacy_contact is None


def test_a_configured_contact_is_the_one_given() -> None:
    settings = Settings(privacy_contact=" privacy@example.test ")
    assert settings.configured_privacy_contact == "privacy@example.test"
