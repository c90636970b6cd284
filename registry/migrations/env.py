"""Alembic environment of the record's database."""

from registry.migrate import run_env
from registry.models import Base

run_env(Base.metadata)
