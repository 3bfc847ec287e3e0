"""The store fixture of the unit tests that need one (tests/unit/stores.py)."""

from __future__ import annotations

from tests.unit.stores import engine

__all__ = ["engine"]
