"""Principals, tokens and the policy table, on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry import clock
from registry.access import service
from registry.access.models import ApiToken
from registry.access.policy import POLICY, Action, Role
from registry.access.service import Actor
from registry.db import transaction
from registry.errors import Conflict, Forbidden, Unauthenticated
from tests.conftest import OFFICER

Sessions = async_sessionmaker[AsyncSession]


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("role", list(Role))
def test_the_policy_table_is_walked_for_every_action_and_role(action: Action, role: Role) -> None:
    actor = Actor(handle="someone", roles=frozenset({role}))
    if role in POLICY[action]:
        service.authorize(actor, action)
    else:
        with pytest.raises(Forbidden):
            service.authorize(actor, action)


def test_every_action_is_in_the_policy_table() -> None:
    assert set(POLICY) == set(Action)


async def test_a_token_is_stored_hashed_and_works_until_it_expires(
    sessions: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    async with transaction(sessions) as session:
        await service.create_principal(
            session=session,
            actor=OFFICER,
            handle="ana",
            display_name="Ana",
            roles=[Role.QA_SPECIALIST],
        )
        token, _ = await service.issue_token(
            session=session, actor=OFFICER, handle="ana", label="laptop", lifetime=timedelta(days=1)
        )
    async with sessions() as session:
        stored = (await session.scalars(select(ApiToken.token_hash))).all()
    assert token not in stored and service.hash_token(token) in stored
    async with transaction(sessions) as session:
        actor = await service.authenticate(session=session, token=token)
    assert actor.handle == "ana" and actor.roles == {Role.QA_SPECIALIST}
    frozen_clock.advance(timedelta(days=1, seconds=1))
    async with transaction(sessions) as session:
        with pytest.raises(Unauthenticated):
            await service.authenticate(session=session, token=token)


async def test_r_acc_2_a_personal_id_is_never_given_twice(sessions: Sessions) -> None:
    async with transaction(sessions) as session:
        await service.create_principal(
            session=session, actor=OFFICER, handle="ana", display_name="Ana", roles=[Role.AGENT]
        )
    async with transaction(sessions) as session:
        with pytest.raises(Conflict):
            await service.create_principal(
                session=session,
                actor=OFFICER,
                handle="ana",
                display_name="Other Ana",
                roles=[Role.AGENT],
            )


async def test_only_admin_manages_principals(sessions: Sessions) -> None:
    officer = Actor(handle="po", roles=frozenset({Role.PRIVACY_OFFICER}))
    async with transaction(sessions) as session:
        with pytest.raises(Forbidden):
            await service.create_principal(
                session=session, actor=officer, handle="x", display_name="X", roles=[Role.AGENT]
            )


async def test_the_bootstrap_admin_is_made_once(sessions: Sessions) -> None:
    async with transaction(sessions) as session:
        token = await service.ensure_bootstrap_admin(session=session)
    async with transaction(sessions) as session:
        assert await service.ensure_bootstrap_admin(session=session) is None
        assert token is not None
        actor = await service.authenticate(session=session, token=token)
    assert actor.roles == {Role.ADMIN, Role.PRIVACY_OFFICER}
