"""`coach grade` (one answer, readable or JSON), `coach grade --batch` (JSONL in, JSONL out) and their errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from _grading_fixtures import shipped_question
from typer.testing import CliRunner

from coach.cli import app
from coach.grading.model import Grade

pytest_plugins = ["_grading_fixtures"]  # the shared `grader` and `devset` fixtures
pytestmark = pytest.mark.disable_socket

BANK_ID = "rai-pm-aif360-hiring-audit"
ANSWER = (
    "My plan would start with the data: the past applications go into AIF360 with hired-or-not as the outcome and "
    "sex and ethnicity marked as the groups to watch, and I'd agree those groups with our lawyers. Before touching "
    "the model I'd check whether the historical decisions already favour one group, for instance by comparing "
    "selection rates and the impact ratio. Then I'd look at the classifier's mistakes per group, especially whether "
    "qualified women are rejected more often than qualified men. If there is a gap I'd try a couple of fixes, such "
    "as reweighting the training data or adjusting outputs afterwards, and test each on data the model never saw. "
    "I'd close with a short write-up for the hiring managers explaining what we measured, what we changed and what "
    "risk is left. To save time we will just drop the protected attribute."
)


def coach(*args: str, stdin: str | bytes | None = None):
    return CliRunner().invoke(app, ["grade", *args], input=stdin)


def flat(text: str) -> str:
    return " ".join(re.sub(r"[│┃┏┓┗┛┡┩└┘┌┐├┤┬┴┼━─═╇╈╿╽╷╵]", " ", text).split())


@pytest.fixture
def answer_file(tmp_path: Path) -> Path:
    path = tmp_path / "answer.txt"
    path.write_text(ANSWER, encoding="utf-8")
    return path


# --- one answer ---


def test_grade_prints_the_score_key_points_with_evidence_pitfalls_and_the_engine(grader, answer_file):
    result = coach("--question", BANK_ID, "--answer", str(answer_file))
    assert result.exit_code == 0, result.output
    out = flat(result.output)
    expected = grader.grade(_bank_question(), ANSWER)
    assert f"Score: {expected.score:g} / 5" in out
    assert "Key points" in out and "✔ covered" in out
    assert "Pitfalls" in out and "just drop the protected attribute" in out
    assert "Next steps" in out
    assert f"engine {expected.engine.version} · {expected.engine.embedder}" in out


def _bank_question():
    return shipped_question(BANK_ID)


def test_grade_json_is_the_same_grade_the_library_gives(grader, answer_file):
    result = coach("--question", BANK_ID, "--answer", str(answer_file), "--json", "--seconds", "80")
    assert result.exit_code == 0, result.output
    printed = Grade.model_validate_json(result.stdout)
    assert printed == grader.grade(_bank_question(), ANSWER, seconds=80)
    assert printed.delivery.seconds == 80 and printed.pitfalls[0].id == "unawareness"


def test_grade_reads_the_answer_from_standard_input(grader):
    result = coach("--question", BANK_ID, "--json", stdin=ANSWER)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["score"] == grader.grade(_bank_question(), ANSWER).score


def test_grade_takes_a_question_from_a_yaml_file(grader, devset, tmp_path):
    answer = tmp_path / "a.txt"
    answer.write_text(devset.text("dev-01-good"), encoding="utf-8")
    result = coach("--question", str(devset.root / "questions" / "dev-01.yaml"), "--answer", str(answer), "--json")
    assert result.exit_code == 0, result.output
    expected = grader.grade(devset.questions["dev-01"], devset.text("dev-01-good"))
    assert json.loads(result.stdout) == expected.model_dump(mode="json")


# --- bad input: exit code 2 with the message; unknown id: exit code 1 ---


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The answer is empty"),
        (b"   \n\t  \n", "The answer is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data"),
        (b"caf\xe9 au lait is my answer", "not UTF-8"),
        (b"answer \x01\x02\x03\x04\x05\x06\x07\x08 more", "control characters"),
        (("fairness " * 2300).encode(), "the limit is 20,000"),
        (
            "Eu acho que a inteligência artificial responsável é muito importante para as empresas, porque os "
            "modelos podem causar danos às pessoas e o gerente deve garantir que o sistema seja justo.".encode(),
            "does not look like English",
        ),
    ],
    ids=["empty", "whitespace", "binary", "latin-1", "control-chars", "too-long", "portuguese"],
)
def test_grade_rejects_a_bad_answer_file_with_exit_code_2_and_the_reason(grader, tmp_path, content, message):
    path = tmp_path / "answer.txt"
    path.write_bytes(content)
    result = coach("--question", BANK_ID, "--answer", str(path))
    assert result.exit_code == 2, result.output
    assert message in flat(result.output)
    assert "Traceback" not in result.output


def test_grade_rejects_a_missing_answer_file(grader, tmp_path):
    result = coach("--question", BANK_ID, "--answer", str(tmp_path / "nope.txt"))
    assert result.exit_code == 2, result.output
    assert "Cannot read the answer file" in flat(result.output)


def test_grade_without_a_question_says_how_to_name_one(grader, answer_file):
    result = coach("--answer", str(answer_file))
    assert result.exit_code == 2, result.output
    assert "--question ID" in flat(result.output)


@pytest.mark.parametrize("seconds", ["0", "-3", "100000"])
def test_grade_rejects_seconds_that_are_not_a_plausible_duration(grader, answer_file, seconds):
    result = coach("--question", BANK_ID, "--answer", str(answer_file), "--seconds", seconds)
    assert result.exit_code == 2, result.output
    assert "seconds must be a positive duration" in flat(result.output)


def test_grade_with_an_unknown_question_id_exits_1_and_points_to_the_bank_list(grader, answer_file):
    result = coach("--question", "rai-pm-aif360-hiring-audti", "--answer", str(answer_file))
    assert result.exit_code == 1, result.output
    out = flat(result.output)
    assert "No question 'rai-pm-aif360-hiring-audti' in the bank" in out
    assert "Did you mean rai-pm-aif360-hiring-audit" in out and "coach bank list" in out


# --- batch ---


def write_jsonl(path: Path, lines: list[object]) -> Path:
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


REFERENCE = {
    "text": "Why does the bulb light up when the switch is closed?",
    "example_answer": "Closing the switch completes the circuit, so current can flow from the battery to the bulb.",
}


def test_batch_grades_bank_ids_inline_questions_and_reference_only_questions(grader, devset, tmp_path):
    inline = yaml.safe_load((devset.root / "questions" / "dev-01.yaml").read_text(encoding="utf-8"))
    good = devset.text("dev-01-good")
    batch = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"id": "bank", "question": BANK_ID, "answer": ANSWER, "seconds": 90},
            {"id": "inline", "question": inline, "answer": good},
            {
                "id": "reference",
                "question": REFERENCE,
                "answer": "Closing the switch makes a full circuit, so current flows.",
            },
        ],
    )
    out = tmp_path / "out.jsonl"
    result = coach("--batch", str(batch), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "Graded 3 of 3 answer(s)" in flat(result.output)
    records = read_jsonl(out)
    assert [r["id"] for r in records] == ["bank", "inline", "reference"]
    assert all("error" not in r for r in records)
    grades = [Grade.model_validate(r["grade"]) for r in records]
    assert grades[0] == grader.grade(_bank_question(), ANSWER, seconds=90)
    assert grades[1] == grader.grade(devset.questions["dev-01"], good)
    assert grades[2].reference_only and "reference_match" in grades[2].relevance
    assert grades[2].score >= 3.5
    assert [kp.id for kp in grades[2].key_points][0].startswith("ref-1-")


def test_batch_records_each_bad_line_as_an_error_and_grades_the_rest(grader, tmp_path):
    batch = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"id": "empty", "question": BANK_ID, "answer": "   "},
            {"id": "missing-answer", "question": BANK_ID},
            {"id": "number-answer", "question": BANK_ID, "answer": 42},
            {"id": "unknown", "question": "no-such-question", "answer": ANSWER},
            {"id": "no-question", "answer": ANSWER},
            {"id": "reference-without-text", "question": {"example_answer": "Because."}, "answer": ANSWER},
            {"id": "bad-inline", "question": {"text": "Why?", "key_points": "none"}, "answer": ANSWER},
            {"id": "bad-seconds", "question": BANK_ID, "answer": ANSWER, "seconds": -1},
            {"id": "text-seconds", "question": BANK_ID, "answer": ANSWER, "seconds": "ninety"},
            "this line is not JSON",
            "[1, 2, 3]",
            {"id": "ok", "question": BANK_ID, "answer": ANSWER},
        ],
    )
    out = tmp_path / "out.jsonl"
    result = coach("--batch", str(batch), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "Graded 1 of 12 answer(s)" in flat(result.output) and "11 error(s) recorded" in flat(result.output)
    records = {str(r["id"]): r for r in read_jsonl(out)}
    assert list(records) == [
        "empty",
        "missing-answer",
        "number-answer",
        "unknown",
        "no-question",
        "reference-without-text",
        "bad-inline",
        "bad-seconds",
        "text-seconds",
        "10",
        "11",
        "ok",
    ]
    assert "The answer is empty" in records["empty"]["error"]
    assert "The answer is empty" in records["missing-answer"]["error"]
    assert "must be text, not int" in records["number-answer"]["error"]
    assert "No question 'no-such-question'" in records["unknown"]["error"]
    assert "bank id or a question object" in records["no-question"]["error"]
    assert "needs `text` and `example_answer`" in records["reference-without-text"]["error"]
    assert "field id: this field is required" in records["bad-inline"]["error"]
    assert "seconds must be a positive duration" in records["bad-seconds"]["error"]
    assert "seconds must be a positive duration" in records["text-seconds"]["error"]
    assert "line 10: not JSON" in records["10"]["error"]
    assert "JSON object" in records["11"]["error"]
    assert "grade" in records["ok"] and "error" not in records["ok"]


def test_batch_needs_an_output_file(grader, tmp_path):
    batch = write_jsonl(tmp_path / "in.jsonl", [{"question": BANK_ID, "answer": ANSWER}])
    result = coach("--batch", str(batch))
    assert result.exit_code == 2, result.output
    assert "needs `-o OUT.jsonl`" in flat(result.output)


def test_batch_rejects_an_input_file_that_is_not_utf8_text(grader, tmp_path):
    batch = tmp_path / "in.jsonl"
    batch.write_bytes(b"\xff\xfe{\x00")
    result = coach("--batch", str(batch), "-o", str(tmp_path / "out.jsonl"))
    assert result.exit_code == 2, result.output
    assert "as UTF-8 JSON lines" in flat(result.output)
