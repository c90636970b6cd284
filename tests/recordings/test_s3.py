"""Recordings kept in a bucket of S3-compatible storage: the app and `registry sweep` open the
bucket their settings name, and do with it all they do with the local folder."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from typer.testing import CliRunner

from registry import clock
from registry.blobs.s3 import PART_BYTES
from registry.cli import app
from tests.conftest import Api, AppFactory, client_of, issue_role_tokens
from tests.recordings.conftest import Sessions
from tests.recordings.test_http import AUDIO, MARKER, download, new_call, upload
from tests.s3 import PREFIX, S3Server, running_s3_server


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with running_s3_server(tmp_path_factory.mktemp("s3")) as server:
        yield server


@pytest.fixture
def bucket(s3: S3Server) -> str:
    return s3.new_bucket()


@pytest.fixture
def blobs() -> None:
    """None: the app opens the store its settings name, as it does in production."""
    return None


@pytest_asyncio.fixture
async def api(
    make_app: AppFactory, seeded: Sessions, s3: S3Server, bucket: str
) -> AsyncIterator[Api]:
    tokens = await issue_role_tokens(seeded)
    async with client_of(make_app(**s3.settings(bucket))) as client:
        yield Api(client, tokens)


@pytest.mark.parametrize("size", [1, len(AUDIO), PART_BYTES + 1])
async def test_audio_uploaded_to_the_app_is_sealed_in_the_bucket_and_downloads_whole(
    api: Api, s3: S3Server, bucket: str, size: int
) -> None:
    audio = (AUDIO * (size // len(AUDIO) + 1))[:size]
    response = await upload(api, await new_call(api), audio)
    assert response.status_code == 201, response.text
    recording_id, sealed_size = response.json()["id"], response.json()["size"]

    stored = s3.objects(bucket)
    assert list(stored) == [f"{PREFIX}/{recording_id}.sealed"]
    (blob,) = stored.values()
    assert len(blob) == sealed_size > size
    assert MARKER not in blob
    assert s3.incomplete_uploads(bucket) == []

    listened = await download(api, recording_id)
    assert listened.status_code == 200, listened.text
    assert listened.headers["content-length"] == str(size)
    assert listened.content == audio


async def test_a_recording_whose_object_is_gone_is_an_error_answer(
    api: Api, s3: S3Server, bucket: str
) -> None:
    response = await upload(api, await new_call(api))
    recording_id = response.json()["id"]
    s3.client.delete_object(Bucket=bucket, Key=f"{PREFIX}/{recording_id}.sealed")
    listened = await download(api, recording_id)
    assert listened.status_code == 500
    assert listened.json()["error"]["code"] == "RECORDING_DAMAGED"


async def test_r_ret_1_the_sweep_command_deletes_expired_recordings_from_the_bucket(
    api: Api,
    s3: S3Server,
    bucket: str,
    database_url: str,
    audit_url: str,
    tmp_path: Path,
    frozen_clock: clock.FrozenClock,
) -> None:
    """R-RET-1: the sweep command deletes expired recordings from the bucket."""
    expired = (await upload(api, await new_call(api))).json()["id"]
    frozen_clock.advance(timedelta(days=20))
    kept = (await upload(api, await new_call(api))).json()["id"]
    frozen_clock.advance(timedelta(days=11))
    runner = CliRunner(
        env={
            "REGISTRY_DATABASE_URL": database_url,
            "REGISTRY_AUDIT_DATABASE_URL": audit_url,
            "REGISTRY_VAR_DIR": str(tmp_path),
            **s3.environment(bucket),
        }
    )

    result = await asyncio.to_thread(runner.invoke, app, ["sweep"])

    # A bucket has no temp files to clear, so the command does not speak of them.
    assert result.exit_code == 0, result.output
    assert (
        result.stdout
        == "registry: 1 recordings shredded, 1 blobs deleted, 0 expired packages erased\n"
    )
    assert list(s3.objects(bucket)) == [f"{PREFIX}/{kept}.sealed"]
    assert (await download(api, expired)).status_code == 404
    assert (await download(api, kept)).content == AUDIO
