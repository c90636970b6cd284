"""`registry keys rotate` with key encryption keys in a KMS (moto's, on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from registry.blobs import LocalBlobStore
from registry.crypto import KeyRing
from tests.kms import kms_client, kms_environment, kms_ring, new_kms_key, use_dummy_credentials
from tests.recordings.conftest import Scene, listen
from tests.recordings.test_keys import invoke, refused_in_a_line, wrapped_keys
from tests.recordings.test_retention import AUDIO, recorded
from tests.s3 import running_s3_server


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_s3_server(tmp_path_factory.mktemp("kms")) as server:
        yield server.endpoint


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_dummy_credentials(monkeypatch, tmp_path)


@pytest.fixture
def kms(endpoint: str) -> Any:
    return kms_client(endpoint)


@pytest.fixture
def cli(database_url: str, audit_url: str, tmp_path: Path) -> CliRunner:
    """The `registry` command on the test's databases and var folder, as in test_keys.py."""
    return CliRunner(
        env={
            "REGISTRY_DATABASE_URL": database_url,
            "REGISTRY_AUDIT_DATABASE_URL": audit_url,
            "REGISTRY_VAR_DIR": str(tmp_path),
        }
    )


async def test_r_enc_1_rotation_rewraps_every_data_key_under_the_new_primary_kms_key(
    cli: CliRunner,
    scene: Scene,
    ring: KeyRing,
    blobs: LocalBlobStore,
    kms: Any,
    endpoint: str,
    tmp_path: Path,
) -> None:
    """R-ENC-1: rotation re-wraps every data key under the new primary KMS key, those from
    before the switch to the KMS too; each opens before and after."""
    (in_file,) = await recorded(scene, ring, blobs)
    first = new_kms_key(kms)
    under_first = await recorded(scene, kms_ring(tmp_path, endpoint, first), blobs, count=2)
    second = new_kms_key(kms)
    both = kms_ring(tmp_path, endpoint, second, first)
    before = await wrapped_keys(scene.sessions)
    assert before[in_file][0] == ring.primary_id
    assert {before[rid][0] for rid in under_first} == {f"kms:{first}"}
    for recording_id in (in_file, *under_first):
        assert await listen(scene.sessions, both, blobs, recording_id) == AUDIO

    result = await invoke(cli, "keys", "rotate", env=kms_environment(endpoint, second, first))

    assert result.exit_code == 0, result.output
    assert result.stdout == f"registry: primary key is now kms:{second}; 3 data keys re-wrapped\n"
    after = await wrapped_keys(scene.sessions)
    assert {key_id for key_id, _ in after.values()} == {f"kms:{second}"}
    only_second = kms_ring(tmp_path, endpoint, second)
    for recording_id in (in_file, *under_first):
        assert await listen(scene.sessions, only_second, blobs, recording_id) == AUDIO


async def test_a_rotation_whose_kms_cannot_be_reached_stops_in_a_line(
    cli: CliRunner, scene: Scene, blobs: LocalBlobStore, kms: Any, endpoint: str, tmp_path: Path
) -> None:
    first = new_kms_key(kms)
    (recording_id,) = await recorded(scene, kms_ring(tmp_path, endpoint, first), blobs)
    second = new_kms_key(kms)
    unreachable = kms_environment("http://127.0.0.1:9", second, first)

    line = refused_in_a_line(await invoke(cli, "keys", "rotate", env=unreachable))

    assert line == (
        f"registry: the rotation stopped after re-wrapping 0 data keys under kms:{second}"
        " (KmsUnreachable: the KMS cannot be reached for re_encrypt (EndpointConnectionError));"
        " every recording stays readable, since older keys stay in the ring: run `registry"
        " keys rotate` again to finish\n"
    )
    assert (await wrapped_keys(scene.sessions))[recording_id][0] == f"kms:{first}"


async def test_a_rotation_naming_a_kms_alias_refuses_in_a_line(
    cli: CliRunner, endpoint: str
) -> None:
    aliased = kms_environment(endpoint, "alias/recordings")

    line = refused_in_a_line(await invoke(cli, "keys", "rotate", env=aliased))

    assert line == (
        "registry: 'alias/recordings' is an alias, which can be moved to another key: give the"
        " key's ID or ARN\n"
    )
