"""A browser-like client of the console: signs in with a role's token, keeps the cookie."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.access.policy import Role
from tests.conftest import AppFactory, client_of, issue_role_tokens

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


@dataclass
class Browser:
    client: httpx.AsyncClient
    tokens: dict[Role, str]

    async def sign_in(self, role: Role = Role.PRIVACY_OFFICER) -> httpx.Response:
        form = await self.client.get("/console/sign-in")
        return await self.client.post(
            "/console/sign-in",
            data={"csrf_token": csrf_of(form), "token": self.tokens[role]},
        )

    async def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        """A form posted from the page that shows it, with its CSRF token."""
        form = await self.client.get(path)
        assert form.status_code == 200, form.text
        return await self.client.post(path, data={"csrf_token": csrf_of(form), **data})


@pytest_asyncio.fixture
async def browser(
    make_app: AppFactory, seeded: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Browser]:
    tokens = await issue_role_tokens(seeded)
    async with client_of(make_app()) as client:
        yield Browser(client, tokens)
