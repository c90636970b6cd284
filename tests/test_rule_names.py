"""`grep -r R-INV-3 tests/` finds the tests of a rule: every rule of docs/REQUIREMENTS.md is
named by a test, and each test named after a rule (`test_r_inv_3_...`) names it in the
written form too, in its docstring or body."""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
REQUIREMENTS = TESTS.parent / "docs" / "REQUIREMENTS.md"
RULE_TEST = re.compile(r"^test_r_([a-z]+)_(\d+)_")


def test_every_test_named_after_a_rule_names_it_as_the_readme_greps_it() -> None:
    unnamed = []
    for path in sorted(TESTS.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if (match := RULE_TEST.match(node.name)) is None:
                continue
            rule_id = f"R-{match.group(1).upper()}-{match.group(2)}"
            if rule_id not in (ast.get_source_segment(source, node) or ""):
                unnamed.append(f"{path.relative_to(TESTS)}::{node.name} lacks {rule_id}")
    assert unnamed == []


def test_every_rule_of_the_requirements_is_named_by_a_test() -> None:
    rules = set(re.findall(r"\*\*(R-[A-Z]+-\d+)\*\*", REQUIREMENTS.read_text(encoding="utf-8")))
    assert len(rules) > 20
    named = set()
    for path in TESTS.rglob("test_*.py"):
        named |= set(re.findall(r"R-[A-Z]+-\d+", path.read_text(encoding="utf-8")))
    assert sorted(rules - named) == []
