"""Fixtures and helpers for the web tests (tests/test_web_*.py import them; this module has no tests).

Every app gets its own COACH_HOME and SQLite file, argon2's cheapest parameters, and the real grader,
loaded once per test run.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from starlette.testclient import TestClient

PASSWORD = "correct horse battery staple"
BASE_URL = "http://testserver"
# A genuine-sounding answer to `GOOD_QUESTION`, long enough to be graded as an answer.
ANSWER = (
    "First I would pin down the intended use and the harms, because a false decline costs an applicant access "
    "to credit. I would ask for error rates by group rather than overall accuracy, and run a bias audit that "
    "compares approval rates and false negative rates across age, sex and region. I would document the findings "
    "in a model card, propose a shadow-mode launch with human review of every decline, and agree monitoring by "
    "segment with a rollback trigger before launch. Finally I would make sure compliance signs off on the "
    "residual risk in writing."
)


@pytest.fixture(scope="session")
def real_grader(tmp_path_factory):
    """The default grader (embedded model + shipped background), loaded once for the whole run."""
    from coach.api import default_grader
    from coach.settings import Settings

    return default_grader(Settings(home=tmp_path_factory.mktemp("grader-home")))


def web_settings(home: Path, **overrides):
    from coach.settings import Settings

    values = {"home": home, "database_url": None, "password_hash_cost": "test", "packs_dir": None}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def make_app(tmp_path, real_grader, migrated_sqlite):
    """A factory of apps, each on its own COACH_HOME; `make_app(https=True)` overrides settings.

    A new SQLite home starts from a copy of `migrated_sqlite` (tests/conftest.py; 0700 folder, 0600 file, as the app makes them):
    running the migrations cost every web test about 50 ms. The app still opens it the normal way (quick_check,
    schema revision check). Creating and migrating a new database on open is tested in
    tests/test_storage_migrations.py, and the e2e server and tests/test_durability.py start from nothing."""
    from coach.web.app import create_app

    apps = []

    def make(name: str = "web", **overrides):
        settings = web_settings(tmp_path / name, **overrides)
        if settings.database_url is None and not settings.home.exists():
            settings.home.mkdir(mode=0o700, parents=True)
            settings.home.chmod(0o700)
            shutil.copyfile(migrated_sqlite, settings.sqlite_path)
            settings.sqlite_path.chmod(0o600)
        app = create_app(settings, grader=real_grader)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.state.services.worker.stop()
        app.state.services.db.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE_URL) as test_client:
        yield test_client


def browser(app) -> TestClient:
    """Another browser (its own cookies) on the same app; close it or use it in a `with` block."""
    return TestClient(app, base_url=BASE_URL)


def page(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def csrf_token(client: TestClient, path: str = "/sign-in") -> str:
    """The token of the first form on `path` (fetching the page also sets the CSRF cookie)."""
    response = client.get(path)
    field = page(response).find("input", attrs={"name": "csrf_token"})
    assert field is not None, f"no CSRF field on {path}"
    return str(field["value"])


def sign_up(client: TestClient, email: str = "ada@example.org", password: str = PASSWORD, name: str = "Ada"):
    token = csrf_token(client, "/sign-up")
    data = {"csrf_token": token, "email": email, "password": password, "display_name": name}
    return client.post("/sign-up", data=data, follow_redirects=False)


def sign_in(client: TestClient, email: str = "ada@example.org", password: str = PASSWORD, **extra: str):
    token = csrf_token(client, "/sign-in")
    return client.post(
        "/sign-in", data={"csrf_token": token, "email": email, "password": password, **extra}, follow_redirects=False
    )


def signed_up(client: TestClient, email: str = "ada@example.org", name: str = "Ada") -> TestClient:
    response = sign_up(client, email=email, name=name)
    assert response.status_code == 303, response.text
    return client


def post_form(client: TestClient, path: str, data: dict[str, str] | None = None, *, from_page: str = "/account"):
    """POST a form with the CSRF token taken from `from_page`."""
    return client.post(path, data={"csrf_token": csrf_token(client, from_page), **(data or {})}, follow_redirects=False)


def first_question_id(app) -> str:
    return app.state.services.bank.questions[0].id


GOOD_QUESTION = "ethics-br-merchant-credit-rush"


def submit_answer(client: TestClient, question_id: str = GOOD_QUESTION, answer: str = ANSWER, key: str | None = None):
    """Submit from the practice page, as a browser would (its idempotency key unless one is given)."""
    form = page(client.get(f"/practice/{question_id}")).find("form", attrs={"data-answer-form": True})
    assert form is not None
    data = {field["name"]: field.get("value", "") for field in form.find_all("input") if field.get("name")}
    data["answer"] = answer
    if key:
        data["idempotency_key"] = key
    return client.post(f"/practice/{question_id}", data=data, follow_redirects=False)


def graded_attempt(app, client: TestClient, question_id: str = GOOD_QUESTION, answer: str = ANSWER) -> str:
    """Submit an answer, wait for the grading thread, and return the attempt id."""
    response = submit_answer(client, question_id, answer)
    assert response.status_code == 303, response.text
    attempt_id = re.search(r"/attempts/([0-9a-f]+)", response.headers["location"]).group(1)
    app.state.services.worker.wait_idle(timeout=120)
    return attempt_id


def user_id(app, email: str) -> int:
    from coach.storage import repository

    user = repository.find_user_by_email(app.state.services.db, email=email)
    assert user is not None
    return user.id


def app_routes(app) -> list[tuple[str, frozenset[str]]]:
    """(path, methods) of every route, through included routers (FastAPI 0.165 keeps them nested)."""
    from fastapi.routing import iter_route_contexts

    found = []
    for context in iter_route_contexts(app.routes):
        methods = context.methods
        if context.path and methods:
            found.append((context.path, frozenset(methods)))
    assert len(found) > 20, "the route walk found too few routes; did FastAPI change how routers nest?"
    return sorted(found)
