"""Signed checkpoints of the chain's head (Ed25519), to anchor it outside the log.

A chain can be rewritten whole by someone who can write the log and recompute every
hash. A checkpoint signed with a key they do not hold, and kept elsewhere too, makes
that visible: the event it names must still carry the hash it signed.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlmodel import col

from registry import clock
from registry.audit.models import AuditCheckpoint, AuditEvent
from registry.audit.service import AuditLog, Verification


@dataclass(frozen=True)
class Statement:
    seq: int
    hash: str
    at: str

    def message(self) -> bytes:
        return f"registry-audit-checkpoint:{self.seq}:{self.hash}:{self.at}".encode()


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The signing key in ``path`` (PEM), made on first use with mode 0600."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an Ed25519 key")
        return key
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    return key


async def make_checkpoint(log: AuditLog, key: Ed25519PrivateKey) -> AuditCheckpoint:
    seq, head_hash = await log.head()
    now = clock.now()
    statement = Statement(seq, head_hash, now.isoformat())
    checkpoint = AuditCheckpoint(
        seq=seq,
        hash=head_hash,
        at=now,
        key_id=key_id(key.public_key()),
        signature=key.sign(statement.message()).hex(),
    )
    async with log.sessions() as session, session.begin():
        session.add(checkpoint)
    return checkpoint


async def verify_checkpoints(log: AuditLog, public_key: Ed25519PublicKey) -> Verification:
    """Each checkpoint is signed by the key and still matches the chain."""
    async with log.sessions() as session:
        checkpoints = (
            await session.scalars(select(AuditCheckpoint).order_by(col(AuditCheckpoint.id)))
        ).all()
        hashes = dict(
            (
                await session.execute(
                    select(col(AuditEvent.seq), col(AuditEvent.hash)).where(
                        col(AuditEvent.seq).in_({c.seq for c in checkpoints})
                    )
                )
            ).all()
        )
    for checkpoint in checkpoints:
        statement = Statement(checkpoint.seq, checkpoint.hash, checkpoint.at.isoformat())
        try:
            public_key.verify(bytes.fromhex(checkpoint.signature), statement.message())
        except (InvalidSignature, ValueError):
            return Verification(
                len(checkpoints), checkpoint.seq, "a checkpoint's signature is false"
            )
        if checkpoint.seq and hashes.get(checkpoint.seq) != checkpoint.hash:
            return Verification(
                len(checkpoints),
                checkpoint.seq,
                f"event {checkpoint.seq} no longer matches the checkpoint signed at it",
            )
    return Verification(len(checkpoints))
