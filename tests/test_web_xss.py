"""Stored and reflected XSS: a payload corpus in every field a user or an admin controls (RELIABILITY S9).

Each page is parsed with an HTML parser (BeautifulSoup). Two checks:
- `assert_inert` (tests/test_web_security.py): no script, handler, unknown hx-* attribute, javascript: URL
  or foreign element anywhere, and only text (plus the grader's <mark>) inside user-content containers;
- `shape`: the page's elements and attribute names are exactly those of the same page with harmless text
  in the field, so a payload created nothing at all.

Where each payload costs requests of its own (drafts, flag comments, token names, display names, reflected
input) the default suite sends `CI_SAMPLE`, 18 payloads with one of every shape in the corpus; the other
tests send all 48. COACH_FULL_CORPUS=1 sends all 48 everywhere (tests/xss_corpus.py).
"""
# ruff: noqa: F811 - pytest fixtures are imported from test_web_support and taken as arguments

from __future__ import annotations

import yaml
from bs4 import BeautifulSoup
from test_web_security import assert_inert
from test_web_support import (  # noqa: F401 - fixtures
    ANSWER,
    GOOD_QUESTION,
    PASSWORD,
    app,
    browser,
    client,
    csrf_token,
    graded_attempt,
    make_app,
    page,
    post_form,
    real_grader,
    signed_up,
)
from xss_corpus import CI_SAMPLE, XSS_PAYLOADS

from coach.grading.text import normalise

BENIGN = "plain words here"


def shape(html: str | BeautifulSoup) -> list[tuple[str, tuple[str, ...]]]:
    soup = html if isinstance(html, BeautifulSoup) else BeautifulSoup(html, "html.parser")
    return [(tag.name, tuple(sorted(tag.attrs))) for tag in soup.find_all(True)]


def check(html: str, payload: str, baseline: list | None, where: str, seen: list[str]) -> None:
    """`baseline` is the `shape` of the same page with harmless text in the field."""
    assert_inert(html, payload)
    soup = BeautifulSoup(html, "html.parser")
    if baseline is not None:
        assert shape(soup) == baseline, f"{where}: the payload changed the page's elements: {payload!r}"
    text = soup.get_text()
    assert payload.strip() in text or payload in html or where.startswith("reflected"), (where, payload)
    seen.append(where)


def test_s9_payloads_in_drafts_names_comments_and_token_names_create_nothing(app, client):
    signed_up(client)
    attempt = graded_attempt(app, client)
    seen: list[str] = []
    pages = {
        "draft": (f"/practice/{GOOD_QUESTION}/draft", {"answer": "{}"}, f"/practice/{GOOD_QUESTION}"),
        "flag comment": (f"/attempts/{attempt}/flag", {"comment": "{}", "wrong": "1"}, f"/attempts/{attempt}"),
    }
    baselines = {}
    for where, (action, form, shown) in pages.items():
        post_form(client, action, {k: v.replace("{}", BENIGN) for k, v in form.items()}, from_page="/")
        baselines[where] = shape(client.get(shown).text)
    for payload in CI_SAMPLE:
        for where, (action, form, shown) in pages.items():
            post_form(client, action, {k: v.replace("{}", payload) for k, v in form.items()}, from_page="/")
            check(client.get(shown).text, payload, baselines[where], where, seen)
        created = post_form(client, "/account/tokens", {"name": payload})
        assert_inert(created.text, payload)
        seen.append("token name")
    assert_inert(client.get("/account").text, "")
    print(f"S9: {len(CI_SAMPLE)} payloads x drafts/flag comments/token names: {len(seen)} renders, 0 created markup")


def test_s9_payloads_as_display_names_create_nothing_on_any_page_that_shows_them(app, client):
    signed_up(client, "admin@example.org", name="The admin")
    renders = 0
    for number, payload in enumerate(CI_SAMPLE):
        with browser(app) as person:
            signed_up(person, f"person{number}@example.org", name=payload)
            for path in ["/", "/account", "/history"]:
                assert_inert(person.get(path).text, payload)
                renders += 1
    admin_page = client.get("/admin").text
    assert_inert(admin_page, "")
    text = page(client.get("/admin")).get_text()
    assert sum(payload.strip() in text for payload in CI_SAMPLE) >= len(CI_SAMPLE) - 2  # whitespace-only changes
    print(f"S9: {len(CI_SAMPLE)} payloads as display names: {renders + 1} renders, 0 created markup")


def test_s9_payloads_in_answers_render_as_text_on_feedback_history_and_try_again(app, client):
    signed_up(client)
    renders = 0
    attempts = []
    # Four payloads per answer (grading each of 48 answers would take minutes on a busy 2-core machine).
    for start in range(0, len(XSS_PAYLOADS), 4):
        payloads = XSS_PAYLOADS[start : start + 4]
        response = post_form(
            client,
            f"/practice/{GOOD_QUESTION}",
            {"answer": f"{ANSWER} {' '.join(payloads)}", "idempotency_key": f"xss-{start:04d}-key"},
            from_page="/",
        )
        assert response.status_code == 303, response.text
        attempts.append((payloads, response.headers["location"].rsplit("/", 1)[-1]))
    app.state.services.worker.wait_idle(timeout=600)
    for payloads, attempt in attempts:
        feedback = client.get(f"/attempts/{attempt}")
        assert_inert(feedback.text, payloads[0])
        shown = page(feedback).select_one("[data-user-content]").get_text()
        assert all(normalise(payload).strip() in shown for payload in payloads)
        assert_inert(client.get(f"/practice/{GOOD_QUESTION}?previous={attempt}").text, payloads[0])
        renders += 2
    assert_inert(client.get("/history").text, "")
    assert client.get("/account/export").headers["content-type"].startswith("application/json")
    print(f"S9: {len(XSS_PAYLOADS)} payloads in answers: {renders + 1} renders, 0 created markup")


def test_s9_payloads_in_interview_answers_and_job_descriptions_render_as_text(app, client):
    signed_up(client)
    renders = 0
    for payload in XSS_PAYLOADS[::4]:
        job = f"We need an AI ethics lead to run fairness reviews and model audits. {payload}"
        started = post_form(client, "/interviews", {"count": "1", "job": job}, from_page="/interviews/new")
        if started.status_code != 303:  # the description was refused: it must come back as text
            assert_inert(started.text, payload)
            renders += 1
            continue
        session = started.headers["location"]
        post_form(client, f"{session}/answer", {"answer": f"{ANSWER} {payload}"}, from_page=session)
        post_form(client, f"{session}/finish", from_page=session)
        for path in [f"{session}/report", "/interviews"]:
            assert_inert(client.get(path).text, payload)
            renders += 1
    assert renders
    print(f"S9: {len(XSS_PAYLOADS[::4])} payloads in interviews: {renders} renders, 0 created markup")


def test_s9_reflected_input_in_queries_and_the_sign_in_form_creates_nothing(app, client):
    signed_up(client)
    renders = 0
    for number, payload in enumerate(CI_SAMPLE):
        bank = client.get("/bank", params={"q": payload[:200]})
        assert_inert(bank.text, payload)
        assert bank.status_code == 200
        with browser(app) as visitor:
            assert_inert(visitor.get("/sign-in", params={"next": payload}).text, payload)
            token = csrf_token(visitor)
            wrong = visitor.post("/sign-in", data={"csrf_token": token, "email": payload[:320], "password": "x" * 9})
            assert wrong.status_code in (401, 422)
            assert_inert(wrong.text, payload)
            benign_email = f"plain{number}@example.org"  # its own account budget, like the payload's
            benign = visitor.post("/sign-in", data={"csrf_token": token, "email": benign_email, "password": "x" * 9})
            assert shape(wrong.text) == shape(benign.text), payload
        renders += 3
    print(f"S9: {len(CI_SAMPLE)} payloads reflected in /bank?q, /sign-in?next and the sign-in form: {renders} renders")


def test_s9_payloads_in_an_uploaded_question_pack_render_as_text(app, client):
    from test_web_admin import VALID_PACK

    signed_up(client)
    template = VALID_PACK["questions"][0]
    questions = []
    for number, payload in enumerate(XSS_PAYLOADS):
        questions.append(
            {
                **template,
                "id": f"xss-question-{number}",
                "text": f"How would you review this case: {payload}?",
                "why_asked": f"Checks judgement. {payload}",
                "skills": [f"skill {payload}"[:60]],
                "key_points": [
                    {"id": "contain", "text": f"Contains the harm first {payload}"},
                    {"id": "root-cause", "text": "Finds the root cause with evidence, not blame"},
                ],
                "example_answer": f"First I would contain the harm and tell the people affected. {payload}",
            }
        )
    pack = {**VALID_PACK, "id": "xss-pack", "title": "Pack <script>window.__xss=99</script>", "questions": questions}
    token = csrf_token(client, "/admin")
    uploaded = client.post(
        "/admin/packs",
        data={"csrf_token": token},
        files={"pack": ("xss.yaml", yaml.safe_dump(pack).encode(), "application/x-yaml")},
    )
    assert uploaded.status_code == 201, page(uploaded).get_text()[:2000]
    renders = 0
    assert_inert(client.get("/bank").text, "")
    assert_inert(client.get("/admin").text, "")
    for number, payload in enumerate(XSS_PAYLOADS):
        for path in [f"/bank/xss-question-{number}", f"/practice/xss-question-{number}"]:
            response = client.get(path)
            assert response.status_code == 200, path
            assert_inert(response.text, payload)
            renders += 1
    print(f"S9: {len(XSS_PAYLOADS)} payloads in an admin-uploaded pack: {renders + 2} renders, 0 created markup")


def test_s9_payloads_returned_as_llm_feedback_render_as_text(make_app):
    """The fake judge (a scripted OpenAI-compatible server on loopback) answers with the corpus as feedback."""
    import re

    from fakes import FakeLLM, chat_json
    from test_llm_web import VALID, client_for, coach_after, opt_in

    chunks = [XSS_PAYLOADS[start : start + 12] for start in range(0, len(XSS_PAYLOADS), 12)]

    def reply(request):  # the chunk for the attempt named in the answer the app sent
        found = re.search(r"Attempt (\d+)\.", request.text)
        return chat_json(VALID | {"feedback": " ".join(chunks[int(found.group(1)) if found else 0])})

    fake = FakeLLM(script=reply)
    renders = 0
    try:
        app = make_app("llm", llm_base_url=fake.base_url)
        with client_for(app) as client:
            signed_up(client)
            opt_in(client)
            for number, payloads in enumerate(chunks):
                attempt = graded_attempt(app, client, answer=f"{ANSWER} Attempt {number}.")
                fragment = coach_after(app, client, attempt)
                assert_inert(fragment.text, payloads[0])
                section = page(fragment).find(id="ai-coach")
                assert section is not None
                shown = " ".join(section.get_text().split())
                missing = [p for p in payloads if " ".join(p.split())[:16] not in shown]
                assert not missing, (missing, shown[:3000])
                assert_inert(client.get(f"/attempts/{attempt}").text, payloads[0])
                renders += 2
    finally:
        fake.close()
    print(f"S9: {len(XSS_PAYLOADS)} payloads as LLM feedback from the fake judge: {renders} renders, 0 created markup")
