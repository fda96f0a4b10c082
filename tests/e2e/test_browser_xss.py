"""The XSS corpus in headless Chromium (RELIABILITY S10): nothing runs, nothing violates the CSP, htmx is locked down.

The data is stored through the live server's own forms (an HTTP client on loopback), then a real browser
opens every page that shows it: the drafts (in the answer box), answers (feedback, try again, history),
a flag comment, an API token's name, the display name, and input reflected from the address bar.

Every one of the 48 payloads is opened in the browser. By default the drafts carry four payloads each (12 answer
boxes to open instead of 48, as the answers carry twelve); COACH_FULL_CORPUS=1 stores one payload per draft.
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from bs4 import BeautifulSoup

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from xss_corpus import FULL_CORPUS, XSS_PAYLOADS  # noqa: E402

ANSWER = (
    "First I would pin down the intended use and the harms, because a false decline costs an applicant access "
    "to credit. I would ask for error rates by group and run a bias audit that compares approval rates across "
    "age, sex and region, then propose a shadow-mode launch with human review and a rollback trigger."
)
FORBIDDEN_PATHS = ("/account/delete", "/sign-out", "/x.css")


def token_of(client: httpx.Client, path: str) -> str:
    html = BeautifulSoup(client.get(path).text, "html.parser")
    return str(html.find("input", attrs={"name": "csrf_token"})["value"])


def post(client: httpx.Client, path: str, data: dict[str, str], from_page: str = "/") -> httpx.Response:
    return client.post(path, data={"csrf_token": token_of(client, from_page), **data})


def store_the_corpus(base: str) -> tuple[httpx.Client, list[str]]:
    """Sign up (display name = a payload) and store every payload; returns the client and the pages to open."""
    client = httpx.Client(base_url=base, timeout=120)
    token = token_of(client, "/sign-up")
    name = XSS_PAYLOADS[3]
    data = {"csrf_token": token, "email": "xss@example.org", "password": "correct horse battery staple"}
    assert client.post("/sign-up", data={**data, "display_name": name}).status_code == 303
    bank = BeautifulSoup(client.get("/bank").text, "html.parser")
    questions = sorted({a["href"].rsplit("/", 1)[-1] for a in bank.select('a[href^="/bank/"]')})
    per_draft = 1 if FULL_CORPUS else 4
    drafts = [XSS_PAYLOADS[start : start + per_draft] for start in range(0, len(XSS_PAYLOADS), per_draft)]
    assert len(questions) >= len(drafts)  # one question per draft, so every draft is shown
    pages = ["/", "/history", "/account"]
    for question, payloads in zip(questions, drafts, strict=False):
        pages.append(f"/practice/{question}")
        post(client, f"/practice/{question}/draft", {"answer": f"{ANSWER} {' '.join(payloads)}"})
    # Answers: the corpus in four graded attempts, each also opened as "try again".
    for start in range(0, len(XSS_PAYLOADS), 12):
        text = ANSWER + " " + " ".join(XSS_PAYLOADS[start : start + 12])
        form = {"answer": text, "idempotency_key": f"xss-browser-{start:04d}"}
        sent = post(client, f"/practice/{questions[0]}", form)
        assert sent.status_code == 303, sent.text[:500]
        attempt = sent.headers["location"]
        post(client, f"{attempt}/flag", {"comment": " ".join(XSS_PAYLOADS[start : start + 12]), "wrong": "1"})
        pages += [attempt, f"/practice/{questions[0]}?previous={attempt.rsplit('/', 1)[-1]}"]
    post(client, "/account/tokens", {"name": XSS_PAYLOADS[29]}, from_page="/account")
    pages += ["/bank?" + str(httpx.QueryParams({"q": payload[:200]})) for payload in XSS_PAYLOADS[::6]]
    return client, pages


def test_s10_the_corpus_never_runs_in_chromium_and_the_csp_is_never_violated(browser_page, live_server):
    page = browser_page
    client, pages = store_the_corpus(live_server)
    cookies = [{"name": name, "value": value, "url": live_server} for name, value in client.cookies.items()]
    page.context.add_cookies(cookies)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    visited = 0
    for path in pages:
        page.goto(live_server + path)
        page.wait_for_load_state("load")
        page.wait_for_timeout(150)  # htmx processes the page after DOMContentLoaded; hx-trigger=load fires then
        assert page.evaluate("window.__xss") is None, path
        assert page.evaluate("window.__csp") == [], (path, page.evaluate("window.__csp"))
        config = page.evaluate(
            "({allowEval: htmx.config.allowEval, allowScriptTags: htmx.config.allowScriptTags,"
            " selfRequestsOnly: htmx.config.selfRequestsOnly,"
            " includeIndicatorStyles: htmx.config.includeIndicatorStyles,"
            " historyCacheSize: htmx.config.historyCacheSize})"
        )
        assert config == {
            "allowEval": False,
            "allowScriptTags": False,
            "selfRequestsOnly": True,
            "includeIndicatorStyles": False,
            "historyCacheSize": 0,
        }, (path, config)
        assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('htmx'))") == [], path
        visited += 1
    # Reflected input on the sign-in page, as a visitor.
    page.context.clear_cookies()
    for payload in XSS_PAYLOADS[::4]:
        page.goto(live_server + "/sign-in?" + str(httpx.QueryParams({"next": payload})))
        page.fill("#email", payload[:300])
        page.fill("#password", "not the password")
        page.click("main button[type=submit]")
        page.wait_for_load_state("load")
        assert page.evaluate("window.__xss") is None
        assert page.evaluate("window.__csp") == []
        visited += 2
    # No request left this server, and none went to a destructive address by itself.
    fired = [urlsplit(url) for url in requests]
    assert not [u.geturl() for u in fired if u.hostname != "127.0.0.1" or u.path.startswith(FORBIDDEN_PATHS)]
    assert page.errors == []
    client.close()
    print(f"S10: {len(XSS_PAYLOADS)} payloads over {visited} page loads in Chromium: 0 ran, 0 CSP violations")
