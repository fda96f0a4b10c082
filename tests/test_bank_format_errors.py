"""A malformed pack gets a PackError that names the file, the question and the field, and says what is expected."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from coach.bank.loader import load_packs
from coach.cli import app
from coach.errors import PackError

FIXTURE = Path(__file__).parent / "fixtures" / "packs" / "user" / "privacy-engineer.yaml"
DEVSET = Path("/work/shared/devset/questions")


def valid_question(index: int = 0) -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))["questions"][index])


def write_pack(folder: Path, name: str, questions: list[dict[str, Any]], pack_id: str = "test-pack") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump({"id": pack_id, "questions": questions}, sort_keys=False), encoding="utf-8")
    return path


def pack_error(*paths: Path) -> str:
    with pytest.raises(PackError) as info:
        load_packs(list(paths))
    return str(info.value)


def _pop(field: str):
    def mutate(q: dict[str, Any]) -> None:
        del q[field]

    return mutate


def _set(field: str, value: Any):
    def mutate(q: dict[str, Any]) -> None:
        q[field] = value

    return mutate


def _repeat_first_key_point(q: dict[str, Any]) -> None:
    q["key_points"].append(dict(q["key_points"][0], text="The same id again, with other words"))


def _misspell_key_point_field(q: dict[str, Any]) -> None:
    q["key_points"][1]["weigth"] = 2


# (case, mutation, question id the message must name, field it must name, phrases saying what is expected)
FIELD_CASES = [
    ("missing-required-field", _pop("why_asked"), "user-privacy-dpia-walkthrough", "why_asked", ["required"]),
    (
        "level-not-in-enum",
        _set("level", "expert"),
        "user-privacy-dpia-walkthrough",
        "level",
        ["'expert'", "beginner", "intermediate", "advanced"],
    ),
    (
        "seniority-not-in-enum",
        _set("seniority", "intern"),
        "user-privacy-dpia-walkthrough",
        "seniority",
        ["'intern'", "junior", "director"],
    ),
    (
        "unknown-extra-field",
        _set("difficulty", 3),
        "user-privacy-dpia-walkthrough",
        "difficulty",
        ["not part of the format"],
    ),
    ("bad-id-slug", _set("id", "Model Cards!"), "Model Cards!", "id", ["'Model Cards!'", "[a-z0-9]"]),
    ("empty-key-points", _set("key_points", []), "user-privacy-dpia-walkthrough", "key_points", ["at least 1"]),
    (
        "bad-region-code",
        _set("region", ["EU", "usa"]),
        "user-privacy-dpia-walkthrough",
        "region",
        ["'usa'", "two capital letters"],
    ),
    (
        "duplicate-key-point-id",
        _repeat_first_key_point,
        "user-privacy-dpia-walkthrough",
        "key_points",
        ["'necessity'", "twice"],
    ),
    (
        "misspelt-key-point-field",
        _misspell_key_point_field,
        "user-privacy-dpia-walkthrough",
        "key_points[1] (risks-to-people).weigth",
        ["not part of the format"],
    ),
]


@pytest.mark.parametrize(
    ("mutate", "question_id", "field", "expected"),
    [case[1:] for case in FIELD_CASES],
    ids=[case[0] for case in FIELD_CASES],
)
def test_it_names_the_file_question_and_field_of_a_bad_question(tmp_path, mutate, question_id, field, expected):
    question = valid_question()
    mutate(question)
    path = write_pack(tmp_path, "broken.yaml", [question])

    message = pack_error(path)

    assert str(path) in message
    assert f"question {question_id}" in message
    assert f"field {field}" in message
    for phrase in expected:
        assert phrase in message, f"{phrase!r} missing from: {message}"


@pytest.mark.parametrize("mutate", [case[1] for case in FIELD_CASES], ids=[case[0] for case in FIELD_CASES])
def test_its_messages_do_not_leak_validator_internals(tmp_path, mutate):
    question = valid_question()
    mutate(question)
    message = pack_error(write_pack(tmp_path, "broken.yaml", [question]))

    assert "Value error" not in message
    assert "{'id':" not in message  # no dump of the whole question
    assert message.count("got ") <= 1


def test_it_reports_every_bad_question_in_a_file_at_once(tmp_path):
    first, second = valid_question(0), valid_question(1)
    first["level"] = "expert"
    del second["text"]
    message = pack_error(write_pack(tmp_path, "two-bad.yaml", [first, second]))

    assert "question user-privacy-dpia-walkthrough: field level" in message
    assert "question user-privacy-deletion-story: field text" in message


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("id: p\nquestions:\n  - id: q1\n     text: oops\n", "line 4, column 10"),
        ("id: p\nquestions:\n\t- id: q1\n", "line 3, column 1"),
    ],
    ids=["bad-indentation", "tab"],
)
def test_it_gives_the_line_and_column_of_a_yaml_syntax_error(tmp_path, text, where):
    path = tmp_path / "syntax.yaml"
    path.write_text(text, encoding="utf-8")

    message = pack_error(path)

    assert str(path) in message
    assert "not valid YAML" in message
    assert where in message


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"], ids=["empty", "blank-lines", "comment-only"])
def test_it_rejects_an_empty_file_and_says_what_a_pack_holds(tmp_path, text):
    path = tmp_path / "empty.yaml"
    path.write_text(text, encoding="utf-8")

    message = pack_error(path)

    assert str(path) in message
    assert "empty" in message
    assert "`questions`" in message


@pytest.mark.parametrize(("text", "kind"), [("just a sentence\n", "str"), ("42\n", "int")], ids=["string", "number"])
def test_it_rejects_a_file_that_is_not_a_mapping(tmp_path, text, kind):
    path = tmp_path / "scalar.yaml"
    path.write_text(text, encoding="utf-8")

    message = pack_error(path)

    assert str(path) in message
    assert "expected a pack" in message
    assert f"got {kind}" in message


def test_it_rejects_a_list_item_that_is_not_a_question_mapping(tmp_path):
    path = tmp_path / "items.yaml"
    path.write_text("id: p\nquestions:\n  - just text\n", encoding="utf-8")

    message = pack_error(path)

    assert str(path) in message
    assert "question [0]" in message
    assert "expected a mapping of fields" in message


def test_it_rejects_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("id: p\nquestions: []\n# café\n".encode("latin-1"))

    message = pack_error(path)

    assert str(path) in message
    assert "UTF-8" in message


def test_it_rejects_the_same_question_id_twice_in_one_file(tmp_path):
    question = valid_question()
    path = write_pack(tmp_path, "twice.yaml", [question, copy.deepcopy(question)])

    message = pack_error(path)

    assert str(path) in message
    assert "question user-privacy-dpia-walkthrough" in message
    assert "used twice in this file" in message
    assert "entries 1 and 2" in message


def test_it_names_both_files_when_an_id_is_reused_across_files(tmp_path):
    first = write_pack(tmp_path, "a.yaml", [valid_question()], pack_id="pack-a")
    second = write_pack(tmp_path, "b.yaml", [valid_question()], pack_id="pack-b")

    message = pack_error(tmp_path)

    assert "'user-privacy-dpia-walkthrough'" in message
    assert f"in {first} and in {second}" in message
    assert "unique" in message


def test_it_loads_a_valid_question_unchanged_apart_from_normalising(tmp_path):
    question = valid_question(1)  # region is written as a single string here
    bank = load_packs([write_pack(tmp_path, "ok.yaml", [question])])

    loaded = bank.get("user-privacy-deletion-story")
    assert loaded.region == ("US",)
    assert [kp.id for kp in loaded.key_points] == [kp["id"] for kp in question["key_points"]]
    assert loaded.text == question["text"]


def test_validate_exits_2_and_prints_the_error_for_a_broken_pack(tmp_path):
    question = valid_question()
    question["level"] = "expert"
    path = write_pack(tmp_path, "broken.yaml", [question])

    result = CliRunner().invoke(app, ["bank", "validate", str(path)])

    assert result.exit_code == 2, result.output
    assert str(path) in result.output
    assert "field level" in result.output


def test_the_devset_questions_load():
    bank = load_packs([DEVSET])

    assert sorted(q.id for q in bank.questions) == [f"dev-{n:02d}" for n in range(1, 13)]


def test_validate_accepts_the_devset_folder():
    result = CliRunner().invoke(app, ["bank", "validate", str(DEVSET)])

    assert result.exit_code == 0, result.output
    assert "12 question(s)" in result.output
