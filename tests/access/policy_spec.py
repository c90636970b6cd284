"""Who may do what, written out by hand from REQUIREMENTS.md and the README (R-ACC-1).

The policy tests take their expectations from here, never from ``registry.access.policy``:
a role added to an action there, an action dropped from the personal ones, or a door moved
to a wider action, makes them fail until this page says the same (and so the rules do).
"""

from __future__ import annotations

from registry.access.policy import Action, Role

# README, "GraphQL at a glance": every authenticated role reads the record of processing,
# which names companies, not people.
READS_THE_RECORD = frozenset({Action.INVENTORY_READ, Action.TRANSFERS_READ})

# Role by role, everything it may do; what is not listed is refused.
MAY: dict[Role, frozenset[Action]] = {
    # §1 and §7: the privacy team edits the record, runs data-subject requests, holds and
    # erases recordings (R-RET-2, R-ERA-1), marks children (R-MIN-1), takes withdrawals,
    # handles authorities' requests (R-ACC-5) and watches the deletions owed (R-CON-2);
    # who holds and erases reads the evidence of retention: holds in force, sweeps and
    # tombstones (R-RET-2, R-ERA-1), from the recordings' tables, not the audit log (R-ACC-6).
    Role.PRIVACY_OFFICER: READS_THE_RECORD
    | {
        Action.INVENTORY_WRITE,
        Action.TRANSFERS_WRITE,
        Action.HISTORY_READ,
        Action.CALLS_READ,
        Action.DELETIONS_OWED_READ,
        Action.CONSENT_WITHDRAW,
        Action.SUBJECT_MINOR,
        Action.HOLD_PLACE,
        Action.RECORDING_ERASE,
        Action.RETENTION_EVIDENCE_READ,
        Action.RIGHTS_READ,
        Action.RIGHTS_MANAGE,
        Action.PACKAGE_DOWNLOAD,
        Action.AUTHORITY_READ,
        Action.AUTHORITY_RECORD,
        Action.AUTHORITY_REVIEW,
    },
    # R-ACC-1, R-MON-1: the authorised users who verify and evaluate calls listen to them
    # and live-monitor them; nothing else.
    Role.QA_SPECIALIST: READS_THE_RECORD
    | {Action.CALLS_READ, Action.RECORDING_LISTEN, Action.MONITOR},
    Role.SUPERVISOR: READS_THE_RECORD
    | {Action.CALLS_READ, Action.RECORDING_LISTEN, Action.MONITOR},
    # R-CON-1..3: the agent registers the call, records the customer's answer, uploads the
    # audio, notifies a refusal and takes a withdrawal; never listens.
    Role.AGENT: READS_THE_RECORD
    | {
        Action.CALL_REGISTER,
        Action.CONSENT_RECORD,
        Action.RECORDING_UPLOAD,
        Action.REFUSAL_NOTIFY,
        Action.CONSENT_WITHDRAW,
    },
    # R-CON-2: management deletes the start of a refused call's audio, and sees what is owed.
    Role.MANAGER: READS_THE_RECORD
    | {Action.CALLS_READ, Action.START_AUDIO_DELETE, Action.DELETIONS_OWED_READ},
    # The call-centre tooling (IVR) registers calls, consent and audio; IT is told of
    # deletions owed (R-CON-2). It hears nothing.
    Role.IT_OPERATOR: READS_THE_RECORD
    | {
        Action.CALL_REGISTER,
        Action.CONSENT_RECORD,
        Action.RECORDING_UPLOAD,
        Action.DELETIONS_OWED_READ,
    },
    # R-ACC-6: the security team reads the audit log and nothing else about people.
    Role.SECURITY_AUDITOR: READS_THE_RECORD | {Action.AUDIT_READ},
    # README, Access: an integration reads the inventory, transfers and changes.
    Role.INTEGRATION: READS_THE_RECORD | {Action.HISTORY_READ},
    # README, Access: admin manages principals and tokens, reads changes, and reads no
    # audit log and no recording (separation of duties, R-ACC-7).
    Role.ADMIN: READS_THE_RECORD
    | {Action.HISTORY_READ, Action.PRINCIPALS_READ, Action.PRINCIPALS_MANAGE},
}


def may(role: Role, action: Action) -> bool:
    return action in MAY[role]


def roles_that_may(action: Action) -> frozenset[Role]:
    return frozenset(role for role in Role if may(role, action))


# R-ACC-3: the actions that show people's data, which only a cleared principal may do.
PERSONAL: frozenset[Action] = frozenset(
    {
        Action.AUDIT_READ,
        Action.PRINCIPALS_READ,
        Action.CALLS_READ,
        Action.RECORDING_LISTEN,
        Action.MONITOR,
        # Holds name who placed them and why; tombstones who erased (R-ACC-3).
        Action.RETENTION_EVIDENCE_READ,
        Action.RIGHTS_READ,
        Action.RIGHTS_MANAGE,
        Action.PACKAGE_DOWNLOAD,
        Action.AUTHORITY_READ,
        Action.AUTHORITY_REVIEW,
    }
)

# Each door and the action it opens: a door moved to a wider action widens the table too.
DOORS: dict[str, Action] = {
    **dict.fromkeys(
        (
            "createEntity",
            "updateEntity",
            "retireEntity",
            "linkSubProcessor",
            "unlinkSubProcessor",
            "addActivityParty",
            "attachDataCategory",
            "addDataCategory",
            "addSubjectCategory",
            "detachDataCategory",
            "updateRetention",
            "createActivity",
            "updateActivity",
            "retireActivity",
            "addPurpose",
            "updatePurpose",
            "removePurpose",
            "setLegalBasis",
            "removeLegalBasis",
            "addActivitySubject",
            "removeActivitySubject",
            "setSecurityMeasures",
            "setRecipientCategories",
            # The supervisory authorities and each controller's are part of its record.
            "addSupervisoryAuthority",
            "updateSupervisoryAuthority",
            "setControllerAuthority",
            "clearControllerAuthority",
        ),
        Action.INVENTORY_WRITE,
    ),
    "createTransfer": Action.TRANSFERS_WRITE,
    "updateTransfer": Action.TRANSFERS_WRITE,
    # Countries and adequacy decisions decide whether a transfer needs a mechanism.
    "updateAdequacyDecision": Action.TRANSFERS_WRITE,
    "createAdequacyDecision": Action.TRANSFERS_WRITE,
    "addCountry": Action.TRANSFERS_WRITE,
    "updateCountry": Action.TRANSFERS_WRITE,
    "addDocument": Action.TRANSFERS_WRITE,
    "updateDocument": Action.TRANSFERS_WRITE,
    "withdrawDocument": Action.TRANSFERS_WRITE,
    "attachDocumentToTransfer": Action.TRANSFERS_WRITE,
    "detachDocumentFromTransfer": Action.TRANSFERS_WRITE,
    **dict.fromkeys(
        (
            "createPrincipal",
            "updatePrincipal",
            "deactivatePrincipal",
            "issueToken",
            "revokeToken",
        ),
        Action.PRINCIPALS_MANAGE,
    ),
    "principals": Action.PRINCIPALS_READ,
    "tokens": Action.PRINCIPALS_READ,
    "auditEvents": Action.AUDIT_READ,
    "registerSubject": Action.CALL_REGISTER,
    "registerCall": Action.CALL_REGISTER,
    "recordIvrChoice": Action.CONSENT_RECORD,
    "recordAgentAnswer": Action.CONSENT_RECORD,
    "notifyRefusal": Action.REFUSAL_NOTIFY,
    "deleteStartAudio": Action.START_AUDIO_DELETE,
    "deletionsOwed": Action.DELETIONS_OWED_READ,
    "retentionEvidence": Action.RETENTION_EVIDENCE_READ,
    "withdrawConsent": Action.CONSENT_WITHDRAW,
    "markUnder16": Action.SUBJECT_MINOR,
    "call": Action.CALLS_READ,
    "startMonitoring": Action.MONITOR,
    "endMonitoring": Action.MONITOR,
    "placeLegalHold": Action.HOLD_PLACE,
    "releaseLegalHold": Action.HOLD_PLACE,
    "eraseRecording": Action.RECORDING_ERASE,
    **dict.fromkeys(
        (
            "receiveRightsRequest",
            "requestIdentityProof",
            "establishIdentity",
            "registerRightsRequest",
            "startRightsRequest",
            "extendRightsRequest",
            "chargeFee",
            "refuseRightsRequest",
            "completeRightsRequest",
            "recordCompellingGrounds",
            "liftRestriction",
            "acknowledgeRecipient",
        ),
        Action.RIGHTS_MANAGE,
    ),
    "rightsRequests": Action.RIGHTS_READ,
    "rightsRequest": Action.RIGHTS_READ,
    "findSubjects": Action.RIGHTS_READ,
    "recordAuthorityRequest": Action.AUTHORITY_RECORD,
    "reviewAuthorityRequest": Action.AUTHORITY_REVIEW,
    "releaseDisclosure": Action.AUTHORITY_REVIEW,
    "authorityRequests": Action.AUTHORITY_READ,
    "authorityRequest": Action.AUTHORITY_READ,
    # The routes beside /graphql.
    "/calls/{call_id}/audio/{segment}": Action.RECORDING_UPLOAD,
    "/recordings/{recording_id}/audio": Action.RECORDING_LISTEN,
    "/packages/{package_id}": Action.PACKAGE_DOWNLOAD,
    "/exports/ropa.{fmt}": Action.INVENTORY_READ,
    "/imports/entities": Action.INVENTORY_WRITE,
}
