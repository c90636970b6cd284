"""A document is validated until it is found valid, then not again; a refused one each time."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry.schema.schema as strawberry_schema

from registry.graphql import validation
from tests.conftest import Serve

READ = "{ entities(first: 2) { nodes { slug } } }"
INTROSPECTION = "{ __schema { queryType { name } } }"
TOO_DEEP = (
    "{ entities { nodes { " + "transfersOut { importer { " * 6 + "slug" + " } }" * 6 + " } } }"
)


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts the documents strawberry validates (the count only: validation still runs)."""
    seen: list[str] = []
    validate = strawberry_schema.validate_document

    def counted(schema: Any, document: Any, rules: Any) -> Any:
        seen.append(document.loc.source.body)
        return validate(schema, document, rules)

    monkeypatch.setattr(strawberry_schema, "validate_document", counted)
    return seen


async def test_a_valid_document_is_validated_once(serve: Serve, validations: list[str]) -> None:
    api = await serve(env="production", response_cache_entries=0)
    first = await api.data(READ)
    assert await api.data(READ) == first and first["entities"]["nodes"]
    assert validations.count(READ) == 1


@pytest.mark.parametrize("query", [INTROSPECTION, TOO_DEEP])
async def test_a_refused_document_is_refused_each_time(
    serve: Serve, validations: list[str], query: str
) -> None:
    api = await serve(env="production", response_cache_entries=0)
    for _ in range(2):
        body = await api.query(query)
        assert body["data"] is None and body["errors"]
    assert validations.count(query) == 2


async def test_what_one_schema_found_valid_another_still_validates(
    serve: Serve, validations: list[str]
) -> None:
    development = await serve(env="development")
    assert (await development.data(INTROSPECTION))["__schema"]["queryType"]["name"] == "Query"
    production = await serve(env="production")
    body = await production.query(INTROSPECTION)
    assert (
        body["data"] is None and "introspection has been disabled" in body["errors"][0]["message"]
    )


async def test_a_long_document_is_validated_each_time(
    serve: Serve, validations: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(validation, "MAX_REMEMBERED_LENGTH", len(READ) - 1)
    api = await serve(env="production", response_cache_entries=0)
    for _ in range(2):
        assert (await api.data(READ))["entities"]["nodes"]
    assert validations.count(READ) == 2
