"""Audio up and down over HTTP with the key encryption keys in a KMS (moto's, on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from registry.audit.models import Outcome
from registry.audit.service import AuditLog
from registry.blobs import LocalBlobStore
from registry.crypto import KeyRing
from registry.recordings.models import Recording
from tests.conftest import Api
from tests.kms import KmsAnswers, kms_client, kms_ring, new_kms_key, use_dummy_credentials
from tests.recordings.conftest import Sessions
from tests.recordings.test_http import AUDIO, download, error_of, events, new_call, upload
from tests.s3 import running_s3_server


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_s3_server(tmp_path_factory.mktemp("kms")) as server:
        yield server.endpoint


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_dummy_credentials(monkeypatch, tmp_path)


@pytest.fixture
def kms_key(endpoint: str) -> str:
    return new_kms_key(kms_client(endpoint))


@pytest.fixture
def ring(tmp_path: Path, endpoint: str, kms_key: str) -> KeyRing:
    """The server's key ring (the ``api`` fixture's): its KEK a key in the KMS."""
    return kms_ring(tmp_path, endpoint, kms_key)


async def key_ids(sessions: Sessions) -> list[str | None]:
    async with sessions() as session:
        return list(await session.scalars(select(Recording.key_id)))


async def test_r_enc_1_audio_uploaded_and_downloaded_has_its_data_key_wrapped_by_the_kms(
    api: Api, seeded: Sessions, blobs: LocalBlobStore, ring: KeyRing, kms_key: str
) -> None:
    """R-ENC-1: audio sent to the server is sealed at rest, its data key wrapped by the KMS."""
    response = await upload(api, await new_call(api))
    assert response.status_code == 201, response.text

    assert await key_ids(seeded) == [f"kms:{kms_key}"]
    (blob,) = blobs.root.iterdir()
    assert AUDIO[:32] not in blob.read_bytes()
    downloaded = await download(api, response.json()["id"])
    assert downloaded.status_code == 200 and downloaded.content == AUDIO


async def test_a_download_whose_kms_refuses_the_key_is_key_unavailable_and_audited(
    api: Api, ring: KeyRing, audit_log: AuditLog
) -> None:
    uploaded = await upload(api, await new_call(api))
    assert uploaded.status_code == 201, uploaded.text
    KmsAnswers(ring, "DisabledException")

    response = await download(api, uploaded.json()["id"])

    assert response.status_code == 500
    assert error_of(response)["code"] == "KEY_UNAVAILABLE"
    assert "Traceback" not in response.text and "DisabledException" not in response.text
    (entry,) = await events(audit_log, action="recording.download")
    assert entry.outcome is Outcome.FAILED and entry.detail is not None
    assert entry.detail["code"] == "KEY_UNAVAILABLE"


async def test_an_upload_whose_kms_cannot_wrap_its_key_stores_nothing(
    api: Api, seeded: Sessions, blobs: LocalBlobStore, ring: KeyRing, audit_log: AuditLog
) -> None:
    call_id = await new_call(api)
    KmsAnswers(ring, "AccessDeniedException")

    response = await upload(api, call_id)

    assert response.status_code == 500, response.text
    assert error_of(response) | {"requestId": ""} == {
        "code": "KEY_UNAVAILABLE",
        "message": "the recording's key cannot be wrapped; nothing was stored",
        "requestId": "",
    }
    assert await key_ids(seeded) == []
    assert not blobs.root.exists() or not any(blobs.root.iterdir())
    (entry,) = await events(audit_log, action="recording.upload", outcome=Outcome.FAILED)
    assert entry.detail is not None and entry.detail["code"] == "KEY_UNAVAILABLE"
