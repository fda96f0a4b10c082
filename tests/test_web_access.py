"""CSRF matrix and other users' objects, generated from the app's own route list (RELIABILITY S7, S8).

Every route is found by walking `app.routes`, so a route added later is covered without editing this file;
a route whose path takes an id this file does not know how to create fails
`test_s8_every_route_with_an_id_has_an_idor_case` until it is added to `OWNED` or `SHARED` below.
"""
# ruff: noqa: F811 - pytest fixtures are imported from test_web_support and taken as arguments

from __future__ import annotations

import re
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from test_web_support import (  # noqa: F401 - fixtures
    ANSWER,
    GOOD_QUESTION,
    PASSWORD,
    app,
    app_routes,
    browser,
    client,
    csrf_token,
    graded_attempt,
    make_app,
    page,
    post_form,
    real_grader,
    sign_up,
    signed_up,
    user_id,
)

from coach.storage import repository
from coach.storage.tables import Base

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Path parameters naming an object that belongs to one user (and how its ids look), and those naming
# something every signed-in user shares. A new id kind goes in one of them, with its objects created in
# `world` below for both users.
OWNED = {"attempt_id": "hex", "session_id": "hex", "token_id": "int"}
SHARED = {"question_id"}
# Columns a GET may move: the session's last activity (the idle timeout) and an API token's last use.
ACTIVITY_COLUMNS = {("auth_sessions", "last_seen_at"), ("auth_sessions", "expires_at"), ("api_tokens", "last_used_at")}
# Any form field a state-changing route might read, so that a refusal is never just a missing field.
FORM = {
    "answer": ANSWER,
    "comment": "mine now",
    "wrong": "1",
    "name": "x",
    "password": PASSWORD,
    "current_password": PASSWORD,
    "new_password": "another long passphrase",
    "count": "1",
    "open": "1",
    "idempotency_key": "k" * 16,
    "email": "ada@example.org",
}
CSRF_REFUSALS = ("did not come from this site", "from another site")


def path_params(path: str) -> list[str]:
    return re.findall(r"{(\w+)(?::\w+)?}", path)


def fill(path: str, ids: dict[str, Any]) -> str:
    for name in path_params(path):
        path = re.sub(r"{" + name + r"(?::\w+)?}", str(ids[name]), path)
    return path


def snapshot(app, *, ignore: set[tuple[str, str]] = ACTIVITY_COLUMNS, user: int | None = None) -> dict[str, list]:
    """Every row of every table (optionally only one user's rows), for before/after comparisons."""
    db = app.state.services.db
    found: dict[str, list] = {}
    with db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if (table.name, c.name) not in ignore]
            query = select(*columns)
            if user is not None:
                if "user_id" in table.c:
                    query = query.where(table.c.user_id == user)
                elif table.name == "users":
                    query = query.where(table.c.id == user)
                else:
                    continue
            found[table.name] = sorted((tuple(map(repr, row)) for row in connection.execute(query)), key=repr)
    return found


def html_routes(app) -> list[tuple[str, frozenset[str]]]:
    return [(path, methods) for path, methods in app_routes(app) if not path.startswith(("/api/", "/static"))]


# --- two users, each with one object of every kind -------------------------------------------------------


def objects_of(app, client, email: str) -> dict[str, Any]:
    """Sign up and create one of everything a user can own; returns the ids by path-parameter name."""
    signed_up(client, email, name=email.split("@")[0])
    attempt = graded_attempt(app, client, answer=f"{ANSWER} Canary {email}.")
    post_form(client, f"/attempts/{attempt}/flag", {"comment": f"flag by {email}", "wrong": "1"}, from_page="/")
    post_form(client, f"/practice/{GOOD_QUESTION}/draft", {"answer": f"draft by {email}"}, from_page="/")
    started = post_form(client, "/interviews", {"count": "1"}, from_page="/interviews/new")
    session = started.headers["location"].rsplit("/", 1)[-1]
    post_form(client, f"/interviews/{session}/draft", {"answer": f"interview draft by {email}"}, from_page="/")
    created = post_form(client, "/account/tokens", {"name": f"token of {email}"})
    token_value = page(created).find(id="new-token")["value"]
    uid = user_id(app, email)
    token = repository.list_api_tokens(app.state.services.db, user_id=uid)[0]
    return {
        "user_id": uid,
        "email": email,
        "attempt_id": attempt,
        "session_id": session,
        "token_id": token.id,
        "question_id": GOOD_QUESTION,
        "bearer": {"authorization": f"Bearer {token_value}"},
    }


@pytest.fixture
def world(app, client):
    """Ada (signed in on `client`) and Bob (his own browser), each owning one object of every kind."""
    ada = objects_of(app, client, "ada@example.org")
    bob_client = browser(app)
    bob = objects_of(app, bob_client, "bob@example.org")
    yield {"ada": ada, "bob": bob, "bob_client": bob_client}
    bob_client.close()


def request_as(client, method: str, path: str, bearer: dict[str, str], token: str):
    if path.startswith("/api/"):
        return client.request(method, path, headers=bearer, json={"question_id": GOOD_QUESTION, "answer": ANSWER})
    if method == "GET":
        return client.get(path, follow_redirects=False)
    return client.request(method, path, data={"csrf_token": token, **FORM}, follow_redirects=False)


# --- S8: IDOR / BOLA --------------------------------------------------------------------------------


def test_s8_every_route_with_an_id_has_an_idor_case(app):
    unknown = {
        (path, name)
        for path, _methods in app_routes(app)
        for name in path_params(path)
        if name not in OWNED and name not in SHARED
    }
    assert not unknown, (
        f"routes take ids the IDOR crawl cannot create: {sorted(unknown)}. Add the parameter to OWNED (and create "
        "the object for both users in objects_of) or, if everyone shares it, to SHARED."
    )


def test_s8_ada_gets_404_for_every_route_and_method_with_bob_s_ids(app, client, world):
    ada, bob = world["ada"], world["bob"]
    token = csrf_token(client, "/account")
    bob_before = snapshot(app, user=bob["user_id"])
    tried, succeeded = 0, []
    for path, methods in app_routes(app):
        owned = [name for name in path_params(path) if name in OWNED]
        if not owned:
            continue
        url = fill(path, {**ada, **{name: bob[name] for name in owned}})
        for method in sorted(methods - {"HEAD", "OPTIONS"}):
            response = request_as(client, method, url, ada["bearer"], token)
            tried += 1
            if response.status_code != 404:
                succeeded.append((method, path, response.status_code))
    assert tried >= 12
    assert succeeded == [], f"cross-user requests that were not 404: {succeeded}"
    assert snapshot(app, user=bob["user_id"]) == bob_before
    print(f"S8: 0/{tried} cross-user requests succeeded (all 404)")


def test_s8_another_user_s_id_looks_exactly_like_a_missing_one(app, client, world):
    bob = world["bob"]
    for path, methods in app_routes(app):
        if "GET" not in methods or not any(name in OWNED for name in path_params(path)):
            continue
        missing = {name: ("f" * 32 if kind == "hex" else 987654) for name, kind in OWNED.items()}
        headers = world["ada"]["bearer"] if path.startswith("/api/") else {}
        theirs = client.get(fill(path, {**world["ada"], **{k: bob[k] for k in OWNED}}), headers=headers)
        absent = client.get(fill(path, {**world["ada"], **missing}), headers=headers)
        assert theirs.status_code == absent.status_code == 404, path
        # The same page, once the id itself (which an error message may quote) is blanked out.
        theirs_text, absent_text = theirs.text, absent.text
        for name in (name for name in path_params(path) if name in OWNED):
            theirs_text = theirs_text.replace(str(bob[name]), "ID")
            absent_text = absent_text.replace(str(missing[name]), "ID")
        assert theirs_text == absent_text, path


def _id_candidates(kind: str, bob_value: Any) -> st.SearchStrategy:
    if kind == "int":
        value = int(bob_value)
        return st.one_of(
            st.just(value),
            st.sampled_from([value - 1, value + 1, 0, -1, 2**31, 2**63 - 1, 2**63, 2**64 + 7]),
            st.integers(min_value=-(2**70), max_value=2**70),
        )
    return st.one_of(
        st.just(bob_value),
        st.just(bob_value[:-1] + ("0" if bob_value[-1] != "0" else "1")),  # a neighbour
        st.text(alphabet="0123456789abcdef", min_size=32, max_size=32),
        st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=1, max_size=80),
    )


def test_s8_generated_ids_never_reach_bob_s_objects(app, client, world):
    ada, bob = world["ada"], world["bob"]
    token = csrf_token(client, "/account")
    bob_before = snapshot(app, user=bob["user_id"])
    targets = [
        (path, method, name)
        for path, methods in app_routes(app)
        for name in path_params(path)
        if name in OWNED
        for method in sorted(methods - {"HEAD", "OPTIONS"})
    ]
    tried = [0]

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(target=st.sampled_from(targets), data=st.data())
    def attack(target, data):
        path, method, name = target
        value = data.draw(_id_candidates(OWNED[name], bob[name]), label=name)
        assume(str(value) != str(ada[name]))  # Ada's own object is hers to use (a drawn 1 can be her token)
        url = fill(path, {**ada, name: value})
        response = request_as(client, method, url, ada["bearer"], token)
        tried[0] += 1
        # Bob's objects (and anything else not Ada's) are 404; a value that is not an id at all (a
        # non-number for a numeric id) may also be refused as malformed. Never 2xx/3xx, never 500.
        assert response.status_code in (404, 422), (method, url, response.status_code)

    attack()
    # The edges of a numeric id, every time (hypothesis may not draw them in a short run).
    for path, method, name in targets:
        if OWNED[name] == "int":
            for value in (0, -1, int(bob[name]) + 1, 2**31, 2**63 - 1, 2**63, 2**64 + 7, -(2**70)):
                if str(value) == str(ada[name]):
                    continue
                response = request_as(client, method, fill(path, {**ada, name: value}), ada["bearer"], token)
                assert response.status_code == 404, (method, path, value, response.status_code)
                tried[0] += 1
    assert snapshot(app, user=bob["user_id"]) == bob_before
    print(f"S8: {tried[0]} generated ids on {len(targets)} route/method pairs, 0 reached another user's object")


def test_s8_lists_pages_and_exports_never_show_another_user_s_rows(app, client, world):
    from test_web_pages import get_routes

    ada, bob = world["ada"], world["bob"]
    bob_marks = [bob["attempt_id"], bob["session_id"], "Canary bob@example.org", "bob@example.org", "draft by bob"]
    bob_marks.append(f"flag by {bob['email']}")
    shown = []
    for path in get_routes(app):
        if path.startswith("/admin"):
            continue  # the admin page lists accounts on purpose; Ada is the admin here
        url = fill(path, ada)
        headers = ada["bearer"] if path.startswith("/api/") else {}
        response = client.get(url, headers=headers, follow_redirects=False)
        shown += [(path, mark) for mark in bob_marks if mark in response.text]
    assert shown == []
    listed = client.get("/api/v1/attempts", headers=ada["bearer"]).json()
    assert {item["id"] for item in listed} == {ada["attempt_id"]}


def test_s8_fields_naming_a_user_or_a_role_are_ignored(app, client, world):
    ada, bob = world["ada"], world["bob"]
    db = app.state.services.db
    # A form field naming another user (practice) and a JSON field doing the same (API).
    token = csrf_token(client, f"/practice/{GOOD_QUESTION}")
    data = {"csrf_token": token, "answer": ANSWER, "idempotency_key": "mass-assign-1", "user_id": str(bob["user_id"])}
    response = client.post(f"/practice/{GOOD_QUESTION}", data=data, follow_redirects=False)
    mine = response.headers["location"].rsplit("/", 1)[-1]
    assert repository.get_attempt(db, user_id=ada["user_id"], attempt_id=mine)
    body = {"question_id": GOOD_QUESTION, "answer": ANSWER, "user_id": bob["user_id"], "id": bob["attempt_id"]}
    graded = client.post("/api/v1/grade", json=body, headers=ada["bearer"])
    assert graded.status_code in (200, 202)
    assert repository.get_attempt(db, user_id=ada["user_id"], attempt_id=graded.json()["id"])
    assert len(repository.list_attempts(db, user_id=bob["user_id"])) == 1
    # Signing up with is_admin / user_id fields makes an ordinary member.
    with browser(app) as eve:
        form = {"csrf_token": csrf_token(eve, "/sign-up"), "email": "eve@example.org", "password": PASSWORD}
        form.update(display_name="Eve", is_admin="1", user_id="1", role="admin")
        assert eve.post("/sign-up", data=form, follow_redirects=False).status_code == 303
    eve_row = repository.find_user_by_email(db, email="eve@example.org")
    assert not eve_row.is_admin and eve_row.id not in (ada["user_id"], bob["user_id"])


# --- S7: CSRF ----------------------------------------------------------------------------------------


def test_s7_every_state_changing_route_refuses_cross_site_requests_even_with_a_valid_token(app, client, world):
    ada = world["ada"]
    token = csrf_token(client, "/account")
    routes = [(path, m) for path, methods in html_routes(app) for m in sorted(methods & UNSAFE)]
    assert len(routes) >= 15
    before = snapshot(app)
    refused = 0
    cases = [{"sec-fetch-site": site} for site in ("cross-site", "same-site", "cross-origin")]
    cases += [{"origin": "http://evil.example"}, {"origin": "null"}]
    cases += [{"origin": "http://testserver.evil.example"}, {"origin": "http://testserver:8080"}]
    for path, method in routes:
        url = fill(path, ada)
        for headers in cases:
            response = client.request(method, url, data={"csrf_token": token, **FORM}, headers=headers)
            assert response.status_code == 403, (method, path, headers, response.status_code)
            assert any(text in response.text for text in CSRF_REFUSALS), (method, path, headers)
            refused += 1
    assert snapshot(app) == before
    print(f"S7: {refused}/{refused} cross-site requests refused with 403 on {len(routes)} routes, no state change")


def test_s7_every_state_changing_route_refuses_a_missing_or_foreign_token(app, client, world):
    ada = world["ada"]
    with browser(app) as other:
        foreign = csrf_token(other, "/sign-in")
    before = snapshot(app)
    routes = [(path, m) for path, methods in html_routes(app) for m in sorted(methods & UNSAFE)]
    refused = 0
    for path, method in routes:
        url = fill(path, ada)
        for token in (None, "", "0" * 64, foreign):
            data = dict(FORM) if token is None else {"csrf_token": token, **FORM}
            response = client.request(method, url, data=data, headers={"sec-fetch-site": "same-origin"})
            assert response.status_code == 403, (method, path, token, response.status_code)
            refused += 1
        htmx = client.request(method, url, data=FORM, headers={"hx-request": "true", "x-csrf-token": foreign})
        assert htmx.status_code == 403, (method, path)
        refused += 1
    assert snapshot(app) == before
    print(f"S7: {refused}/{refused} requests without this browser's token refused on {len(routes)} routes")


def test_s7_same_origin_requests_with_the_token_get_through_the_protection(app, client, world):
    ada = world["ada"]
    routes = [(path, m) for path, methods in html_routes(app) for m in sorted(methods & UNSAFE)]
    # Destructive routes last, so that the rest run with the account still there.
    routes.sort(key=lambda item: ("delete" in item[0] and "token" not in item[0], "sign-out" in item[0]))
    for path, method in routes:
        token = csrf_token(client, "/account") if "sign-out" not in path else csrf_token(client, "/")
        for headers in ({"sec-fetch-site": "same-origin"}, {"origin": "http://testserver"}, {}):
            response = client.request(method, fill(path, ada), data={"csrf_token": token, **FORM}, headers=headers)
            assert not any(text in response.text for text in CSRF_REFUSALS), (method, path, headers)
            assert response.status_code < 500, (method, path, response.status_code)


def test_s7_no_get_route_changes_stored_data(app, client, world):
    from test_web_pages import get_routes

    ada = world["ada"]
    crawled = 0
    for path in get_routes(app):
        headers = ada["bearer"] if path.startswith("/api/") else {}
        for url in (fill(path, ada), fill(path, world["bob"])):
            before = snapshot(app)
            client.get(url, headers=headers, follow_redirects=False)
            client.head(url, headers=headers)
            assert snapshot(app) == before, f"GET {url} changed stored data"
            crawled += 1
    assert crawled >= 30
    print(f"S7: {crawled} GET/HEAD crawls, 0 changed stored data")
