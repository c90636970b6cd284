"""A browser's console session: the cookie that carries it, and starting one.

``begin_session`` is the one way in, whatever proved who the principal is (a personal
token, the identity provider): it opens the session on the server, writes the sign-in to
the audit log, sets the cookie and sends the browser to the console's home.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from registry.access.models import Principal
from registry.access.sessions import start_session
from registry.audit.models import Outcome
from registry.audit.service import Entry
from registry.console.pages import PREFIX, Console

COOKIE = "registry_console"


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def on_loopback(request: Request) -> bool:
    """Plain HTTP on this machine only: a browser keeps no Secure cookie from it."""
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def set_cookie(
    request: Request,
    response: Response,
    name: str,
    value: str,
    *,
    path: str = PREFIX,
    samesite: Literal["strict", "lax"] = "strict",
    max_age: int | None = None,
) -> None:
    response.set_cookie(
        name,
        value,
        path=path,
        max_age=max_age,
        httponly=True,
        samesite=samesite,
        secure=not on_loopback(request),
    )


async def begin_session(
    request: Request,
    principal: Principal,
    *,
    method: str,
    detail: dict[str, Any] | None = None,
    db: AsyncSession | None = None,
) -> Response:
    """Signs ``principal`` in to the console: audited first, then committed and answered.

    ``db`` is the caller's transaction when proving who signed in wrote too (a first sign-in
    through the identity provider creates its principal): the session opens in it, and
    nothing of either is kept unless the audit log took the sign-in (``detail`` adds to it).
    """
    console = console_of(request)
    async with _within(console, db) as session:
        token, opened = await start_session(session=session, principal=principal, method=method)
        # Before the session can be used (R-ACC-6): if the log cannot be written, no session.
        entry = Entry(
            principal=opened.actor.handle,
            action="console.sign_in",
            outcome=Outcome.ALLOWED,
            detail={"method": method, **(detail or {})},
        )
        await console.audit_log.append_within([entry], console.settings.request_timeout_seconds)
        await session.commit()
    response = RedirectResponse(f"{PREFIX}/", status_code=303)
    set_cookie(request, response, COOKIE, token)
    return response


@asynccontextmanager
async def _within(console: Console, db: AsyncSession | None) -> AsyncIterator[AsyncSession]:
    if db is not None:
        yield db
        return
    async with console.sessions() as session:
        yield session
