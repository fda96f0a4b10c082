"""The admin page: accounts, opening and closing sign-up, and uploading question packs."""
# ruff: noqa: F811 - pytest fixtures are imported from test_web_support and taken as arguments

from __future__ import annotations

import yaml
from test_web_support import (
    app,  # noqa: F401
    browser,
    client,  # noqa: F401
    csrf_token,
    make_app,  # noqa: F401
    page,
    post_form,
    real_grader,  # noqa: F401
    sign_up,
    signed_up,
)

VALID_PACK = {
    "id": "team-pack",
    "title": "Our team's questions",
    "questions": [
        {
            "id": "team-incident-review",
            "text": "Walk me through how you would run a review after a model caused harm to users.",
            "role": "ai-ethics-specialist",
            "level": "intermediate",
            "category": "scenario",
            "type": "situational",
            "skills": ["incident response"],
            "why_asked": "Checks that the candidate can run a blameless, evidence-based review.",
            "key_points": [
                {"id": "contain", "text": "Contains the harm first and tells affected users"},
                {"id": "root-cause", "text": "Finds the root cause with evidence, not blame"},
            ],
            "structure": "framework",
            "example_answer": "First I would contain the harm and tell the people affected. Then I'd find the cause.",
        }
    ],
}


def upload(client, name: str, content: bytes):
    token = csrf_token(client, "/admin")
    return client.post(
        "/admin/packs", data={"csrf_token": token}, files={"pack": (name, content, "application/x-yaml")}
    )


def test_members_cannot_open_the_admin_page(app, client):
    signed_up(client, "admin@example.org")
    with browser(app) as member:
        signed_up(member, "member@example.org")
        assert member.get("/admin").status_code == 403
        assert upload(member, "p.yaml", b"x").status_code == 403
        token = csrf_token(member, "/account")
        assert member.post("/admin/sign-up", data={"csrf_token": token, "open": "0"}).status_code == 403
    assert app.state.services.signup_open()


def test_the_admin_sees_every_account(app, client):
    signed_up(client, "admin@example.org")
    with browser(app) as member:
        signed_up(member, "member@example.org")
    rows = page(client.get("/admin")).select("table tbody tr")
    assert [row.find_all("td")[1].get_text() for row in rows] == ["admin@example.org", "member@example.org"]


def test_the_admin_can_close_and_reopen_sign_up(app, client):
    signed_up(client)
    post_form(client, "/admin/sign-up", {"open": "0"}, from_page="/admin")
    assert not app.state.services.signup_open()
    with browser(app) as visitor:
        assert "closed" in page(visitor.get("/sign-up")).get_text()
    post_form(client, "/admin/sign-up", {"open": "1"}, from_page="/admin")
    with browser(app) as visitor:
        assert sign_up(visitor, "new@example.org").status_code == 303


def test_a_valid_pack_is_added_to_the_bank_and_kept(app, client):
    signed_up(client)
    response = upload(client, "team.yaml", yaml.safe_dump(VALID_PACK).encode())
    assert response.status_code == 201, response.text
    assert "1 question(s) in pack team-pack" in page(response).get_text()
    services = app.state.services
    assert "team-incident-review" in services.bank
    assert (services.settings.home / "packs" / "team-pack.yaml").exists()
    assert client.get("/bank/team-incident-review").status_code == 200


def test_an_invalid_pack_is_refused_with_an_error_per_field(app, client):
    signed_up(client)
    pack = {**VALID_PACK, "questions": [{**VALID_PACK["questions"][0], "level": "expert", "key_points": []}]}
    del pack["questions"][0]["why_asked"]
    response = upload(client, "team.yaml", yaml.safe_dump(pack).encode())
    assert response.status_code == 422
    errors = [li.get_text() for li in page(response).select(".pack-errors li")]
    assert len(errors) == 3
    assert any("field level" in e for e in errors)
    assert any("field key_points" in e for e in errors)
    assert any("field why_asked" in e and "required" in e for e in errors)
    assert "team-incident-review" not in app.state.services.bank
    assert not (app.state.services.settings.home / "packs" / "team-pack.yaml").exists()


def test_a_pack_that_reuses_a_shipped_question_id_is_refused(app, client):
    signed_up(client)
    shipped_id = app.state.services.bank.questions[0].id
    pack = {**VALID_PACK, "questions": [{**VALID_PACK["questions"][0], "id": shipped_id}]}
    response = upload(client, "clash.yaml", yaml.safe_dump(pack).encode())
    assert response.status_code == 422
    assert "defined twice" in page(response).select_one(".pack-errors").get_text()


def test_a_pack_that_is_not_yaml_or_utf8_is_refused_with_the_reason(client):
    signed_up(client)
    assert "not valid YAML" in upload(client, "bad.yaml", b"questions: [unclosed").text
    assert "not UTF-8" in upload(client, "bad.yaml", b"\xff\xfe\x00binary").text
    assert "upload a .yaml" in upload(client, "pack.exe", b"MZ").text


def test_pack_text_with_markup_renders_as_text(app, client):
    payload = '<img src=x onerror="window.__xss=1">'
    signed_up(client)
    pack = {**VALID_PACK, "questions": [{**VALID_PACK["questions"][0], "text": f"Explain this {payload} please?"}]}
    assert upload(client, "team.yaml", yaml.safe_dump(pack).encode()).status_code == 201
    for path in ["/bank/team-incident-review", "/practice/team-incident-review", "/bank"]:
        html = page(client.get(path))
        assert not html.find_all("img"), path
        assert payload in html.get_text(), path
