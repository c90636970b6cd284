"""Signing in to the console through the identity provider, over HTTP on both backends:
the real flow against a real OpenID provider on loopback (``oidc-provider-mock``), the
principal it makes (R-ACC-2), the roles its claims cap on every page (R-ACC-7), refusals
audited (R-ACC-6)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.access import service as access
from registry.access.models import ConsoleSession, ExternalIdentity, Principal
from registry.access.policy import Role
from registry.audit.models import Outcome
from registry.audit.service import AuditLog
from registry.db import transaction
from tests.access.test_oidc import CLIENT_ID, ROLE_MAP, person, provider
from tests.conftest import NOW, OFFICER, AppFactory, client_of
from tests.console.conftest import csrf_of
from tests.recordings.test_http import events

Sessions = async_sessionmaker[AsyncSession]
CALLBACK = "http://registry.test/console/sign-in/oidc/callback"


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    with provider() as started:
        yield started


@pytest_asyncio.fixture
async def console(make_app: AppFactory, issuer: str) -> AsyncIterator[httpx.AsyncClient]:
    app = make_app(
        oidc_issuer=issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret="not-checked-by-the-mock",
        oidc_role_map=ROLE_MAP,
    )
    async with client_of(app) as client:
        yield client


async def begin(console: httpx.AsyncClient, issuer: str) -> str:
    """Presses "Sign in with" on the sign-in page: the provider's address it is sent to."""
    form = await console.get("/console/sign-in")
    assert f"Sign in with {urlsplit(issuer).netloc}" in form.text
    sent = await console.post("/console/sign-in/oidc", data={"csrf_token": csrf_of(form)})
    assert sent.status_code == 303, sent.text
    return sent.headers["location"]


def at_provider(url: str, subject: str) -> str:
    """``subject`` signs in on the provider's page: where the browser is sent back to."""
    answer = httpx.post(url, data={"sub": subject})
    assert answer.status_code == 302
    location: str = answer.headers["location"]
    assert location.startswith(CALLBACK)
    return location


async def sign_in(console: httpx.AsyncClient, issuer: str, subject: str) -> httpx.Response:
    back = at_provider(await begin(console, issuer), subject)
    return await console.get(back)


async def principal_of(sessions: Sessions, subject: str) -> Principal:
    async with sessions() as session:
        identity = (
            await session.scalars(
                select(ExternalIdentity).where(ExternalIdentity.subject == subject)
            )
        ).one()
        return await session.get_one(Principal, identity.principal_id)


async def test_r_acc_2_a_first_sign_in_creates_the_principal_and_opens_a_session(
    console: httpx.AsyncClient, issuer: str, sessions: Sessions, audit_log: AuditLog
) -> None:
    """R-ACC-2: the subject becomes a principal of its own; the sign-in is audited."""
    person(issuer, "ana@example.test", name="Ana Lima", groups=[])

    url = await begin(console, issuer)
    pending = console.cookies.get("registry_console_oidc")
    signed_in = await console.get(at_provider(url, "ana@example.test"))

    assert pending
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/console/"
    assert "registry_console_oidc" not in console.cookies
    principal = await principal_of(sessions, "ana@example.test")
    assert principal.display_name == "Ana Lima" and principal.roles == []
    home = await console.get("/console/")
    assert home.status_code == 200 and principal.handle in home.text
    async with sessions() as session:
        (opened,) = (await session.scalars(select(ConsoleSession))).all()
    assert (opened.principal_id, opened.method) == (principal.id, "oidc")
    (event,) = await events(audit_log, action="console.sign_in")
    assert (event.principal, event.outcome) == (principal.handle, Outcome.ALLOWED)
    assert event.detail == {"method": "oidc", "created": True, "roles": []}


async def test_the_pending_sign_in_cookie_is_httponly_lax_and_only_for_the_callback(
    console: httpx.AsyncClient, issuer: str
) -> None:
    form = await console.get("/console/sign-in")
    assert f"form-action 'self' {issuer}" in form.headers["content-security-policy"]

    sent = await console.post("/console/sign-in/oidc", data={"csrf_token": csrf_of(form)})

    (cookie,) = [
        value.lower()
        for value in sent.headers.get_list("set-cookie")
        if value.startswith("registry_console_oidc=")
    ]
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "path=/console/sign-in/oidc" in cookie and "max-age=600" in cookie
    # On loopback the browser keeps no Secure cookie from plain HTTP.
    assert "secure" not in cookie


async def test_r_acc_7_the_claims_cap_what_the_pages_show(
    console: httpx.AsyncClient, issuer: str, seeded: Sessions
) -> None:
    """R-ACC-7: a person granted the privacy officer's role in the registry, whose provider
    claims no group, sees none of what that role would; claimed, the role applies."""
    person(issuer, "pat@example.test", name="Pat", groups=[])
    await sign_in(console, issuer, "pat@example.test")
    handle = (await principal_of(seeded, "pat@example.test")).handle
    async with transaction(seeded) as session:
        await access.update_principal(
            session=session,
            actor=OFFICER,
            handle=handle,
            changes={
                "roles": [Role.PRIVACY_OFFICER],
                "confidentiality_committed_on": NOW.date() - timedelta(days=2),
                "trained_on": NOW.date() - timedelta(days=1),
            },
        )

    home = await console.get("/console/")
    entities = await console.get("/console/entities")
    imports = await console.get("/console/imports")

    assert home.status_code == 200 and "Entities" not in home.text
    assert entities.status_code == 403 and "Talkdesk" not in entities.text
    assert imports.status_code == 403
    person(issuer, "pat@example.test", name="Pat", groups=["privacy-team"])
    await sign_in(console, issuer, "pat@example.test")
    assert (await console.get("/console/imports")).status_code == 200
    assert "Talkdesk" in (await console.get("/console/entities")).text


async def test_an_answer_with_the_wrong_state_is_refused_and_audited(
    console: httpx.AsyncClient, issuer: str, sessions: Sessions, audit_log: AuditLog
) -> None:
    """An answer not for the sign-in this browser began signs nobody in (R-ACC-6: audited)."""
    person(issuer, "eve@example.test", name="Eve")
    back = at_provider(await begin(console, issuer), "eve@example.test")
    query = dict(httpx.URL(back).params)

    refused = await console.get(
        "/console/sign-in/oidc/callback", params={**query, "state": "another-sign-in"}
    )

    assert refused.status_code == 401 and 'id="oidc-error"' in refused.text
    assert "registry_console" not in console.cookies
    async with sessions() as session:
        assert (await session.scalars(select(Principal))).all() == []
        assert (await session.scalars(select(ConsoleSession))).all() == []
    (event,) = await events(audit_log, action="authenticate")
    assert event.outcome == Outcome.DENIED and "state" in event.detail["reason"]
    assert (await console.get("/console/")).status_code == 303


async def test_r_acc_2_a_deactivated_principal_is_refused(
    console: httpx.AsyncClient, issuer: str, sessions: Sessions, audit_log: AuditLog
) -> None:
    """R-ACC-2: the subject of a deactivated principal signs in no more, as no one new."""
    person(issuer, "gone@example.test", name="Gone")
    await sign_in(console, issuer, "gone@example.test")
    handle = (await principal_of(sessions, "gone@example.test")).handle
    await console.post(
        "/console/sign-out", data={"csrf_token": csrf_of(await console.get("/console/"))}
    )
    async with transaction(sessions) as session:
        await access.deactivate_principal(session=session, actor=OFFICER, handle=handle)

    refused = await sign_in(console, issuer, "gone@example.test")

    assert refused.status_code == 403 and "R-ACC-2" in refused.text
    assert (await console.get("/console/")).status_code == 303
    async with sessions() as session:
        assert len((await session.scalars(select(Principal))).all()) == 1
        opened = (await session.scalars(select(ConsoleSession))).all()
    assert [row.ended_at is not None for row in opened] == [True]
    (event,) = await events(audit_log, action="authenticate")
    assert event.outcome == Outcome.DENIED and event.detail["reason"].startswith("R-ACC-2")


async def test_the_sign_in_button_bears_the_providers_display_name(
    make_app: AppFactory, issuer: str
) -> None:
    """REGISTRY_OIDC_DISPLAY_NAME names the provider on the button; the page's policy still
    lets its form lead to the issuer."""
    app = make_app(
        oidc_issuer=issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret="not-checked-by-the-mock",
        oidc_display_name="Mood Media SSO",
    )
    async with client_of(app) as client:
        form = await client.get("/console/sign-in")

    assert "Sign in with Mood Media SSO</button>" in form.text
    assert urlsplit(issuer).netloc not in form.text.split('<main id="main">')[1]
    assert f"form-action 'self' {issuer}" in form.headers["content-security-policy"]
