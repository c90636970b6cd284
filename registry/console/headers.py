"""Security headers on every console response.

No inline script or style is allowed (the pages load theirs from /console/static), nothing
may frame the console (clickjacking), and forms post only to it, save the sign-in page's,
whose "Sign in with" form is redirected on to the identity provider (a browser holds a
form's redirects to ``form-action`` too), so that page names the provider's origin in its
own policy. Pages are personal and never kept by a cache; static files may be.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "Content-Security-Policy"


def content_security_policy(*form_targets: str) -> str:
    """The console's policy; ``form_targets`` are origins its forms may lead to besides it."""
    targets = " ".join(("'self'", *form_targets))
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; "
        f"base-uri 'none'; form-action {targets}"
    )


CONTENT_SECURITY_POLICY = content_security_policy()
ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.update(ALWAYS)
                # A page that set its own policy (the sign-in page) keeps it.
                headers.setdefault(CSP, CONTENT_SECURITY_POLICY)
                if not headers.get("content-type", "").startswith(("text/css", "text/javascript")):
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, with_headers)
