"""What a browser would send back from a console form as it is shown, to post with changes.

The edit forms send every field, as a browser does: a test that posted only the fields it
changes would clear the others, and would not prove that the form shows the record.
"""

from __future__ import annotations

from html.parser import HTMLParser

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.record.history import service as history
from registry.record.history.models import Change
from tests.conftest import OFFICER
from tests.console.conftest import Browser

Fields = dict[str, str | list[str]]


class _Filled(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str]] = []
        self._in_form = False
        self._select: tuple[str, bool] | None = None
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = {key: value or "" for key, value in attrs}
        if (
            tag == "form"
            and named.get("method") == "post"
            and "sign-out" not in named.get("action", "")
        ):
            self._in_form = True
        if not self._in_form:
            return
        name = named.get("name", "")
        if tag == "input":
            kind = named.get("type", "text")
            if kind == "checkbox":
                if "checked" in named:
                    self.sent.append((name, "on"))
            else:
                self.sent.append((name, named.get("value", "")))
        elif tag == "select":
            self._select = (name, "multiple" in named)
        elif tag == "option" and self._select is not None and "selected" in named:
            self.sent.append((self._select[0], named.get("value", "")))
        elif tag == "textarea":
            self._textarea, self._text = name, ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.sent.append((self._textarea, self._text))
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text += data


def filled(page: str) -> Fields:
    """The edit form's fields as shown: a multi-select's as a list, the others as text."""
    parser = _Filled()
    parser.feed(page)
    fields: Fields = {}
    for name, value in parser.sent:
        if name in fields:
            held = fields[name]
            fields[name] = [*held, value] if isinstance(held, list) else [held, value]
        else:
            fields[name] = value
    return fields


async def submit(browser: Browser, path: str, changes: Fields) -> httpx.Response:
    """The form at ``path`` posted as shown, but for ``changes``."""
    form = await browser.client.get(path)
    assert form.status_code == 200, form.text
    return await browser.client.post(path, data={**filled(form.text), **changes})


def history_section(page: str) -> str:
    """The part of a record page below its "History" heading: the changes it lists."""
    return page.split("<h2>History</h2>")[1]


async def logged(
    sessions: async_sessionmaker[AsyncSession], subject_type: str, slug: str
) -> list[Change]:
    """The changes the history holds of one thing, oldest first, as the service lists them."""
    async with sessions() as session:
        return await history.list_changes(
            session=session, actor=OFFICER, limit=500, subject_type=subject_type, subject_slug=slug
        )
