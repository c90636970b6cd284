"""One request to a signed-in console page: its session, its transaction, its audit.

``page`` wraps each handler: no session cookie, or an ended one, sends the browser to sign
in; a POST without the session's CSRF secret is refused before anything is read; what the
role may not do is a 403 page that shows nothing of what was asked. What the handler
audits is written before the answer leaves; if it cannot be, nothing leaves or stays done
(as for GraphQL). The request commits once, at the end. Each request has an ID (the
caller's ``X-Request-ID`` if well formed, else a new one), named by its audit entries and by
every change it records (R-INV-4), and sent back in the same header.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.access.sessions import OpenSession, resume_session
from registry.audit.models import Outcome
from registry.audit.service import AuditUnavailable, Entry
from registry.console import csrf
from registry.console.pages import PREFIX, Console
from registry.console.sessions import COOKIE, console_of
from registry.errors import DomainError, Forbidden, NotFound, Unauthenticated
from registry.graphql.view import REQUEST_ID
from registry.logs import bind_request
from registry.record.history.requests import on_behalf_of


@dataclass
class Visit:
    request: Request
    console: Console
    db: AsyncSession
    open: OpenSession
    request_id: str
    form: FormData | None = None
    trail: list[Entry] = field(default_factory=list)

    @property
    def actor(self) -> Actor:
        return self.open.actor

    def require(self, action: Action) -> None:
        authorize(self.actor, action)

    def audit(
        self,
        action: str,
        *,
        target: str | None = None,
        outcome: Outcome = Outcome.ALLOWED,
        **detail: Any,
    ) -> None:
        self.trail.append(
            Entry(
                principal=self.actor.handle,
                action=action,
                outcome=outcome,
                target=target,
                request_id=self.request_id,
                detail=detail or None,
            )
        )

    def render(self, template: str, *, status: int = 200, **context: Any) -> Response:
        return self.console.render(
            self.request,
            template,
            actor=self.actor,
            csrf=self.open.csrf_secret,
            status=status,
            **context,
        )


Handler = Callable[[Visit], Awaitable[Response]]


def sign_in_again(request: Request) -> Response:
    response: Response
    if request.headers.get("HX-Request") == "true":
        # htmx would follow a redirect itself and put the sign-in page in place of the part
        # it asked for: it is told to send the browser there instead.
        response = Response(headers={"HX-Redirect": f"{PREFIX}/sign-in"})
    else:
        response = RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


def page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        given = request.headers.get("x-request-id", "")
        request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        bind_request(request_id)
        response = await _visit(handler, request, request_id)
        response.headers["X-Request-ID"] = request_id
        return response

    return endpoint


async def _visit(handler: Handler, request: Request, request_id: str) -> Response:
    console = console_of(request)
    token = request.cookies.get(COOKIE)
    if not token:
        return sign_in_again(request)
    async with console.sessions() as db:
        try:
            opened = await resume_session(session=db, token=token, idle=console.idle)
        except Unauthenticated:
            return sign_in_again(request)
        form = await request.form() if request.method == "POST" else None
        visit = Visit(request, console, db, opened, request_id, form)
        if form is not None and not csrf.matches(form.get(csrf.FIELD), opened.csrf_secret):
            await db.commit()
            return visit.render("refused.html", status=403, reason="csrf")
        with on_behalf_of(request_id):
            response = await _answer(handler, visit)
        try:
            await console.audit_log.append_within(
                visit.trail, console.settings.request_timeout_seconds
            )
        except AuditUnavailable:
            await db.rollback()
            return visit.render("refused.html", status=503, reason="audit")
        await db.commit()
    return response


async def _answer(handler: Handler, visit: Visit) -> Response:
    try:
        return await handler(visit)
    except Forbidden as error:
        # The refusal is audited as GraphQL audits one; the page names the rule, not the data.
        await visit.db.rollback()
        visit.trail = [
            Entry(
                principal=visit.actor.handle,
                action=f"console:{visit.request.url.path}",
                outcome=Outcome.DENIED,
                request_id=visit.request_id,
                detail={"reason": error.message},
            )
        ]
        return visit.render("refused.html", status=403, reason="forbidden", message=error.message)
    except NotFound as error:
        await visit.db.rollback()
        return visit.render("refused.html", status=404, reason="missing", message=error.message)
    except DomainError as error:
        # A wrong filter or day in the address: said on the page, nothing read.
        await visit.db.rollback()
        return visit.render("refused.html", status=400, reason="input", message=error.message)
