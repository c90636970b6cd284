"""The console as one ASGI app, mounted at /console by ``registry.app``."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from registry.console import (
    activities,
    activity_data,
    auth,
    authorities,
    controllers,
    countries,
    decisions,
    documents,
    duties,
    entities,
    imports,
    measures,
    papers,
    parties,
    purposes,
    record,
    rights,
    security,
    taxonomy,
    transfers,
)
from registry.console.headers import SecurityHeaders
from registry.console.pages import HERE, PREFIX, Console


def console_app(console: Console) -> Starlette:
    app = Starlette(
        routes=[
            *auth.routes(),
            *controllers.routes(),
            *entities.routes(),
            *transfers.routes(),
            *activities.routes(),
            *parties.routes(),
            *measures.routes(),
            *activity_data.routes(),
            *purposes.routes(),
            *countries.routes(),
            *decisions.routes(),
            *authorities.routes(),
            *documents.routes(),
            *papers.routes(),
            *taxonomy.routes(),
            *record.routes(),
            *imports.routes(),
            *rights.routes(),
            *duties.routes(),
            *security.routes(),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
        middleware=[Middleware(SecurityHeaders)],
    )
    app.state.console = console
    return app


def mount(console: Console) -> Mount:
    return Mount(PREFIX, console_app(console))
