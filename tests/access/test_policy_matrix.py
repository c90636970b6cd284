"""The policy table against the rules, role by role (R-ACC-1, R-ACC-3, R-ACC-6, R-ACC-7).

The expectations are in ``policy_spec``, written from REQUIREMENTS.md and the README, not
read from the table: widening the table (a role more for an action, an action less among
the personal ones, a door moved to a wider action) fails here.
"""

from __future__ import annotations

import pytest

from registry.access.policy import (
    MUTATIONS,
    PERSONAL,
    PERSONAL_QUERIES,
    POLICY,
    ROUTES,
    Action,
    Role,
)
from tests.access import policy_spec


@pytest.mark.parametrize("role", list(Role))
def test_r_acc_1_each_role_may_do_what_the_rules_give_it_and_nothing_more(role: Role) -> None:
    """R-ACC-1: each role may do what the rules give it and nothing more."""
    in_the_table = {action for action in Action if role in POLICY[action]}
    assert sorted(in_the_table - policy_spec.MAY[role]) == [], "wider than the rules"
    assert sorted(policy_spec.MAY[role] - in_the_table) == [], "narrower than the rules"


def test_r_acc_3_the_actions_that_need_clearance_are_those_that_show_people() -> None:
    # Dropping an action from PERSONAL would open it to principals not cleared.
    """R-ACC-3: the actions that need clearance are those that show people."""
    assert sorted(policy_spec.PERSONAL - PERSONAL) == []
    assert sorted(PERSONAL - policy_spec.PERSONAL) == []


def test_r_acc_1_every_door_opens_the_action_the_rules_give_it() -> None:
    """R-ACC-1: every door opens the action the rules give it."""
    assert {**MUTATIONS, **PERSONAL_QUERIES, **ROUTES} == policy_spec.DOORS


def test_r_acc_6_only_the_security_team_reads_the_audit_log() -> None:
    """R-ACC-6: only the security team reads the audit log."""
    assert policy_spec.roles_that_may(Action.AUDIT_READ) == {Role.SECURITY_AUDITOR}
    assert POLICY[Action.AUDIT_READ] == {Role.SECURITY_AUDITOR}
