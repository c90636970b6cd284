"""GraphiQL, in development only, served from files kept in the package: no asset comes from
a CDN, so it works on a network without the internet (static/graphiql/, see the README)."""

from __future__ import annotations

from pathlib import Path

from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from registry.settings import Environment, Settings

ASSETS = Path(__file__).resolve().parent / "static" / "graphiql"
# Where the page asks for its files (index.html names them under it).
ASSETS_PATH = "/graphiql/static"


def page() -> HTMLResponse:
    return HTMLResponse((ASSETS / "index.html").read_text(encoding="utf-8"))


def routes(settings: Settings) -> list[BaseRoute]:
    if settings.env is not Environment.DEVELOPMENT:
        return []
    return [Mount(ASSETS_PATH, app=StaticFiles(directory=ASSETS), name="graphiql")]
