"""The audit log's page: the security auditor's alone, with the chain's verification."""

from __future__ import annotations

from registry.access.policy import Role
from registry.audit.models import Outcome
from registry.audit.service import AuditLog
from tests.access.test_policy_walk import handle_of
from tests.audit.test_service import as_attacker
from tests.console.conftest import Browser
from tests.recordings.test_http import events


async def test_r_acc_6_the_security_auditor_reads_the_log_and_its_reading_is_audited(
    browser: Browser, audit_log: AuditLog
) -> None:
    """R-ACC-6: only the security team reads the log; each reading is itself logged."""
    await browser.sign_in(Role.SECURITY_AUDITOR)

    page = await browser.client.get("/console/security?action=console.sign_in")

    assert page.status_code == 200
    assert "Intact: 1 events checked" in page.text
    assert handle_of(Role.SECURITY_AUDITOR) in page.text.split("<h2>Events</h2>")[1]
    (read,) = await events(audit_log, action="auditEvents")
    assert (read.principal, read.outcome, read.detail) == (
        handle_of(Role.SECURITY_AUDITOR),
        Outcome.ALLOWED,
        {"events": 1},
    )


async def test_r_acc_6_a_broken_chain_is_named_on_the_page(
    browser: Browser, audit_log: AuditLog
) -> None:
    """R-ACC-6: an altered event is named where the auditor looks."""
    await browser.sign_in(Role.SECURITY_AUDITOR)
    await as_attacker(audit_log, "UPDATE audit_event SET principal = 'someone-else' WHERE seq = 1")

    page = await browser.client.get("/console/security")

    assert "Broken at event 1: event 1 was altered" in page.text


async def test_no_other_role_sees_the_log_or_its_link(browser: Browser) -> None:
    for role in (Role.PRIVACY_OFFICER, Role.ADMIN):
        await browser.sign_in(role)

        home = await browser.client.get("/console/")
        refused = await browser.client.get("/console/security")

        assert "/console/security" not in home.text
        assert refused.status_code == 403
        assert "console.sign_in" not in refused.text
