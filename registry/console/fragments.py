"""Answers to htmx: the part of a page that a page's own script asked for.

A list's filters ask for its results alone (``HX-Request``), and get them in place of the
whole page; the back button's history restore asks with the same header for the whole
page, to put back as the body, so it gets the page. Without script, always the page.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from registry.console.visits import Visit


def wanted(request: Request) -> bool:
    return (
        request.headers.get("HX-Request") == "true"
        and "HX-History-Restore-Request" not in request.headers
    )


def render(visit: Visit, page: str, part: str, **context: Any) -> Response:
    """``part`` (a template holding the page's changing results) for htmx, else ``page``."""
    response = visit.render(part if wanted(visit.request) else page, **context)
    # The same address answers two ways: a cache must tell them apart.
    response.headers.append("Vary", "HX-Request")
    return response
