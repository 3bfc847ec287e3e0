"""Fixtures of the console's browser test: the MariaDB source and target of the end-to-end tests, and Chromium."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.e2e.conftest import schema, source, target

__all__ = ["browser", "schema", "source", "target"]

CHROMIUM = "/usr/bin/chromium"  # Debian's package (scripts/install-system-deps); never a downloaded build
# Without the background-networking flags Chromium keeps calling out, which a closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
