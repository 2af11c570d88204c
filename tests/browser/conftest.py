"""Browser tests: headless Chromium (Debian's ``chromium``) through Playwright, against
pytest-django's ``live_server`` on the PostgreSQL test database, with the integration tests'
real worker subprocesses running the flows.

Chromium that cannot start fails the test (it never skips): these tests are how we know a person
can use the admin.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Playwright's sync API keeps an event loop in this thread; the ORM calls of the tests are still
# synchronous code, which Django must be told.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SCREENSHOTS = Path(os.environ.get("SELINON_TEST_OUTPUT", REPO / "test-output")) / "screenshots"
PASSWORD = "browser-test-password"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Exception as error:
            pytest.fail(f"Chromium did not start ({CHROMIUM}): {error}", pytrace=False)
        yield chromium
        chromium.close()


@pytest.fixture()
def admin_user(transactional_db: None) -> Any:
    from django.contrib.auth.models import User

    return User.objects.create_superuser("browser", "browser@example.com", PASSWORD)


@pytest.fixture()
def page(browser: Any, live_server: Any, admin_user: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A page logged in through the admin's login form; a screenshot is saved if the test fails."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    context.set_default_timeout(20_000)
    tab = context.new_page()
    tab.goto("/admin/login/?next=/admin/")
    tab.fill("#id_username", admin_user.username)
    tab.fill("#id_password", PASSWORD)
    tab.click("input[type=submit]")
    tab.wait_for_selector("#site-name")
    yield tab
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        shot(tab, f"FAILED-{request.node.name}")
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    outcome: Any = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def shot(page: Any, name: str, *, full_page: bool = False) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
