"""Debian's Chromium, driven by Playwright, for the HTML report's tests: load a page, record what it asks
the network for and what it logs, query its SVG, take screenshots under build/screenshots/ for a person to
look at.

The browser is the system's (`/usr/bin/chromium`, installed by .ci/run), never one Playwright downloads. The
flags are those this machine needs: no sandbox as root, and none of Chromium's background connections
(the network is closed; they would only log errors).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

SCREENSHOTS = Path(__file__).parent.parent / "build" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def needs_chromium() -> pytest.MarkDecorator:
    """Skip where there is no Chromium, except in CI (CI=true), where a missing browser is a failure."""
    return pytest.mark.skipif(
        CHROMIUM is None and os.environ.get("CI") != "true",
        reason="needs Debian's chromium package (.ci/run installs it)",
    )


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM is not None, "chromium is not installed: .ci/run installs Debian's chromium package"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@dataclass
class Loaded:
    """A page as Chromium loaded it, and what it did while loading."""

    page: Any
    requests: list[str] = field(default_factory=list)  # every URL asked for, the document included
    console: list[str] = field(default_factory=list)  # console errors and warnings, and page errors

    def count(self, selector: str) -> int:
        return int(self.page.locator(selector).count())

    def shoot(self, name: str, selector: str = "body") -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.locator(selector).first.screenshot(path=str(path))
        return path

    def shoot_top(self, name: str, until: str) -> Path:
        """The page from its top to the bottom of the element `until`: an overview picture."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        bottom = self.page.evaluate(
            f"document.querySelector({until!r}).getBoundingClientRect().bottom + window.scrollY"
        )
        width = self.page.viewport_size["width"]
        self.page.screenshot(
            path=str(path), full_page=True, clip={"x": 0, "y": 0, "width": width, "height": bottom}
        )
        return path


def load(chromium: Any, url: str, *, scheme: str = "light", width: int = 1280) -> Loaded:
    page = chromium.new_page(viewport={"width": width, "height": 900}, color_scheme=scheme)
    loaded = Loaded(page)
    page.on("request", lambda request: loaded.requests.append(request.url))
    page.on(
        "console",
        lambda message: (
            loaded.console.append(f"{message.type}: {message.text}")
            if message.type in ("error", "warning")
            else None
        ),
    )
    page.on("pageerror", lambda error: loaded.console.append(f"page error: {error}"))
    page.goto(url, wait_until="load")
    return loaded
