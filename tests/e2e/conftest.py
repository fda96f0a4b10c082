"""A live server on a free loopback port for browser tests (headless Debian Chromium driven by Playwright).

Skipped, with the reason, when Playwright or Chromium is missing (`make system-deps` installs Chromium).
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def e2e_grader(tmp_path_factory):
    from coach.api import default_grader
    from coach.settings import Settings

    return default_grader(Settings(home=tmp_path_factory.mktemp("e2e-grader-home")))


@pytest.fixture
def live_server(tmp_path, e2e_grader) -> Iterator[str]:
    """The app served by uvicorn in a thread; yields its base URL and stops it afterwards."""
    import uvicorn

    from coach.settings import Settings
    from coach.web.app import create_app

    settings = Settings(home=tmp_path / "e2e-home", password_hash_cost="test", packs_dir=None)
    app = create_app(settings, grader=e2e_grader)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False))
    thread = threading.Thread(target=server.run, name="e2e-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    app.state.services.db.dispose()


@pytest.fixture(scope="module")
def chromium():
    """One headless Chromium per test module (starting one costs about a second); each test gets a new
    context from it (`browser_page`), so cookies, storage and cache never carry over between tests.

    Not per session: while Playwright's sync API is open it marks its event loop as running in the main
    thread, so `asyncio.run` in any later test (or in the code it calls) would refuse to start."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get install chromium, or `make system-deps`)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def browser_page(live_server, chromium):
    """A Chromium page in a fresh context that records CSP violations and page errors (window.__csp, page.errors)."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    # Injected by the browser itself (not subject to the page's CSP), before any page script runs.
    context.add_init_script(
        "window.__csp = []; document.addEventListener('securitypolicyviolation',"
        " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.set_default_timeout(60_000)
    yield page
    context.close()
