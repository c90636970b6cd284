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
    CALL_REGISTER = "calls.register"
    CONSENT_RECORD = "consent.record"
    REFUSAL_NOTIFY = "consent.notify_refusal"
    CONSENT_WITHDRAW = "consent.withdraw"
    START_AUDIO_DELETE = "recordings.delete_start"
    DELETIONS_OWED_READ = "recordings.deletions_owed"
    SUBJECT_MINOR = "subjects.mark_minor"
    CALLS_READ = "calls.read"
    RECORDING_UPLOAD = "recordings.upload"
    RECORDING_LISTEN = "recordings.listen"
    RECORDING_ERASE = "recordings.erase"
    HOLD_PLACE = "recordings.hold"
    RETENTION_EVIDENCE_READ = "recordings.retention_evidence"
    MONITOR = "calls.monitor"
    RIGHTS_READ = "rights.read"
    RIGHTS_MANAGE = "rights.manage"
    PACKAGE_DOWNLOAD = "rights.package_download"
    AUTHORITY_READ = "authorities.read"
    AUTHORITY_RECORD = "authorities.record"
    AUTHORITY_REVIEW = "authorities.review"


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
    # Call-centre tooling (IT) and agents register calls and what the customer answered.
    Action.CALL_REGISTER: frozenset({Role.AGENT, Role.IT_OPERATOR}),
    Action.CONSENT_RECORD: frozenset({Role.AGENT, Role.IT_OPERATOR}),
    Action.RECORDING_UPLOAD: frozenset({Role.AGENT, Role.IT_OPERATOR}),
    # R-CON-2: the agent tells management and IT; management deletes the start's audio.
    Action.REFUSAL_NOTIFY: frozenset({Role.AGENT}),
    Action.START_AUDIO_DELETE: frozenset({Role.MANAGER}),
    Action.DELETIONS_OWED_READ: frozenset({Role.MANAGER, Role.IT_OPERATOR, Role.PRIVACY_OFFICER}),
    Action.CONSENT_WITHDRAW: frozenset({Role.AGENT, Role.PRIVACY_OFFICER}),
    Action.SUBJECT_MINOR: frozenset({Role.PRIVACY_OFFICER}),
    # R-ACC-1: those who verify and evaluate calls; R-MON-1: QA specialists and supervisors.
    Action.CALLS_READ: frozenset(
        {Role.QA_SPECIALIST, Role.SUPERVISOR, Role.MANAGER, Role.PRIVACY_OFFICER}
    ),
    Action.RECORDING_LISTEN: frozenset({Role.QA_SPECIALIST, Role.SUPERVISOR}),
    Action.MONITOR: frozenset({Role.QA_SPECIALIST, Role.SUPERVISOR}),
    # R-RET-2, R-ERA-1: holds and erasure are the privacy team's.
    Action.HOLD_PLACE: frozenset({Role.PRIVACY_OFFICER}),
    Action.RECORDING_ERASE: frozenset({Role.PRIVACY_OFFICER}),
    # Who holds and erases reads the evidence of it: holds in force, sweeps, tombstones.
    Action.RETENTION_EVIDENCE_READ: frozenset({Role.PRIVACY_OFFICER}),
    # §7: the privacy team runs data-subject requests and hands out their answers.
    Action.RIGHTS_READ: frozenset({Role.PRIVACY_OFFICER}),
    Action.RIGHTS_MANAGE: frozenset({Role.PRIVACY_OFFICER}),
    Action.PACKAGE_DOWNLOAD: frozenset({Role.PRIVACY_OFFICER}),
    # R-ACC-5: requests of authorities are recorded, reviewed and released by the privacy team.
    Action.AUTHORITY_READ: frozenset({Role.PRIVACY_OFFICER}),
    Action.AUTHORITY_RECORD: frozenset({Role.PRIVACY_OFFICER}),
    Action.AUTHORITY_REVIEW: frozenset({Role.PRIVACY_OFFICER}),
}

# Actions that show people's data: only an actor who has committed to confidentiality and
# been trained may do them (R-ACC-3). The audit log names who did what; principals are
# people, with their dates and their tokens' use. Writing principals is not here, so that
# the bootstrap admin, who has no dates on record, can create the first people.
PERSONAL: frozenset[Action] = frozenset(
    {
        Action.AUDIT_READ,
        Action.PRINCIPALS_READ,
        Action.CALLS_READ,
        Action.RECORDING_LISTEN,
        Action.MONITOR,
        Action.RETENTION_EVIDENCE_READ,
        Action.RIGHTS_READ,
        Action.RIGHTS_MANAGE,
        Action.PACKAGE_DOWNLOAD,
        Action.AUTHORITY_READ,
        Action.AUTHORITY_REVIEW,
    }
)

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
    "addDataCategory": Action.INVENTORY_WRITE,
    "addSubjectCategory": Action.INVENTORY_WRITE,
    "detachDataCategory": Action.INVENTORY_WRITE,
    "updateRetention": Action.INVENTORY_WRITE,
    "createActivity": Action.INVENTORY_WRITE,
    "updateActivity": Action.INVENTORY_WRITE,
    "retireActivity": Action.INVENTORY_WRITE,
    "addPurpose": Action.INVENTORY_WRITE,
    "updatePurpose": Action.INVENTORY_WRITE,
    "removePurpose": Action.INVENTORY_WRITE,
    "setLegalBasis": Action.INVENTORY_WRITE,
    "removeLegalBasis": Action.INVENTORY_WRITE,
    "addActivitySubject": Action.INVENTORY_WRITE,
    "removeActivitySubject": Action.INVENTORY_WRITE,
    "setSecurityMeasures": Action.INVENTORY_WRITE,
    "setRecipientCategories": Action.INVENTORY_WRITE,
    "createTransfer": Action.TRANSFERS_WRITE,
    "updateTransfer": Action.TRANSFERS_WRITE,
    "updateAdequacyDecision": Action.TRANSFERS_WRITE,
    "createAdequacyDecision": Action.TRANSFERS_WRITE,
    "addCountry": Action.TRANSFERS_WRITE,
    "updateCountry": Action.TRANSFERS_WRITE,
    "addSupervisoryAuthority": Action.INVENTORY_WRITE,
    "updateSupervisoryAuthority": Action.INVENTORY_WRITE,
    "setControllerAuthority": Action.INVENTORY_WRITE,
    "clearControllerAuthority": Action.INVENTORY_WRITE,
    "addDocument": Action.TRANSFERS_WRITE,
    "updateDocument": Action.TRANSFERS_WRITE,
    "withdrawDocument": Action.TRANSFERS_WRITE,
    "attachDocumentToTransfer": Action.TRANSFERS_WRITE,
    "detachDocumentFromTransfer": Action.TRANSFERS_WRITE,
    "createPrincipal": Action.PRINCIPALS_MANAGE,
    "updatePrincipal": Action.PRINCIPALS_MANAGE,
    "deactivatePrincipal": Action.PRINCIPALS_MANAGE,
    "issueToken": Action.PRINCIPALS_MANAGE,
    "revokeToken": Action.PRINCIPALS_MANAGE,
    "registerSubject": Action.CALL_REGISTER,
    "registerCall": Action.CALL_REGISTER,
    "recordIvrChoice": Action.CONSENT_RECORD,
    "recordAgentAnswer": Action.CONSENT_RECORD,
    "notifyRefusal": Action.REFUSAL_NOTIFY,
    "deleteStartAudio": Action.START_AUDIO_DELETE,
    "withdrawConsent": Action.CONSENT_WITHDRAW,
    "markUnder16": Action.SUBJECT_MINOR,
    "startMonitoring": Action.MONITOR,
    "endMonitoring": Action.MONITOR,
    "placeLegalHold": Action.HOLD_PLACE,
    "releaseLegalHold": Action.HOLD_PLACE,
    "eraseRecording": Action.RECORDING_ERASE,
    "receiveRightsRequest": Action.RIGHTS_MANAGE,
    "requestIdentityProof": Action.RIGHTS_MANAGE,
    "establishIdentity": Action.RIGHTS_MANAGE,
    "registerRightsRequest": Action.RIGHTS_MANAGE,
    "startRightsRequest": Action.RIGHTS_MANAGE,
    "extendRightsRequest": Action.RIGHTS_MANAGE,
    "chargeFee": Action.RIGHTS_MANAGE,
    "refuseRightsRequest": Action.RIGHTS_MANAGE,
    "completeRightsRequest": Action.RIGHTS_MANAGE,
    "recordCompellingGrounds": Action.RIGHTS_MANAGE,
    "liftRestriction": Action.RIGHTS_MANAGE,
    "acknowledgeRecipient": Action.RIGHTS_MANAGE,
    "recordAuthorityRequest": Action.AUTHORITY_RECORD,
    "reviewAuthorityRequest": Action.AUTHORITY_REVIEW,
    "releaseDisclosure": Action.AUTHORITY_REVIEW,
}
PERSONAL_QUERIES: dict[str, Action] = {
    "auditEvents": Action.AUDIT_READ,
    "principals": Action.PRINCIPALS_READ,
    "tokens": Action.PRINCIPALS_READ,
    "call": Action.CALLS_READ,
    "deletionsOwed": Action.DELETIONS_OWED_READ,
    "retentionEvidence": Action.RETENTION_EVIDENCE_READ,
    "rightsRequests": Action.RIGHTS_READ,
    "rightsRequest": Action.RIGHTS_READ,
    "findSubjects": Action.RIGHTS_READ,
    "authorityRequests": Action.AUTHORITY_READ,
    "authorityRequest": Action.AUTHORITY_READ,
}
# HTTP routes besides /graphql (which authenticates every request, its fields checking
# their actions as above) that need a token, each with its action.
ROUTES: dict[str, Action] = {
    "/calls/{call_id}/audio/{segment}": Action.RECORDING_UPLOAD,
    "/recordings/{recording_id}/audio": Action.RECORDING_LISTEN,
    "/packages/{package_id}": Action.PACKAGE_DOWNLOAD,
    # The Art. 30 export: the record as GraphQL and the CLI give it, so read as they read it.
    "/exports/ropa.{fmt}": Action.INVENTORY_READ,
    # The entity list's import writes entities: as every entity write does.
    "/imports/entities": Action.INVENTORY_WRITE,
}
# Routes that answer anyone: whether the process and its database are up, nothing more; and,
# in development only, GraphiQL's own script and style files, which hold no data.
PUBLIC_ROUTES = frozenset({"/healthz", "/readyz", "/graphiql/static"})
# The console's pages (registry/console): a browser signs in once with a token, then holds a
# session; each page calls the services, which check their actions as for GraphQL.
SESSION_ROUTES = frozenset({"/console"})


def allowed_roles(action: Action) -> frozenset[Role]:
    return POLICY[action]


def roles_may(roles: frozenset[Role], action: Action) -> bool:
    """Whether a principal holding ``roles`` may do ``action``: one of them is allowed it."""
    return not roles.isdisjoint(POLICY[action])
