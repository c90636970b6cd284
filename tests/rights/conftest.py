"""Fixtures for the rights workflow: the recordings' scene (a customer and an agent)."""

from __future__ import annotations

from tests.recordings.conftest import scene

__all__ = ["scene"]
