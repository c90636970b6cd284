"""Sign-in through the company's identity provider: OpenID Connect's authorization code flow
with PKCE (S256), state and nonce, on Authlib.

The console's sign-in routes call two functions: ``begin`` gives the address to send the
browser to and a ``PendingSignIn`` to keep until it comes back; ``complete`` checks what came
back, exchanges the code, verifies the ID token and returns the person as a principal
(``identities.sign_in``: R-ACC-2, the roles the claims cap, R-ACC-7).

The issuer's metadata and keys are kept for a while (``KEPT_FOR``), so that a morning's
sign-ins do not each ask the provider twice; keys are read again at once when an ID token
is signed with a key the kept set lacks (the one its header names, or, naming none, one its
signature holds with), so a provider that rotates its keys is not refused by stale ones.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx2
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import BadSignatureError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from sqlalchemy.ext.asyncio import AsyncSession

from registry import clock
from registry.access._oidc_kept import KeptDocuments
from registry.access.identities import SignIn, sign_in
from registry.access.policy import Role
from registry.errors import InvalidInput, Unauthenticated
from registry.settings import Settings

# Long enough to type a password and answer a second factor; a code the provider issued
# is worth nothing after it anyway.
PENDING_LIFETIME = timedelta(minutes=10)
# Clocks of the registry and the provider may differ by this much.
LEEWAY_SECONDS = 60
TIMEOUT_SECONDS = 10.0
SUBJECT_LIMIT = 255
# How long the issuer's metadata and keys are kept before they are read again.
KEPT_FOR = timedelta(minutes=10)


class SignInRefused(Unauthenticated):
    """The provider's answer does not prove who signed in: nobody is signed in."""


@dataclass(frozen=True)
class PendingSignIn:
    """What a sign-in under way must remember until the browser comes back.

    Kept by the console in an HttpOnly cookie (or its session row) as ``dumps()`` gives it:
    plain, not signed, because each value is checked against something an attacker cannot
    forge: the state against the answer the browser brings back, the nonce against the ID
    token that the provider signs, the verifier against the challenge the provider keeps
    with the code. Changing any of them fails the sign-in; a signature would add nothing.
    The verifier is a secret, so the cookie is HttpOnly and, off loopback, Secure.
    """

    state: str
    nonce: str
    code_verifier: str
    created_at: datetime

    def dumps(self) -> str:
        fields = {
            "state": self.state,
            "nonce": self.nonce,
            "code_verifier": self.code_verifier,
            "created_at": self.created_at.isoformat(),
        }
        return base64.urlsafe_b64encode(json.dumps(fields).encode()).decode()

    @classmethod
    def loads(cls, text: str) -> PendingSignIn:
        try:
            fields = json.loads(base64.urlsafe_b64decode(text.encode()))
            pending = cls(
                state=str(fields["state"]),
                nonce=str(fields["nonce"]),
                code_verifier=str(fields["code_verifier"]),
                created_at=datetime.fromisoformat(fields["created_at"]),
            )
        except (binascii.Error, UnicodeError, ValueError, TypeError, KeyError) as error:
            raise SignInRefused("the sign-in under way is unreadable: start again") from error
        if pending.created_at.tzinfo is None:
            raise SignInRefused("the sign-in under way is unreadable: start again")
        return pending


@dataclass(frozen=True)
class Provider:
    """The issuer's metadata that the flow needs (OpenID Connect Discovery)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    algorithms: tuple[str, ...]


def claimed_roles(claims: Mapping[str, Any], settings: Settings) -> frozenset[Role]:
    """The registry roles that the ID token's role claim stands for, through the mapping of
    the settings; values the mapping does not name stand for none."""
    mapping = role_map(settings)
    values = claims.get(settings.oidc_role_claim)
    given = [values] if isinstance(values, str) else values if isinstance(values, list) else []
    return frozenset(
        mapping[value] for value in given if isinstance(value, str) and value in mapping
    )


def role_map(settings: Settings) -> dict[str, Role]:
    try:
        return {claim: Role(role) for claim, role in settings.oidc_role_map.items()}
    except ValueError as error:
        raise InvalidInput(
            f"REGISTRY_OIDC_ROLE_MAP names no registry role: {error}", field="oidc_role_map"
        ) from None


def _client(settings: Settings, redirect_uri: str) -> AsyncOAuth2Client:
    if settings.oidc_issuer is None or settings.oidc_client_id is None:
        raise InvalidInput("sign-in through an identity provider is off", field="oidc_issuer")
    secret = settings.oidc_client_secret
    return AsyncOAuth2Client(
        client_id=settings.oidc_client_id,
        client_secret=secret.get_secret_value() if secret else None,
        # A public client (no secret) proves itself by PKCE alone.
        token_endpoint_auth_method="client_secret_basic" if secret else "none",
        scope=settings.oidc_scopes,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        timeout=TIMEOUT_SECONDS,
    )


async def _json(client: AsyncOAuth2Client, url: str) -> dict[str, Any]:
    try:
        response = await client.request("GET", url, withhold_token=True)
        response.raise_for_status()
        document = response.json()
    except (httpx2.HTTPError, ValueError) as error:
        raise SignInRefused(f"the identity provider did not answer {url}: {error}") from error
    if not isinstance(document, dict):
        raise SignInRefused(f"the identity provider answered {url} with no JSON object")
    return document


_documents = KeptDocuments(KEPT_FOR)


class BadSignature(SignInRefused):
    """The keys at hand do not hold the ID token's key: perhaps they are out of date."""


async def discover(client: AsyncOAuth2Client, issuer: str) -> Provider:
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    metadata, _ = await _documents.read(url, lambda: _json(client, url))
    # Discovery's own rule: the metadata must name the issuer asked, or it is someone else's.
    if metadata.get("issuer") != issuer:
        raise SignInRefused(f"the metadata found at {issuer} names another issuer")
    try:
        provider = Provider(
            issuer=issuer,
            authorization_endpoint=str(metadata["authorization_endpoint"]),
            token_endpoint=str(metadata["token_endpoint"]),
            jwks_uri=str(metadata["jwks_uri"]),
            algorithms=tuple(metadata.get("id_token_signing_alg_values_supported") or ["RS256"]),
        )
    except KeyError as error:
        raise SignInRefused(f"the issuer's metadata lacks {error}") from None
    _documents.keep(url, metadata)
    return provider


async def _keys(
    client: AsyncOAuth2Client, provider: Provider, *, again: bool = False
) -> tuple[dict[str, Any], bool]:
    """The issuer's keys, and whether they were read just now."""
    url = provider.jwks_uri
    keys, read_now = await _documents.read(url, lambda: _json(client, url), again=again)
    if not isinstance(keys.get("keys"), list):
        raise SignInRefused("the issuer's keys are no JSON Web Key Set")
    _documents.keep(url, keys)
    return keys, read_now


async def token_claims(
    client: AsyncOAuth2Client,
    provider: Provider,
    token: Mapping[str, Any],
    *,
    client_id: str,
    nonce: str,
) -> dict[str, Any]:
    """The ID token's verified claims; if the kept keys lack its key (the one its header
    names, or, naming none, one its signature holds with), they are read again, once."""
    keys, read_now = await _keys(client, provider)
    try:
        return verified_claims(
            token, keys=keys, provider=provider, client_id=client_id, nonce=nonce
        )
    except BadSignature:
        if read_now:
            raise
    keys, _ = await _keys(client, provider, again=True)
    return verified_claims(token, keys=keys, provider=provider, client_id=client_id, nonce=nonce)


async def begin(settings: Settings, redirect_uri: str) -> tuple[str, PendingSignIn]:
    """The provider's address to send the browser to, and what to keep until it returns."""
    role_map(settings)  # a wrong mapping is refused before anyone is sent away
    pending = PendingSignIn(
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        # 43 to 128 characters (RFC 7636): 64 bytes give 86.
        code_verifier=secrets.token_urlsafe(64),
        created_at=clock.now(),
    )
    async with _client(settings, redirect_uri) as client:
        provider = await discover(client, str(settings.oidc_issuer))
        url, _ = client.create_authorization_url(
            provider.authorization_endpoint,
            state=pending.state,
            code_verifier=pending.code_verifier,
            nonce=pending.nonce,
        )
    return str(url), pending


async def complete(
    session: AsyncSession,
    settings: Settings,
    pending: PendingSignIn,
    params: Mapping[str, str],
    redirect_uri: str,
) -> SignIn:
    """The principal of the person the provider vouched for, from the query string the
    browser came back with (``params``); anything unproven is refused, nobody signed in."""
    if "error" in params:
        reason = params.get("error_description") or params["error"]
        raise SignInRefused(f"the identity provider refused the sign-in: {reason}")
    if clock.now() - pending.created_at > PENDING_LIFETIME:
        raise SignInRefused("the sign-in took too long: start again")
    # The state ties the answer to the browser that began: another's answer is refused.
    if not hmac.compare_digest(params.get("state", ""), pending.state):
        raise SignInRefused("the answer is not for the sign-in this browser began (state)")
    code = params.get("code")
    if not code:
        raise SignInRefused("the identity provider's answer has no code")
    async with _client(settings, redirect_uri) as client:
        provider = await discover(client, str(settings.oidc_issuer))
        try:
            token = await client.fetch_token(
                provider.token_endpoint,
                grant_type="authorization_code",
                code=code,
                code_verifier=pending.code_verifier,
            )
        except (AuthlibBaseError, httpx2.HTTPError) as error:
            raise SignInRefused(f"the code was not exchanged: {error}") from error
        claims = await token_claims(
            client, provider, token, client_id=str(settings.oidc_client_id), nonce=pending.nonce
        )
    subject = claims["sub"]
    # OpenID Connect's own bound, and the column's.
    if not isinstance(subject, str) or not 0 < len(subject) <= SUBJECT_LIMIT:
        raise SignInRefused("the ID token's subject is not a string of 1 to 255 characters")
    return await sign_in(
        session=session,
        issuer=provider.issuer,
        subject=subject,
        display_name=_name(claims),
        claimed=claimed_roles(claims, settings),
    )


def verified_claims(
    token: Mapping[str, Any],
    *,
    keys: Mapping[str, Any],
    provider: Provider,
    client_id: str,
    nonce: str,
) -> dict[str, Any]:
    """The ID token's claims, once its signature (the issuer's keys), issuer, audience,
    expiry, nonce and access-token hash are checked."""
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise SignInRefused("the identity provider gave no ID token")
    try:
        decoded = jwt.decode(
            id_token,
            key=KeySet.import_key_set(dict(keys)),  # type: ignore[arg-type]
            registry=JWSRegistry(algorithms=list(provider.algorithms)),
        )
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            {
                "iss": {"essential": True, "value": provider.issuer},
                "aud": {"essential": True, "value": client_id},
                "nonce": {"essential": True, "value": nonce},
            },
            {"nonce": nonce, "client_id": client_id, "access_token": token.get("access_token")},
        )
        # Expiry is judged on the real time, not the registry's clock: it is the provider's
        # clock that set it.
        claims.validate(leeway=LEEWAY_SECONDS)
    except (BadSignatureError, InvalidKeyIdError) as error:
        raise BadSignature(f"the ID token is not valid: {error}") from error
    except (JoseError, AuthlibBaseError, ValueError) as error:
        raise SignInRefused(f"the ID token is not valid: {error}") from error
    return dict(claims)


def _name(claims: Mapping[str, Any]) -> str:
    for claim in ("name", "preferred_username", "email"):
        if isinstance(claims.get(claim), str) and claims[claim].strip():
            return str(claims[claim])
    return str(claims["sub"])
