"""Signing in with a personal API token, and out.

The token is checked as every bearer token is (``access.service.authenticate``: unknown,
expired, revoked or deactivated is refused), once; the browser then holds only a session
cookie. A refusal answers 401, which the throttle counts as a failed sign-in of the address,
and is audited as a refused bearer token is.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from registry.access import service as access
from registry.access.sessions import end_session, principal_of
from registry.audit.service import AuditUnavailable, sign_in_refused
from registry.console import csrf
from registry.console.pages import PREFIX, Console
from registry.console.sessions import begin_session, console_of, set_cookie
from registry.console.visits import Visit, page, sign_in_again
from registry.errors import Unauthenticated

METHOD = "token"


def _form(request: Request, console: Console, *, error: str | None, status: int) -> Response:
    secret = csrf.new_sign_in_secret()
    response = console.render(request, "sign_in.html", csrf=secret, error=error, status=status)
    set_cookie(request, response, csrf.SIGN_IN_COOKIE, secret)
    return response


async def sign_in_form(request: Request) -> Response:
    return _form(request, console_of(request), error=None, status=200)


async def sign_in(request: Request) -> Response:
    console = console_of(request)
    form = await request.form()
    expected = request.cookies.get(csrf.SIGN_IN_COOKIE, "")
    if not expected or not csrf.matches(form.get(csrf.FIELD), expected):
        return _form(request, console, error="The form had expired: sign in again.", status=403)
    token = form.get("token")
    async with console.sessions() as session:
        try:
            actor = await access.authenticate(
                session=session, token=token.strip() if isinstance(token, str) else ""
            )
            principal = await principal_of(session, actor)
            await session.commit()
        except Unauthenticated as error:
            await session.rollback()
            try:
                await console.audit_log.append_within(
                    [sign_in_refused(error.message)], console.settings.request_timeout_seconds
                )
            except AuditUnavailable:
                return _form(request, console, error="The audit log is unavailable.", status=503)
            return _form(request, console, error=f"Not signed in: {error.message}.", status=401)
    try:
        response = await begin_session(request, principal, method=METHOD)
    except AuditUnavailable:
        return _form(request, console, error="The audit log is unavailable.", status=503)
    response.delete_cookie(csrf.SIGN_IN_COOKIE, path=PREFIX)
    return response


@page
async def home(visit: Visit) -> Response:
    return visit.render("home.html")


@page
async def sign_out(visit: Visit) -> Response:
    await end_session(session=visit.db, session_id=visit.open.id)
    visit.audit("console.sign_out")
    return sign_in_again()


def routes() -> list[Route]:
    return [
        Route("/", home, methods=["GET"]),
        Route("/sign-in", sign_in_form, methods=["GET"]),
        Route("/sign-in", sign_in, methods=["POST"]),
        Route("/sign-out", sign_out, methods=["POST"]),
    ]
