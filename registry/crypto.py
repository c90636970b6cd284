"""Envelope encryption of recordings, and of the short personal values that come with them.

Each recording has a data key of its own. Its audio is sealed under that key with
Cobblestone-256 (the C2SP chunked-encryption scheme over AES-256-GCM, R-ENC-1), and the
data key is kept only wrapped by a key encryption key (KEK) of the key ring. Destroying the
wrapped data key makes every copy of the audio unreadable at once (crypto-shredding, R-ERA-1);
rotating KEKs re-wraps data keys and never touches the audio.

The KEKs may instead be held by a key management service (``registry.kms``): the ring then
hands wrapping to it, and the file keeps the two secrets below and its older KEKs, which
still unwrap what was wrapped before the switch.

The key ring also holds two secrets with a purpose each, apart from the KEKs: one keys the
blind index (find a caller by phone or e-mail without storing either in clear), the other
seals short personal fields (names, phone numbers, e-mail addresses) in database columns.
The index secret has numbered versions: a rotation (``registry.upkeep.index_rotation``)
makes a new one current and keeps the older ones, which lookups still try, until every
stored index is recomputed; then they are retired.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import json
import os
import re
import secrets
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import anyio.to_thread
from cryptography.cobblestone import Cobblestone256Decryptor, Cobblestone256Encryptor
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from registry._files import fsync_dir

KEY_BYTES = 32
NONCE_BYTES = 12
# Cobblestone's update() returns about as much as it is given: a caller's 100 MiB chunk is cut
# into pieces so that no single ciphertext or plaintext object grows with the stream. As large
# as the blocks sealed blobs are read in (registry.sealed_blobs), so that each block read is
# opened whole, in one call, into about a block of audio to send as it is.
PIECE_BYTES = 256 * 1024
# Format 1 holds one index secret; format 2 numbered versions of it. A ring whose index
# secret was never rotated is still written as format 1, so that older releases read it.
_RING_FORMAT = 1
_RING_FORMAT_VERSIONED = 2
# The version of the one index secret of a format 1 ring, and so of every index stored
# before the index secret could be rotated.
FIRST_INDEX_VERSION = 1
_FIELD_VERSION = b"\x01"

Kind = Literal["phone", "email"]


class CiphertextInvalid(Exception):
    """Ciphertext failed authentication: tampered, truncated, reordered, moved or wrong key."""


class KekUnavailable(KeyError):
    """A KEK that exists cannot be used now: its service unreachable, access refused, the key
    disabled. Nothing is lost, unlike a KEK missing from the ring: the same call can succeed
    once the service or its policy is set right.

    A ``KeyError`` as a missing KEK is, so that every caller that answers "key unavailable"
    answers it for this too.
    """

    def __str__(self) -> str:
        # KeyError's own str() quotes its message as if it were a key.
        return str(self.args[0]) if self.args else type(self).__name__


class RemoteKeks(Protocol):
    """KEKs held by a key management service: data keys go in and out, the KEKs never do.

    Each method may block on the network: async code calls them through ``wrap_async`` and
    its kin, which run them in a worker thread.
    """

    @property
    def primary_id(self) -> str: ...

    def owns(self, key_id: str) -> bool:
        """Whether ``key_id`` names one of these KEKs (rather than one of the file's)."""
        ...

    def wrap(self, recording_id: str, data_key: bytes) -> WrappedKey: ...

    def unwrap(self, recording_id: str, wrapped: WrappedKey) -> bytes: ...

    def rewrap(self, recording_id: str, wrapped: WrappedKey) -> WrappedKey:
        """A key wrapped by one of these KEKs, wrapped again under the primary."""
        ...


class KeyRing:
    """KEKs by ID (one primary; older ones kept to unwrap), the index secrets by version
    (one current; older ones kept while a rotation recomputes indexes) and the field secret.

    Kept in one JSON file of mode 0600. A KEK is never removed: every data key wrapped
    under it would be shredded by accident. An index secret is removed once no stored index
    is under it (``retire_index_secrets``). With ``remote`` KEKs, new data keys are wrapped
    by those; the file's KEKs still unwrap what they wrapped before.
    """

    def __init__(
        self,
        path: Path,
        *,
        primary_id: str,
        keys: dict[str, bytes],
        index_secrets: dict[int, bytes],
        index_version: int,
        field_secret: bytes,
        remote: RemoteKeks | None = None,
    ) -> None:
        if primary_id not in keys:
            raise ValueError(f"{path}: the primary key {primary_id!r} is not in the ring")
        if index_version not in index_secrets:
            raise ValueError(f"{path}: the current index secret {index_version} is not in the ring")
        self._path = path
        self.remote = remote
        self._primary_id = primary_id
        self._keys = keys
        self._index_secrets = index_secrets
        self._index_version = index_version
        self._field = AESGCM(field_secret)
        self._field_secret = field_secret
        # Building an AESGCM costs about as much as a wrap: keep one per KEK.
        self._aeads = {key_id: AESGCM(key) for key_id, key in keys.items()}
        # Which version of the file this copy is: see ``primary_id``.
        self._stamp: _Stamp | None = None

    def __repr__(self) -> str:
        # Names only: a key must never reach a log through a repr.
        remote = "" if self.remote is None else f", remote={self.remote!r}"
        return (
            f"KeyRing({str(self._path)!r}, primary={self.primary_id!r},"
            f" keys={len(self._keys)}{remote})"
        )

    @classmethod
    def load_or_create(cls, path: Path, *, remote: RemoteKeks | None = None) -> KeyRing:
        """The ring in ``path``; a new one, written with mode 0600, if there is none yet."""
        ring = cls._load_or_create(path)
        ring.remote = remote
        return ring

    @classmethod
    def _load_or_create(cls, path: Path) -> KeyRing:
        try:
            return cls._load(path)
        except FileNotFoundError:
            pass
        key_id = _new_key_id(set())
        ring = cls(
            path,
            primary_id=key_id,
            keys={key_id: AESGCM.generate_key(bit_length=256)},
            index_secrets={FIRST_INDEX_VERSION: os.urandom(KEY_BYTES)},
            index_version=FIRST_INDEX_VERSION,
            field_secret=os.urandom(KEY_BYTES),
        )
        try:
            _write_private(path, ring._document(), replace=False)
        except FileExistsError:
            # Another process made the ring first: theirs is the one every key is wrapped with.
            return cls._load(path)
        ring._stamp = _stamp_of(path)
        return ring

    @property
    def primary_id(self) -> str:
        if self.remote is not None:
            return self.remote.primary_id
        self._follow()
        return self._primary_id

    @property
    def index_version(self) -> int:
        """The version of the index secret that new blind indexes are made under."""
        self._follow()
        return self._index_version

    @property
    def index_versions(self) -> list[int]:
        """Every index secret version held, the current one first: those still in use."""
        self._follow()
        older = sorted(set(self._index_secrets) - {self._index_version}, reverse=True)
        return [self._index_version, *older]

    def _follow(self) -> None:
        # A rotation by another process (`registry keys rotate`, `rotate-index`) changes the
        # file: from then on new data keys are wrapped under its new primary, and new indexes
        # made under its new index secret, not the ones loaded at start.
        if _stamp_of(self._path) != self._stamp:
            self._adopt(type(self)._load(self._path))

    def get(self, key_id: str) -> bytes:
        self._know(key_id)
        return self._keys[key_id]

    def add_primary(self) -> str:
        """Make a new KEK the primary (rotation) and return its ID; older KEKs stay to unwrap."""
        if self.remote is not None:
            # A new KEK in the file would wrap nothing: the remote primary wraps every key.
            raise ValueError("the primary key is the remote one: it is made in its service")
        with _locked(self._path):
            # Re-read under the lock: a rotation made by another process since we loaded
            # must not be lost by writing our older copy over it.
            current = type(self)._load(self._path)
            key_id = _new_key_id(set(current._keys))
            rotated = type(self)(
                self._path,
                primary_id=key_id,
                keys={**current._keys, key_id: AESGCM.generate_key(bit_length=256)},
                index_secrets=current._index_secrets,
                index_version=current._index_version,
                field_secret=current._field_secret,
            )
            self._replace(rotated)
        return key_id

    def add_index_secret(self) -> int:
        """Make a new index secret current and return its version; older ones stay, so that
        indexes not yet recomputed are still found, until ``retire_index_secrets``."""
        with _locked(self._path):
            current = type(self)._load(self._path)
            version = max(current._index_secrets) + 1
            rotated = current._with_index_secrets(
                {**current._index_secrets, version: os.urandom(KEY_BYTES)}, version
            )
            self._replace(rotated)
        return version

    def retire_index_secrets(self, below: int) -> list[int]:
        """Remove the index secrets older than version ``below``, once no index is under them;
        returns the versions removed."""
        with _locked(self._path):
            current = type(self)._load(self._path)
            retired = sorted(
                v for v in current._index_secrets if v < below and v != current._index_version
            )
            if not retired:
                self._adopt(current)
                return []
            kept = {v: s for v, s in current._index_secrets.items() if v not in retired}
            self._replace(current._with_index_secrets(kept, current._index_version))
        return retired

    def _with_index_secrets(self, held: dict[int, bytes], version: int) -> KeyRing:
        return type(self)(
            self._path,
            primary_id=self._primary_id,
            keys=self._keys,
            index_secrets=held,
            index_version=version,
            field_secret=self._field_secret,
        )

    def _replace(self, rotated: KeyRing) -> None:
        """Write ``rotated`` over the file (the caller holds its lock) and become it."""
        _write_private(self._path, rotated._document(), replace=True)
        rotated._stamp = _stamp_of(self._path)
        self._adopt(rotated)

    def _aead(self, key_id: str) -> AESGCM:
        self._know(key_id)
        return self._aeads[key_id]

    def _know(self, key_id: str) -> None:
        if key_id not in self._keys:
            # Another process (a rotation from the CLI) may have added it since we loaded:
            # without this, a running server could not open what that rotation re-wrapped.
            self._adopt(type(self)._load(self._path))
        if key_id not in self._keys:
            raise KeyError(f"no key {key_id!r} in the key ring")

    def _adopt(self, other: KeyRing) -> None:
        self._primary_id, self._keys, self._aeads = other._primary_id, other._keys, other._aeads
        self._index_secrets, self._index_version = other._index_secrets, other._index_version
        self._stamp = other._stamp

    def _document(self) -> bytes:
        document: dict[str, Any] = {
            "format": _RING_FORMAT,
            "primary": self._primary_id,
            "keys": {key_id: _b64(key) for key_id, key in self._keys.items()},
        }
        if list(self._index_secrets) == [FIRST_INDEX_VERSION]:
            document["index_secret"] = _b64(self._index_secrets[FIRST_INDEX_VERSION])
        else:
            document["format"] = _RING_FORMAT_VERSIONED
            document["index_secrets"] = {
                str(version): _b64(secret) for version, secret in self._index_secrets.items()
            }
            document["index_version"] = self._index_version
        document["field_secret"] = _b64(self._field_secret)
        return json.dumps(document, indent=2).encode()

    @classmethod
    def _load(cls, path: Path) -> KeyRing:
        # Taken before reading: a change made in between is seen, and read, next time.
        stamp = _stamp_of(path)
        text = path.read_bytes()
        try:
            document: dict[str, Any] = json.loads(text)
            if document["format"] == _RING_FORMAT:
                index_secrets = {FIRST_INDEX_VERSION: _secret(document["index_secret"])}
                index_version = FIRST_INDEX_VERSION
            elif document["format"] == _RING_FORMAT_VERSIONED:
                index_secrets = {
                    _version(version): _secret(value)
                    for version, value in document["index_secrets"].items()
                }
                index_version = _version(document["index_version"])
            else:
                raise ValueError("unknown format")
            ring = cls(
                path,
                primary_id=document["primary"],
                keys={key_id: _secret(value) for key_id, value in document["keys"].items()},
                index_secrets=index_secrets,
                index_version=index_version,
                field_secret=_secret(document["field_secret"]),
            )
        # These errors name a field or a shape, never a value; ``from None`` drops the JSON
        # error, which holds the whole document: the file is all secrets.
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"{path} is not a valid key ring: {error!r}") from None
        ring._stamp = stamp
        return ring


# What tells one version of the ring file from another: a rotation replaces the file.
_Stamp = tuple[int, int, int]


def _stamp_of(path: Path) -> _Stamp | None:
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return (status.st_ino, status.st_mtime_ns, status.st_size)


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def _secret(value: str) -> bytes:
    try:
        key = base64.b64decode(value, validate=True)
    except binascii.Error:
        raise ValueError("a key is not base64") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"a key is not {KEY_BYTES} bytes")
    return key


def _version(value: object) -> int:
    # bool is an int to Python, and JSON object keys are strings: take neither at face value.
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("an index secret version is not a number")
    version = int(value)
    if version < FIRST_INDEX_VERSION:
        raise ValueError("an index secret version is below 1")
    return version


def _new_key_id(taken: set[str]) -> str:
    while (key_id := secrets.token_hex(8)) in taken:
        pass
    return key_id


def _write_private(path: Path, data: bytes, *, replace: bool) -> None:
    """Write ``path`` whole or not at all: a 0600 temp file, fsynced, then given the name."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        if replace:
            os.replace(temp, path)
        else:
            # link() refuses an existing name, as O_EXCL would, yet the file appears complete.
            os.link(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    fsync_dir(path.parent)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    descriptor = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def _bound(*parts: str) -> bytes:
    """``parts`` length-prefixed, so that no two different lists give the same bytes."""
    out = bytearray()
    for part in parts:
        raw = part.encode()
        out += len(raw).to_bytes(4, "big") + raw
    return bytes(out)


# Data keys and their wrapping


@dataclass(frozen=True)
class WrappedKey:
    """A data key sealed by the KEK ``key_id``: a 96-bit nonce, then AES-256-GCM output."""

    key_id: str
    ciphertext: bytes


def new_data_key() -> bytes:
    return Cobblestone256Encryptor.generate_key()


def _required(recording_id: str) -> str:
    if not recording_id:
        raise ValueError("a recording ID is required")
    return recording_id


def _wrap_aad(recording_id: str, key_id: str) -> bytes:
    return _bound("registry recording data key", _required(recording_id), key_id)


def wrap(ring: KeyRing, recording_id: str, data_key: bytes) -> WrappedKey:
    """``data_key`` wrapped under the primary KEK, bound to the recording and the KEK's ID."""
    if len(data_key) != KEY_BYTES:
        raise ValueError(f"a data key is {KEY_BYTES} bytes")
    if ring.remote is not None:
        return ring.remote.wrap(_required(recording_id), data_key)
    key_id = ring.primary_id
    # Random nonces are safe for about 2**32 wraps per KEK: rotate long before that.
    nonce = os.urandom(NONCE_BYTES)
    sealed = ring._aead(key_id).encrypt(nonce, data_key, _wrap_aad(recording_id, key_id))
    return WrappedKey(key_id, nonce + sealed)


def unwrap(ring: KeyRing, recording_id: str, wrapped: WrappedKey) -> bytes:
    """The data key; ``KeyError`` if the ring lacks the KEK, ``CiphertextInvalid`` if false.

    ``KekUnavailable`` (a ``KeyError``) if the KEK's service cannot use it now.
    """
    if ring.remote is not None and ring.remote.owns(wrapped.key_id):
        return ring.remote.unwrap(_required(recording_id), wrapped)
    aead = ring._aead(wrapped.key_id)
    aad = _wrap_aad(recording_id, wrapped.key_id)
    if len(wrapped.ciphertext) != NONCE_BYTES + KEY_BYTES + 16:
        raise CiphertextInvalid("a wrapped data key of the wrong length")
    nonce, sealed = wrapped.ciphertext[:NONCE_BYTES], wrapped.ciphertext[NONCE_BYTES:]
    try:
        return aead.decrypt(nonce, sealed, aad)
    except InvalidTag:
        raise CiphertextInvalid("the wrapped data key fails for this recording and KEK") from None


def rewrap(ring: KeyRing, recording_id: str, wrapped: WrappedKey) -> WrappedKey:
    """The same data key wrapped under the current primary KEK (rotation)."""
    if ring.remote is not None and ring.remote.owns(wrapped.key_id):
        # The service re-wraps it itself: the data key never leaves it on the way.
        return ring.remote.rewrap(_required(recording_id), wrapped)
    return wrap(ring, recording_id, unwrap(ring, recording_id, wrapped))


# A remote KEK is a call over the network: inside async code it runs in a worker thread, so
# that the event loop serves other requests meanwhile. The file's KEKs take microseconds,
# less than the hop to a thread would: they run where they are called.


async def wrap_async(ring: KeyRing, recording_id: str, data_key: bytes) -> WrappedKey:
    """``wrap``, off the event loop when the KEK is remote."""
    if ring.remote is None:
        return wrap(ring, recording_id, data_key)
    return await anyio.to_thread.run_sync(wrap, ring, recording_id, data_key)


async def unwrap_async(ring: KeyRing, recording_id: str, wrapped: WrappedKey) -> bytes:
    """``unwrap``, off the event loop when the KEK is remote."""
    if ring.remote is None:
        return unwrap(ring, recording_id, wrapped)
    return await anyio.to_thread.run_sync(unwrap, ring, recording_id, wrapped)


# Streaming audio
#
# What Cobblestone-256's decryptor does, checked on cryptography 50.0.2 and in its docs:
# the ciphertext is a 56-byte header, then chunks of 16 KiB of plaintext plus a 16-byte tag
# (the last one shorter, and always present). update() returns only plaintext of chunks whose
# tag it has verified, and holds back the latest chunk until more ciphertext shows it is not
# the last. Another key or context, or a changed header, raises InvalidTag as soon as the
# header is in, before any plaintext; a flipped byte or a swapped, repeated or dropped chunk
# raises InvalidTag from update() at the first bad chunk, returning nothing of it. Truncation
# and appended bytes can only show at the end: finalize() raises InvalidTag, after the
# authentic chunks before them were returned. After InvalidTag the decryptor is dead.
# So a reader holds the whole, authentic recording only once open_sealed() ends without
# error: a download route must abort its response on CiphertextInvalid, never end it cleanly.
#
# The crypto runs on the event loop: a 256 KiB piece takes tens of microseconds, less than a
# hop to a worker thread would.


def _context(recording_id: str) -> bytes:
    if not recording_id:
        raise ValueError("a recording ID is required")
    return recording_id.encode()


def _pieces(chunk: bytes) -> Iterator[memoryview]:
    view = memoryview(chunk)
    for start in range(0, len(view), PIECE_BYTES):
        yield view[start : start + PIECE_BYTES]


async def seal(
    data_key: bytes, recording_id: str, chunks: AsyncIterable[bytes]
) -> AsyncIterator[bytes]:
    """The audio of ``chunks`` sealed under ``data_key`` and bound to ``recording_id``."""
    encryptor = Cobblestone256Encryptor(data_key, _context(recording_id))
    async for chunk in chunks:
        for piece in _pieces(chunk):
            if sealed := encryptor.update(piece):
                yield sealed
    yield encryptor.finalize()


async def open_sealed(
    data_key: bytes, recording_id: str, chunks: AsyncIterable[bytes]
) -> AsyncIterator[bytes]:
    """The audio sealed by ``seal``; ``CiphertextInvalid`` where it proves false (see above)."""
    decryptor = Cobblestone256Decryptor(data_key, _context(recording_id))
    async for chunk in chunks:
        for piece in _pieces(chunk):
            if plain := _authentic(decryptor.update, piece):
                yield plain
    if plain := _authentic(decryptor.finalize):
        yield plain


def _authentic(step: Callable[..., bytes], *args: memoryview) -> bytes:
    try:
        return step(*args)
    except InvalidTag:
        raise CiphertextInvalid("the sealed audio is not authentic for this recording") from None


# Blind index and personal fields


def _normal_email(value: str) -> str:
    return value.strip().lower()


def _normal_phone(value: str) -> str:
    value = value.strip()
    digits = re.sub(r"[^0-9]", "", value)
    if value.startswith("+"):
        return "+" + digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    return digits


_NORMALISE: dict[str, Callable[[str], str]] = {"email": _normal_email, "phone": _normal_phone}


def blind_index(ring: KeyRing, kind: Kind, value: str, *, version: int | None = None) -> str:
    """A keyed HMAC-SHA256 (hex) of the normalised value: equal values match, none is revealed.

    Under the current index secret, or the one of ``version`` (``KeyError`` if retired).
    """
    version = ring.index_version if version is None else version
    if version not in ring._index_secrets:
        raise KeyError(f"no index secret {version} in the key ring")
    return _mac(ring._index_secrets[version], kind, value)


def blind_indexes(ring: KeyRing, kind: Kind, value: str) -> list[str]:
    """The value's blind index under every index secret still in use, the current one first.

    A lookup matches any of them: while a rotation recomputes the stored indexes, some are
    under the new secret and the rest under an older one.
    """
    return [blind_index(ring, kind, value, version=v) for v in ring.index_versions]


def _mac(secret: bytes, kind: Kind, value: str) -> str:
    if kind not in _NORMALISE:
        raise ValueError(f"no blind index for {kind!r}")
    normal = _NORMALISE[kind](value)
    if not normal.lstrip("+"):
        raise ValueError(f"an empty {kind} has no blind index")
    mac = hmac.HMAC(secret, hashes.SHA256())
    # The kind is in the message so that a phone number and an e-mail never share an index.
    mac.update(_bound(kind, normal))
    return mac.finalize().hex()


def seal_field(ring: KeyRing, value: str, aad: str) -> bytes:
    """``value`` under AES-256-GCM with the field secret, bound to ``aad`` (its row and column)."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = ring._field.encrypt(nonce, value.encode(), _bound("registry field", aad))
    # A version byte first, so that the field secret can one day be rotated.
    return _FIELD_VERSION + nonce + sealed


def open_field(ring: KeyRing, sealed: bytes, aad: str) -> str:
    version, nonce, body = sealed[:1], sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
    if version != _FIELD_VERSION or len(nonce) != NONCE_BYTES:
        raise CiphertextInvalid("not a sealed field")
    try:
        return ring._field.decrypt(nonce, body, _bound("registry field", aad)).decode()
    except InvalidTag:
        raise CiphertextInvalid("the sealed field fails for this row and column") from None
