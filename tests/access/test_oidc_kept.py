"""The identity provider's metadata and keys, kept for a while and read again when they must
be: against the real OpenID provider on loopback (oidc-provider-mock), stopped and started
again on the same address as a provider that rotates its keys would be."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from registry import clock
from registry.access import oidc
from registry.access.oidc import SignInRefused
from registry.settings import Settings
from tests.access.test_oidc import (
    CLIENT_ID,
    ROLE_MAP,
    Sessions,
    free_port,
    person,
    provider_at,
    signed_in,
)


def _settings(issuer: str, folder: Path) -> Settings:
    return Settings(
        var_dir=folder,
        oidc_issuer=issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret="not-checked-by-the-mock",
        oidc_role_map=ROLE_MAP,
    )


def _key_ids(issuer: str) -> set[str]:
    return {key["kid"] for key in httpx.get(f"{issuer}/jwks").json()["keys"]}


async def test_the_issuers_metadata_is_kept_ten_minutes_then_read_again(
    tmp_path: Path, frozen_clock: clock.FrozenClock
) -> None:
    """Sign-ins within ten minutes of the last reading of the metadata do not ask for it
    again (the provider, gone meanwhile, is not missed); after them, they do."""
    port = free_port()
    with provider_at(port) as issuer:
        settings = _settings(issuer, tmp_path)
        await oidc.begin(settings, "http://registry.test/console/sign-in/oidc/callback")

    frozen_clock.advance(oidc.KEPT_FOR - timedelta(seconds=1))
    url, _ = await oidc.begin(settings, "http://registry.test/console/sign-in/oidc/callback")
    frozen_clock.advance(timedelta(seconds=1))
    with pytest.raises(SignInRefused, match="did not answer"):
        await oidc.begin(settings, "http://registry.test/console/sign-in/oidc/callback")

    assert url.startswith(f"{issuer}/oauth2/authorize?")


async def test_keys_the_provider_rotated_are_read_again_at_once(
    sessions: Sessions, tmp_path: Path, frozen_clock: clock.FrozenClock
) -> None:
    """An ID token signed with a key the kept set lacks has the keys read again at once,
    within the ten minutes: the sign-in after the provider's rotation succeeds."""
    del frozen_clock
    port = free_port()
    with provider_at(port) as issuer:
        settings = _settings(issuer, tmp_path)
        person(issuer, "ana@example.test", name="Ana Lima", groups=[])
        first = await signed_in(sessions, settings, "ana@example.test")
        before = _key_ids(issuer)
    with provider_at(port) as again:
        person(again, "ana@example.test", name="Ana Lima", groups=[])
        after = _key_ids(again)
        second = await signed_in(sessions, settings, "ana@example.test")

    assert again == issuer and before.isdisjoint(after)
    assert second.principal.id == first.principal.id and not second.created


def test_a_token_naming_a_key_the_kept_set_lacks_has_the_keys_read_again() -> None:
    """A token whose header names a key the kept set lacks is refused as one whose key is
    missing (``BadSignature``), which has the keys read again, not as a forgery outright."""
    kept = RSAKey.generate_key(2048, parameters={"kid": "kept"})
    rotated = RSAKey.generate_key(2048, parameters={"kid": "rotated"})
    id_token = jwt.encode({"alg": "RS256", "kid": "rotated"}, {"sub": "ana"}, rotated)
    issuer = "http://idp.test"
    provider = oidc.Provider(issuer, f"{issuer}/a", f"{issuer}/t", f"{issuer}/k", ("RS256",))

    with pytest.raises(oidc.BadSignature):
        oidc.verified_claims(
            {"id_token": id_token},
            keys=KeySet([kept]).as_dict(),
            provider=provider,
            client_id=CLIENT_ID,
            nonce="nonce",
        )
