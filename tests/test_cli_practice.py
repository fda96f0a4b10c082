"""`coach practice` driven with --answers, and the commands around it: history, progress, report, export,
import, forget, regrade and db. Bad input gets a clear message and exit code 2."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from _grading_fixtures import grader  # noqa: F401 - the one session-wide default grader
from bs4 import BeautifulSoup
from typer.testing import CliRunner

from coach.cli import app
from coach.cli.common import console, err_console

pytestmark = pytest.mark.usefixtures("grader", "wide_console")

runner = CliRunner()

ANSWER = (
    "I would start with the intended use and who could be harmed, then check the data for gaps across groups and "
    "measure error rates by subgroup. I would bring in legal and privacy early, write the limits into a model card, "
    "agree an escalation path with a named owner, and monitor the system after launch with a rollback plan."
)
REPLY = (
    "For that part I would set a clear owner and a decision deadline, collect evidence from a small sample first, "
    "share the numbers with the stakeholders and agree the next step with them in writing."
)


# Two questions whose rubrics ANSWER and REPLY speak to, so their grades count toward skills and trends
# (generic answers to shipped questions are rightly flagged off-topic). The launch question has a key point
# ANSWER misses, which the follow-up asks about and REPLY covers.
PACK = """\
id: cli-test
title: CLI test pack
questions:
  - id: cli-launch-readiness
    text: "You are preparing a new AI feature for launch. How do you make sure it launches responsibly?"
    role: cli-test-role
    level: intermediate
    category: scenario
    type: situational
    skills: [launch readiness, subgroup evaluation]
    why_asked: "Checks that the candidate can turn responsible AI principles into launch steps."
    key_points:
      - id: intended-use
        text: "Starts from the intended use and who could be harmed by the feature"
        cues: ["intended use", "harmed"]
      - id: subgroup-errors
        text: "Checks the data for gaps across groups and measures error rates by subgroup"
        weight: 2
        cues: ["subgroup", "error rates", "across groups"]
      - id: legal-model-card
        text: "Brings in legal and privacy early and writes the limits into a model card"
        cues: ["legal", "privacy", "model card"]
      - id: decision-owner
        text: "Names a decision owner with a deadline and gathers evidence from a small sample before deciding"
        weight: 2.5
        cues: ["decision owner", "deadline", "small sample"]
    structure: none
    example_answer: >-
      I begin with the intended use and the people who could be harmed. I check the data for gaps across groups
      and measure error rates per subgroup. Legal and privacy join early and the limits go into a model card.
      A named owner decides by a set deadline, using evidence from a small sample.
    follow_ups:
      - "Who makes the final call on launching, by when, and on what evidence?"
      - "What would you put in the model card?"
  - id: cli-monitoring
    text: "Your AI feature has launched. How do you monitor it and respond when something goes wrong?"
    role: cli-test-role
    level: intermediate
    category: technical
    type: technical
    skills: [monitoring, incident response]
    why_asked: "Checks that the candidate keeps responsibility going after launch."
    key_points:
      - id: monitor-after-launch
        text: "Monitors the system after launch, with error rates by subgroup tracked over time"
        weight: 2
        cues: ["monitor", "after launch", "by subgroup"]
      - id: escalation-rollback
        text: "Agrees an escalation path with a named owner and a rollback plan"
        cues: ["escalation", "named owner", "rollback"]
    structure: none
    example_answer: >-
      After launch I monitor error rates by subgroup over time. There is an escalation path with a named owner,
      and a rollback plan if harms appear.
    follow_ups:
      - "Who do you escalate to, and when would you roll back?"
"""
ROLE = ("--role", "cli-test-role")


@pytest.fixture(autouse=True)
def test_pack(tmp_path, monkeypatch):
    folder = tmp_path / "packs"
    folder.mkdir()
    (folder / "cli-test.yaml").write_text(PACK, encoding="utf-8")
    monkeypatch.setenv("COACH_PACKS_DIR", str(folder))
    return folder


@pytest.fixture
def wide_console(monkeypatch):
    """Rich wraps at 80 columns under CliRunner; 200 keeps sentences on one line for the assertions."""
    for c in (console, err_console):
        monkeypatch.setattr(c, "width", 200)


def answers_file(tmp_path: Path, *texts: str | dict, name: str = "answers.jsonl") -> Path:
    path = tmp_path / name
    lines = [json.dumps(t if isinstance(t, dict) else {"answer": t, "seconds": 60}) for t in texts]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def invoke(*args: str, input: str | None = None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def flat(output: str) -> str:
    return " ".join(output.split())


def history() -> list[dict]:
    result = invoke("history", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def practise(tmp_path: Path, count: int = 2, *extra: str) -> dict:
    """A finished session: plenty of answers, so every question and follow-up gets one."""
    path = answers_file(tmp_path, *([ANSWER] * (2 * count + 1)), name=f"answers-{count}.jsonl")
    result = invoke("practice", *ROLE, "--count", count, "--answers", path, *extra)
    assert result.exit_code == 0, result.output
    assert "Session report" in result.output
    return history()[0]


def test_a_scripted_session_asks_grades_follows_up_and_reports(tmp_path):
    path = answers_file(tmp_path, ANSWER, REPLY, ANSWER)
    result = invoke("practice", *ROLE, "--category", "scenario", "--category", "technical", "--answers", path)
    assert result.exit_code == 0, result.output
    out = flat(result.output)
    assert "Question 1 of 2" in out and "Question 2 of 2" in out
    assert "Follow-up" in out and "Feedback on your first answer" in out
    assert "Full report: coach report" in out
    (session,) = history()
    assert session["status"] == "finished" and session["answered"] == 2 and session["questions"] == 2
    kinds = [a["kind"] for a in session["attempts"]]
    assert kinds.count("answer") == 2 and kinds.count("follow_up") == 1
    assert all(a["status"] == "graded" and a["score"] is not None for a in session["attempts"])
    assert session["attempts"][0]["seconds"] == 60


def test_the_follow_up_targets_the_missing_key_point_and_the_reply_is_graded_on_it(tmp_path):
    path = answers_file(tmp_path, ANSWER, REPLY)
    result = invoke("practice", *ROLE, "--category", "scenario", "--answers", path)
    assert result.exit_code == 0, result.output
    out = flat(result.output)
    assert "Who makes the final call on launching, by when, and on what evidence?" in out
    assert "Follow-up reply:" in out and "✔ covered Names a decision owner with a deadline" in out
    answer, follow_up = history()[0]["attempts"]
    assert follow_up["kind"] == "follow_up" and follow_up["prompt"].startswith("Who makes the final call")


def test_no_follow_ups_means_one_answer_per_question(tmp_path):
    session = practise(tmp_path, 2, "--no-follow-ups")
    assert [a["kind"] for a in session["attempts"]] == ["answer", "answer"]


def test_a_session_paused_when_answers_run_out_resumes_where_it_stopped(tmp_path):
    first = invoke("practice", *ROLE, "--count", 2, "--no-follow-ups", "--answers", answers_file(tmp_path, ANSWER))
    assert first.exit_code == 0, first.output
    assert "Paused" in first.output and "coach practice --resume" in flat(first.output)
    (paused,) = history()
    assert paused["status"] == "active" and paused["answered"] == 1

    rest = answers_file(tmp_path, ANSWER, name="rest.jsonl")
    second = invoke("practice", "--resume", "--answers", rest)
    assert second.exit_code == 0, second.output
    assert "Resuming session" in second.output and "at question 2 of 2" in second.output
    (done,) = history()
    assert done["id"] == paused["id"] and done["status"] == "finished" and done["answered"] == 2


def test_a_skip_line_skips_a_question(tmp_path):
    path = answers_file(tmp_path, {"skip": True}, ANSWER)
    result = invoke("practice", *ROLE, "--count", 2, "--no-follow-ups", "--answers", path)
    assert result.exit_code == 0, result.output
    (session,) = history()
    assert session["answered"] == 1 and session["status"] == "finished"


def test_a_job_description_steers_the_plan_and_says_why(tmp_path):
    job = tmp_path / "job.txt"
    job.write_text(
        "Responsible AI PM for consumer lending. You will define fairness metrics, run algorithmic impact "
        "assessments and prepare adverse action notices with legal.",
        encoding="utf-8",
    )
    path = answers_file(tmp_path, *[ANSWER] * 3)
    result = invoke("practice", "--count", 2, "--no-follow-ups", "--job-description", job, "--answers", path)
    assert result.exit_code == 0, result.output
    out = flat(result.output)
    assert "From the job description:" in out and "fairness metrics" in out
    assert out.count("Matches the job description") >= 2


def test_the_html_report_is_standalone_with_charts_and_escaped_text(tmp_path):
    marked_up = ANSWER + ' Costs rose <b>fast</b> & "quietly"; see <img src="https://example.com/t.png">.'
    path = answers_file(tmp_path, marked_up, marked_up, marked_up)
    assert invoke("practice", *ROLE, "--count", 2, "--answers", path).exit_code == 0
    sid = history()[0]["id"]
    out = tmp_path / "report.html"
    result = invoke("report", sid[:8], "--format", "html", "-o", out)
    assert result.exit_code == 0, result.output
    soup = BeautifulSoup(out.read_text(encoding="utf-8"), "html.parser")
    assert soup.find("script") is None and soup.find("img") is None and soup.find("b") is None
    assert not soup.select("[src], link[href]")
    assert len(soup.find_all("svg")) >= 3  # score per question, skills, trend
    assert '<b>fast</b> & "quietly"; see <img src=' in soup.get_text()  # the answer, shown as text
    assert oct(out.stat().st_mode & 0o777) == "0o600"


def test_the_markdown_report_prints_to_the_terminal(tmp_path):
    practise(tmp_path, 1)
    result = invoke("report", "last")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# Interview report") and "## Scores" in result.output


def test_history_and_progress_show_scores_mastery_and_due_reviews(tmp_path):
    from coach.settings import Settings
    from coach.storage import open_database
    from coach.storage import repository as repo

    session = practise(tmp_path, 2, "--no-follow-ups")
    result = invoke("history")
    assert result.exit_code == 0 and session["id"][:8] in result.output

    db = open_database(Settings())
    user = repo.get_or_create_local_user(db)
    review = repo.list_reviews(db, user_id=user.id)[0]
    repo.upsert_review(
        db,
        user_id=user.id,
        question_id=review.question_id,
        card=review.card,
        due_at=review.due_at - timedelta(days=30),
        last_rating=1,
        last_score=review.last_score,
    )
    db.dispose()
    result = invoke("progress")
    assert result.exit_code == 0, result.output
    out = flat(result.output)
    assert "Skill mastery" in out and "1 review(s) due" in out and review.question_id in out
    assert f"1. {review.question_id}: Due for review" in out
    data = json.loads(invoke("progress", "--json").output)
    assert data["due"][0]["question_id"] == review.question_id and data["skills"]


def test_export_forget_all_and_import_round_trip(tmp_path):
    practise(tmp_path, 2)
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    assert invoke("export", "-o", first).exit_code == 0
    result = invoke("forget", "--all", "--yes")
    assert result.exit_code == 0 and "Deleted" in result.output
    assert history() == []
    result = invoke("import", first)
    assert result.exit_code == 0, result.output
    assert invoke("export", "-o", second).exit_code == 0
    before, after = json.loads(first.read_text()), json.loads(second.read_text())
    assert before["attempts"] and before["reviews"]
    for section in ("sessions", "attempts", "drafts", "reviews"):
        assert after[section] == before[section], section


def test_forget_a_session_deletes_it_and_keeps_the_others(tmp_path):
    keep = practise(tmp_path, 1, "--no-follow-ups")
    gone = practise(tmp_path, 1, "--no-follow-ups")
    assert invoke("forget", "--session", gone["id"][:8], input="y\n").exit_code == 0
    assert [s["id"] for s in history()] == [keep["id"]]


def test_forget_asks_first_and_keeps_everything_on_no(tmp_path):
    practise(tmp_path, 1, "--no-follow-ups")
    result = invoke("forget", "--all", input="n\n")
    assert result.exit_code == 1 and len(history()) == 1


def test_regrade_finishes_answers_left_stored(tmp_path):
    from coach.settings import Settings
    from coach.storage import open_database
    from coach.storage import repository as repo

    db = open_database(Settings())
    user = repo.get_or_create_local_user(db)
    attempt = repo.store_attempt(db, user_id=user.id, question_id="ethics-br-spotted-issue-story", answer=ANSWER)
    db.dispose()
    result = invoke("regrade")
    assert result.exit_code == 0, result.output
    assert "Graded 1 answer(s)" in result.output
    db = open_database(Settings())
    assert repo.get_attempt(db, user_id=user.id, attempt_id=attempt.id).status == "graded"
    db.dispose()
    assert "nothing to do" in invoke("regrade").output


def test_db_backup_and_restore_bring_data_back(tmp_path):
    session = practise(tmp_path, 1, "--no-follow-ups")
    backup = tmp_path / "backup.db"
    result = invoke("db", "backup", backup)
    assert result.exit_code == 0, result.output
    assert invoke("forget", "--all", "--yes").exit_code == 0
    result = invoke("db", "restore", backup, "--yes")
    assert result.exit_code == 0, result.output
    assert "previous database is in" in flat(result.output)
    assert [s["id"] for s in history()] == [session["id"]]
    status = invoke("db", "status")
    assert status.exit_code == 0 and "no problems found" in status.output


def test_db_upgrade_reports_the_revision(tmp_path):
    from coach.storage import head_revision

    result = invoke("db", "upgrade", "--database-url", f"sqlite:///{tmp_path / 'fresh.db'}")
    assert result.exit_code == 0, result.output
    assert head_revision() in result.output


# --- bad input: a clear message, exit code 2, nothing stored ----------------------------------------------


def _fails(result, code: int, *phrases: str) -> None:
    assert result.exit_code == code, result.output
    out = flat(result.output)
    for phrase in phrases:
        assert phrase in out, out
    assert "Traceback" not in out


def test_an_unknown_role_is_refused_with_the_known_roles(tmp_path):
    result = invoke("practice", "--role", "data-scientist", "--answers", answers_file(tmp_path, ANSWER))
    _fails(result, 2, "Unknown role 'data-scientist'", "ai-ethics-specialist, cli-test-role, responsible-ai-pm")
    assert history() == []


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (("--level", "expert"), "Unknown level 'expert'"),
        (("--count", "0"), "--count must be between 1 and 30"),
        (("--category", "trivia"), "Unknown category 'trivia'"),
    ],
)
def test_filters_that_cannot_work_are_refused(tmp_path, args, phrase):
    _fails(invoke("practice", *args, "--answers", answers_file(tmp_path, ANSWER)), 2, phrase)


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        (b"", "job description is empty"),
        (b"  \n\n ", "job description is empty"),
        (b"\x00\x01\x02binary", "is binary data"),
        (b"caf\xe9 au lait", "is not UTF-8 text"),
    ],
)
def test_a_job_description_that_cannot_be_used_is_refused(tmp_path, content, phrase):
    job = tmp_path / "job.txt"
    job.write_bytes(content)
    _fails(invoke("practice", "--job-description", job, "--answers", answers_file(tmp_path, ANSWER)), 2, phrase)
    assert history() == []


def test_a_missing_or_folder_job_description_is_named(tmp_path):
    _fails(invoke("practice", "--job-description", tmp_path / "nope.txt"), 2, "nope.txt does not exist")
    _fails(invoke("practice", "--job-description", tmp_path), 2, "is a folder")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_answers_file_is_named(tmp_path):
    path = answers_file(tmp_path, ANSWER)
    path.chmod(0)
    _fails(invoke("practice", "--answers", path), 2, "Cannot read the answers file", "permissions")


@pytest.mark.parametrize(
    ("lines", "phrase"),
    [
        (['{"answer": "fine"}', "not json"], "line 2 is not JSON"),
        (['{"text": "x"}'], 'line 1 needs an "answer"'),
        (['{"answer": "x", "seconds": -3}'], '"seconds" must be a positive number'),
        ([" ", ""], "has no answers"),
    ],
)
def test_a_malformed_answers_file_is_refused_before_anything_starts(tmp_path, lines, phrase):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    _fails(invoke("practice", "--answers", path), 2, phrase)
    assert history() == []


def test_an_empty_answer_stops_the_script_and_keeps_the_session(tmp_path):
    result = invoke("practice", *ROLE, "--count", 1, "--answers", answers_file(tmp_path, "   "))
    _fails(result, 2, "The answer is empty", "coach practice --resume")
    (session,) = history()
    assert session["status"] == "active" and session["attempts"] == []


def test_resume_without_a_session_says_how_to_start(tmp_path):
    _fails(
        invoke("practice", "--resume", "--answers", answers_file(tmp_path, ANSWER)),
        1,
        "No unfinished interview session",
    )


def test_report_import_and_forget_refuse_bad_input(tmp_path):
    _fails(invoke("report", "deadbeef"), 1, "No interview session 'deadbeef'")
    practise(tmp_path, 1, "--no-follow-ups")
    _fails(invoke("report", "last", "--format", "pdf"), 2, "Unknown report format 'pdf'")
    not_json = tmp_path / "x.json"
    not_json.write_text("{oops", encoding="utf-8")
    _fails(invoke("import", not_json), 2, "is not JSON")
    not_export = tmp_path / "y.json"
    not_export.write_text('{"hello": 1}', encoding="utf-8")
    _fails(invoke("import", not_export), 2, "not an interview-coach export")
    _fails(invoke("forget"), 2, "--session ID", "--all")
