"""Practising one question: the page, autosave, submitting, grading off the event loop, and the feedback."""
# ruff: noqa: F811 - pytest fixtures are imported from test_web_support and taken as arguments

from __future__ import annotations

import threading
import uuid

from test_web_support import (
    ANSWER,
    GOOD_QUESTION,
    app,  # noqa: F401
    browser,
    client,  # noqa: F401
    csrf_token,
    graded_attempt,
    make_app,  # noqa: F401
    page,
    post_form,
    real_grader,  # noqa: F401
    sign_in,
    signed_up,
    submit_answer,
    user_id,
)

from coach.grading.engine import draft_units
from coach.grading.text import check_answer, split_units
from coach.storage import repository
from coach.web.routes import practice


def test_the_practice_page_shows_the_question_a_timer_and_an_autosaving_answer_box(app, client):
    signed_up(client)
    html = page(client.get(f"/practice/{GOOD_QUESTION}"))
    assert html.find("h1").get_text(strip=True) == app.state.services.bank.get(GOOD_QUESTION).text
    box = html.find("textarea", attrs={"name": "answer"})
    assert box["hx-post"] == f"/practice/{GOOD_QUESTION}/draft"
    assert "delay:2s" in box["hx-trigger"]
    assert html.find(attrs={"data-timer": True}) is not None
    assert html.find(attrs={"data-timer-box": True}).has_attr("hidden")  # shown by app.js; no clock without JS
    assert html.find("label", attrs={"for": "answer"}) is not None
    assert html.find(id="draft-status")["aria-live"] == "polite"


def test_autosave_stores_the_draft_and_the_page_brings_it_back(app, client):
    signed_up(client)
    saved = post_form(client, f"/practice/{GOOD_QUESTION}/draft", {"answer": "half an answer"}, from_page="/")
    assert saved.status_code == 200
    assert "Draft saved" in saved.text
    draft = repository.find_draft(app.state.services.db, user_id=1, question_id=GOOD_QUESTION)
    assert draft.text == "half an answer"
    box = page(client.get(f"/practice/{GOOD_QUESTION}")).find("textarea", attrs={"name": "answer"})
    assert box.get_text() == "half an answer"


def test_autosave_embeds_the_finished_sentences_so_the_submitted_answer_embeds_only_the_rest(app, client):
    signed_up(client)
    worker = app.state.services.worker
    worker.wait_idle(timeout=120)
    worker.grader().prepare(app.state.services.bank.get(GOOD_QUESTION))  # rubric vectors are not counted below
    assert worker.search_ready.wait(60)  # nor the bank's, which the warm-up thread embeds
    embedder = worker.grader().embedder
    tag = uuid.uuid4().hex[:8]  # every sentence new to the cache (other tests embed ANSWER's own sentences)
    answer = ANSWER.replace(". ", f" in case {tag}. ").replace("writing.", f"writing in case {tag}.")
    draft = answer[: len(answer) // 2]
    post_form(client, f"/practice/{GOOD_QUESTION}/draft", {"answer": draft}, from_page="/")
    assert worker.drafts_idle(timeout=60)
    finished = draft_units(draft)
    assert finished and all(embedder.contains(text) for text in finished)
    typing = split_units(check_answer(draft))[-1].text  # the sentence being typed is not embedded yet
    assert typing not in finished and not embedder.contains(typing)
    misses = embedder.misses
    submit_answer(client, answer=answer)
    worker.wait_idle(timeout=120)
    assert embedder.misses - misses == len({u.text for u in split_units(check_answer(answer))} - set(finished))


def test_autosave_after_the_session_ended_says_so_without_leaving_the_page(app, client):
    signed_up(client)
    token = csrf_token(client, "/")
    client.cookies.delete("coach_session")
    response = client.post(
        f"/practice/{GOOD_QUESTION}/draft",
        data={"csrf_token": token, "answer": "text"},
        headers={"hx-request": "true"},
    )
    assert response.status_code == 401
    assert "hx-redirect" not in response.headers
    assert "session ended" in response.text


def test_submitting_stores_the_answer_then_grades_it_in_the_background(app, client):
    signed_up(client)
    response = submit_answer(client)
    assert response.status_code == 303
    attempt_id = response.headers["location"].split("/")[-1]
    stored = repository.get_attempt(app.state.services.db, user_id=1, attempt_id=attempt_id)
    assert stored.answer == ANSWER
    app.state.services.worker.wait_idle(timeout=120)
    graded = repository.get_attempt(app.state.services.db, user_id=1, attempt_id=attempt_id)
    assert graded.status == "graded"
    assert 1 <= graded.score <= 5
    assert graded.grade["question_id"] == GOOD_QUESTION
    assert repository.find_draft(app.state.services.db, user_id=1, question_id=GOOD_QUESTION) is None


def test_grading_runs_on_the_worker_thread_not_the_request(app, client, monkeypatch):
    signed_up(client)
    threads: list[str] = []
    grader = app.state.services.worker._load_grader()
    original = grader.grade

    def recording(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return original(*args, **kwargs)

    monkeypatch.setattr(grader, "grade", recording)
    graded_attempt(app, client)
    assert threads and all(name.startswith("coach-grading") for name in threads)


def test_the_feedback_page_asks_for_the_grade_until_it_is_there(app, client, monkeypatch):
    monkeypatch.setattr(practice, "SUBMIT_WAIT_SECONDS", 0.05)
    monkeypatch.setattr(practice, "STATUS_HOLD_SECONDS", 0.05)
    signed_up(client)
    release = threading.Event()
    grader = app.state.services.worker._load_grader()
    original = grader.grade

    def slow(*args, **kwargs):
        release.wait(30)
        return original(*args, **kwargs)

    monkeypatch.setattr(grader, "grade", slow)
    response = submit_answer(client)
    attempt_id = response.headers["location"].split("/")[-1]
    waiting = page(client.get(f"/attempts/{attempt_id}"))
    poller = waiting.find(id="grading")
    assert poller["hx-get"] == f"/attempts/{attempt_id}/status"
    assert poller["hx-trigger"].split(",")[0].strip() == "load"  # asked at once; the server holds the request
    status = client.get(f"/attempts/{attempt_id}/status")
    assert status.status_code == 200 and "Grading" in status.text
    assert page(status).find(id="grading")["hx-get"] == f"/attempts/{attempt_id}/status"  # and it asks again
    release.set()
    app.state.services.worker.wait_idle(timeout=120)
    done = client.get(f"/attempts/{attempt_id}/status")
    assert done.status_code == 204
    assert done.headers["hx-refresh"] == "true"


def _hold_grading(app, monkeypatch) -> threading.Event:
    """Make grading wait until the returned event is set (the answer stays 'stored' meanwhile)."""
    release = threading.Event()
    grader = app.state.services.worker._load_grader()
    original = grader.grade
    monkeypatch.setattr(grader, "grade", lambda *a, **kw: release.wait(30) and original(*a, **kw))
    return release


def test_without_javascript_the_grading_page_refreshes_itself_and_links_to_the_feedback(app, client, monkeypatch):
    monkeypatch.setattr(practice, "SUBMIT_WAIT_SECONDS", 0.05)
    signed_up(client)
    release = _hold_grading(app, monkeypatch)
    attempt_id = submit_answer(client).headers["location"].split("/")[-1]
    waiting = page(client.get(f"/attempts/{attempt_id}"))
    refresh = waiting.select_one("head noscript")
    assert refresh is not None and 'http-equiv="refresh"' in refresh.decode_contents()
    assert waiting.find(id="grading").find("a")["href"] == f"/attempts/{attempt_id}"
    release.set()
    app.state.services.worker.wait_idle(timeout=120)
    graded = page(client.get(f"/attempts/{attempt_id}"))
    assert graded.find(id="grading") is None and graded.select_one("head noscript") is None


def _held_status_request(app, client, attempt_id: str) -> tuple[threading.Thread, list, threading.Event]:
    """GET the status in a thread; `entered` is set once the server is waiting for the grade."""
    worker = app.state.services.worker
    entered = threading.Event()
    original = worker.wait_for_grade

    async def noting(*args, **kwargs):
        entered.set()
        return await original(*args, **kwargs)

    worker.wait_for_grade = noting
    answers: list = []
    thread = threading.Thread(target=lambda: answers.append(client.get(f"/attempts/{attempt_id}/status")))
    thread.start()
    return thread, answers, entered


def test_the_status_request_answers_as_soon_as_this_process_saves_the_grade(app, client, monkeypatch):
    monkeypatch.setattr(practice, "SUBMIT_WAIT_SECONDS", 0.05)
    monkeypatch.setattr(practice, "STATUS_HOLD_SECONDS", 600)  # far longer than the test may take
    signed_up(client)
    release = _hold_grading(app, monkeypatch)
    attempt_id = submit_answer(client).headers["location"].split("/")[-1]
    thread, answers, entered = _held_status_request(app, client, attempt_id)
    assert entered.wait(30)
    thread.join(0.3)
    assert thread.is_alive() and not answers  # held while the grade does not exist
    release.set()
    thread.join(60)  # only a guard: without the wake-up it would be held for the full 600 s
    assert not thread.is_alive()
    assert answers[0].status_code == 204 and answers[0].headers["hx-refresh"] == "true"


def test_the_status_request_sees_a_grade_saved_by_another_process(app, client, monkeypatch):
    monkeypatch.setattr(practice, "STATUS_HOLD_SECONDS", 600)
    signed_up(client)
    db = app.state.services.db
    # Stored but never queued here: as if another server process had received it and is grading it.
    stored = repository.store_attempt(db, user_id=1, question_id=GOOD_QUESTION, answer=ANSWER)
    thread, answers, entered = _held_status_request(app, client, stored.id)
    assert entered.wait(30)
    thread.join(0.3)
    assert thread.is_alive() and not answers
    repository.mark_attempt_failed(db, attempt_id=stored.id, error="graded elsewhere (a test)")
    thread.join(60)  # only a guard: the server reads the attempt again every fraction of a second
    assert not thread.is_alive()
    assert answers[0].status_code == 204


def test_submitting_lands_on_the_graded_page_when_the_grader_is_free(app, client, monkeypatch):
    monkeypatch.setattr(practice, "SUBMIT_WAIT_SECONDS", 600)  # so a slow test machine cannot make it flaky
    signed_up(client)
    response = submit_answer(client)
    assert response.status_code == 303
    attempt_id = response.headers["location"].split("/")[-1]
    attempt = repository.get_attempt(app.state.services.db, user_id=1, attempt_id=attempt_id)
    assert attempt.status == "graded"  # before the redirect was sent
    landed = page(client.get(response.headers["location"]))
    assert landed.find(id="grading") is None and landed.select_one(".score-card") is not None


def test_submitting_does_not_wait_when_the_grader_is_busy(app, client, monkeypatch):
    monkeypatch.setattr(practice, "SUBMIT_WAIT_SECONDS", 600)
    signed_up(client)
    worker = app.state.services.worker
    release = threading.Event()
    grader = worker._load_grader()
    original = grader.grade
    monkeypatch.setattr(grader, "grade", lambda *a, **kw: release.wait(60) and original(*a, **kw))
    monkeypatch.setattr(worker, "_seconds_per_answer", 1000.0)  # as if each answer had taken 1000 s lately
    try:
        response = submit_answer(client)  # would wait until release (60 s) if it waited for the grade
        attempt_id = response.headers["location"].split("/")[-1]
        assert repository.get_attempt(app.state.services.db, user_id=1, attempt_id=attempt_id).status == "stored"
    finally:
        release.set()
    worker.wait_idle(timeout=120)
    assert repository.get_attempt(app.state.services.db, user_id=1, attempt_id=attempt_id).status == "graded"


def test_the_feedback_shows_the_score_the_checklist_and_highlights_the_evidence(app, client):
    signed_up(client)
    attempt_id = graded_attempt(app, client)
    attempt = repository.get_attempt(app.state.services.db, user_id=1, attempt_id=attempt_id)
    html = page(client.get(f"/attempts/{attempt_id}"))
    ring = html.select_one(".score-card .score-ring")
    assert f"Score {attempt.score:g} out of 5" in ring["aria-label"]
    items = html.select("ol.checklist > li")
    assert len(items) == len(attempt.grade["key_points"])
    covered = [kp for kp in attempt.grade["key_points"] if kp["evidence"] and kp["status"] != "missing"]
    assert covered, "the test answer should cover at least one key point"
    marks = html.select("[data-user-content] mark.evidence")
    assert {m.get_text() for m in marks} >= {covered[0]["evidence"]}
    assert html.select_one("[data-user-content]").get_text() == ANSWER


def test_the_example_answer_is_shown_only_on_request(app, client):
    signed_up(client)
    attempt_id = graded_attempt(app, client)
    html = page(client.get(f"/attempts/{attempt_id}"))
    example = next(d for d in html.select("details") if "example answer" in d.summary.get_text())
    assert not example.has_attr("open")
    first_paragraph = app.state.services.bank.get(GOOD_QUESTION).example_answer.split("\n\n")[0].strip()
    assert first_paragraph in example.get_text()


def test_flags_are_explained_in_plain_words(app, client):
    signed_up(client)
    salad = "fairness bias audit model card monitoring rollback compliance shadow launch segment " * 3
    attempt_id = graded_attempt(app, client, answer=salad)
    attempt = repository.get_attempt(app.state.services.db, user_id=1, attempt_id=attempt_id)
    assert attempt.grade["flags"], "a keyword list should be flagged by the grader"
    text = page(client.get(f"/attempts/{attempt_id}")).select_one(".flags").get_text()
    assert "_" not in text.split(".")[0]  # no raw codes such as keyword_stuffing
    assert attempt.grade["flags"][0]["reason"] in text


def test_submitting_twice_with_the_same_key_stores_one_attempt(app, client):
    signed_up(client)
    first = submit_answer(client, key="same-key-1234")
    second = submit_answer(client, key="same-key-1234")
    assert first.headers["location"] == second.headers["location"]
    app.state.services.worker.wait_idle(timeout=120)
    assert len(repository.list_attempts(app.state.services.db, user_id=1)) == 1


def test_an_empty_answer_comes_back_with_a_message(client):
    signed_up(client)
    response = submit_answer(client, answer="   ")
    assert response.status_code == 422
    assert "empty" in page(response).find(id="answer-error").get_text()


def test_an_answer_submitted_after_the_session_ended_is_kept_through_sign_in(app, client):
    signed_up(client)
    form_token = csrf_token(client, f"/practice/{GOOD_QUESTION}")
    client.cookies.delete("coach_session")
    response = client.post(
        f"/practice/{GOOD_QUESTION}",
        data={"csrf_token": form_token, "answer": ANSWER, "idempotency_key": "expired-session"},
    )
    assert response.status_code == 401
    form = page(response).find("form", attrs={"action": "/sign-in"})
    assert form.find("textarea", attrs={"name": "pending_answer"}).get_text() == ANSWER
    assert repository.list_attempts(app.state.services.db, user_id=1) == []
    again = sign_in(client, pending_question=GOOD_QUESTION, pending_answer=ANSWER)
    assert again.headers["location"] == f"/practice/{GOOD_QUESTION}?restored=1"
    restored = page(client.get(again.headers["location"]))
    assert restored.find("textarea", attrs={"name": "answer"}).get_text() == ANSWER
    assert "kept" in restored.get_text()


def test_try_again_puts_the_previous_attempt_beside_the_answer_box(app, client):
    signed_up(client)
    attempt_id = graded_attempt(app, client)
    feedback = page(client.get(f"/attempts/{attempt_id}"))
    again_link = feedback.find("a", string="Try again")["href"]
    assert again_link == f"/practice/{GOOD_QUESTION}?previous={attempt_id}"
    html = page(client.get(again_link))
    previous = html.select_one("aside.previous")
    assert previous.select_one("[data-user-content]").get_text() == ANSWER
    assert html.find("input", attrs={"name": "previous"})["value"] == attempt_id
    second = graded_attempt(app, client)
    compared = page(client.get(f"/attempts/{second}?previous={attempt_id}"))
    assert "Previous attempt" in compared.select_one(".delta").get_text()


def test_a_failed_grading_keeps_the_answer_and_offers_to_grade_again(app, client, monkeypatch):
    signed_up(client)
    grader = app.state.services.worker._load_grader()

    def broken(*_args, **_kwargs):
        raise RuntimeError("model file missing")

    monkeypatch.setattr(grader, "grade", broken)
    attempt_id = graded_attempt(app, client)
    html = page(client.get(f"/attempts/{attempt_id}"))
    assert "could not be graded" in html.get_text()
    assert "model file missing" not in html.get_text()
    monkeypatch.undo()
    retried = post_form(client, f"/attempts/{attempt_id}/retry", from_page="/")
    assert retried.status_code == 303
    app.state.services.worker.wait_idle(timeout=120)
    assert repository.get_attempt(app.state.services.db, user_id=1, attempt_id=attempt_id).status == "graded"


def test_answers_waiting_for_the_grader_are_graded_after_a_restart(make_app):
    from coach.web.app import create_app

    first = make_app("restart")
    with browser(first) as before:
        signed_up(before)
        uid = user_id(first, "ada@example.org")
    stored = repository.store_attempt(first.state.services.db, user_id=uid, question_id=GOOD_QUESTION, answer=ANSWER)
    restarted = create_app(first.state.services.settings, grader=first.state.services.worker._load_grader())
    try:
        with browser(restarted):
            restarted.state.services.worker.wait_idle(timeout=120)
        db = restarted.state.services.db
        assert repository.get_attempt(db, user_id=uid, attempt_id=stored.id).status == "graded"
    finally:
        restarted.state.services.worker.stop()
        restarted.state.services.db.dispose()


def test_reporting_a_wrong_grade_is_recorded_and_can_be_taken_back(app, client):
    signed_up(client)
    attempt_id = graded_attempt(app, client)
    post_form(client, f"/attempts/{attempt_id}/flag", {"comment": "key point 2 is there", "wrong": "1"}, from_page="/")
    attempt = repository.get_attempt(app.state.services.db, user_id=1, attempt_id=attempt_id)
    assert attempt.flagged_wrong and attempt.flag_comment == "key point 2 is there"
    post_form(client, f"/attempts/{attempt_id}/flag", {"wrong": "0"}, from_page="/")
    assert not repository.get_attempt(app.state.services.db, user_id=1, attempt_id=attempt_id).flagged_wrong


def test_an_answer_submitted_while_the_server_stops_stays_stored_for_the_next_start(app, client):
    signed_up(client)
    services = app.state.services
    services.worker.stop()
    stored = repository.store_attempt(
        services.db, user_id=user_id(app, "ada@example.org"), question_id="rai-pm-what-is-responsible-ai", answer=ANSWER
    )
    future = services.worker.submit(stored)  # used to raise "cannot schedule new futures after shutdown"
    assert future.done() and future.exception() is None
    after = repository.get_attempt(services.db, user_id=stored.user_id, attempt_id=stored.id)
    assert after.status == "stored"  # queued again when the server next starts
