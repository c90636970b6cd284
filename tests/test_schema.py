"""schema.graphql is generated from the code and must not drift from it."""

from registry.graphql.sdl import schema_sdl
from tests.conftest import ROOT


def test_committed_schema_matches_the_code() -> None:
    committed = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert committed == schema_sdl(), "schema.graphql is stale: run `make schema` and commit it"
