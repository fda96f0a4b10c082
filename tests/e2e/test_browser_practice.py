"""A person practises in a real browser: autosave, the timer, polling for the grade, and inert answers."""

from __future__ import annotations

import re

ANSWER = (
    "First I would pin down the intended use and the harms, because a false decline costs an applicant access "
    "to credit. I would ask for error rates by group rather than overall accuracy, and run a bias audit that "
    "compares approval rates and false negative rates across age, sex and region. I would propose a shadow-mode "
    "launch with human review of every decline, and agree monitoring by segment with a rollback trigger."
)
QUESTION = "ethics-br-merchant-credit-rush"


def sign_up(page, base: str, email: str = "ada@example.org") -> None:
    page.goto(base + "/sign-up")
    page.fill("#display_name", "Ada")
    page.fill("#email", email)
    page.fill("#password", "correct horse battery staple")
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r".*/\?welcome=1$"))


def slow_grading(monkeypatch, grader, seconds: float = 2.5) -> None:
    """Grading takes a moment, so the page must show that it is waiting and then pick the grade up."""
    import time

    original = grader.grade

    def slow(*args, **kwargs):
        time.sleep(seconds)
        return original(*args, **kwargs)

    monkeypatch.setattr(grader, "grade", slow)


def test_a_person_practises_a_question_and_sees_the_feedback(browser_page, live_server, e2e_grader, monkeypatch):
    page = browser_page
    slow_grading(monkeypatch, e2e_grader)
    sign_up(page, live_server)
    page.goto(f"{live_server}/practice/{QUESTION}")
    page.fill("#answer", ANSWER)
    page.type("#answer", " ")  # a keystroke, as a person would make
    page.wait_for_selector("#draft-status:has-text('Draft saved')")  # htmx autosave, with the CSRF header
    page.wait_for_timeout(1200)
    assert page.is_visible("[data-timer-box]")
    assert page.text_content("[data-timer]") != "0:00"
    page.click(".answer-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/attempts/[0-9a-f]{32}$"))
    assert page.is_visible("#grading")
    page.wait_for_selector(".score-card", timeout=120_000)  # htmx polls, then reloads the page
    assert re.match(r"Score \d(\.5)? out of 5", page.get_attribute(".score-card .score-ring", "aria-label"))
    assert page.locator("ol.checklist > li").count() >= 3
    assert page.evaluate("window.__csp") == []
    assert page.errors == []


def test_answers_with_script_or_htmx_markup_never_run(browser_page, live_server):
    page = browser_page
    sign_up(page, live_server)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    payload = (
        '<img src=x onerror="window.__xss=1"> <script>window.__xss=2</script> '
        '<div hx-post="/account/delete-data" hx-trigger="load">x</div> <svg onload="window.__xss=3">'
    )
    page.goto(f"{live_server}/practice/{QUESTION}")
    page.fill("#answer", f"{ANSWER} {payload}")
    page.click(".answer-form button[type=submit]")
    page.wait_for_selector(".score-card", timeout=120_000)
    page.goto(f"{live_server}/practice/{QUESTION}?previous={page.url.rsplit('/', 1)[-1]}")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__xss") is None
    assert not [url for url in requests if "/account/delete" in url or url.endswith("/x")]
    assert payload in page.text_content("[data-user-content]")
    assert page.evaluate("window.__csp") == []


def test_the_feedback_page_works_without_javascript(live_server, chromium, e2e_grader, monkeypatch):
    slow_grading(monkeypatch, e2e_grader)
    context = chromium.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        sign_up(page, live_server, "nojs@example.org")
        page.goto(f"{live_server}/practice/{QUESTION}")
        assert not page.is_visible("[data-timer-box]")  # no clock without JavaScript, and no broken one
        page.fill("#answer", ANSWER)
        page.click(".answer-form button[type=submit]")
        page.wait_for_url(re.compile(r".*/attempts/[0-9a-f]{32}$"))
        assert page.is_visible("#grading")
        page.wait_for_selector(".score-card", timeout=120_000)  # <noscript> refresh until the grade is there
    finally:
        context.close()
