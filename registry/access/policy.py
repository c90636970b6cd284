"""The policy table: every action the registry offers, and the roles that may do it."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    PRIVACY_OFFICER = "privacy_officer"
    QA_SPECIALIST = "qa_specialist"
    SUPERVISOR = "supervisor"
    AGENT = "agent"
    MANAGER = "manager"
    IT_OPERATOR = "it_operator"
    SECURITY_AUDITOR = "security_auditor"
    INTEGRATION = "integration"
    ADMIN = "admin"


class Action(StrEnum):
    INVENTORY_READ = "inventory.read"
    INVENTORY_WRITE = "inventory.write"
    TRANSFERS_READ = "transfers.read"
    TRANSFERS_WRITE = "transfers.write"
    HISTORY_READ = "history.read"
    PRINCIPALS_MANAGE = "principals.manage"
    AUDIT_READ = "audit.read"


EVERY_ROLE = frozenset(Role)

# The record of processing names companies, not people: every authenticated role reads it.
POLICY: dict[Action, frozenset[Role]] = {
    Action.INVENTORY_READ: EVERY_ROLE,
    Action.TRANSFERS_READ: EVERY_ROLE,
    Action.HISTORY_READ: frozenset({Role.PRIVACY_OFFICER, Role.INTEGRATION, Role.ADMIN}),
    Action.INVENTORY_WRITE: frozenset({Role.PRIVACY_OFFICER}),
    Action.TRANSFERS_WRITE: frozenset({Role.PRIVACY_OFFICER}),
    Action.PRINCIPALS_MANAGE: frozenset({Role.ADMIN}),
    # The security team reads the log; nobody else does, not even admin (R-ACC-6).
    Action.AUDIT_READ: frozenset({Role.SECURITY_AUDITOR}),
}


def allowed_roles(action: Action) -> frozenset[Role]:
    return POLICY[action]
