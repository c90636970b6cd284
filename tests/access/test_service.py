"""Principals, tokens and the policy table, on both backends."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry import clock
from registry.access import service
from registry.access.models import ApiToken, Principal
from registry.access.policy import POLICY, Action, Role
from registry.access.service import Actor
from registry.db import transaction
from registry.errors import Conflict, Forbidden, InvalidInput, NotFound, RuleBroken, Unauthenticated
from tests.access.policy_spec import PERSONAL, may, roles_that_may
from tests.conftest import NOW, OFFICER

Sessions = async_sessionmaker[AsyncSession]


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("role", list(Role))
def test_the_policy_table_is_walked_for_every_action_and_role(action: Action, role: Role) -> None:
    actor = Actor(handle="someone", roles=frozenset({role}))
    if may(role, action):
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
    """R-ACC-2: a personal id is never given twice."""
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


TODAY = NOW.date()
ADMIN = Actor(handle="admin", roles=frozenset({Role.ADMIN}))


async def make(sessions: Sessions, handle: str = "ana", **fields: object) -> str:
    """Creates a cleared agent (unless told otherwise) and returns a token of it."""
    values: dict[str, object] = {
        "display_name": handle.title(),
        "roles": [Role.AGENT],
        "confidentiality_committed_on": TODAY - timedelta(days=10),
        "trained_on": TODAY - timedelta(days=5),
        **fields,
    }
    async with transaction(sessions) as session:
        await service.create_principal(session=session, actor=OFFICER, handle=handle, **values)
        token, _ = await service.issue_token(
            session=session, actor=OFFICER, handle=handle, label="laptop"
        )
    return token


async def authenticate(sessions: Sessions, token: str) -> Actor:
    async with transaction(sessions) as session:
        return await service.authenticate(session=session, token=token)


# R-ACC-2: personal, unique, never reassigned


async def test_r_acc_2_a_deactivated_id_stays_reserved_and_its_tokens_stop(
    sessions: Sessions,
) -> None:
    token = await make(sessions)
    async with transaction(sessions) as session:
        gone = await service.deactivate_principal(session=session, actor=ADMIN, handle="ana")
    assert gone.deactivated_at == NOW and not gone.active
    with pytest.raises(Unauthenticated):
        await authenticate(sessions, token)
    async with transaction(sessions) as session:
        with pytest.raises(Conflict, match="R-ACC-2"):
            await service.create_principal(
                session=session, actor=ADMIN, handle="ana", display_name="Ana 2", roles=[Role.AGENT]
            )
        with pytest.raises(Conflict, match="R-ACC-2"):
            await service.issue_token(session=session, actor=ADMIN, handle="ana", label="again")
        with pytest.raises(Conflict, match="R-ACC-2"):
            await service.update_principal(
                session=session, actor=ADMIN, handle="ana", changes={"roles": [Role.ADMIN]}
            )
    async with sessions() as session:
        kept = await session.scalar(select(Principal).where(Principal.handle == "ana"))
        revoked = (await session.scalars(select(ApiToken.revoked_at))).all()
    assert kept is not None and kept.display_name == "Ana"
    assert revoked == [NOW]


async def test_r_acc_2_a_personal_id_never_changes(sessions: Sessions) -> None:
    await make(sessions)
    async with transaction(sessions) as session:
        with pytest.raises(RuleBroken, match="R-ACC-2"):
            await service.update_principal(
                session=session, actor=ADMIN, handle="ana", changes={"handle": "bo"}
            )


@pytest.mark.parametrize("handle", ["Ana", "ana bo", "ana\n", "system:cli", "", "a" * 81])
async def test_r_acc_2_ids_are_plain_so_none_passes_for_another(
    sessions: Sessions, handle: str
) -> None:
    """R-ACC-2: ids are plain so none passes for another."""
    async with transaction(sessions) as session:
        with pytest.raises(InvalidInput):
            await service.create_principal(
                session=session, actor=ADMIN, handle=handle, display_name="X", roles=[Role.AGENT]
            )


async def test_a_principal_is_updated_and_its_roles_apply_at_once(sessions: Sessions) -> None:
    token = await make(sessions)
    async with transaction(sessions) as session:
        change = await service.update_principal(
            session=session,
            actor=ADMIN,
            handle="ana",
            changes={"display_name": " Ana B. ", "roles": [Role.QA_SPECIALIST], "trained_on": None},
            reason="married",
        )
    updated = change.principal
    assert (updated.display_name, updated.roles, updated.trained_on) == (
        "Ana B.",
        ["qa_specialist"],
        None,
    )
    actor = await authenticate(sessions, token)
    assert actor.roles == {Role.QA_SPECIALIST} and not actor.cleared


@pytest.mark.parametrize(
    "changes",
    [{"roles": []}, {"display_name": " "}, {"display_name": None}, {"created_at": NOW}],
)
async def test_an_update_that_makes_no_sense_is_refused(
    sessions: Sessions, changes: dict[str, object]
) -> None:
    await make(sessions)
    async with transaction(sessions) as session:
        with pytest.raises(InvalidInput):
            await service.update_principal(
                session=session, actor=ADMIN, handle="ana", changes=changes
            )


# R-ACC-3: committed to confidentiality and trained


@pytest.mark.parametrize(
    ("committed", "trained", "cleared"),
    [
        (TODAY, TODAY, True),
        (None, TODAY, False),
        (TODAY, None, False),
        (TODAY + timedelta(days=1), TODAY, False),
        (TODAY, TODAY + timedelta(days=1), False),
    ],
)
async def test_r_acc_3_an_actor_is_cleared_with_both_dates_on_record(
    sessions: Sessions, committed: date | None, trained: date | None, cleared: bool
) -> None:
    """R-ACC-3: an actor is cleared with both dates on record."""
    token = await make(sessions, confidentiality_committed_on=committed, trained_on=trained)
    assert (await authenticate(sessions, token)).cleared is cleared


@pytest.mark.parametrize("action", sorted(PERSONAL))
def test_r_acc_3_personal_data_is_refused_without_clearance(action: Action) -> None:
    allowed = roles_that_may(action)
    service.authorize(Actor(handle="cleared", roles=allowed), action)
    with pytest.raises(RuleBroken, match="R-ACC-3") as refused:
        service.authorize(Actor(handle="new", roles=allowed, cleared=False), action)
    assert refused.value.rule_id == "R-ACC-3"
    # A refusal all the same: audited as a denial, like one for a missing role.
    assert isinstance(refused.value, Forbidden)


@pytest.mark.parametrize("action", sorted(set(Action) - PERSONAL))
def test_r_acc_3_actions_on_no_personal_data_need_no_clearance(action: Action) -> None:
    """R-ACC-3: actions on no personal data need no clearance."""
    service.authorize(Actor(handle="new", roles=roles_that_may(action), cleared=False), action)


async def test_r_acc_3_principals_are_read_only_by_a_cleared_admin(sessions: Sessions) -> None:
    await make(sessions)
    async with sessions() as session:
        listed = await service.list_principals(session=session, actor=ADMIN)
        assert [p.handle for p in listed] == ["ana"]
        with pytest.raises(RuleBroken, match="R-ACC-3"):
            await service.list_principals(
                session=session, actor=dataclasses.replace(ADMIN, cleared=False)
            )
        with pytest.raises(RuleBroken, match="R-ACC-3"):
            await service.list_tokens(
                session=session, actor=dataclasses.replace(ADMIN, cleared=False)
            )


# Tokens


async def test_a_revoked_token_stops_at_once_and_revoking_again_changes_nothing(
    sessions: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    token = await make(sessions)
    async with sessions() as session:
        (listed,) = await service.list_tokens(session=session, actor=ADMIN, handle="ana")
    async with transaction(sessions) as session:
        revoked = await service.revoke_token(session=session, actor=ADMIN, token_id=listed.id)
    assert revoked.revoked_at == NOW
    with pytest.raises(Unauthenticated):
        await authenticate(sessions, token)
    frozen_clock.advance(timedelta(hours=1))
    async with transaction(sessions) as session:
        again = await service.revoke_token(session=session, actor=ADMIN, token_id=listed.id)
        with pytest.raises(NotFound):
            await service.revoke_token(session=session, actor=ADMIN, token_id=listed.id + 1)
    assert again.revoked_at == NOW


async def test_the_last_use_is_kept_to_the_minute(
    sessions: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    token = await make(sessions)

    async def last_used() -> object:
        async with sessions() as session:
            (listed,) = await service.list_tokens(session=session, actor=ADMIN)
        return listed.last_used_at

    assert await last_used() is None
    await authenticate(sessions, token)
    assert await last_used() == NOW
    frozen_clock.advance(timedelta(seconds=30))
    await authenticate(sessions, token)
    assert await last_used() == NOW
    frozen_clock.advance(timedelta(minutes=1))
    await authenticate(sessions, token)
    assert await last_used() == NOW + timedelta(minutes=1, seconds=30)


async def test_a_token_is_never_shown_again(sessions: Sessions) -> None:
    token = await make(sessions)
    async with sessions() as session:
        listed = await service.list_tokens(session=session, actor=ADMIN)
    shown = {field.name for field in dataclasses.fields(service.TokenInfo)}
    assert "token_hash" not in shown
    values = [str(getattr(info, name)) for info in listed for name in shown]
    assert not [v for v in values if token in v or service.hash_token(token) in v]


async def test_tokens_are_each_for_one_principal(sessions: Sessions) -> None:
    first, second = await make(sessions, "ana"), await make(sessions, "bo")
    assert first != second
    assert (await authenticate(sessions, first)).handle == "ana"
    assert (await authenticate(sessions, second)).handle == "bo"
    async with sessions() as session:
        listed = await service.list_tokens(session=session, actor=ADMIN, handle="bo")
        with pytest.raises(NotFound):
            await service.list_tokens(session=session, actor=ADMIN, handle="nobody")
    assert [t.handle for t in listed] == ["bo"]


@pytest.mark.parametrize(
    ("label", "lifetime"),
    [(" ", timedelta(days=1)), ("x", timedelta(0)), ("x", timedelta(days=366))],
)
async def test_a_token_has_a_label_and_a_bounded_life(
    sessions: Sessions, label: str, lifetime: timedelta
) -> None:
    await make(sessions)
    async with transaction(sessions) as session:
        with pytest.raises(InvalidInput):
            await service.issue_token(
                session=session, actor=ADMIN, handle="ana", label=label, lifetime=lifetime
            )


# Separation of duties


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ADMIN])
async def test_only_admin_manages_and_reads_principals_and_tokens(
    sessions: Sessions, role: Role
) -> None:
    await make(sessions)
    someone = Actor(handle="someone", roles=frozenset({role}))
    async with transaction(sessions) as session:
        with pytest.raises(Forbidden):
            await service.list_principals(session=session, actor=someone)
        with pytest.raises(Forbidden):
            await service.list_tokens(session=session, actor=someone)
        with pytest.raises(Forbidden):
            await service.update_principal(
                session=session, actor=someone, handle="ana", changes={"roles": [role]}
            )
        with pytest.raises(Forbidden):
            await service.deactivate_principal(session=session, actor=someone, handle="ana")
        with pytest.raises(Forbidden):
            await service.issue_token(session=session, actor=someone, handle="ana", label="x")
        with pytest.raises(Forbidden):
            await service.revoke_token(session=session, actor=someone, token_id=1)


# R-ACC-7: separation of duties. The actors are principals, as a GraphQL caller is.


async def an_admin(sessions: Sessions, handle: str = "root") -> Actor:
    return await authenticate(sessions, await make(sessions, handle, roles=[Role.ADMIN]))


@pytest.mark.parametrize(
    "changes",
    [
        {"roles": [Role.ADMIN, Role.SECURITY_AUDITOR]},
        {"roles": [Role.ADMIN, Role.QA_SPECIALIST]},
        {"confidentiality_committed_on": TODAY},
        {"trained_on": TODAY},
        {"trained_on": None},
        {"display_name": "Root", "roles": [Role.ADMIN]},
    ],
)
async def test_r_acc_7_no_one_changes_their_own_roles_or_clearance_dates(
    sessions: Sessions, changes: dict[str, object]
) -> None:
    root = await an_admin(sessions)
    async with transaction(sessions) as session:
        with pytest.raises(Forbidden, match="R-ACC-7") as refused:
            await service.update_principal(
                session=session, actor=root, handle="root", changes=changes, reason="why not"
            )
    assert isinstance(refused.value, RuleBroken) and refused.value.rule_id == "R-ACC-7"
    async with sessions() as session:
        kept = await session.scalar(select(Principal).where(Principal.handle == "root"))
    assert kept is not None and kept.roles == ["admin"]
    assert kept.trained_on == TODAY - timedelta(days=5)


async def test_r_acc_7_roles_and_clearance_come_from_another_admin_or_the_cli(
    sessions: Sessions,
) -> None:
    """R-ACC-7: roles and clearance come from another admin or the cli."""
    root, other = await an_admin(sessions, "root"), await an_admin(sessions, "other")
    await make(sessions, "ana", confidentiality_committed_on=None, trained_on=None)
    async with transaction(sessions) as session:
        await service.update_principal(
            session=session,
            actor=other,
            handle="root",
            changes={"roles": [Role.ADMIN, Role.SECURITY_AUDITOR]},
        )
        await service.update_principal(
            session=session,
            actor=root,
            handle="ana",
            changes={"confidentiality_committed_on": TODAY, "trained_on": TODAY},
        )
        # The operator's CLI acts as the system, which is no principal.
        await service.update_principal(
            session=session, actor=OFFICER, handle="other", changes={"roles": [Role.ADMIN]}
        )
        # One's own name is one's own to change, with a reason like anyone's.
        await service.update_principal(
            session=session,
            actor=root,
            handle="root",
            changes={"display_name": "Root Admin"},
            reason="full name",
        )
    async with sessions() as session:
        rows = {p.handle: p for p in await service.list_principals(session=session, actor=ADMIN)}
    assert rows["root"].roles == ["admin", "security_auditor"]
    assert rows["root"].display_name == "Root Admin"
    assert (rows["ana"].confidentiality_committed_on, rows["ana"].trained_on) == (TODAY, TODAY)


async def test_r_acc_7_a_token_acting_as_another_person_comes_only_from_the_cli(
    sessions: Sessions,
) -> None:
    root = await an_admin(sessions)
    await make(sessions, "ana", roles=[Role.QA_SPECIALIST])
    await make(sessions, "feed", roles=[Role.INTEGRATION])
    async with transaction(sessions) as session:
        with pytest.raises(Forbidden, match="R-ACC-7"):
            await service.issue_token(session=session, actor=root, handle="ana", label="mine now")
    async with sessions() as session:
        tokens = await service.list_tokens(session=session, actor=ADMIN, handle="ana")
    assert len(tokens) == 1  # the one ``make`` issued through the CLI's path
    async with transaction(sessions) as session:
        own, _ = await service.issue_token(session=session, actor=root, handle="root", label="2")
        feed, _ = await service.issue_token(session=session, actor=root, handle="feed", label="x")
        cli, _ = await service.issue_token(session=session, actor=OFFICER, handle="ana", label="y")
    assert [(await authenticate(sessions, t)).handle for t in (own, feed, cli)] == [
        "root",
        "feed",
        "ana",
    ]


@pytest.mark.parametrize(
    ("handle", "roles"),
    [
        ("feed", [Role.INTEGRATION, Role.QA_SPECIALIST]),
        ("feed", [Role.QA_SPECIALIST]),
        ("ana", [Role.INTEGRATION]),
    ],
)
async def test_r_acc_7_an_integration_never_becomes_a_person_nor_a_person_an_integration(
    sessions: Sessions, handle: str, roles: list[Role]
) -> None:
    # Otherwise a token issued for an integration would come to act as a person.
    await make(sessions, "ana", roles=[Role.AGENT])
    await make(sessions, "feed", roles=[Role.INTEGRATION])
    root = await an_admin(sessions)
    async with transaction(sessions) as session:
        with pytest.raises(RuleBroken, match="R-ACC-7"):
            await service.update_principal(
                session=session, actor=root, handle=handle, changes={"roles": roles}
            )
        with pytest.raises(RuleBroken, match="R-ACC-7"):
            await service.create_principal(
                session=session,
                actor=root,
                handle="feed-2",
                display_name="Feed 2",
                roles=[Role.INTEGRATION, Role.SUPERVISOR],
            )


# R-ACC-2: a personal ID is never re-pointed at someone else


@pytest.mark.parametrize("reason", [None, "", "  "])
async def test_r_acc_2_a_new_name_needs_a_reason(sessions: Sessions, reason: str | None) -> None:
    await make(sessions)
    async with transaction(sessions) as session:
        with pytest.raises(RuleBroken, match="R-ACC-2") as refused:
            await service.update_principal(
                session=session,
                actor=ADMIN,
                handle="ana",
                changes={"display_name": "Bo", "roles": [Role.QA_SPECIALIST]},
                reason=reason,
            )
    assert refused.value.field == "reason"
    async with sessions() as session:
        kept = await session.scalar(select(Principal).where(Principal.handle == "ana"))
    assert kept is not None and (kept.display_name, kept.roles) == ("Ana", ["agent"])


async def test_r_acc_2_a_change_keeps_what_was_before_and_after_and_why(
    sessions: Sessions,
) -> None:
    """R-ACC-2: a change keeps what was before and after and why."""
    await make(sessions)
    async with transaction(sessions) as session:
        change = await service.update_principal(
            session=session,
            actor=ADMIN,
            handle="ana",
            changes={
                "display_name": "Ana Bo",
                "roles": [Role.AGENT, Role.SUPERVISOR],
                "trained_on": TODAY,
                # Unchanged: not in what changed.
                "confidentiality_committed_on": TODAY - timedelta(days=10),
            },
            reason=" took her partner's name ",
        )
    assert change.audit_detail() == {
        "before": {
            "display_name": "Ana",
            "roles": ["agent"],
            "trained_on": (TODAY - timedelta(days=5)).isoformat(),
        },
        "after": {
            "display_name": "Ana Bo",
            "roles": ["agent", "supervisor"],
            "trained_on": TODAY.isoformat(),
        },
        "reason": "took her partner's name",
    }
    async with transaction(sessions) as session:
        # The same name again is no new name: no reason needed, nothing changed.
        again = await service.update_principal(
            session=session, actor=ADMIN, handle="ana", changes={"display_name": "Ana Bo"}
        )
    assert again.audit_detail() == {"before": {}, "after": {}, "reason": None}
