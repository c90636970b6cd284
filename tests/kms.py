"""A KMS for the tests: moto's server on loopback (the S3 tests' own, which answers every AWS
API on its one port), dummy credentials, and keys made behind the registry's back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from registry.crypto import KeyRing
from registry.kms import KmsKeys
from tests.s3 import ACCESS_KEY, REGION, SECRET_KEY


def use_dummy_credentials(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Credentials from the environment, where the registry takes them from; no profile."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(folder / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(folder / "no-aws-credentials"))


def kms_client(endpoint: str) -> Any:
    """boto3's KMS client: to make and disable keys behind the registry's back."""
    return boto3.client("kms", endpoint_url=endpoint, region_name=REGION)


def new_kms_key(kms: Any) -> str:
    key_id: str = kms.create_key(Description="registry test KEK")["KeyMetadata"]["KeyId"]
    return key_id


def kms_ring(folder: Path, endpoint: str, *key_ids: str) -> KeyRing:
    """The key ring of ``folder``'s file, its KEKs the KMS keys ``key_ids`` (first: primary)."""
    keks = KmsKeys.connect(key_ids, endpoint=endpoint, region=REGION)
    return KeyRing.load_or_create(folder / "keyring.json", remote=keks)


def kms_environment(endpoint: str, *key_ids: str) -> dict[str, str]:
    """The same, as the ``REGISTRY_*`` variables the commands read."""
    return {
        "REGISTRY_KMS_KEY_IDS": ",".join(key_ids),
        "REGISTRY_KMS_ENDPOINT": endpoint,
        "REGISTRY_KMS_REGION": REGION,
    }


class KmsAnswers:
    """The KMS's answer, as AWS gives it, to what moto lets through: moto records a disabled
    key's state and policies but still encrypts with it, where AWS refuses with a code."""

    def __init__(self, ring: KeyRing, code: str) -> None:
        assert isinstance(ring.remote, KmsKeys)
        self.code = code
        ring.remote._client.meta.events.register_first("before-send.kms", self._refuse)

    def _refuse(self, request: Any, **_: Any) -> AWSResponse:
        body = json.dumps({"__type": self.code, "message": "arn:aws:kms:... is not usable"})
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "test"}
        return AWSResponse(request.url, 400, headers, _Raw(body.encode()))


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body
