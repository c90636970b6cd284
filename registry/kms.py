"""Key encryption keys held in a key management service: the AWS KMS API.

An option beside the key-ring file (``registry.crypto``): set ``REGISTRY_KMS_KEY_IDS`` and
each recording's 32-byte data key is wrapped by KMS Encrypt under the first of those keys,
bound to the recording by the encryption context, and unwrapped by KMS Decrypt. The KEKs
never leave the KMS, and only data keys go to it: the audio is sealed here, as before.

The stored ID of a wrapped key is ``kms:`` and the KMS key's own ID, never an alias: an
alias can be moved to another key, and the stored ID must name the key that wrapped.
Rotation is the operator's: make a key in the KMS, put it first in the list (the older ones
stay after it, to unwrap), then `registry keys rotate` re-wraps every data key under it with
KMS ReEncrypt, so that even then the data keys never leave the KMS. A data key under one of
the file's KEKs (wrapped before the switch) still opens, and rotation moves it to the KMS.

The blind-index and field secrets stay in the file: each is used for every phone number
searched and every sealed field read, and a round trip to the KMS for each would make a
page of subjects as many network calls.

Every call blocks: async code makes them through ``registry.crypto``'s ``*_async``
functions, in a worker thread. Credentials come from the AWS tools' usual places
(``AWS_*`` variables, a profile, the instance's or container's role), never from settings.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from registry.crypto import KEY_BYTES, CiphertextInvalid, KekUnavailable, KeyRing, WrappedKey
from registry.settings import Settings

logger = logging.getLogger(__name__)

PREFIX = "kms:"
# What the registry stores in key_id (64 characters) after the prefix: a KMS key ID is a
# UUID (36 characters), or "mrk-" and 32 hex digits for a multi-Region key.
_KEY_ID = re.compile(r"[A-Za-z0-9-]{1,60}")
_ARN = re.compile(r"arn:[^:]+:kms:[^:]*:[^:]*:key/(?P<key_id>.+)")
# A KMS that does not answer must not hold a request for long: a few seconds, one retry.
_CONFIG = botocore.config.Config(
    connect_timeout=5,
    read_timeout=10,
    retries={"mode": "standard", "total_max_attempts": 2},
)
# Codes that say the data key, not the KMS, is at fault: the unreadable case, as a file
# KEK's failed tag is.
_DAMAGED = {"InvalidCiphertextException", "IncorrectKeyException"}
_GONE = {"NotFoundException"}


class KmsUnreachable(KekUnavailable):
    """The KMS did not answer (connection refused, timed out, no region)."""


class KmsRefused(KekUnavailable):
    """The KMS answered and would not use the key: access denied, the key disabled or
    pending deletion, too many requests. Set right in the KMS, the same call succeeds."""


class KmsKeyUnknown(KeyError):
    """A ``kms:`` key ID not among ``REGISTRY_KMS_KEY_IDS``, or a key the KMS does not have.

    As a KEK missing from the file is: what it wrapped cannot be opened here.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else type(self).__name__


def stored_id(configured: str) -> str:
    """``kms:`` and the key's ID, from a key ID or a key ARN; aliases are refused."""
    match = _ARN.fullmatch(configured)
    key_id = match["key_id"] if match else configured
    if key_id.startswith("alias/") or ":alias/" in configured:
        raise ValueError(
            f"{configured!r} is an alias, which can be moved to another key: give the key's ID"
            " or ARN"
        )
    if not _KEY_ID.fullmatch(key_id):
        raise ValueError(f"{configured!r} is not a KMS key ID or key ARN")
    return PREFIX + key_id


class KmsKeys:
    """KEKs in the KMS, as ``registry.crypto.RemoteKeks``: the first of ``key_ids`` is the
    primary, the others are kept to unwrap what they wrapped."""

    def __init__(self, key_ids: Sequence[str], *, client: Any) -> None:
        if not key_ids:
            raise ValueError("no KMS key IDs: the first is the primary key")
        # The stored ID of each key, and how the KMS is asked for it (its ID or its ARN).
        self._keys = {stored_id(key_id): key_id for key_id in key_ids}
        if len(self._keys) != len(key_ids):
            raise ValueError("a KMS key is named twice in the list")
        self._primary_id = next(iter(self._keys))
        self._client = client

    def __repr__(self) -> str:
        return f"KmsKeys(primary={self._primary_id!r}, keys={len(self._keys)})"

    @classmethod
    def connect(
        cls, key_ids: Sequence[str], *, endpoint: str | None = None, region: str | None = None
    ) -> KmsKeys:
        """Keys through a client of the KMS at ``endpoint`` (unset: AWS's, by region)."""
        try:
            client = boto3.session.Session().client(
                "kms", endpoint_url=endpoint, region_name=region, config=_CONFIG
            )
        except botocore.exceptions.NoRegionError:
            raise KmsUnreachable(
                "no region for the KMS: set REGISTRY_KMS_REGION (or AWS_REGION)"
            ) from None
        return cls(key_ids, client=client)

    @property
    def primary_id(self) -> str:
        return self._primary_id

    def owns(self, key_id: str) -> bool:
        return key_id.startswith(PREFIX)

    def wrap(self, recording_id: str, data_key: bytes) -> WrappedKey:
        answer = self._call(
            "encrypt",
            self._primary_id,
            KeyId=self._keys[self._primary_id],
            Plaintext=data_key,
            EncryptionContext=_context(recording_id),
        )
        return WrappedKey(self._primary_id, answer["CiphertextBlob"])

    def unwrap(self, recording_id: str, wrapped: WrappedKey) -> bytes:
        answer = self._call(
            "decrypt",
            wrapped.key_id,
            KeyId=self._known(wrapped.key_id),
            CiphertextBlob=wrapped.ciphertext,
            EncryptionContext=_context(recording_id),
        )
        data_key: bytes = answer["Plaintext"]
        if len(data_key) != KEY_BYTES:
            raise CiphertextInvalid("the KMS unwrapped something other than a data key")
        return data_key

    def rewrap(self, recording_id: str, wrapped: WrappedKey) -> WrappedKey:
        context = _context(recording_id)
        answer = self._call(
            "re_encrypt",
            wrapped.key_id,
            CiphertextBlob=wrapped.ciphertext,
            SourceKeyId=self._known(wrapped.key_id),
            SourceEncryptionContext=context,
            DestinationKeyId=self._keys[self._primary_id],
            DestinationEncryptionContext=context,
        )
        return WrappedKey(self._primary_id, answer["CiphertextBlob"])

    def _known(self, key_id: str) -> str:
        try:
            return self._keys[key_id]
        except KeyError:
            raise KmsKeyUnknown(
                f"no KMS key {key_id!r} in REGISTRY_KMS_KEY_IDS: keep older keys in the list,"
                " after the primary"
            ) from None

    def _call(self, operation: str, key_id: str, **parameters: Any) -> dict[str, Any]:
        try:
            return self._answer(operation, key_id, parameters)
        except (KekUnavailable, KmsKeyUnknown) as error:
            # For the operator: a client is told only that the key is unavailable.
            logger.warning("%s", error)
            raise

    def _answer(self, operation: str, key_id: str, parameters: dict[str, Any]) -> dict[str, Any]:
        # Errors name the operation, the key and the KMS's error code, never its message,
        # which may quote an account or a policy; nor the parameters, which hold a data key.
        try:
            answer: dict[str, Any] = getattr(self._client, operation)(**parameters)
        except botocore.exceptions.ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", "unknown"))
            if code in _DAMAGED:
                raise CiphertextInvalid(
                    f"the KMS finds the wrapped data key false for this recording ({code})"
                ) from None
            if code in _GONE:
                raise KmsKeyUnknown(f"the KMS has no key {key_id!r} ({code})") from None
            raise KmsRefused(f"the KMS refused {operation} with key {key_id!r}: {code}") from None
        except botocore.exceptions.NoCredentialsError:
            raise KmsRefused(
                "no AWS credentials for the KMS (AWS_* variables, a profile or a role)"
            ) from None
        except botocore.exceptions.BotoCoreError as error:
            raise KmsUnreachable(
                f"the KMS cannot be reached for {operation} ({type(error).__name__})"
            ) from None
        return answer


def _context(recording_id: str) -> dict[str, str]:
    # What a file KEK binds as associated data: a wrapped key opens only for its recording.
    return {"purpose": "registry recording data key", "recording": recording_id}


def remote_keks(settings: Settings) -> KmsKeys | None:
    """The KMS keys the settings name; ``None`` when the key-ring file holds the KEKs."""
    if not settings.kms_key_id_list:
        return None
    return KmsKeys.connect(
        settings.kms_key_id_list, endpoint=settings.kms_endpoint, region=settings.kms_region
    )


def open_key_ring(settings: Settings) -> KeyRing:
    """The key ring of the settings: the file's, its KEKs in the KMS if one is configured."""
    return KeyRing.load_or_create(settings.resolved_keyring_file, remote=remote_keks(settings))
