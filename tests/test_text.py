"""The one cleaner of free text: trimmed, bounded, blank refused or kept as missing (R-INV-5),
control characters refused, line breaks only in prose."""

from __future__ import annotations

import pytest

from registry._text import optional_text, stated
from registry.errors import InvalidInput, RuleBroken


def test_text_is_trimmed() -> None:
    assert stated("  Acme Ltd \n", "legal_name") == "Acme Ltd"
    assert optional_text("\t1 Dock Road  ", "registered_office") == "1 Dock Road"


@pytest.mark.parametrize("blank", [None, "", "   ", "\n\t"])
def test_r_inv_5_blank_optional_text_is_stored_as_missing(blank: str | None) -> None:
    """R-INV-5: blank optional text is stored as missing."""
    assert optional_text(blank, "contact") is None


@pytest.mark.parametrize("blank", [None, "", "  \n "])
def test_blank_required_text_is_refused_naming_its_field(blank: str | None) -> None:
    with pytest.raises(InvalidInput) as raised:
        stated(blank, "reason")
    assert raised.value.field == "reason"


def test_blank_text_a_rule_requires_is_refused_as_that_rule() -> None:
    with pytest.raises(RuleBroken) as raised:
        stated(" ", "justification", missing="a hold states its ground", rule="R-RET-2")
    assert raised.value.rule_id == "R-RET-2"
    assert "a hold states its ground" in raised.value.message


def test_text_past_its_limit_is_refused_and_at_it_is_kept() -> None:
    assert stated("x" * 80, "slug", limit=80) == "x" * 80
    with pytest.raises(InvalidInput, match="longer than 80"):
        stated("x" * 81, "slug", limit=80)


@pytest.mark.parametrize("control", ["\x00", "\x07", "\x1b", "\x7f", "\x85"])
def test_control_characters_are_refused_in_prose_and_names(control: str) -> None:
    for one_line in (False, True):
        with pytest.raises(InvalidInput, match="control characters"):
            optional_text(f"a{control}b", "note", one_line=one_line)


@pytest.mark.parametrize("line_break", ["\n", "\r\n", "\u2028", "\u2029"])
def test_a_line_break_stands_in_prose_never_in_a_name(line_break: str) -> None:
    assert optional_text(f"Unit 3{line_break}Wireless Road", "registered_office") is not None
    with pytest.raises(InvalidInput, match="line breaks"):
        stated(f"Acme{line_break}Ltd", "legal_name", one_line=True)


def test_any_script_and_spacing_is_text() -> None:
    for name in ("Mood Media Österreich GmbH", "音乐有限公司", "Acme\u00a0Ltd", "Café \u2013 Bar"):
        assert stated(name, "legal_name", one_line=True) == name
