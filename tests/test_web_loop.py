"""L3 (functional part): slow work never runs on the event loop, so the server keeps answering while it runs.

A real uvicorn server on a loopback port, the real grader and the real argon2 hasher. Grading and password
hashing are held mid-way by a gate; the server must still answer /healthz and pages, the answer must be
acknowledged before its grade exists, and the held work must run in a thread without a running event loop.
The assertions are about order and place (which thread, what happened before what), never about time; the
client timeout only turns a hang into a failure. Figures (healthz p99 under load, slow-callback warnings)
come from `bench/load_users.py --probe 10 --asyncio-debug` (the `journey` run of bench/run_all.py).
"""
# ruff: noqa: F811 - pytest fixtures are imported from test_web_support and taken as arguments

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from test_web_support import (
    ANSWER,
    GOOD_QUESTION,
    PASSWORD,
    make_app,  # noqa: F401
    real_grader,  # noqa: F401
)

from coach.storage import repository

HANG_GUARD = 60  # seconds; only so that a blocked loop fails the test instead of hanging it


class HeldHasher:
    """The real argon2 hasher, held before each verify until the test sets `release` (`on_verify` runs first)."""

    def __init__(self, real, release: threading.Event, on_verify=lambda: None):
        self.real, self.release, self.on_verify = real, release, on_verify

    def verify(self, *args, **kwargs):
        self.on_verify()
        self.release.wait(HANG_GUARD)
        return self.real.verify(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.real, name)


def _running_loop_in_this_thread() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@pytest.fixture
def live(make_app, monkeypatch) -> Iterator[tuple[str, object]]:
    """The app on uvicorn in a thread (its own event loop), as `coach serve` runs it."""
    import uvicorn

    from coach.web.routes import practice

    # Submitting waits for a quick grade and the status request is held until the grade exists: shortened here,
    # where grading is held on purpose (tests/test_web_practice.py covers both waits).
    monkeypatch.setattr(practice, "SUBMIT_WAIT_SECONDS", 0.05)
    monkeypatch.setattr(practice, "STATUS_HOLD_SECONDS", 0.2)
    app = make_app("loop")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False))
    thread = threading.Thread(target=server.run, name="loop-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + HANG_GUARD
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.02)
    app.state.services.worker.ready.wait(HANG_GUARD)
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    thread.join(timeout=HANG_GUARD)


def _client(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=HANG_GUARD, follow_redirects=False)


def _csrf(client: httpx.Client, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found, f"no CSRF field on {path}"
    return found.group(1)


def _sign_up(client: httpx.Client, email: str) -> None:
    data = {"csrf_token": _csrf(client, "/sign-up"), "email": email, "password": PASSWORD, "display_name": "Ada"}
    assert client.post("/sign-up", data=data).status_code == 303


def _submit(client: httpx.Client, answer: str = ANSWER) -> str:
    html = client.get(f"/practice/{GOOD_QUESTION}").text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = client.post(
        f"/practice/{GOOD_QUESTION}", data={"csrf_token": token, "idempotency_key": key, "answer": answer}
    )
    assert response.status_code == 303, response.text
    return response.headers["location"].split("/")[2]


def test_the_server_answers_while_an_answer_is_being_graded(live, monkeypatch):
    base_url, app = live
    services = app.state.services
    grader = services.worker.grader()
    original = grader.grade
    inside, release = threading.Event(), threading.Event()
    events: list[str] = []
    grading_threads: list[tuple[str, bool]] = []

    def held(*args, **kwargs):
        grading_threads.append((threading.current_thread().name, _running_loop_in_this_thread()))
        inside.set()
        release.wait(HANG_GUARD)
        result = original(*args, **kwargs)
        events.append("graded")
        return result

    monkeypatch.setattr(grader, "grade", held)
    with _client(base_url) as client:
        _sign_up(client, "ada@example.org")
        attempt_id = _submit(client)
        events.append("acknowledged")
        assert inside.wait(HANG_GUARD), "grading never started"
        # Grading is now held mid-way: the loop and the pool must still serve everyone.
        assert client.get("/healthz").json() == {"status": "ok"}
        events.append("healthz answered")
        assert client.get("/").status_code == 200
        events.append("page answered")
        status = client.get(f"/attempts/{attempt_id}/status")
        assert status.status_code == 200 and "Grading" in status.text
        stored = repository.get_attempt(services.db, user_id=1, attempt_id=attempt_id)
        assert stored.status == "stored" and stored.answer == ANSWER
        release.set()
        services.worker.wait_idle(timeout=HANG_GUARD)
        assert client.get(f"/attempts/{attempt_id}/status").status_code == 204
    assert events == ["acknowledged", "healthz answered", "page answered", "graded"]
    assert grading_threads == [(grading_threads[0][0], False)]
    assert grading_threads[0][0].startswith("coach-grading")


def test_a_status_request_held_until_the_grade_exists_holds_up_nobody(live, monkeypatch):
    """The feedback page's status request waits on the loop for the grade: meanwhile /healthz and pages answer,
    and it answers once the held grading ends (the wait is neither a blocked loop nor a pool thread)."""
    from coach.web.routes import practice

    base_url, app = live
    services = app.state.services
    grader = services.worker.grader()
    original = grader.grade
    inside, release = threading.Event(), threading.Event()

    def held(*args, **kwargs):
        inside.set()
        release.wait(HANG_GUARD)
        return original(*args, **kwargs)

    monkeypatch.setattr(grader, "grade", held)
    monkeypatch.setattr(practice, "STATUS_HOLD_SECONDS", HANG_GUARD)
    waiting = threading.Event()
    wait_for_grade = services.worker.wait_for_grade

    async def noting(*args, **kwargs):
        waiting.set()
        return await wait_for_grade(*args, **kwargs)

    monkeypatch.setattr(services.worker, "wait_for_grade", noting)
    with _client(base_url) as client, ThreadPoolExecutor(1) as pool:
        _sign_up(client, "ada@example.org")
        attempt_id = _submit(client)
        assert inside.wait(HANG_GUARD), "grading never started"
        held_status = pool.submit(client.get, f"/attempts/{attempt_id}/status")
        assert waiting.wait(HANG_GUARD), "the status request never reached the wait"
        with _client(base_url) as other:
            assert other.get("/healthz").json() == {"status": "ok"}
            assert other.get("/sign-in").status_code == 200
        assert not held_status.done()
        release.set()
        answered = held_status.result(timeout=HANG_GUARD)
    assert answered.status_code == 204 and answered.headers["hx-refresh"] == "true"
    assert repository.get_attempt(services.db, user_id=1, attempt_id=attempt_id).status == "graded"


def test_a_queue_of_real_grading_work_does_not_hold_up_health_checks(live, monkeypatch):
    """Several answers graded for real behind a held one: /healthz answers while every one of them waits."""
    base_url, app = live
    services = app.state.services
    grader = services.worker.grader()
    original = grader.grade
    release = threading.Event()
    graded: list[int] = []

    def first_held(*args, **kwargs):
        if not graded:
            release.wait(HANG_GUARD)
        result = original(*args, **kwargs)
        graded.append(1)
        return result

    monkeypatch.setattr(grader, "grade", first_held)
    with _client(base_url) as client:
        _sign_up(client, "ada@example.org")
        ids = [_submit(client, f"{ANSWER} Point {i} of my answer.") for i in range(4)]
        assert services.worker.pending == 4
        answers = [client.get("/healthz").status_code for _ in range(20)]
        assert answers == [200] * 20
        assert graded == [] and services.worker.pending == 4  # all answered before any grade was written
        release.set()
        services.worker.wait_idle(timeout=HANG_GUARD)
    assert len(graded) == 4 and services.worker.pending == 0
    statuses = {repository.get_attempt(services.db, user_id=1, attempt_id=i).status for i in ids}
    assert statuses == {"graded"}


def test_password_hashing_runs_in_the_pool_and_is_capped(live, monkeypatch):
    """Sign-ins wait for a KDF slot in pool threads; the loop keeps answering and at most KDF_SLOTS hash at once."""
    from coach.web.auth import KDF_SLOTS

    base_url, app = live
    passwords = app.state.services.passwords
    release = threading.Event()
    threads: list[bool] = []

    monkeypatch.setattr(
        passwords,
        "hasher",
        HeldHasher(passwords.hasher, release, lambda: threads.append(_running_loop_in_this_thread())),
    )
    with _client(base_url) as setup:
        _sign_up(setup, "ada@example.org")
    clients = [_client(base_url) for _ in range(KDF_SLOTS + 3)]
    tokens = [_csrf(c, "/sign-in") for c in clients]

    def sign_in(i: int) -> int:
        data = {"csrf_token": tokens[i], "email": "ada@example.org", "password": PASSWORD}
        return clients[i].post("/sign-in", data=data).status_code

    with ThreadPoolExecutor(len(clients)) as pool:
        futures = [pool.submit(sign_in, i) for i in range(len(clients))]
        deadline = time.monotonic() + HANG_GUARD
        while passwords.in_flight < KDF_SLOTS:
            assert time.monotonic() < deadline, "no sign-in reached the KDF"
            time.sleep(0.01)
        # Every slot is taken and more sign-ins are waiting: the server still answers.
        with _client(base_url) as other:
            assert other.get("/healthz").status_code == 200
            assert other.get("/sign-in").status_code == 200
        assert passwords.in_flight == KDF_SLOTS
        release.set()
        codes = [f.result() for f in futures]
    for c in clients:
        c.close()
    assert codes == [303] * len(clients)
    assert passwords.max_in_flight == KDF_SLOTS
    assert threads and not any(threads)


def test_sign_ins_beyond_the_waiting_room_get_503_with_retry_after(live, monkeypatch):
    """A login storm cannot take every pool thread: past `max_waiting` waiting sign-ins, the answer is 503."""
    from coach.web.auth import KDF_SLOTS

    base_url, app = live
    passwords = app.state.services.passwords
    release = threading.Event()

    with _client(base_url) as setup:
        _sign_up(setup, "ada@example.org")
    monkeypatch.setattr(passwords, "hasher", HeldHasher(passwords.hasher, release))
    clients = [_client(base_url) for _ in range(KDF_SLOTS + 2)]
    tokens = [_csrf(c, "/sign-in") for c in clients]

    def sign_in(i: int) -> httpx.Response:
        data = {"csrf_token": tokens[i], "email": "ada@example.org", "password": PASSWORD}
        return clients[i].post("/sign-in", data=data)

    with ThreadPoolExecutor(len(clients)) as pool:
        admitted = [pool.submit(sign_in, i) for i in range(KDF_SLOTS + 1)]  # two hashing, one waiting
        deadline = time.monotonic() + HANG_GUARD
        while passwords.in_flight < KDF_SLOTS or passwords.waiting < 1:
            assert time.monotonic() < deadline, "the sign-ins did not reach the KDF"
            time.sleep(0.01)
        monkeypatch.setattr(passwords, "max_waiting", 1)  # the waiting room is now full
        turned_away = sign_in(KDF_SLOTS + 1)
        assert turned_away.status_code == 503
        assert int(turned_away.headers["retry-after"]) > 0
        assert "signing in" in turned_away.text
        release.set()
        assert [f.result().status_code for f in admitted] == [303] * (KDF_SLOTS + 1)
    for c in clients:
        c.close()
    assert passwords.refused == 1


def test_past_the_bound_on_requests_in_flight_the_answer_is_503_at_once(make_app, monkeypatch):
    """Overload is answered with 503 + Retry-After straight away, never a wait without end; probes still pass."""
    import uvicorn

    from coach.web import backpressure

    monkeypatch.setattr(backpressure, "MAX_IN_FLIGHT", 2)
    app = make_app("shed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive()
        time.sleep(0.02)
    base_url = f"http://127.0.0.1:{port}"
    passwords = app.state.services.passwords
    release = threading.Event()

    try:
        with _client(base_url) as setup:
            _sign_up(setup, "ada@example.org")
        monkeypatch.setattr(passwords, "hasher", HeldHasher(passwords.hasher, release))
        clients = [_client(base_url) for _ in range(2)]
        tokens = [_csrf(c, "/sign-in") for c in clients]

        def sign_in(i: int) -> int:
            data = {"csrf_token": tokens[i], "email": "ada@example.org", "password": PASSWORD}
            return clients[i].post("/sign-in", data=data).status_code

        with ThreadPoolExecutor(2) as pool:
            held = [pool.submit(sign_in, i) for i in range(2)]
            deadline = time.monotonic() + HANG_GUARD
            while passwords.in_flight < 2:
                assert time.monotonic() < deadline, "the sign-ins did not reach the KDF"
                time.sleep(0.01)
            with _client(base_url) as other:
                shed = other.get("/sign-in")
                assert shed.status_code == 503
                assert int(shed.headers["retry-after"]) > 0
                assert shed.headers["x-content-type-options"] == "nosniff"  # still inside the security headers
                assert other.get("/healthz").status_code == 200  # probes are never shed
            release.set()
            assert [f.result() for f in held] == [303, 303]
        with _client(base_url) as after:
            assert after.get("/sign-in").status_code == 200  # the bound is on requests in flight, not a ban
        for c in clients:
            c.close()
    finally:
        release.set()
        server.should_exit = True
        thread.join(timeout=HANG_GUARD)
