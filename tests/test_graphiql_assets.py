"""GraphiQL, in development, loads every asset from the registry itself: nothing from a CDN,
so it works on a network without the internet; outside development it is not served."""

from __future__ import annotations

from html.parser import HTMLParser

from tests.conftest import AppFactory, client_of

ASSETS = "/graphiql/static/"


class References(HTMLParser):
    """The addresses a page loads: scripts, style sheets, images, icons."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src", "iframe": "src"}.get(tag)
        self.urls += [value for name, value in attrs if name == wanted and value]


async def test_graphiql_loads_every_asset_from_the_registry(make_app: AppFactory) -> None:
    async with client_of(make_app(), base_url="http://127.0.0.1:8000") as client:
        page = await client.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200 and "graphiql" in page.text.lower()
        assert "http://" not in page.text and "https://" not in page.text
        parser = References()
        parser.feed(page.text)
        assert len(parser.urls) >= 5
        for url in parser.urls:
            assert url.startswith(ASSETS), url
            asset = await client.get(url)
            assert asset.status_code == 200 and asset.content, url
        scripts = {url.rsplit("/", 1)[1] for url in parser.urls if url.endswith(".js")}
        assert {"react.production.min.js", "react-dom.production.min.js", "graphiql.min.js"} <= (
            scripts
        )


async def test_graphiql_and_its_assets_are_not_served_outside_development(
    make_app: AppFactory,
) -> None:
    async with client_of(make_app(env="production")) as client:
        page = await client.get("/graphql", headers={"accept": "text/html"})
        assert "graphiql" not in page.text.lower()
        assert (await client.get(f"{ASSETS}graphiql.min.js")).status_code == 404
