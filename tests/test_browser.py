"""tokenkit.js and the single-page demo in headless Chromium, across tabs (SPEC sections 6, 7).

The example project runs under gunicorn (two servers of two workers each, on
the services half's PostgreSQL and Redis) with lifetimes of a few seconds, and
Debian's ``chromium`` is driven through Playwright for Python: several tabs of
one browser context are several tabs of one person's browser, sharing
BroadcastChannel, Web Locks and cookies. Nothing is mocked: what the page sees
is what the server answered, and refreshes are counted in gunicorn's access log.

- the "memory" server: refresh token in the page's memory, no sliding renewal
  (``TOKENKIT_SLIDING_THRESHOLD=0``), so every expiry needs a refresh;
- the "cookie" server: ``TOKENKIT_REFRESH_COOKIE=1`` with sliding renewal on.

Without a browser (``/usr/bin/chromium``, or the ``playwright`` package) the
tests are skipped with that reason; with ``TOKENKIT_REQUIRE_SERVICES=1`` (CI)
they fail instead. ``TOKENKIT_UPDATE_SCREENSHOTS=1`` also writes the demo's
screenshot into ``docs/_static/demo/``.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e import (
    HTTP_TIMEOUT,
    REPO_ROOT,
    Server,
    SharedServices,
    manage,
    running_servers,
    shared_services,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = Path(os.environ.get("TOKENKIT_CHROMIUM", "/usr/bin/chromium"))
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
SCREENSHOTS = REPO_ROOT / "docs" / "_static" / "demo"

#: Lifetimes of the servers, in seconds.
MEMORY_ACCESS_LIFETIME = 4
COOKIE_ACCESS_LIFETIME = 5
COOKIE_SLIDING_THRESHOLD = 3

READY = "body[data-ready=true]"
LOGGED_IN = "body[data-state=logged-in]"
LOGGED_OUT = "body[data-state=logged-out]"

_REQUEST_LINE = re.compile(r"^<\d+> (\S+) (\S+) \S+ (\d{3})$")

#: Calls /api/me/ through the client until `duration` ms have passed; resolves
#: with every status the page saw. Stored in window.__run, awaited later, so
#: that the tabs run at the same time.
CALL_LOOP = """(duration) => {
  window.__run = (async () => {
    const end = performance.now() + duration;
    const statuses = [];
    while (performance.now() < end) {
      try {
        statuses.push((await window.tokenkitClient.fetch("/api/me/")).status);
      } catch (error) {
        statuses.push(String(error));
      }
      await new Promise((resolve) => setTimeout(resolve, 40 + Math.random() * 80));
    }
    return statuses;
  })();
}"""


def _no_browser(reason: str) -> None:
    if os.environ.get("TOKENKIT_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}, and TOKENKIT_REQUIRE_SERVICES=1 requires the browser tests")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Headless Chromium, launched from the system's binary (never `playwright install`)."""
    if not CHROMIUM.exists():
        _no_browser(f"no browser at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _no_browser("the playwright package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def services() -> Iterator[SharedServices]:
    with shared_services() as shared:
        yield shared


@pytest.fixture(scope="module")
def servers(
    services: SharedServices, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Server]]:
    env = services.env(TOKENKIT_LEEWAY="0")
    memory = {
        "TOKENKIT_ACCESS_TOKEN_LIFETIME": str(MEMORY_ACCESS_LIFETIME),
        "TOKENKIT_SLIDING_THRESHOLD": "0",
    }
    cookie = {
        "TOKENKIT_ACCESS_TOKEN_LIFETIME": str(COOKIE_ACCESS_LIFETIME),
        "TOKENKIT_SLIDING_THRESHOLD": str(COOKIE_SLIDING_THRESHOLD),
        "TOKENKIT_REFRESH_COOKIE": "1",
    }
    workdir = tmp_path_factory.mktemp("browser")
    with running_servers(env, workdir, count=2, workers=2, per_server=[memory, cookie]) as both:
        yield {"memory": both[0], "cookie": both[1]}


@contextmanager
def browser_context(chromium: Any, server: Server, **options: Any) -> Iterator[Any]:
    """A browser context on ``server`` in which a broken page fails the test.

    An uncaught error in the demo's script, or a static file that does not
    load, stops the page before it marks itself ready: the test would only see
    a wait time out, thirty seconds later, with no clue. Here such an error
    fails the test when the context closes, and a failing test shows what the
    pages' consoles said.
    """
    context = chromium.new_context(base_url=server.base_url, **options)
    broken: list[str] = []
    console: list[str] = []
    context.on("weberror", lambda error: broken.append(f"uncaught: {error.error}"))
    context.on(
        "response",
        lambda response: (
            broken.append(f"{response.status} for {response.url}")
            if "/static/" in response.url and response.status >= 400
            else None
        ),
    )
    context.on(
        "console",
        lambda message: (
            console.append(f"{message.type}: {message.text}")
            if message.type in ("error", "warning")
            else None
        ),
    )
    try:
        yield context
    except Exception as error:
        if broken or console:
            pytest.fail(f"{error}\npage errors: {broken}\nconsole: {console}")
        raise
    finally:
        context.close()
    assert not broken, f"page errors: {broken}\nconsole: {console}"


def count_requests(server: Server, method: str, path: str) -> int:
    """How many ``method path`` requests the server's access log shows so far."""
    count = 0
    for line in server.access_log.read_text(errors="replace").splitlines():
        match = _REQUEST_LINE.match(line.strip())
        if match and match.group(1) == method and match.group(2).split("?")[0] == path:
            count += 1
    return count


def open_tab(context: Any) -> Any:
    page = context.new_page()
    page.goto("/")
    page.wait_for_selector(READY)
    return page


def log_in(page: Any, username: str = "demo") -> None:
    page.fill("#username", username)
    page.fill("#password", f"{username}-password")
    page.click("#login")
    page.wait_for_selector(LOGGED_IN)


def logged(page: Any, kind: str, *, here: bool = False) -> int:
    """How many entries of ``kind`` the demo's event log shows (``here``: of this tab's doing)."""
    own = ":not([data-elsewhere])" if here else ""
    return int(page.locator(f'#log li[data-kind="{kind}"]{own}').count())


def run_in_tabs(pages: list[Any], seconds: float) -> list[Any]:
    """Every page calls the API in a loop for ``seconds``, all at once; their statuses."""
    for page in pages:
        page.evaluate(CALL_LOOP, seconds * 1000)
    return [status for page in pages for status in page.evaluate("() => window.__run")]


def wait_for_refresh_requests(server: Server, at_least: int, timeout: float = 3.0) -> int:
    """The refresh count once gunicorn has written its access log lines."""
    end = time.monotonic() + timeout
    while True:
        count = count_requests(server, "POST", "/api/auth/token/refresh/")
        if count >= at_least or time.monotonic() > end:
            return count
        time.sleep(0.05)


def test_browser_five_tabs_in_parallel_never_fail_and_refresh_once_per_expiry(
    chromium: Any, servers: dict[str, Server]
) -> None:
    server = servers["memory"]
    with browser_context(chromium, server) as context:
        first = open_tab(context)
        log_in(first)
        # Opened mid-session: logged in without a password, from the first tab.
        others = [open_tab(context) for _ in range(4)]
        for page in others:
            page.wait_for_selector(LOGGED_IN, timeout=2000)
        before = count_requests(server, "POST", "/api/auth/token/refresh/")
        seconds = 3 * MEMORY_ACCESS_LIFETIME

        statuses = run_in_tabs([first, *others], seconds)

        refreshed_in_tabs = sum(logged(page, "refreshed", here=True) for page in [first, *others])
        refreshes = wait_for_refresh_requests(server, before + refreshed_in_tabs) - before
        # The client renews at 90% of a token's lifetime, so one refresh per
        # expiry window allows at most this many in `seconds`.
        windows = math.floor(seconds / (MEMORY_ACCESS_LIFETIME * 0.9)) + 1
        assert set(statuses) == {200}, statuses
        assert len(statuses) > 5 * seconds  # every tab kept calling
        assert 2 <= refreshes <= windows, (refreshes, windows)
        assert refreshes == refreshed_in_tabs
        for page in others:
            assert (
                page.locator('#log li[data-kind="login"]')
                .first.inner_text()
                .endswith("logged in with the session of another open tab")
            )
            assert logged(page, "session-ended") == 0


def test_browser_logout_in_one_tab_logs_out_every_tab_within_a_second(
    chromium: Any, servers: dict[str, Server]
) -> None:
    server = servers["memory"]
    with browser_context(chromium, server) as context:
        pages = [open_tab(context)]
        log_in(pages[0])
        pages += [open_tab(context) for _ in range(2)]
        for page in pages[1:]:
            page.wait_for_selector(LOGGED_IN, timeout=2000)
        old_access = pages[2].evaluate("() => window.tokenkitClient.accessToken()")

        pages[0].click("#logout")
        for page in pages[1:]:
            page.wait_for_selector(LOGGED_OUT, timeout=1000)

        through_client = pages[2].evaluate(
            "async () => (await window.tokenkitClient.fetch('/api/me/')).status"
        )
        with_old_token = requests.get(
            server.url("/api/me/"),
            headers={"Authorization": f"Bearer {old_access}"},
            timeout=HTTP_TIMEOUT,
        )
        assert through_client == 401
        assert with_old_token.status_code == 401
        assert with_old_token.json()["code"] == "token_revoked"
        for page in pages[1:]:
            assert (
                page.locator('#log li[data-kind="logout"]')
                .first.inner_text()
                .endswith("logged out (in another tab)")
            )


def test_browser_session_revoked_by_command_reaches_session_ended_in_every_tab_once(
    chromium: Any, servers: dict[str, Server], services: SharedServices
) -> None:
    server = servers["cookie"]
    with browser_context(chromium, server) as context:
        pages = [open_tab(context)]
        log_in(pages[0], "other")
        pages += [open_tab(context) for _ in range(2)]
        for page in pages[1:]:
            page.wait_for_selector(LOGGED_IN, timeout=2000)

        manage(services.env(), "tokenkit_revoke", "--user", "other")
        for page in pages:  # each tab calls the API at once
            page.evaluate("() => { window.__call = window.tokenkitClient.fetch('/api/me/'); }")
        statuses = [page.evaluate("async () => (await window.__call).status") for page in pages]

        for page in pages:
            page.wait_for_selector(LOGGED_OUT, timeout=2000)
            page.wait_for_function(
                "() => document.querySelectorAll('#log li[data-kind=\"session-ended\"]').length"
            )
        time.sleep(0.3)  # room for a duplicate event, had there been one
        assert statuses == [401, 401, 401]
        assert [logged(page, "session-ended") for page in pages] == [1, 1, 1]
        assert "token_revoked" in pages[0].locator("#log").inner_text()


def test_browser_cookie_mode_keeps_tokens_from_page_and_new_tab_logs_in_through_cookie(
    chromium: Any, servers: dict[str, Server]
) -> None:
    server = servers["cookie"]
    with browser_context(chromium, server) as context:
        first = open_tab(context)
        log_in(first)
        first.click("#refresh-now")
        first.wait_for_selector('#log li[data-kind="refreshed"]')
        access = first.evaluate("() => window.tokenkitClient.accessToken()")
        readable = first.evaluate(
            "() => JSON.stringify({local: {...localStorage}, session: {...sessionStorage},"
            " cookies: document.cookie})"
        )
        refresh_cookie = next(c for c in context.cookies() if c["name"] == "tokenkit_refresh")
        first.close()  # no tab left to share a token: the next one uses the cookie

        second = open_tab(context)

        second.wait_for_selector(LOGGED_IN, timeout=3000)
        assert second.evaluate("() => window.tokenkitClient.usesRefreshCookie()") is True
        assert "through the refresh cookie" in second.locator("#log").inner_text()
        assert second.locator("#me-result").inner_text().startswith("200 ")
        assert refresh_cookie["httpOnly"] is True
        assert access.count(".") == 2  # a JWT, held in memory by the client
        assert access not in readable
        assert refresh_cookie["value"] not in readable
        assert "eyJ" not in readable  # no JWT of any kind
        assert "csrftoken" in readable  # what the page does read: the CSRF token


def test_browser_clock_an_hour_off_either_way_changes_nothing(
    chromium: Any, servers: dict[str, Server]
) -> None:
    server = servers["memory"]
    with ExitStack() as stack:
        pages = []
        for offset in (3600_000, -3600_000):
            context = stack.enter_context(browser_context(chromium, server))
            context.add_init_script(
                f"{{ const realNow = Date.now; Date.now = () => realNow() + ({offset}); }}"
            )
            page = open_tab(context)
            log_in(page)
            pages.append(page)
        skew = pages[0].evaluate("() => Date.now()") - pages[1].evaluate("() => Date.now()")
        before = count_requests(server, "POST", "/api/auth/token/refresh/")
        seconds = 2 * MEMORY_ACCESS_LIFETIME

        statuses = run_in_tabs(pages, seconds)

        refreshes = wait_for_refresh_requests(server, before + 2) - before
        windows = math.floor(seconds / (MEMORY_ACCESS_LIFETIME * 0.9)) + 1
        assert skew > 7_000_000  # the two clocks really are two hours apart
        assert set(statuses) == {200}, statuses
        assert 2 <= refreshes <= 2 * windows  # each context is its own session
        for page in pages:
            assert logged(page, "session-ended") == 0
            assert 0 < page.evaluate("() => window.tokenkitClient.expiresIn()") <= 4000


def test_browser_demo_every_button_works_and_screenshot(
    chromium: Any, servers: dict[str, Server], tmp_path: Path
) -> None:
    server = servers["cookie"]
    with (
        browser_context(chromium, server, viewport={"width": 1200, "height": 820}) as context,
        browser_context(chromium, server) as elsewhere,  # another browser, another session
    ):
        other_browser = open_tab(elsewhere)
        log_in(other_browser)
        page = open_tab(context)
        page.fill("#username", "demo")
        page.fill("#password", "wrong")
        page.click("#login")
        page.wait_for_selector("#login-error:has-text('invalid_credentials')")
        log_in(page)
        page.wait_for_selector("#me-result:has-text('demo')")

        page.click("#call-me")
        page.wait_for_function("() => document.querySelector('#me-result').dataset.status")
        page.click("#auto-call")  # keeps calling: the sliding threshold renews the token
        page.wait_for_selector('#log li[data-kind="renewed"]', timeout=8000)
        page.click("#auto-call")
        page.click("#refresh-now")
        page.wait_for_selector('#log li[data-kind="refreshed"]')

        page.fill("#note-title", "Groceries")
        page.fill("#note-body", "milk, bread")
        page.click("#add-note")
        page.wait_for_selector("#notes li:has-text('Groceries')")
        page.fill("#note-title", "Doomed")
        page.click("#add-note")
        page.locator("#notes li:has-text('Doomed') .delete-note").click()
        page.wait_for_selector("#notes li:has-text('Doomed')", state="detached")

        page.click("#reload-sessions")
        page.wait_for_function("() => document.querySelectorAll('#sessions li').length >= 2")

        # The API-token panel: create, see the secret once, find it by its hint.
        page.fill("#api-token-name", "nightly export")
        page.select_option("#api-token-expiry", "never")
        page.check("input[name=api-token-scope][value='notes:read']")
        page.click("#create-api-token")
        page.wait_for_selector("#api-tokens li:has-text('nightly export')")
        secret = page.locator("#api-token-secret-value").inner_text()
        nightly = page.locator(f"#api-tokens li:has(code.hint:text-is('tkp_{secret[-4:]}'))")
        bearer = {"Authorization": f"Bearer {secret}"}
        reads = requests.get(server.url("/api/notes/"), headers=bearer, timeout=HTTP_TIMEOUT)
        writes = requests.post(
            server.url("/api/notes/"), json={"title": "x"}, headers=bearer, timeout=HTTP_TIMEOUT
        )
        assert secret.startswith("tkp_")
        assert "not shown again" in page.locator("#api-token-secret").inner_text()
        assert nightly.locator(".badge.never").inner_text() == "never expires"
        assert nightly.locator(".scopes").inner_text() == "notes:read"
        assert (reads.status_code, writes.status_code) == (200, 403)
        assert writes.json()["code"] == "insufficient_scope"

        page.fill("#api-token-name", "ci deploy")  # the default lifetime, every scope
        page.click("#create-api-token")
        page.wait_for_selector("#api-tokens li:has-text('ci deploy')")
        deploy = page.locator("#api-tokens li:has-text('ci deploy')")
        assert deploy.locator(".expires").inner_text().startswith("expires ")
        assert deploy.locator(".scopes").inner_text() == "all of your rights"
        page.click("#log-panel")  # so the screenshot shows no focus ring
        shot = tmp_path / "demo.png"
        page.screenshot(path=str(shot), full_page=True)

        # Shown once: a reload of the panel takes the secret out of the page.
        page.click("#reload-api-tokens")
        page.wait_for_selector("#api-token-secret", state="hidden")
        nightly.wait_for(state="attached")
        assert nightly.count() == 1  # still listed, by its hint
        assert secret not in page.content()
        assert secret not in page.locator("#log").inner_text()
        nightly.locator(".revoke-api-token").click()
        nightly.wait_for(state="detached")
        revoked = requests.get(server.url("/api/notes/"), headers=bearer, timeout=HTTP_TIMEOUT)
        assert revoked.status_code == 401
        assert deploy.count() == 1

        other_id = other_browser.evaluate(
            "async () => (await window.tokenkitClient.sessions()).find((s) => s.current).id"
        )
        page.locator(f'#sessions li[data-session-id="{other_id}"] .end-session').click()
        page.wait_for_selector(f'#sessions li[data-session-id="{other_id}"]', state="detached")
        other_browser.click("#call-me")
        other_browser.wait_for_selector(LOGGED_OUT, timeout=2000)

        log_in(other_browser)
        page.click("#logout-all")
        page.wait_for_selector(LOGGED_OUT)
        other_browser.click("#call-me")
        other_browser.wait_for_selector(LOGGED_OUT, timeout=2000)
        page.click("#clear-log")
        log_in(page)
        page.click("#logout")
        page.wait_for_selector(LOGGED_OUT)

        assert "token_revoked" in other_browser.locator("#log").inner_text()
        assert page.locator("#log li").count() >= 2  # cleared, then login and logout
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        if os.environ.get("TOKENKIT_UPDATE_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, SCREENSHOTS / "demo.png")
