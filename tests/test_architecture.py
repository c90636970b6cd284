"""The direction of imports: graphql -> service -> models; services know no web framework."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "registry"
WEB = ("strawberry", "starlette", "uvicorn", "httpx")
DOMAINS = (
    "access",
    "audit",
    "authorities",
    "recordings",
    "record",
    "rights",
)
# Modules that serve GraphQL and may import it.
GRAPHQL_LAYER = {"graphql.py", "types.py", "loaders.py", "http.py"}


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def core_modules() -> list[Path]:
    modules = []
    for domain in DOMAINS:
        folder = PACKAGE / domain
        if folder.is_dir():
            modules += [p for p in folder.rglob("*.py") if p.name not in GRAPHQL_LAYER]
    modules += [
        PACKAGE / name for name in ("db.py", "clock.py", "errors.py", "settings.py", "seeding.py")
    ]
    return modules


@pytest.mark.parametrize("module", core_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_core_imports_no_web_framework(module: Path) -> None:
    offending = {name for name in imports_of(module) if name.split(".")[0] in WEB}
    assert not offending, f"{module.name} imports {offending}"


@pytest.mark.parametrize("module", core_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_core_never_imports_the_graphql_layer(module: Path) -> None:
    offending = {
        name
        for name in imports_of(module)
        if name.startswith("registry.graphql")
        or name.rsplit(".", 1)[-1] in {"graphql", "types", "loaders"}
    }
    assert not offending, f"{module.name} imports {offending}"
