"""A real browser against a real server: one headless Chromium for the session, one seeded server per module.

Chromium is the system's (``/usr/bin/chromium``; ``.ci/run`` installs it), driven by Playwright
for Python. The server is the app of ``llmloop serve`` on a 127.0.0.1 port (uvicorn on a thread,
so the test can seed and inspect the same store), with auth on: an admin, a maintainer and a
viewer exist, each with a password. Screenshots go to ``UI_ARTIFACTS`` (default
``test-artifacts/ui`` at the repository root, ignored by git).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import free_port
from tests.fakes.openai_server import serving
from tests.fakes.server_thread import ServerThread
from tests.integration.ui.seed import PROJECT, Loop, seed_loop

from llmloop.config import reset_settings
from llmloop.security import users
from llmloop.security.schemas import RoleBinding, UserCreate

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct horse battery"
ARTIFACTS = Path(
    os.environ.get("UI_ARTIFACTS", Path(__file__).resolve().parents[3] / "test-artifacts" / "ui")
)


# Module, not session: a sync Playwright keeps its event loop running in the main thread while it is
# open, and every later asyncio.run() in the session would fail.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@dataclass
class Live:
    url: str
    ctx: Any
    loop: Loop

    def shot(self, page: Any, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    from llmloop.context import local_context
    from llmloop.server.app import create_app

    home = tmp_path_factory.mktemp("ui-live")
    mp = pytest.MonkeyPatch()
    mp.setenv("LLMLOOP_HOME", str(home))
    mp.setenv("LLMLOOP_DATABASE_URL", f"sqlite:///{home / 'llmloop.db'}")
    reset_settings()
    with serving() as good, serving() as flaky:
        ctx = local_context()
        loop = seed_loop(ctx, home, good, flaky)
        for name, project, role in (
            ("ada", "*", "admin"),
            ("max", PROJECT, "maintainer"),
            ("vic", PROJECT, "viewer"),
        ):
            users.create_user(
                ctx, spec=UserCreate(name=name, roles=[RoleBinding(project=project, role=role)])
            )
            users.set_password(ctx, user=name, password=PASSWORD)
        with ServerThread(create_app(ctx), free_port()) as srv:
            yield Live(srv.url, ctx, loop)
    mp.undo()
    reset_settings()


def sign_in(browser: Any, live: Live, user: str) -> Any:
    """A fresh browser context signed in as ``user`` through the login form; console errors fail the test."""
    context = browser.new_context(base_url=live.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(f"/runs?project={PROJECT}")
    assert page.locator("form.login").is_visible(), "an anonymous visit shows the login form"
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_url(f"**/runs?project={PROJECT}")
    page.errors.clear()  # type: ignore[attr-defined]  (the anonymous visit's 401 is logged as one)
    return page
