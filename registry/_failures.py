"""Setup failures told in one line: what failed, and which setting to change.

A command that cannot reach its database, open a file or read its settings fails the same
way whichever command it is, so the line is made here, once, for every command (see
``registry._commands.Guarded``). Anything else is a fault in the code and keeps its
traceback.
"""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import inspect, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from registry.audit.service import AuditUnavailable
from registry.settings import Settings

# What a database that is not there or not answering, a file that cannot be opened, or a
# setting that is not valid raise as a command goes: asyncpg lets a refused or unresolved
# connection through as a bare OSError.
SETUP_ERRORS = (DBAPIError, OSError, TimeoutError, AuditUnavailable, ValidationError)
AUDIT_VERSION_TABLE = "audit_alembic_version"
# Long enough for a server across a network, short enough that a typo does not hang a shell.
PROBE_SECONDS = 10.0


def setup_failure(error: BaseException) -> str | None:
    """The line that tells what ``error`` says of the setup; None if it is not a setup fault."""
    if isinstance(error, ValidationError):
        # A model of the record that fails to validate is a fault in the code, not the setup.
        return _invalid_settings(error) if error.title == Settings.__name__ else None
    try:
        settings = Settings()
    except ValidationError as invalid:
        return _invalid_settings(invalid)
    if isinstance(error, OSError) and error.filename is not None:
        return _file_failure(error, settings)
    if isinstance(error, AuditUnavailable):
        url = settings.resolved_audit_database_url
        why = _probe(url)
        if why is None and not _migrated(url, AUDIT_VERSION_TABLE):
            why = "it has no tables yet: run `registry db upgrade`"
        return (
            f"cannot write the audit log at {masked(url)} (REGISTRY_AUDIT_DATABASE_URL):"
            f" {why or reason(error.__cause__ or error, url)}"
        )
    databases = (
        ("database", settings.resolved_database_url, "REGISTRY_DATABASE_URL", "alembic_version"),
        (
            "audit database",
            settings.resolved_audit_database_url,
            "REGISTRY_AUDIT_DATABASE_URL",
            AUDIT_VERSION_TABLE,
        ),
    )
    # The error does not say which database failed: ask each in turn.
    for what, url, setting, _ in databases:
        failed = _probe(url)
        if failed is not None:
            verb = "open" if url.startswith("sqlite") else "reach"
            return f"cannot {verb} the {what} at {masked(url)} ({setting}): {failed}"
    if not isinstance(error, DBAPIError):
        return None
    # Both answer; a statement failed: a database never migrated has no tables to query.
    for what, url, setting, version_table in databases:
        if not _migrated(url, version_table):
            return (
                f"the {what} at {masked(url)} ({setting}) has no tables yet:"
                " run `registry db upgrade`"
            )
    return None


def masked(url: str) -> str:
    """``url`` with its password replaced by stars."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "a URL that cannot be read"


def reason(error: BaseException, url: str | None = None) -> str:
    """What went wrong at the bottom of ``error``, in a few words, never with a password."""
    root = error
    while (deeper := root.__cause__ or getattr(root, "orig", None)) is not None:
        root = deeper
    if isinstance(root, ConnectionRefusedError):
        text = "connection refused"
    elif isinstance(root, socket.gaierror):
        text = "the host name is not known"
    elif isinstance(root, TimeoutError):
        text = "no answer"
    elif isinstance(root, OSError) and root.strerror:
        text = root.strerror
    else:
        lines = str(root).splitlines()
        text = lines[0] if lines else type(root).__name__
    password = _password(url)
    return text.replace(password, "***") if password else text


def _password(url: str | None) -> str | None:
    if url is None:
        return None
    try:
        return make_url(url).password
    except ArgumentError:
        return None


def _probe(url: str) -> str | None:
    """Why the database at ``url`` cannot be used now; None if it answers."""
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        return str(error)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_file_problem(parsed.database)
    try:
        asyncio.run(_connect(url))
    except Exception as error:
        return reason(error, url)
    return None


async def _connect(url: str, version_table: str | None = None) -> bool:
    """Connects to ``url``; whether ``version_table`` (Alembic's record of the schema) is there."""
    engine = create_async_engine(url)
    try:
        async with asyncio.timeout(PROBE_SECONDS), engine.connect() as connection:
            if version_table is None:
                return True
            return await connection.run_sync(lambda sync: inspect(sync).has_table(version_table))
    finally:
        await engine.dispose()


def _migrated(url: str, version_table: str) -> bool:
    try:
        database = make_url(url).database
        if url.startswith("sqlite") and database and not Path(database).exists():
            return False
        return asyncio.run(_connect(url, version_table))
    except Exception:
        # Whatever stops the look stops the verdict too: the original error is told instead.
        return True


def _sqlite_file_problem(database: str | None) -> str | None:
    # Opening would create the file: its folder is looked at instead, so nothing is made.
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database)
    if not path.parent.is_dir():
        return f"the folder {path.parent} does not exist"
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return f"cannot read and write {path}"
    if not path.exists() and not os.access(path.parent, os.W_OK | os.X_OK):
        return f"cannot create files in {path.parent}"
    return None


def _file_failure(error: OSError, settings: Settings) -> str:
    path = Path(os.fsdecode(error.filename))
    what = error.strerror or type(error).__name__
    setting = _setting_of(path, settings)
    hint = f" ({setting})" if setting is not None else ""
    return f"cannot use {path}{hint}: {what}"


def _setting_of(path: Path, settings: Settings) -> str | None:
    """The setting that chose ``path``, for the line to name it."""
    named = [
        (settings.resolved_keyring_file, "REGISTRY_KEYRING_FILE"),
        (settings.signing_key_file, "REGISTRY_AUDIT_SIGNING_KEY_FILE"),
        (settings.resolved_blob_dir, "REGISTRY_BLOB_DIR"),
        (settings.var_dir, "REGISTRY_VAR_DIR"),
    ]
    for chosen, setting in named:
        if path == chosen or chosen in path.parents:
            return setting
    return None


def _invalid_settings(error: ValidationError) -> str:
    first = error.errors()[0]
    where = "_".join(str(part) for part in first["loc"]).upper()
    setting = f"REGISTRY_{where}" if where else "the REGISTRY_* settings"
    more = error.error_count() - 1
    also = f" (and {more} more)" if more else ""
    return f"the setting {setting} is not valid: {first['msg']}{also}"
