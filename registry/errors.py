"""Domain errors. Services raise them; each door (GraphQL, CLI) turns them into its own form."""

from __future__ import annotations


class DomainError(Exception):
    """An expected failure whose message is safe to show to the caller."""

    code = "DOMAIN_ERROR"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    @property
    def extensions(self) -> dict[str, str]:
        # graphql-core copies an original error's ``extensions`` into the error it reports.
        return error_extensions(self)


class NotFound(DomainError):
    code = "NOT_FOUND"


class Forbidden(DomainError):
    code = "FORBIDDEN"


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"


class InvalidInput(DomainError):
    code = "INVALID_INPUT"


class Conflict(DomainError):
    code = "CONFLICT"


class NotConfigured(Conflict):
    """The request needs a setting the deployment has not given; ``setting`` names it."""

    code = "NOT_CONFIGURED"

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{message}: set {setting}")
        self.setting = setting


class RuleBroken(DomainError):
    """A rule of REQUIREMENTS.md would be broken; ``rule_id`` names it (e.g. ``R-INV-3``)."""

    code = "RULE_BROKEN"

    def __init__(self, rule_id: str, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{rule_id}: {message}", field=field)
        self.rule_id = rule_id


def error_extensions(error: DomainError) -> dict[str, str]:
    """The machine-readable part of an error, for the doors that report it."""
    extensions = {"code": error.code}
    if isinstance(error, RuleBroken):
        extensions["ruleId"] = error.rule_id
    return extensions
