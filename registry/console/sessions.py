"""A browser's console session: the cookie that carries it, and starting one.

``begin_session`` is the one way in, whatever proved who the principal is (a personal
token here, an identity provider later): it opens the session on the server, writes the
sign-in to the audit log, sets the cookie and sends the browser to the console's home.
"""

from __future__ import annotations

import ipaddress

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


def set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=not on_loopback(request),
    )


async def begin_session(request: Request, principal: Principal, *, method: str) -> Response:
    """Signs ``principal`` in to the console: audited first, then committed and answered."""
    console = console_of(request)
    async with console.sessions() as session:
        token, opened = await start_session(session=session, principal=principal, method=method)
        # Before the session can be used (R-ACC-6): if the log cannot be written, no session.
        entry = Entry(
            principal=opened.actor.handle,
            action="console.sign_in",
            outcome=Outcome.ALLOWED,
            detail={"method": method},
        )
        await console.audit_log.append_within([entry], console.settings.request_timeout_seconds)
        await session.commit()
    response = RedirectResponse(f"{PREFIX}/", status_code=303)
    set_cookie(request, response, COOKIE, token)
    return response
