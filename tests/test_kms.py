"""Key encryption keys in a KMS, against moto's KMS on loopback (the AWS KMS API)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from registry.blobs import LocalBlobStore
from registry.crypto import (
    KEY_BYTES,
    CiphertextInvalid,
    KekUnavailable,
    KeyRing,
    WrappedKey,
    new_data_key,
    open_sealed,
    rewrap,
    seal,
    unwrap,
    unwrap_async,
    wrap,
    wrap_async,
)
from registry.kms import (
    KmsKeys,
    KmsKeyUnknown,
    KmsRefused,
    KmsUnreachable,
    open_key_ring,
    stored_id,
)
from registry.settings import Settings
from tests.kms import KmsAnswers, kms_client, kms_ring, new_kms_key, use_dummy_credentials
from tests.s3 import ACCESS_KEY, REGION, SECRET_KEY, running_s3_server
from tests.test_crypto import joined, stream

RECORDING = "rec-0001"


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # moto's server answers every AWS API on its one port: the S3 tests' server is a KMS too.
    with running_s3_server(tmp_path_factory.mktemp("kms")) as server:
        yield server.endpoint


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_dummy_credentials(monkeypatch, tmp_path)


@pytest.fixture
def kms(endpoint: str) -> Any:
    return kms_client(endpoint)


class Sent:
    """What the registry's KMS client sends: each operation's parameters and request body."""

    def __init__(self, ring: KeyRing) -> None:
        assert isinstance(ring.remote, KmsKeys)
        self.parameters: list[tuple[str, dict[str, Any]]] = []
        self.bodies: list[bytes] = []
        events = ring.remote._client.meta.events
        events.register("provide-client-params.kms", self._parameters)
        events.register("before-send.kms", self._body)

    def _parameters(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.parameters.append((model.name, dict(params)))

    def _body(self, request: Any, **_: Any) -> None:
        body = request.body
        self.bodies.append(body if isinstance(body, bytes) else str(body or "").encode())


def test_r_enc_1_a_recordings_data_key_is_wrapped_and_unwrapped_by_the_kms(
    kms: Any, endpoint: str, tmp_path: Path
) -> None:
    """R-ENC-1: a recording's data key is kept only wrapped, here by a KEK held in the KMS."""
    key_id = new_kms_key(kms)
    ring = kms_ring(tmp_path, endpoint, key_id)
    data_key = new_data_key()

    wrapped = wrap(ring, RECORDING, data_key)

    assert ring.primary_id == wrapped.key_id == f"kms:{key_id}"
    assert len(wrapped.key_id) <= 64  # the key_id column
    assert data_key not in wrapped.ciphertext
    assert unwrap(ring, RECORDING, wrapped) == data_key
    # The file's own KEK plays no part: a ring without the KMS cannot open it.
    with pytest.raises(KeyError, match="no key"):
        unwrap(KeyRing.load_or_create(tmp_path / "keyring.json"), RECORDING, wrapped)
    # Bound to its recording, as a file KEK's wrap is, and refused if changed.
    with pytest.raises(CiphertextInvalid):
        unwrap(ring, "rec-0002", wrapped)
    tampered = bytearray(wrapped.ciphertext)
    tampered[len(tampered) // 2] ^= 0x01
    with pytest.raises(CiphertextInvalid):
        unwrap(ring, RECORDING, WrappedKey(wrapped.key_id, bytes(tampered)))


async def test_r_enc_1_recordings_are_sealed_under_kms_wrapped_keys_and_only_data_keys_go_to_the_kms(
    kms: Any, endpoint: str, tmp_path: Path
) -> None:
    """R-ENC-1: the audio is sealed at rest here; only 32-byte data keys go to the KMS."""
    first, second = new_kms_key(kms), new_kms_key(kms)
    ring = kms_ring(tmp_path, endpoint, first)
    rotated = kms_ring(tmp_path, endpoint, second, first)
    sent, sent_rotated = Sent(ring), Sent(rotated)
    marker = b"R-ENC-1 caller says: my card number is 4111 1111 1111 1111. "
    audio = marker * 5_000
    store = LocalBlobStore(tmp_path / "blobs")

    data_key = new_data_key()
    wrapped = await wrap_async(ring, RECORDING, data_key)
    await store.write(RECORDING, seal(data_key, RECORDING, stream(audio, 4096)))
    opened_key = await unwrap_async(ring, RECORDING, wrapped)
    moved = rewrap(rotated, RECORDING, wrapped)

    assert marker[:16] not in (tmp_path / "blobs" / RECORDING).read_bytes()
    assert await joined(open_sealed(opened_key, RECORDING, store.read(RECORDING))) == audio
    assert moved.key_id == f"kms:{second}"
    assert await unwrap_async(rotated, RECORDING, moved) == data_key
    calls = sent.parameters + sent_rotated.parameters
    assert [name for name, _ in calls] == ["Encrypt", "Decrypt", "ReEncrypt", "Decrypt"]
    assert [len(params["Plaintext"]) for name, params in calls if "Plaintext" in params] == [
        KEY_BYTES
    ]
    for body in sent.bodies + sent_rotated.bodies:
        assert len(body) < 2048
        assert marker[:16] not in body


def test_r_enc_1_rotation_rewraps_every_key_under_the_new_primary_kms_key(
    kms: Any, endpoint: str, tmp_path: Path
) -> None:
    """R-ENC-1: rotation re-wraps every data key under the new primary KMS key."""
    old_key = new_kms_key(kms)
    before = kms_ring(tmp_path, endpoint, old_key)
    data_keys = {f"rec-{n:04d}": new_data_key() for n in range(3)}
    old = {rid: wrap(before, rid, key) for rid, key in data_keys.items()}

    new_key = new_kms_key(kms)
    during = kms_ring(tmp_path, endpoint, new_key, old_key)
    # Before the rotation reaches them, the older key still opens what it wrapped.
    assert {rid: unwrap(during, rid, wrapped) for rid, wrapped in old.items()} == data_keys
    assert wrap(during, "rec-new", new_data_key()).key_id == f"kms:{new_key}"

    fresh = {rid: rewrap(during, rid, wrapped) for rid, wrapped in old.items()}

    assert {wrapped.key_id for wrapped in fresh.values()} == {f"kms:{new_key}"}
    after = kms_ring(tmp_path, endpoint, new_key)
    assert {rid: unwrap(after, rid, wrapped) for rid, wrapped in fresh.items()} == data_keys
    # The older key out of the list: what it alone wrapped is unknown to the ring.
    with pytest.raises(KmsKeyUnknown, match="REGISTRY_KMS_KEY_IDS"):
        unwrap(after, RECORDING, old["rec-0000"])


def test_r_enc_1_keys_wrapped_in_the_file_still_open_and_rotation_moves_them_to_the_kms(
    kms: Any, endpoint: str, tmp_path: Path
) -> None:
    """R-ENC-1: switching to the KMS keeps every data key readable; rotation moves them."""
    file_ring = KeyRing.load_or_create(tmp_path / "keyring.json")
    data_key = new_data_key()
    in_file = wrap(file_ring, RECORDING, data_key)
    key_id = new_kms_key(kms)
    ring = kms_ring(tmp_path, endpoint, key_id)

    assert unwrap(ring, RECORDING, in_file) == data_key
    moved = rewrap(ring, RECORDING, in_file)

    assert moved.key_id == f"kms:{key_id}"
    assert unwrap(ring, RECORDING, moved) == data_key
    with pytest.raises(ValueError, match="remote"):
        ring.add_primary()


@pytest.mark.parametrize(
    "code", ["DisabledException", "KMSInvalidStateException", "AccessDeniedException"]
)
def test_a_disabled_or_forbidden_kms_key_fails_as_a_typed_error(
    kms: Any, endpoint: str, tmp_path: Path, code: str
) -> None:
    key_id = new_kms_key(kms)
    ring = kms_ring(tmp_path, endpoint, key_id)
    wrapped = wrap(ring, RECORDING, new_data_key())
    kms.disable_key(KeyId=key_id)
    refusing = kms_ring(tmp_path, endpoint, key_id)
    KmsAnswers(refusing, code)

    with pytest.raises(KmsRefused, match=f"encrypt with key 'kms:{key_id}': {code}$"):
        wrap(refusing, RECORDING, new_data_key())
    with pytest.raises(KmsRefused, match=f"decrypt with key 'kms:{key_id}': {code}$") as refused:
        unwrap(refusing, RECORDING, wrapped)
    # A KEK that is there but unusable: "key unavailable" to callers, not the damaged case,
    # and no message of the KMS's (it may quote an account or a policy).
    assert isinstance(refused.value, KekUnavailable) and isinstance(refused.value, KeyError)
    assert not isinstance(refused.value, CiphertextInvalid)
    assert "arn:" not in str(refused.value)
    assert refused.value.__cause__ is None and refused.value.__suppress_context__

    kms.enable_key(KeyId=key_id)
    assert len(unwrap(ring, RECORDING, wrapped)) == KEY_BYTES


def test_an_unknown_kms_key_fails_as_a_typed_error(kms: Any, endpoint: str, tmp_path: Path) -> None:
    missing = str(uuid.uuid4())
    ring = kms_ring(tmp_path, endpoint, missing)

    with pytest.raises(KmsKeyUnknown, match=f"no key 'kms:{missing}' \\(NotFoundException\\)"):
        wrap(ring, RECORDING, new_data_key())
    elsewhere = WrappedKey(f"kms:{uuid.uuid4()}", b"\x01" * 100)
    with pytest.raises(KmsKeyUnknown, match="no KMS key"):
        unwrap(ring, RECORDING, elsewhere)


def test_an_unreachable_kms_fails_as_a_typed_error(tmp_path: Path) -> None:
    ring = kms_ring(tmp_path, "http://127.0.0.1:9", str(uuid.uuid4()))

    with pytest.raises(KmsUnreachable, match="cannot be reached for encrypt"):
        wrap(ring, RECORDING, new_data_key())


def test_a_ring_with_kms_keys_shows_no_secret_in_its_repr(
    kms: Any, endpoint: str, tmp_path: Path
) -> None:
    ring = kms_ring(tmp_path, endpoint, new_kms_key(kms))
    shown = repr(ring)
    assert "remote=KmsKeys(primary='kms:" in shown
    assert ACCESS_KEY not in shown and SECRET_KEY not in shown


def test_kms_keys_are_named_by_id_or_arn_never_by_alias() -> None:
    key_id = "1234abcd-12ab-34cd-56ef-1234567890ab"
    arn = f"arn:aws:kms:{REGION}:111122223333:key/{key_id}"
    assert stored_id(key_id) == stored_id(arn) == f"kms:{key_id}"
    for alias in ("alias/recordings", f"arn:aws:kms:{REGION}:111122223333:alias/recordings"):
        with pytest.raises(ValueError, match="alias"):
            stored_id(alias)
    with pytest.raises(ValueError, match="twice"):
        KmsKeys([key_id, arn], client=None)
    with pytest.raises(ValueError, match="no KMS key IDs"):
        KmsKeys([], client=None)


def test_the_settings_choose_the_kms_and_the_file_stays_the_default(
    endpoint: str, tmp_path: Path
) -> None:
    assert open_key_ring(Settings(var_dir=tmp_path)).remote is None
    settings = Settings(
        var_dir=tmp_path,
        kms_key_ids=" 1234abcd-12ab-34cd-56ef-1234567890ab, mrk-0123456789abcdef0123456789abcdef ,",
        kms_endpoint=endpoint,
        kms_region=REGION,
    )
    ring = open_key_ring(settings)
    assert ring.primary_id == "kms:1234abcd-12ab-34cd-56ef-1234567890ab"
    assert isinstance(ring.remote, KmsKeys)
    assert ring.remote.owns("kms:mrk-0123456789abcdef0123456789abcdef")
