"""P6: what a shared computer keeps after a person practised and signed out (RELIABILITY.md section 6).

The answer must not be left in localStorage or sessionStorage (htmx's history cache is off), pages with
answers are sent with `Cache-Control: no-store`, signing out sends Clear-Site-Data, and the back button
after signing out does not bring the answer back.
"""

from __future__ import annotations

import re
import uuid

from test_browser_practice import ANSWER, QUESTION, sign_up

STORAGE = "JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"


def test_no_answer_text_stays_in_the_browser_after_practice_and_sign_out(browser_page, live_server):
    page = browser_page
    canary = f"Canary{uuid.uuid4().hex[:16]}"
    sign_up(page, live_server)
    practice = page.goto(f"{live_server}/practice/{QUESTION}")
    assert practice.headers["cache-control"] == "no-store"
    page.fill("#answer", f"{ANSWER} {canary}.")
    page.type("#answer", " ")
    page.wait_for_selector("#draft-status:has-text('Draft saved')")  # an htmx request carried the text
    with page.expect_response(re.compile(r".*/attempts/[0-9a-f]{32}$")) as feedback:
        page.click(".answer-form button[type=submit]")
    assert feedback.value.headers["cache-control"] == "no-store"
    page.wait_for_selector(".score-card", timeout=120_000)  # htmx polled, then refreshed the page
    assert canary in page.content()
    page.goto(f"{live_server}/history")
    page.go_back()  # a history navigation, where htmx would restore from its cache if it kept one
    page.wait_for_selector(".score-card")

    kept = page.evaluate(STORAGE)
    assert canary not in kept
    assert page.evaluate("localStorage.getItem('htmx-history-cache')") is None

    with page.expect_response(lambda r: r.url.endswith("/sign-out")) as signed_out:
        page.click("form.sign-out button")
    headers = signed_out.value.all_headers()  # .headers leaves out security-related ones
    assert all(part in headers["clear-site-data"] for part in ('"cache"', '"cookies"', '"storage"'))
    page.wait_for_load_state()
    # Emptied by Clear-Site-Data; the sign-in page may then note its own path for htmx, and nothing else.
    left = page.evaluate("[Object.entries(localStorage), Object.entries(sessionStorage)]")
    assert left[0] == [] and all(value.startswith("/sign-in") for _key, value in left[1])
    assert page.context.cookies() == [] or all("session" not in c["name"] for c in page.context.cookies())

    page.go_back()  # no-store: the browser asks the server again, which now wants a sign-in
    page.wait_for_load_state()
    assert canary not in page.content()
    assert page.evaluate("window.__csp") == []
