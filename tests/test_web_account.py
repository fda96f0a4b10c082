"""The account page: export, deleting data or the account (password again), password change, API tokens."""
# ruff: noqa: F811 - pytest fixtures are imported from test_web_support and taken as arguments

from __future__ import annotations

import json

from test_web_support import (
    PASSWORD,
    app,  # noqa: F401
    browser,
    client,  # noqa: F401
    graded_attempt,
    make_app,  # noqa: F401
    page,
    post_form,
    real_grader,  # noqa: F401
    sign_in,
    signed_up,
)

from coach.storage import repository


def test_export_downloads_everything_as_json(app, client):
    signed_up(client)
    attempt_id = graded_attempt(app, client)
    response = client.get("/account/export")
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["content-disposition"].startswith('attachment; filename="interview-coach-export-')
    assert response.headers["cache-control"] == "no-store"
    data = json.loads(response.text)
    assert data["format"] == "interview-coach-export"
    assert [a["id"] for a in data["attempts"]] == [attempt_id]
    assert "password_hash" not in data["user"]


def test_deleting_all_data_needs_the_password(app, client):
    signed_up(client)
    graded_attempt(app, client)
    refused = post_form(client, "/account/delete-data", {"password": "not my password"})
    assert refused.status_code == 403
    assert "nothing was deleted" in page(refused).get_text()
    assert len(repository.list_attempts(app.state.services.db, user_id=1)) == 1
    done = post_form(client, "/account/delete-data", {"password": PASSWORD})
    assert done.status_code == 303
    assert repository.list_attempts(app.state.services.db, user_id=1) == []
    assert repository.find_user_by_email(app.state.services.db, email="ada@example.org") is not None


def test_deleting_the_account_removes_it_and_its_sessions(app, client):
    signed_up(client)
    with browser(app) as laptop:
        assert sign_in(laptop).status_code == 303
        done = post_form(client, "/account/delete", {"password": PASSWORD})
        assert done.status_code == 303
        assert done.headers["clear-site-data"]
        assert repository.find_user_by_email(app.state.services.db, email="ada@example.org") is None
        assert laptop.get("/history", follow_redirects=False).status_code == 303  # signed out everywhere


def test_re_entering_the_password_is_throttled_too(app, client):
    from coach.web import auth

    signed_up(client)
    for _ in range(auth.REAUTH_PER_ACCOUNT.count):
        post_form(client, "/account/delete-data", {"password": "guess guess"})
    response = post_form(client, "/account/delete-data", {"password": PASSWORD})
    assert response.status_code == 429
    assert "retry-after" in response.headers


def test_changing_the_password_signs_out_other_sessions_but_not_this_one(app, client):
    signed_up(client)
    with browser(app) as laptop:
        sign_in(laptop)
        changed = post_form(
            client, "/account/password", {"current_password": PASSWORD, "new_password": "a new long passphrase"}
        )
        assert changed.status_code == 303
        assert laptop.get("/history", follow_redirects=False).status_code == 303
    assert client.get("/history").status_code == 200
    with browser(app) as again:
        assert sign_in(again, password="a new long passphrase").status_code == 303


def test_a_new_password_must_follow_the_rules(client):
    signed_up(client)
    response = post_form(client, "/account/password", {"current_password": PASSWORD, "new_password": "password"})
    assert response.status_code == 422
    assert "most common" in page(response).find(id="password-error").get_text()


def test_signing_out_everywhere_else_keeps_this_browser(app, client):
    signed_up(client)
    with browser(app) as laptop:
        sign_in(laptop)
        assert len(repository.list_auth_sessions(app.state.services.db, user_id=1)) == 2
        post_form(client, "/account/sessions/end-others")
        assert laptop.get("/account", follow_redirects=False).status_code == 303
    assert client.get("/account").status_code == 200


def test_an_api_token_is_shown_once_and_only_its_hash_is_kept(app, client):
    signed_up(client)
    created = post_form(client, "/account/tokens", {"name": "my script"})
    assert created.status_code == 201
    token = page(created).find(id="new-token")["value"]
    assert token.startswith("coach_") and len(token) > 40
    stored = repository.list_api_tokens(app.state.services.db, user_id=1)
    assert [t.name for t in stored] == ["my script"]
    assert stored[0].token_hash == repository.hash_token(token)
    assert token not in client.get("/account").text
    assert client.get("/api/v1/bank", headers={"authorization": f"Bearer {token}"}).status_code == 200
    post_form(client, f"/account/tokens/{stored[0].id}/delete")
    assert client.get("/api/v1/bank", headers={"authorization": f"Bearer {token}"}).status_code == 401


def test_the_only_admin_cannot_delete_the_account_while_others_remain(app, client):
    signed_up(client)
    with browser(app) as other:
        signed_up(other, "bob@example.org")
    response = post_form(client, "/account/delete", {"password": PASSWORD})
    assert response.status_code == 409
    assert repository.find_user_by_email(app.state.services.db, email="ada@example.org") is not None
