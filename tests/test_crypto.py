"""Envelope encryption with real cryptography: data keys, the key ring, sealed audio, fields."""

from __future__ import annotations

import base64
import json
import stat
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path

import pytest
from cryptography.cobblestone import Cobblestone256Decryptor

from registry.blobs import LocalBlobStore
from registry.crypto import (
    KEY_BYTES,
    PIECE_BYTES,
    CiphertextInvalid,
    KeyRing,
    WrappedKey,
    blind_index,
    new_data_key,
    open_field,
    open_sealed,
    rewrap,
    seal,
    seal_field,
    unwrap,
    wrap,
)

RECORDING = "rec-0001"
# Cobblestone's layout (see the comment in registry/crypto.py): a header, then 16 KiB chunks.
HEADER = 56
CHUNK = 16 * 1024
SEALED_CHUNK = CHUNK + 16


async def stream(data: bytes, size: int | None = None) -> AsyncIterator[bytes]:
    size = size or max(len(data), 1)
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def joined(chunks: AsyncIterable[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


async def sealed_pieces(key: bytes, plaintext: bytes, size: int | None = None) -> list[bytes]:
    return [piece async for piece in seal(key, RECORDING, stream(plaintext, size))]


async def opened_until_invalid(key: bytes, recording_id: str, ciphertext: bytes) -> bytes:
    """What open_sealed yields before it raises CiphertextInvalid (which it must)."""
    got = bytearray()
    with pytest.raises(CiphertextInvalid):
        async for piece in open_sealed(key, recording_id, stream(ciphertext, 1000)):
            got += piece
    return bytes(got)


def stored_secrets(ring_path: Path) -> list[str]:
    """Every secret in the key file, base64 as stored."""
    stored = json.loads(ring_path.read_text())
    return [*stored["keys"].values(), stored["index_secret"], stored["field_secret"]]


def pattern(size: int) -> bytes:
    return bytes(i % 251 for i in range(size))


@pytest.fixture
def ring_path(tmp_path: Path) -> Path:
    return tmp_path / "keyring.json"


@pytest.fixture
def ring(ring_path: Path) -> KeyRing:
    return KeyRing.load_or_create(ring_path)


# Sealed audio

SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, PIECE_BYTES, PIECE_BYTES + 1, 3 * PIECE_BYTES + 12345]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("piece", [None, 1000, PIECE_BYTES], ids=["whole", "1000", "piece"])
async def test_sealed_audio_opens_to_the_same_bytes(size: int, piece: int | None) -> None:
    key = new_data_key()
    plaintext = pattern(size)
    ciphertext = b"".join(await sealed_pieces(key, plaintext, piece))
    assert len(ciphertext) == HEADER + size + 16 * (size // CHUNK + 1)
    assert await joined(open_sealed(key, RECORDING, stream(ciphertext, piece))) == plaintext


async def test_a_huge_chunk_is_sealed_and_opened_in_bounded_pieces() -> None:
    key = new_data_key()
    plaintext = pattern(10 * PIECE_BYTES + 7)
    pieces = await sealed_pieces(key, plaintext)
    assert max(map(len, pieces)) <= PIECE_BYTES + PIECE_BYTES // CHUNK * 16 + SEALED_CHUNK
    opened = [p async for p in open_sealed(key, RECORDING, stream(b"".join(pieces)))]
    assert max(map(len, opened)) <= PIECE_BYTES + CHUNK
    assert b"".join(opened) == plaintext


async def test_R_ENC_1_recordings_are_sealed_with_aes_256_and_hold_no_plaintext(
    ring: KeyRing, ring_path: Path, tmp_path: Path
) -> None:
    """R-ENC-1: recordings are encrypted with AES-256 at rest."""
    marker = b"R-ENC-1 caller says: my card number is 4111 1111 1111 1111. "
    audio = marker * 20_000
    key = new_data_key()
    store = LocalBlobStore(tmp_path / "blobs")
    await store.write(RECORDING, seal(key, RECORDING, stream(audio, 4096)))

    on_disk = (tmp_path / "blobs" / RECORDING).read_bytes()
    assert marker[:16] not in on_disk
    assert await joined(open_sealed(key, RECORDING, store.read(RECORDING))) == audio
    # AES-256: 32-byte keys everywhere, and the blob is Cobblestone-256 (AES-256-GCM chunks).
    assert len(key) == KEY_BYTES == 32
    plain = Cobblestone256Decryptor(key, RECORDING.encode())
    assert plain.update(on_disk) + plain.finalize() == audio
    wrapped = wrap(ring, RECORDING, key)
    assert key not in wrapped.ciphertext
    assert len(ring.get(wrapped.key_id)) == 32
    assert {len(base64.b64decode(secret)) for secret in stored_secrets(ring_path)} == {32}


@pytest.fixture
async def sealed() -> tuple[bytes, bytes, bytes]:
    """A data key, a plaintext of several chunks and pieces, and its ciphertext."""
    key = new_data_key()
    plaintext = pattern(3 * PIECE_BYTES + 5 * CHUNK + 99)
    return key, plaintext, b"".join(await sealed_pieces(key, plaintext, PIECE_BYTES))


def authentic_prefix(got: bytes, plaintext: bytes, bad_at: int) -> None:
    """Only whole chunks that lie wholly before the bad ciphertext offset were yielded."""
    assert got == plaintext[: len(got)]
    assert len(got) % CHUNK == 0
    if got:
        assert HEADER + len(got) // CHUNK * SEALED_CHUNK <= bad_at


async def test_a_flipped_byte_anywhere_is_refused_before_its_plaintext(
    sealed: tuple[bytes, bytes, bytes],
) -> None:
    key, plaintext, ciphertext = sealed
    chunk_edges = {HEADER + n * SEALED_CHUNK + d for n in range(15) for d in (-1, 0, 1)}
    positions = {*range(HEADER + 1), *range(0, len(ciphertext), 101), *chunk_edges}
    for position in sorted(p for p in positions if 0 <= p < len(ciphertext)):
        tampered = bytearray(ciphertext)
        tampered[position] ^= 0x01
        got = await opened_until_invalid(key, RECORDING, bytes(tampered))
        authentic_prefix(got, plaintext, position)


async def test_every_byte_of_a_short_recording_is_authenticated() -> None:
    key = new_data_key()
    ciphertext = b"".join(await sealed_pieces(key, b"short"))
    for position in range(len(ciphertext)):
        tampered = bytearray(ciphertext)
        tampered[position] ^= 0x80
        assert await opened_until_invalid(key, RECORDING, bytes(tampered)) == b""


@pytest.mark.parametrize(
    "cut", [0, 1, HEADER - 1, HEADER, HEADER + 1, HEADER + SEALED_CHUNK, -SEALED_CHUNK, -16, -1]
)
async def test_a_truncated_recording_is_refused(
    sealed: tuple[bytes, bytes, bytes], cut: int
) -> None:
    key, plaintext, ciphertext = sealed
    truncated = ciphertext[:cut]
    got = await opened_until_invalid(key, RECORDING, truncated)
    authentic_prefix(got, plaintext, len(truncated))
    assert len(got) < len(plaintext)


@pytest.mark.parametrize("extra", [b"\x00", b"x" * 16, "last chunk again"])
async def test_bytes_appended_to_a_recording_are_refused(
    sealed: tuple[bytes, bytes, bytes], extra: bytes | str
) -> None:
    key, _, ciphertext = sealed
    tail = ciphertext[-SEALED_CHUNK:] if isinstance(extra, str) else extra
    await opened_until_invalid(key, RECORDING, ciphertext + tail)


async def test_swapped_pieces_or_chunks_are_refused(sealed: tuple[bytes, bytes, bytes]) -> None:
    key, plaintext, ciphertext = sealed
    pieces = await sealed_pieces(key, plaintext, PIECE_BYTES)
    assert len(pieces[1]) == len(pieces[2])
    swapped = b"".join([pieces[0], pieces[2], pieces[1], *pieces[3:]])
    got = await opened_until_invalid(key, RECORDING, swapped)
    authentic_prefix(got, plaintext, len(pieces[0]))

    first, second = (HEADER + n * SEALED_CHUNK for n in (2, 3))
    reordered = (
        ciphertext[:first]
        + ciphertext[second : second + SEALED_CHUNK]
        + ciphertext[first:second]
        + ciphertext[second + SEALED_CHUNK :]
    )
    got = await opened_until_invalid(key, RECORDING, reordered)
    authentic_prefix(got, plaintext, first)
    assert len(got) == 2 * CHUNK


async def test_audio_moved_to_another_recording_or_key_yields_nothing(
    sealed: tuple[bytes, bytes, bytes],
) -> None:
    key, _, ciphertext = sealed
    assert await opened_until_invalid(key, "rec-0002", ciphertext) == b""
    assert await opened_until_invalid(new_data_key(), RECORDING, ciphertext) == b""


async def test_a_recording_id_is_required() -> None:
    with pytest.raises(ValueError, match="recording ID"):
        await joined(seal(new_data_key(), "", stream(b"audio")))


# Data keys and the key ring


def test_a_wrapped_data_key_opens_only_for_its_recording_and_kek(ring: KeyRing) -> None:
    key = new_data_key()
    wrapped = wrap(ring, RECORDING, key)
    assert wrapped.key_id == ring.primary_id
    assert unwrap(ring, RECORDING, wrapped) == key
    assert wrap(ring, RECORDING, key).ciphertext != wrapped.ciphertext  # a fresh nonce

    with pytest.raises(CiphertextInvalid):
        unwrap(ring, "rec-0002", wrapped)
    other = ring.add_primary()
    with pytest.raises(CiphertextInvalid):
        unwrap(ring, RECORDING, WrappedKey(other, wrapped.ciphertext))
    with pytest.raises(KeyError, match="no key"):
        unwrap(ring, RECORDING, WrappedKey("not-a-key", wrapped.ciphertext))
    for position in range(len(wrapped.ciphertext)):
        tampered = bytearray(wrapped.ciphertext)
        tampered[position] ^= 0x01
        with pytest.raises(CiphertextInvalid):
            unwrap(ring, RECORDING, WrappedKey(wrapped.key_id, bytes(tampered)))
    with pytest.raises(CiphertextInvalid):
        unwrap(ring, RECORDING, WrappedKey(wrapped.key_id, wrapped.ciphertext[:-1]))
    with pytest.raises(ValueError, match="32 bytes"):
        wrap(ring, RECORDING, key[:16])


def test_rotation_rewraps_data_keys_and_old_wraps_still_open(
    ring: KeyRing, ring_path: Path
) -> None:
    old_id = ring.primary_id
    key = new_data_key()
    old = wrap(ring, RECORDING, key)

    new_id = ring.add_primary()
    assert new_id != old_id
    assert ring.primary_id == new_id
    assert unwrap(ring, RECORDING, old) == key
    new = rewrap(ring, RECORDING, old)
    assert new.key_id == new_id
    assert wrap(ring, RECORDING, new_data_key()).key_id == new_id
    assert unwrap(ring, RECORDING, new) == key

    reloaded = KeyRing.load_or_create(ring_path)
    assert reloaded.primary_id == new_id
    assert reloaded.get(old_id) == ring.get(old_id)
    assert unwrap(reloaded, RECORDING, old) == unwrap(reloaded, RECORDING, new) == key


def test_rotations_by_two_processes_keep_both_keys(ring: KeyRing, ring_path: Path) -> None:
    first = ring.get(ring.primary_id)
    other_process = KeyRing.load_or_create(ring_path)
    mine = ring.add_primary()
    theirs = other_process.add_primary()

    reloaded = KeyRing.load_or_create(ring_path)
    assert reloaded.primary_id == theirs
    assert {reloaded.get(mine), reloaded.get(theirs)} == {ring.get(mine), other_process.get(theirs)}
    assert first in {reloaded.get(key_id) for key_id in json.loads(ring_path.read_text())["keys"]}


def test_a_running_ring_learns_a_rotation_made_elsewhere(ring: KeyRing, ring_path: Path) -> None:
    cli = KeyRing.load_or_create(ring_path)
    key = new_data_key()
    wrapped = wrap(ring, RECORDING, key)
    new_id = cli.add_primary()
    rewrapped = rewrap(cli, RECORDING, wrapped)
    assert rewrapped.key_id == new_id != wrapped.key_id
    # New data keys of the running server go under the new primary, not the one it loaded.
    assert wrap(ring, "another-recording", new_data_key()).key_id == new_id
    assert unwrap(ring, RECORDING, rewrapped) == key
    assert ring.primary_id == new_id


def test_the_key_file_is_private_whole_and_reloads_the_same(ring: KeyRing, ring_path: Path) -> None:
    assert stat.S_IMODE(ring_path.stat().st_mode) == 0o600
    ring.add_primary()
    assert stat.S_IMODE(ring_path.stat().st_mode) == 0o600
    assert sorted(p.name for p in ring_path.parent.iterdir() if p.name.endswith(".tmp")) == []

    reloaded = KeyRing.load_or_create(ring_path)
    stored = json.loads(ring_path.read_text())
    assert reloaded.primary_id == ring.primary_id == stored["primary"]
    for key_id in stored["keys"]:
        assert reloaded.get(key_id) == ring.get(key_id)
    assert blind_index(reloaded, "email", "a@b.com") == blind_index(ring, "email", "a@b.com")
    assert open_field(reloaded, seal_field(ring, "Ana", "calls.name:1"), "calls.name:1") == "Ana"


def test_the_index_and_field_secrets_are_not_keks(ring: KeyRing, ring_path: Path) -> None:
    stored = json.loads(ring_path.read_text())
    assert len(stored["keys"]) == 1
    separate = {stored["index_secret"], stored["field_secret"], *stored["keys"].values()}
    assert len(separate) == 3


def test_no_key_shows_in_a_repr(ring: KeyRing, ring_path: Path) -> None:
    shown = repr(ring) + str(ring)
    for secret in stored_secrets(ring_path):
        assert secret not in shown
        assert base64.b64decode(secret).hex() not in shown
    assert ring.primary_id in shown


def test_a_damaged_key_file_is_refused_without_showing_it(ring_path: Path) -> None:
    KeyRing.load_or_create(ring_path)
    stored = json.loads(ring_path.read_text())
    secret = stored["index_secret"]
    stored["keys"][stored["primary"]] = secret[:-4]
    ring_path.write_text(json.dumps(stored))
    with pytest.raises(ValueError, match="not a valid key ring") as raised:
        KeyRing.load_or_create(ring_path)
    assert secret[:8] not in str(raised.value)
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__

    ring_path.write_text(ring_path.read_text()[:-10])
    with pytest.raises(ValueError, match="not a valid key ring"):
        KeyRing.load_or_create(ring_path)


# Blind index and personal fields


def test_the_blind_index_matches_normalised_values(ring: KeyRing) -> None:
    phone = blind_index(ring, "phone", "+44 20 7946 0000")
    assert phone == blind_index(ring, "phone", "0044-20-7946-0000")
    assert phone == blind_index(ring, "phone", " +44 (20) 7946.0000 ")
    assert phone != blind_index(ring, "phone", "+44 20 7946 0001")
    assert blind_index(ring, "email", "A@B.com ") == blind_index(ring, "email", "a@b.com")
    assert len(phone) == 64
    assert int(phone, 16) >= 0


def test_the_blind_index_separates_kinds_and_rings(ring: KeyRing, tmp_path: Path) -> None:
    assert blind_index(ring, "phone", "12345") != blind_index(ring, "email", "12345")
    other = KeyRing.load_or_create(tmp_path / "other.json")
    assert blind_index(ring, "email", "a@b.com") != blind_index(other, "email", "a@b.com")


@pytest.mark.parametrize(
    ("kind", "value"),
    [("phone", ""), ("phone", " + "), ("phone", "00"), ("phone", "n/a"), ("email", "  ")],
)
def test_an_empty_value_has_no_blind_index(ring: KeyRing, kind: str, value: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        blind_index(ring, kind, value)  # type: ignore[arg-type]


def test_an_unknown_kind_has_no_blind_index(ring: KeyRing) -> None:
    with pytest.raises(ValueError, match="no blind index"):
        blind_index(ring, "name", "Ana")  # type: ignore[arg-type]


def test_a_sealed_field_opens_only_in_its_place(ring: KeyRing, tmp_path: Path) -> None:
    place = "calls.caller_name:rec-0001"
    sealed = seal_field(ring, "Zoë Müller", place)
    assert b"Zo" not in sealed
    assert open_field(ring, sealed, place) == "Zoë Müller"
    assert seal_field(ring, "Zoë Müller", place) != sealed
    assert open_field(ring, seal_field(ring, "", place), place) == ""

    with pytest.raises(CiphertextInvalid):
        open_field(ring, sealed, "calls.caller_name:rec-0002")
    with pytest.raises(CiphertextInvalid):
        open_field(ring, sealed, "calls.caller_email:rec-0001")
    with pytest.raises(CiphertextInvalid):
        open_field(KeyRing.load_or_create(tmp_path / "other.json"), sealed, place)
    for position in range(len(sealed)):
        tampered = bytearray(sealed)
        tampered[position] ^= 0x01
        with pytest.raises(CiphertextInvalid):
            open_field(ring, bytes(tampered), place)
    with pytest.raises(CiphertextInvalid):
        open_field(ring, b"", place)
