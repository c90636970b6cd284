"""Signing in, with a personal API token or through the company's identity provider, and out.

The token is checked as every bearer token is (``access.service.authenticate``: unknown,
expired, revoked or deactivated is refused), once; the browser then holds only a session
cookie. A refusal answers 401, which the throttle counts as a failed sign-in of the address,
and is audited as a refused bearer token is.

Through the provider (``access.oidc``), the sign-in form's button starts the flow: the
sign-in under way is kept in a short-lived cookie until the provider sends the browser back
to the callback, which checks the answer, finds or creates the principal and opens the
session with them, in one transaction that commits only once the audit log took it. Its
refusals are answered and audited as a wrong token's.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from registry.access import oidc
from registry.access import service as access
from registry.access.sessions import OIDC, end_session, principal_of
from registry.audit.service import AuditUnavailable, sign_in_refused
from registry.console import csrf
from registry.console.headers import CSP, content_security_policy
from registry.console.pages import PREFIX, Console
from registry.console.sessions import begin_session, console_of, set_cookie
from registry.console.visits import Visit, page, sign_in_again
from registry.errors import DomainError, Forbidden, RuleBroken, Unauthenticated

METHOD = "token"
OIDC_PATH = "/sign-in/oidc"
CALLBACK_PATH = f"{OIDC_PATH}/callback"
# Holds the sign-in under way (state, nonce, PKCE verifier) until the provider answers.
PENDING_COOKIE = "registry_console_oidc"


def _form(
    request: Request,
    console: Console,
    *,
    error: str | None,
    status: int,
    error_at: str = METHOD,
) -> Response:
    """The sign-in page, with a new CSRF secret; ``error`` shown at the way it concerns."""
    secret = csrf.new_sign_in_secret()
    issuer = console.settings.oidc_issuer
    response = console.render(
        request,
        "sign_in.html",
        csrf=secret,
        error=error,
        error_at=error_at,
        provider=(console.settings.oidc_display_name or urlsplit(issuer).netloc)
        if issuer
        else None,
        status=status,
    )
    set_cookie(request, response, csrf.SIGN_IN_COOKIE, secret)
    if issuer:
        parts = urlsplit(issuer)
        response.headers[CSP] = content_security_policy(f"{parts.scheme}://{parts.netloc}")
    return response


async def sign_in_form(request: Request) -> Response:
    return _form(request, console_of(request), error=None, status=200)


async def _form_is_ours(request: Request) -> bool:
    form = await request.form()
    expected = request.cookies.get(csrf.SIGN_IN_COOKIE, "")
    return bool(expected) and csrf.matches(form.get(csrf.FIELD), expected)


async def _refused(
    request: Request, console: Console, error: DomainError, *, method: str
) -> Response:
    """A sign-in refused: audited as a wrong token is, the form shown again with why."""
    # A rule's refusal (a deactivated principal's subject, R-ACC-2) names its rule.
    reason = f"{error.rule_id}: {error.message}" if isinstance(error, RuleBroken) else error.message
    try:
        await console.audit_log.append_within(
            [sign_in_refused(reason)], console.settings.request_timeout_seconds
        )
    except AuditUnavailable:
        return _form(
            request, console, error="The audit log is unavailable.", status=503, error_at=method
        )
    # 401 for who could not be proved (the throttle counts it); 403 for who the rules refuse.
    status = 403 if isinstance(error, Forbidden | RuleBroken) else 401
    message = f"Not signed in: {reason}."
    return _form(request, console, error=message, status=status, error_at=method)


async def sign_in(request: Request) -> Response:
    console = console_of(request)
    if not await _form_is_ours(request):
        return _form(request, console, error="The form had expired: sign in again.", status=403)
    token = (await request.form()).get("token")
    async with console.sessions() as session:
        try:
            actor = await access.authenticate(
                session=session, token=token.strip() if isinstance(token, str) else ""
            )
            principal = await principal_of(session, actor)
            await session.commit()
        except Unauthenticated as error:
            await session.rollback()
            return await _refused(request, console, error, method=METHOD)
    try:
        response = await begin_session(request, principal, method=METHOD)
    except AuditUnavailable:
        return _form(request, console, error="The audit log is unavailable.", status=503)
    response.delete_cookie(csrf.SIGN_IN_COOKIE, path=PREFIX)
    return response


def _callback_uri(request: Request) -> str:
    # Where the provider sends the browser back: the same in the request and the exchange,
    # and registered with the provider as the registry client's redirect URI.
    return f"{request.url.scheme}://{request.url.netloc}{PREFIX}{CALLBACK_PATH}"


async def oidc_sign_in(request: Request) -> Response:
    """The sign-in form's "Sign in with" button: off to the provider, the sign-in kept."""
    console = console_of(request)
    if not await _form_is_ours(request):
        message = "The form had expired: sign in again."
        return _form(request, console, error=message, status=403, error_at=OIDC)
    try:
        url, pending = await oidc.begin(console.settings, _callback_uri(request))
    except DomainError as error:
        # Off, wrongly configured or unreachable: nobody was sent away, nothing was kept.
        message = f"Not signed in: {error.message}."
        return _form(request, console, error=message, status=503, error_at=OIDC)
    response = RedirectResponse(url, status_code=303)
    # SameSite=Lax, not Strict: the provider sends the browser back with a top-level GET
    # from its own site, which a Strict cookie would not come with. Lax still keeps it from
    # any cross-site POST, and only the callback's path receives it.
    set_cookie(
        request,
        response,
        PENDING_COOKIE,
        pending.dumps(),
        path=PREFIX + OIDC_PATH,
        samesite="lax",
        max_age=int(oidc.PENDING_LIFETIME.total_seconds()),
    )
    response.delete_cookie(csrf.SIGN_IN_COOKIE, path=PREFIX)
    return response


async def oidc_callback(request: Request) -> Response:
    """The provider's answer: the person signed in, or refused and audited; either way the
    sign-in under way is over."""
    console = console_of(request)
    async with console.sessions() as session:
        try:
            pending = oidc.PendingSignIn.loads(request.cookies.get(PENDING_COOKIE, ""))
            signed = await oidc.complete(
                session,
                console.settings,
                pending,
                dict(request.query_params),
                _callback_uri(request),
            )
            response = await begin_session(
                request, signed.principal, method=OIDC, detail=signed.audit_detail(), db=session
            )
        except DomainError as error:
            await session.rollback()
            response = await _refused(request, console, error, method=OIDC)
        except AuditUnavailable:
            await session.rollback()
            message = "The audit log is unavailable."
            response = _form(request, console, error=message, status=503, error_at=OIDC)
    response.delete_cookie(PENDING_COOKIE, path=PREFIX + OIDC_PATH)
    return response


@page
async def home(visit: Visit) -> Response:
    return visit.render("home.html")


@page
async def sign_out(visit: Visit) -> Response:
    await end_session(session=visit.db, session_id=visit.open.id)
    visit.audit("console.sign_out")
    return sign_in_again(visit.request)


def routes() -> list[Route]:
    return [
        Route("/", home, methods=["GET"]),
        Route("/sign-in", sign_in_form, methods=["GET"]),
        Route("/sign-in", sign_in, methods=["POST"]),
        Route(OIDC_PATH, oidc_sign_in, methods=["POST"]),
        Route(CALLBACK_PATH, oidc_callback, methods=["GET"]),
        Route("/sign-out", sign_out, methods=["POST"]),
    ]
