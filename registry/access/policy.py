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
    PRINCIPALS_READ = "principals.read"
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
    # Admin manages the people who use the registry, and nothing they work on (separation
    # of duties): no recordings, no audit log.
    Action.PRINCIPALS_READ: frozenset({Role.ADMIN}),
    Action.PRINCIPALS_MANAGE: frozenset({Role.ADMIN}),
    # The security team reads the log; nobody else does, not even admin (R-ACC-6).
    Action.AUDIT_READ: frozenset({Role.SECURITY_AUDITOR}),
}

# Actions that show people's data: only an actor who has committed to confidentiality and
# been trained may do them (R-ACC-3). The audit log names who did what; principals are
# people, with their dates and their tokens' use. Writing principals is not here, so that
# the bootstrap admin, who has no dates on record, can create the first people.
PERSONAL: frozenset[Action] = frozenset({Action.AUDIT_READ, Action.PRINCIPALS_READ})

# The doors to each action. Services check the action whatever the door; these maps name
# every door, so that a test can prove none is missing from the table.
MUTATIONS: dict[str, Action] = {
    "createEntity": Action.INVENTORY_WRITE,
    "updateEntity": Action.INVENTORY_WRITE,
    "retireEntity": Action.INVENTORY_WRITE,
    "linkSubProcessor": Action.INVENTORY_WRITE,
    "unlinkSubProcessor": Action.INVENTORY_WRITE,
    "addActivityParty": Action.INVENTORY_WRITE,
    "attachDataCategory": Action.INVENTORY_WRITE,
    "createTransfer": Action.TRANSFERS_WRITE,
    "updateTransfer": Action.TRANSFERS_WRITE,
    "createPrincipal": Action.PRINCIPALS_MANAGE,
    "updatePrincipal": Action.PRINCIPALS_MANAGE,
    "deactivatePrincipal": Action.PRINCIPALS_MANAGE,
    "issueToken": Action.PRINCIPALS_MANAGE,
    "revokeToken": Action.PRINCIPALS_MANAGE,
}
PERSONAL_QUERIES: dict[str, Action] = {
    "auditEvents": Action.AUDIT_READ,
    "principals": Action.PRINCIPALS_READ,
    "tokens": Action.PRINCIPALS_READ,
}
# HTTP routes besides /graphql (which authenticates every request, its fields checking
# their actions as above) that need a token: none yet. Each gets its action here.
ROUTES: dict[str, Action] = {}
# Routes that answer anyone: whether the process and its database are up, nothing more.
PUBLIC_ROUTES = frozenset({"/healthz", "/readyz"})


def allowed_roles(action: Action) -> frozenset[Role]:
    return POLICY[action]
