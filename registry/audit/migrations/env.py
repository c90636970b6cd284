"""Alembic environment of the audit log's database."""

from registry.audit.models import AuditBase
from registry.migrate import run_env

run_env(AuditBase.metadata, version_table="audit_alembic_version")
