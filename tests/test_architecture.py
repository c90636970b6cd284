"""What the import contracts cannot say about themselves: that they cover every module.

The direction of imports is checked by import-linter (`.importlinter`, run by `make lint`):
the core imports no web framework and no web module, the kernel no domain, no package has
cycles, and a domain uses another only through its public modules. A contract names its
modules, though, so a new core module left out of its sources, or a new web module left out
of its forbidden modules, would go unchecked. These tests find such a module.
"""

from __future__ import annotations

import ast
import configparser
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "registry"
CONTRACT = "importlinter:contract:core-knows-no-web"
# Modules that serve the web or start the server, and may import a web framework.
WEB_TOP = {"app", "cli", "graphql", "console", "metrics", "throttle", "_access_log"}
WEB_IN_A_DOMAIN = {"graphql", "types", "loaders", "http"}
# The console's sign-in through an identity provider: it speaks HTTP to the provider.
WEB_MODULES = {"registry.access.oidc"}


def contract(name: str) -> configparser.SectionProxy:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter", encoding="utf-8")
    return config[name]


def expressions(section: configparser.SectionProxy, option: str) -> list[str]:
    return [line.strip() for line in section[option].splitlines() if line.strip()]


def matches(module: str, expression: str) -> bool:
    """Whether ``module`` is ``expression`` (import-linter's wildcards) or inside it."""
    parts = (
        r"[^.]+" if part == "*" else r".+" if part == "**" else re.escape(part)
        for part in expression.split(".")
    )
    return re.fullmatch(r"\.".join(parts) + r"(\..+)?", module) is not None


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_web(module: str) -> bool:
    parts = module.split(".")
    return (
        module in WEB_MODULES
        or (len(parts) > 1 and parts[1] in WEB_TOP)
        or (len(parts) > 2 and parts[-1] in WEB_IN_A_DOMAIN)
    )


def imports_nothing(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return not any(isinstance(node, ast.Import | ast.ImportFrom) for node in ast.walk(tree))


def modules() -> list[str]:
    """Every module of registry but the packages that only hold modules: a domain's package
    cannot be a source of the contract whole (its web modules are inside), and one whose
    ``__init__`` imports nothing imports no web framework either."""
    return sorted(
        module_name(path)
        for path in PACKAGE.rglob("*.py")
        if not (path.name == "__init__.py" and imports_nothing(path))
    )


@pytest.mark.parametrize("module", [m for m in modules() if not is_web(m)])
def test_every_core_module_is_checked_for_web_imports(module: str) -> None:
    sources = expressions(contract(CONTRACT), "source_modules")
    assert any(matches(module, source) for source in sources), (
        f"{module} is not a source of the contract [{CONTRACT}] in .importlinter: add it, "
        "or name it a web module here if it serves the web"
    )


@pytest.mark.parametrize("module", [m for m in modules() if is_web(m)])
def test_every_web_module_is_forbidden_to_the_core(module: str) -> None:
    forbidden = expressions(contract(CONTRACT), "forbidden_modules")
    assert any(matches(module, expression) for expression in forbidden), (
        f"{module} is not among the forbidden modules of [{CONTRACT}] in .importlinter"
    )


def test_the_wildcards_are_read_as_import_linter_reads_them() -> None:
    assert matches("registry.rights.graphql", "registry.*.graphql")
    assert matches("registry.record.inventory.graphql", "registry.record.*.graphql")
    assert not matches("registry.record.inventory.graphql", "registry.*.graphql")
    assert matches("registry.graphql.relay", "registry.graphql")
    assert matches("registry.blobs.s3", "registry.blobs")
    assert not matches("registry.blobsmith", "registry.blobs")
