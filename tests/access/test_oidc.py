"""Sign-in through an identity provider: the real flow against a real OpenID provider on
loopback (oidc-provider-mock), the principals it makes on both backends (R-ACC-2), the
roles its claims cap (R-ACC-7) and the clearance that still gates recordings (R-ACC-3)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry import clock
from registry.access import identities, oidc, service
from registry.access.models import ExternalIdentity, Principal
from registry.access.oidc import PendingSignIn, SignInRefused
from registry.access.policy import Role
from registry.audit.service import AuditLog
from registry.blobs import LocalBlobStore
from registry.crypto import KeyRing
from registry.db import transaction
from registry.errors import InvalidInput, RuleBroken
from registry.recordings import calls, storage
from registry.recordings.models import SubjectKind
from registry.settings import Settings
from tests.conftest import NOW, OFFICER
from tests.recordings.conftest import SYSTEM, Scene

Sessions = async_sessionmaker[AsyncSession]
CALLBACK = "http://registry.test/console/sign-in/oidc"
CLIENT_ID = "registry-console"
ROLE_MAP = {"qa-team": "qa_specialist", "privacy-team": "privacy_officer"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def provider() -> Iterator[str]:
    """A real OpenID provider on a free loopback port, in a process of its own (its
    library's deprecation warnings stay there), until the block ends; yields its issuer."""
    with provider_at(free_port()) as issuer:
        yield issuer


@contextmanager
def provider_at(port: int) -> Iterator[str]:
    """The provider on ``port``; each start makes a new signing key, as a provider that
    rotates its keys would have."""
    command = [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1"]
    server = subprocess.Popen(
        [*command, "--port", str(port), "--require-nonce", "true"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    issuer = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            with suppress(httpx.TransportError):
                if httpx.get(f"{issuer}/.well-known/openid-configuration").status_code == 200:
                    break
            time.sleep(0.05)
        else:
            raise RuntimeError("the OpenID provider did not start")
        yield issuer
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    with provider() as started:
        yield started


@pytest.fixture
def settings(issuer: str, tmp_path: Path) -> Settings:
    return Settings(
        var_dir=tmp_path,
        oidc_issuer=issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret="not-checked-by-the-mock",
        oidc_role_claim="groups",
        oidc_role_map=ROLE_MAP,
    )


def person(issuer: str, subject: str, **claims: Any) -> None:
    """Tells the provider who ``subject`` is (the mock lets a test choose the claims)."""
    response = httpx.put(f"{issuer}/users/{quote(subject, safe='')}", json=claims)
    assert response.status_code == 204


def authorize(url: str, subject: str) -> dict[str, str]:
    """What the browser brings back after ``subject`` signs in at the provider's page."""
    assert httpx.get(url).status_code == 200
    answer = httpx.post(url, data={"sub": subject})
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(CALLBACK)
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


async def signed_in(sessions: Sessions, settings: Settings, subject: str) -> identities.SignIn:
    url, pending = await oidc.begin(settings, CALLBACK)
    params = authorize(url, subject)
    async with transaction(sessions) as session:
        return await oidc.complete(session, settings, pending, params, CALLBACK)


async def test_the_authorization_request_carries_pkce_state_and_nonce(settings: Settings) -> None:
    url, pending = await oidc.begin(settings, CALLBACK)
    query = {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}
    challenge = base64.urlsafe_b64encode(hashlib.sha256(pending.code_verifier.encode()).digest())
    assert query["code_challenge"] == challenge.decode().rstrip("=")
    assert query["code_challenge_method"] == "S256"
    assert query["state"] == pending.state and query["nonce"] == pending.nonce
    assert query["client_id"] == CLIENT_ID and query["redirect_uri"] == CALLBACK
    assert query["scope"] == "openid profile email" and query["response_type"] == "code"
    assert PendingSignIn.loads(pending.dumps()) == pending


async def test_a_first_sign_in_creates_a_principal_and_the_next_finds_it_again(
    sessions: Sessions, settings: Settings, issuer: str, frozen_clock: clock.FrozenClock
) -> None:
    """R-ACC-2: one personal ID per subject, the same at every sign-in."""
    person(issuer, "ana@example.test", name="Ana Lima", groups=[])
    first = await signed_in(sessions, settings, "ana@example.test")
    assert first.created and first.principal.display_name == "Ana Lima"
    assert service.HANDLE.fullmatch(first.principal.handle)
    assert first.principal.handle.startswith("ana-example.test.")
    frozen_clock.advance(timedelta(hours=3))
    again = await signed_in(sessions, settings, "ana@example.test")
    assert not again.created and again.principal.id == first.principal.id
    async with sessions() as session:
        linked = (await session.scalars(select(ExternalIdentity))).one()
        count = len((await session.scalars(select(Principal))).all())
    assert (linked.issuer, linked.subject) == (issuer, "ana@example.test")
    assert linked.principal_id == first.principal.id and count == 1
    assert linked.first_seen_at == NOW and linked.last_seen_at == NOW + timedelta(hours=3)


async def test_the_same_subject_of_another_issuer_is_another_person(
    sessions: Sessions,
) -> None:
    """R-ACC-2: a subject is an issuer's; another issuer's same subject gets its own ID."""
    async with transaction(sessions) as session:
        here = await identities.sign_in(
            session=session,
            issuer="https://a.example",
            subject="7",
            display_name="A",
            claimed=frozenset(),
        )
        there = await identities.sign_in(
            session=session,
            issuer="https://b.example",
            subject="7",
            display_name="B",
            claimed=frozenset(),
        )
    assert here.principal.id != there.principal.id
    assert here.principal.handle != there.principal.handle


async def test_a_deactivated_principal_is_refused_and_never_given_a_new_id(
    sessions: Sessions, settings: Settings, issuer: str
) -> None:
    """R-ACC-2: the subject stays tied to its deactivated principal; sign-in stays closed."""
    person(issuer, "gone@example.test", name="Gone")
    first = await signed_in(sessions, settings, "gone@example.test")
    async with transaction(sessions) as session:
        await service.deactivate_principal(
            session=session, actor=OFFICER, handle=first.principal.handle
        )
    with pytest.raises(RuleBroken) as refused:
        await signed_in(sessions, settings, "gone@example.test")
    assert refused.value.rule_id == "R-ACC-2"
    async with sessions() as session:
        principals = (await session.scalars(select(Principal))).all()
        linked = (await session.scalars(select(ExternalIdentity))).one()
    assert len(principals) == 1 and linked.principal_id == first.principal.id


async def test_an_answer_for_another_sign_in_is_refused(
    sessions: Sessions, settings: Settings, issuer: str
) -> None:
    """The state ties the answer to the browser that began the sign-in."""
    person(issuer, "eve@example.test", name="Eve")
    url, _ = await oidc.begin(settings, CALLBACK)
    params = authorize(url, "eve@example.test")
    _, victims = await oidc.begin(settings, CALLBACK)
    async with transaction(sessions) as session:
        with pytest.raises(SignInRefused, match="state"):
            await oidc.complete(session, settings, victims, params, CALLBACK)
    await _nobody_signed_in(sessions)


async def test_an_id_token_for_another_nonce_is_refused(
    sessions: Sessions, settings: Settings, issuer: str
) -> None:
    person(issuer, "ana@example.test", name="Ana")
    url, pending = await oidc.begin(settings, CALLBACK)
    params = authorize(url, "ana@example.test")
    replayed = dataclasses.replace(pending, nonce="another-sign-ins-nonce")
    async with transaction(sessions) as session:
        with pytest.raises(SignInRefused, match="nonce"):
            await oidc.complete(session, settings, replayed, params, CALLBACK)
    await _nobody_signed_in(sessions)


async def test_a_sign_in_left_too_long_is_refused(
    sessions: Sessions, settings: Settings, issuer: str, frozen_clock: clock.FrozenClock
) -> None:
    person(issuer, "ana@example.test", name="Ana")
    url, pending = await oidc.begin(settings, CALLBACK)
    params = authorize(url, "ana@example.test")
    frozen_clock.advance(oidc.PENDING_LIFETIME + timedelta(seconds=1))
    async with transaction(sessions) as session:
        with pytest.raises(SignInRefused, match="too long"):
            await oidc.complete(session, settings, pending, params, CALLBACK)


async def test_the_providers_refusal_signs_nobody_in(
    sessions: Sessions, settings: Settings
) -> None:
    _, pending = await oidc.begin(settings, CALLBACK)
    params = {"error": "access_denied", "state": pending.state}
    async with transaction(sessions) as session:
        with pytest.raises(SignInRefused, match="access_denied"):
            await oidc.complete(session, settings, pending, params, CALLBACK)


def test_a_pending_sign_in_that_is_not_one_is_refused() -> None:
    for text in ("", "not base64 at all!", base64.urlsafe_b64encode(b'{"state": 1}').decode()):
        with pytest.raises(SignInRefused):
            PendingSignIn.loads(text)


async def _tokens(settings: Settings, issuer: str, subject: str) -> tuple[dict[str, Any], str]:
    """The provider's real token answer for ``subject``, and the nonce it was asked for."""
    url, pending = await oidc.begin(settings, CALLBACK)
    params = authorize(url, subject)
    async with httpx.AsyncClient() as http:
        token = await http.post(
            f"{issuer}/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": params["code"],
                "redirect_uri": CALLBACK,
                "code_verifier": pending.code_verifier,
            },
            auth=(str(settings.oidc_client_id), "not-checked-by-the-mock"),
        )
    assert token.status_code == 200
    return token.json(), pending.nonce


async def _verify(settings: Settings, issuer: str, token: dict[str, Any], nonce: str) -> Any:
    async with httpx.AsyncClient() as http:
        keys = (await http.get(f"{issuer}/jwks")).json()
    async with oidc._client(settings, CALLBACK) as client:
        provider = await oidc.discover(client, issuer)
    return oidc.verified_claims(
        token, keys=keys, provider=provider, client_id=CLIENT_ID, nonce=nonce
    )


async def test_a_tampered_id_token_is_refused(settings: Settings, issuer: str) -> None:
    person(issuer, "ana@example.test", name="Ana")
    token, nonce = await _tokens(settings, issuer, "ana@example.test")
    assert (await _verify(settings, issuer, token, nonce))["sub"] == "ana@example.test"
    header, payload, signature = token["id_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "admin@example.test"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    tampered = {**token, "id_token": f"{header}.{forged}.{signature}"}
    with pytest.raises(SignInRefused, match="not valid"):
        await _verify(settings, issuer, tampered, nonce)


async def test_an_id_token_of_another_provider_or_client_is_refused(
    settings: Settings, issuer: str
) -> None:
    with provider() as foreign:
        person(foreign, "ana@example.test", name="Ana")
        token, nonce = await _tokens(for_client(settings, foreign), foreign, "ana@example.test")
    # Signed by another issuer's key: this issuer's keys do not verify it.
    with pytest.raises(SignInRefused, match="not valid"):
        await _verify(settings, issuer, token, nonce)
    # This issuer's own token, but issued to another client: not for the registry (aud).
    person(issuer, "ana@example.test", name="Ana")
    other_client = for_client(settings, issuer, client_id="another-app")
    token, nonce = await _tokens(other_client, issuer, "ana@example.test")
    with pytest.raises(SignInRefused, match="not valid"):
        await _verify(settings, issuer, token, nonce)


def for_client(settings: Settings, issuer: str, client_id: str = CLIENT_ID) -> Settings:
    return settings.model_copy(update={"oidc_issuer": issuer, "oidc_client_id": client_id})


async def test_the_claims_cap_the_roles_an_admin_granted_and_grant_none(
    sessions: Sessions, settings: Settings, issuer: str
) -> None:
    """R-ACC-7: the provider's groups never grant a registry role; they only limit, at each
    sign-in, which of the roles another admin granted the person acts with."""
    person(issuer, "qa@example.test", name="Quinn", groups=["qa-team", "privacy-team"])
    first = await signed_in(sessions, settings, "qa@example.test")
    assert first.principal.roles == [] and first.actor.roles == frozenset()
    async with transaction(sessions) as session:
        await service.update_principal(
            session=session,
            actor=OFFICER,
            handle=first.principal.handle,
            changes={"roles": [Role.QA_SPECIALIST, Role.SUPERVISOR]},
        )
    again = await signed_in(sessions, settings, "qa@example.test")
    # Supervisor is granted but not claimed; privacy officer claimed but never granted.
    assert again.actor.roles == {Role.QA_SPECIALIST}
    person(issuer, "qa@example.test", name="Quinn", groups=["sales"])
    dropped = await signed_in(sessions, settings, "qa@example.test")
    assert dropped.actor.roles == frozenset()
    async with sessions() as session:
        principal = await session.get_one(Principal, first.principal.id)
        assert (await identities.actor_of(session=session, principal=principal)).roles == set()
    assert set(principal.roles) == {"qa_specialist", "supervisor"}


async def test_a_role_map_naming_no_registry_role_is_refused(settings: Settings) -> None:
    wrong = settings.model_copy(update={"oidc_role_map": {"qa-team": "superuser"}})
    with pytest.raises(InvalidInput) as refused:
        await oidc.begin(wrong, CALLBACK)
    assert refused.value.field == "oidc_role_map"


async def test_a_principal_signed_in_without_clearance_is_refused_a_recording(
    seeded: Sessions,
    settings: Settings,
    issuer: str,
    ring: KeyRing,
    blobs: LocalBlobStore,
    audit_log: AuditLog,
) -> None:
    """R-ACC-3: signed in through the provider or not, no recording without both dates."""
    recording_id = await a_recording(seeded, ring, blobs, audit_log)
    person(issuer, "qa@example.test", name="Quinn", groups=["qa-team"])
    first = await signed_in(seeded, settings, "qa@example.test")
    async with transaction(seeded) as session:
        await service.update_principal(
            session=session,
            actor=OFFICER,
            handle=first.principal.handle,
            changes={"roles": [Role.QA_SPECIALIST]},
        )
    qa = await signed_in(seeded, settings, "qa@example.test")
    assert qa.actor.roles == {Role.QA_SPECIALIST} and not qa.actor.cleared

    async def listen(actor: service.Actor) -> bytes:
        async with seeded() as session:
            _, audio = await storage.open_for_listening(
                session=session,
                actor=actor,
                ring=ring,
                blobs=blobs,
                recording_id=recording_id,
                purpose="quality-control",
            )
            return b"".join([piece async for piece in audio])

    with pytest.raises(RuleBroken) as refused:
        await listen(qa.actor)
    assert refused.value.rule_id == "R-ACC-3"
    async with transaction(seeded) as session:
        await service.update_principal(
            session=session,
            actor=OFFICER,
            handle=first.principal.handle,
            changes={
                "confidentiality_committed_on": NOW.date() - timedelta(days=2),
                "trained_on": NOW.date() - timedelta(days=1),
            },
        )
    cleared = await signed_in(seeded, settings, "qa@example.test")
    assert await listen(cleared.actor) == b"RIFF audio"


async def a_recording(
    sessions: Sessions, ring: KeyRing, blobs: LocalBlobStore, audit_log: AuditLog
) -> str:
    """The ID of the audio of an inbound call whose caller agreed to be recorded."""
    async with transaction(sessions) as session:
        subjects = [
            await calls.register_subject(
                session=session,
                actor=SYSTEM,
                ring=ring,
                kind=kind,
                identifiers=calls.Identifiers(kind.value, None, f"{kind.value}@example.test"),
                country_code="GB",
            )
            for kind in (SubjectKind.CUSTOMER, SubjectKind.AGENT)
        ]
    customer, agent = subjects
    return await Scene(sessions, customer.id, agent.id, audit_log).recorded(
        ring, blobs, b"RIFF audio"
    )


async def _nobody_signed_in(sessions: Sessions) -> None:
    async with sessions() as session:
        assert (await session.scalars(select(ExternalIdentity))).all() == []
        assert (await session.scalars(select(Principal))).all() == []


async def test_without_an_issuer_sign_in_through_a_provider_is_off(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path)
    assert not settings.oidc_enabled
    with pytest.raises(InvalidInput) as refused:
        await oidc.begin(settings, CALLBACK)
    assert refused.value.field == "oidc_issuer"


def test_an_issuer_needs_the_registrys_client_id(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="oidc_client_id"):
        Settings(var_dir=tmp_path, oidc_issuer="https://id.example")
