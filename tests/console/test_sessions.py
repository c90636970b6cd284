"""Signing in to the console with a token, the session cookie, CSRF, idle timeout, logout."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from registry import clock
from registry.access import service as access
from registry.access.models import Principal
from registry.access.policy import Role
from registry.audit.models import Outcome
from registry.audit.service import AuditLog
from registry.console.sessions import begin_session
from registry.db import transaction
from tests.access.test_policy_walk import handle_of
from tests.conftest import OFFICER, AppFactory, client_of, issue_role_tokens
from tests.console.conftest import Browser, csrf_of
from tests.recordings.test_http import events


def _cookie_header(response: httpx.Response) -> str:
    (cookie,) = [
        value
        for value in response.headers.get_list("set-cookie")
        if value.startswith("registry_console=")
    ]
    return cookie.lower()


async def test_a_token_signs_in_once_then_the_session_cookie_is_enough(browser: Browser) -> None:
    signed_in = await browser.sign_in()

    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/console/"
    cookie = _cookie_header(signed_in)
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/console" in cookie
    # On loopback the browser keeps no Secure cookie from plain HTTP.
    assert "secure" not in cookie
    home = await browser.client.get("/console/")
    assert home.status_code == 200 and handle_of(Role.PRIVACY_OFFICER) in home.text
    assert browser.tokens[Role.PRIVACY_OFFICER] not in home.text


async def test_the_cookie_is_secure_off_loopback(
    make_app: AppFactory, seeded: async_sessionmaker[AsyncSession]
) -> None:
    tokens = await issue_role_tokens(seeded)
    transport = httpx.ASGITransport(app=make_app(), client=("203.0.113.7", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="https://registry.test") as client:
        browser = Browser(client, tokens)

        signed_in = await browser.sign_in()

    assert signed_in.status_code == 303
    assert "; secure" in _cookie_header(signed_in)


async def test_r_acc_6_a_refused_sign_in_is_audited_and_opens_nothing(
    browser: Browser, audit_log: AuditLog
) -> None:
    """R-ACC-6: a wrong token is refused (401, counted by the throttle) and audited."""
    form = await browser.client.get("/console/sign-in")

    refused = await browser.client.post(
        "/console/sign-in", data={"csrf_token": csrf_of(form), "token": "rgt_not-a-token"}
    )

    assert refused.status_code == 401
    assert "registry_console=" not in refused.headers.get("set-cookie", "")
    assert 'id="token-error"' in refused.text
    (event,) = await events(audit_log, action="authenticate")
    assert (event.principal, event.outcome) == ("anonymous", Outcome.DENIED)
    assert (await browser.client.get("/console/")).status_code == 303


async def test_r_acc_6_sign_in_and_out_are_audited(browser: Browser, audit_log: AuditLog) -> None:
    """R-ACC-6: who opened and closed a console session is in the audit log."""
    await browser.sign_in()
    home = await browser.client.get("/console/")

    await browser.client.post("/console/sign-out", data={"csrf_token": csrf_of(home)})

    (opened,) = await events(audit_log, action="console.sign_in")
    (closed,) = await events(audit_log, action="console.sign_out")
    assert opened.principal == closed.principal == handle_of(Role.PRIVACY_OFFICER)
    assert opened.detail == {"method": "token"}


async def test_a_sign_in_form_from_elsewhere_is_refused(browser: Browser) -> None:
    refused = await browser.client.post(
        "/console/sign-in", data={"token": browser.tokens[Role.PRIVACY_OFFICER]}
    )

    assert refused.status_code == 403
    assert "registry_console=" not in refused.headers.get("set-cookie", "")


async def test_a_deactivated_principal_cannot_sign_in_and_its_session_ends(
    browser: Browser, seeded: async_sessionmaker[AsyncSession]
) -> None:
    await browser.sign_in(Role.QA_SPECIALIST)
    assert (await browser.client.get("/console/entities")).status_code == 200

    async with transaction(seeded) as session:
        await access.deactivate_principal(
            session=session, actor=OFFICER, handle=handle_of(Role.QA_SPECIALIST)
        )

    ended = await browser.client.get("/console/entities")
    assert ended.status_code == 303 and ended.headers["location"] == "/console/sign-in"
    assert (await browser.sign_in(Role.QA_SPECIALIST)).status_code == 401


async def test_an_idle_session_ends(browser: Browser, frozen_clock: clock.FrozenClock) -> None:
    await browser.sign_in()
    frozen_clock.advance(timedelta(minutes=14))
    assert (await browser.client.get("/console/")).status_code == 200

    frozen_clock.advance(timedelta(minutes=15, seconds=1))

    ended = await browser.client.get("/console/")
    assert ended.status_code == 303 and ended.headers["location"] == "/console/sign-in"


async def test_after_sign_out_the_same_cookie_signs_no_one_in(browser: Browser) -> None:
    signed_in = await browser.sign_in()
    token = signed_in.cookies["registry_console"]
    home = await browser.client.get("/console/")

    out = await browser.client.post("/console/sign-out", data={"csrf_token": csrf_of(home)})

    assert out.status_code == 303
    browser.client.cookies.set("registry_console", token, path="/console")
    replayed = await browser.client.get("/console/")
    assert replayed.status_code == 303 and replayed.headers["location"] == "/console/sign-in"


async def test_a_form_without_the_session_csrf_token_changes_nothing(browser: Browser) -> None:
    await browser.sign_in()

    forged = await browser.client.post(
        "/console/entities/talkdesk/edit", data={"legal_name": "Forged Ltd"}
    )
    wrong = await browser.client.post(
        "/console/entities/talkdesk/edit",
        data={"legal_name": "Forged Ltd", "csrf_token": "not-the-secret"},
    )

    assert forged.status_code == wrong.status_code == 403
    entity = await browser.client.get("/console/entities/talkdesk")
    assert "Forged Ltd" not in entity.text
    assert (await browser.client.post("/console/sign-out", data={})).status_code == 403


async def test_pages_carry_the_security_headers(browser: Browser) -> None:
    await browser.sign_in()

    for path in ("/console/sign-in", "/console/", "/console/entities"):
        headers = (await browser.client.get(path)).headers
        assert headers["content-security-policy"] == (
            "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; "
            "base-uri 'none'; form-action 'self'"
        )
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"
    script = await browser.client.get("/console/static/htmx.min.js")
    assert script.status_code == 200 and script.text.startswith("/*! htmx 4.0.1")


async def test_another_sign_in_method_opens_its_session_through_begin_session(
    make_app: AppFactory, seeded: async_sessionmaker[AsyncSession], audit_log: AuditLog
) -> None:
    """The way in that an identity provider's sign-in takes: the principal, then the session."""
    await issue_role_tokens(seeded)
    app = make_app()

    async def provider_callback(request: Request) -> Response:
        async with transaction(seeded) as session:
            principal = await session.scalar(
                select(Principal).where(col(Principal.handle) == handle_of(Role.SUPERVISOR))
            )
        assert principal is not None
        return await begin_session(request, principal, method="oidc")

    app.router.routes.insert(0, Route("/console/provider-callback", provider_callback))
    async with client_of(app) as client:
        signed_in = await client.get("/console/provider-callback")
        home = await client.get("/console/")

    assert signed_in.status_code == 303 and home.status_code == 200
    assert handle_of(Role.SUPERVISOR) in home.text
    (opened,) = await events(audit_log, action="console.sign_in")
    assert opened.detail == {"method": "oidc"}
