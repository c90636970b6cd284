"""The schema as SDL, as committed in schema.graphql."""

from __future__ import annotations

from registry.graphql.schema import build_schema

HEADER = (
    "# Generated from the code by `registry export-schema`: do not edit.\n"
    "# A test fails when this file and the code differ.\n\n"
)


def schema_sdl() -> str:
    # Introspection and suggestions change answers, not the schema: either build prints the same.
    return HEADER + build_schema(development=False).as_str() + "\n"
