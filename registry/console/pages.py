"""What every console page shares: the console's dependencies, its templates, its menu."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from registry.access.policy import Action
from registry.access.service import Actor
from registry.audit.service import AuditLog
from registry.blobs import BlobStore
from registry.crypto import KeyRing
from registry.settings import Settings

HERE = Path(__file__).parent
PREFIX = "/console"


@dataclass(frozen=True)
class MenuItem:
    path: str
    label: str
    # The action the page's service asks: the item is shown only to those who may do it.
    action: Action


MENU = (
    MenuItem("/entities", "Entities", Action.INVENTORY_READ),
    MenuItem("/activities", "Activity", Action.INVENTORY_READ),
    MenuItem("/transfers", "Transfers", Action.TRANSFERS_READ),
    MenuItem("/gaps", "Gaps", Action.TRANSFERS_READ),
    MenuItem("/who-processes", "Who processes what", Action.TRANSFERS_READ),
    MenuItem("/exports", "Exports", Action.INVENTORY_READ),
    MenuItem("/imports", "Import", Action.INVENTORY_WRITE),
    MenuItem("/rights", "Rights requests", Action.RIGHTS_READ),
    MenuItem("/deletions-owed", "Deletions owed", Action.DELETIONS_OWED_READ),
    MenuItem("/retention", "Retention", Action.RETENTION_EVIDENCE_READ),
    MenuItem("/security", "Audit log", Action.AUDIT_READ),
)


@dataclass(frozen=True)
class Console:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    audit_log: AuditLog
    # What answering a rights request needs: its answers are sealed and stored as packages.
    ring: KeyRing
    blobs: BlobStore
    templates: Jinja2Templates = field(
        default_factory=lambda: Jinja2Templates(directory=HERE / "templates")
    )

    @property
    def idle(self) -> timedelta:
        return timedelta(minutes=self.settings.console_idle_minutes)

    def render(
        self,
        request: Request,
        template: str,
        *,
        actor: Actor | None = None,
        csrf: str | None = None,
        status: int = 200,
        **context: Any,
    ) -> Response:
        menu = [item for item in MENU if actor is not None and actor.may(item.action)]
        return self.templates.TemplateResponse(
            request,
            template,
            {"prefix": PREFIX, "actor": actor, "menu": menu, "csrf": csrf, **context},
            status_code=status,
        )
