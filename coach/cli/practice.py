"""`coach practice`: a mock interview in the terminal. Questions, a time budget, multi-line answers that
are autosaved while typed, follow-ups on gaps, and a report at the end. Ctrl-C pauses; --resume goes on."""

from __future__ import annotations

import codecs
import json
import os
import shutil
import sys
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from coach.cli.common import console, friendly, load_bank, settings
from coach.cli.grade import STATUS_MARK, render_grade
from coach.errors import InvalidInput

AUTOSAVE_SECONDS = 3.0
WARN_AT = 0.8
PROMPT = "│ "
HELP = (
    "Type your answer. End it with an empty line twice, or a line with a single '.'; "
    "a line '/skip' skips. Ctrl-C pauses (`coach practice --resume` continues)."
)


class _Pause(Exception):
    """Stop asking, keep the session (Ctrl-C, or no more input)."""


def read_text_file(path: Path, what: str) -> str:
    """A UTF-8 text file, or InvalidInput that says what is wrong and how to fix it."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise InvalidInput(f"The {what} {path} does not exist; check the path.") from exc
    except IsADirectoryError as exc:
        raise InvalidInput(f"The {what} {path} is a folder; give a file.") from exc
    except OSError as exc:
        raise InvalidInput(f"Cannot read the {what} {path}: {exc.strerror}. Check its permissions.") from exc
    if b"\x00" in data:
        raise InvalidInput(f"The {what} {path} is binary data, not text. Save it as plain text (UTF-8).")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"The {what} {path} is not UTF-8 text. Save it as UTF-8 plain text.") from exc


def read_answers_file(path: Path) -> list[dict[str, Any]]:
    """--answers: one JSON object a line, {"answer": "...", "seconds": 95} or {"skip": true}."""
    items: list[dict[str, Any]] = []
    for n, line in enumerate(read_text_file(path, "answers file").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                f'{path} line {n} is not JSON ({exc.msg}); write one {{"answer": "..."}} per line.'
            ) from exc
        if not isinstance(item, dict) or not (item.get("skip") is True or isinstance(item.get("answer"), str)):
            raise InvalidInput(f'{path} line {n} needs an "answer" string (or "skip": true).')
        seconds = item.get("seconds")
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0):
            raise InvalidInput(f'{path} line {n}: "seconds" must be a positive number.')
        items.append(item)
    if not items:
        raise InvalidInput(f'The answers file {path} has no answers; write one {{"answer": "..."}} per line.')
    return items


class _BackgroundGrader:
    """The grader, loaded in a thread while the first question is on screen (the first load is slow)."""

    def __init__(self, load: Callable[[], Any]) -> None:
        self._ready = threading.Event()
        self._grader: Any = None
        self._error: BaseException | None = None

        def run() -> None:
            try:
                self._grader = load()
            except BaseException as exc:  # handed to the caller on first use
                self._error = exc
            finally:
                self._ready.set()

        threading.Thread(target=run, name="grader-loader", daemon=True).start()

    def _get(self) -> Any:
        if not self._ready.is_set():
            with console.status("Preparing the grader (the first run on this machine takes about a minute)…"):
                self._ready.wait()
        if self._error is not None:
            raise self._error
        return self._grader

    @property
    def embedder(self) -> Any:
        return self._get().embedder

    def grade(self, question: Any, answer: str, *, seconds: float | None = None) -> Any:
        return self._get().grade(question, answer, seconds=seconds)


# --- typing an answer --------------------------------------------------------------------------------


class _Typed:
    """The answer so far, shared with the autosave thread."""

    def __init__(self, prefill: str | None) -> None:
        lines = (prefill or "").split("\n")
        self.lines, self.current = lines[:-1], lines[-1]
        self.lock = threading.RLock()
        self.version = 0

    def text(self) -> str:
        with self.lock:
            return "\n".join([*self.lines, self.current])

    def answer(self) -> str:
        return self.text().strip("\n")

    def accept(self, line: str) -> str:
        """Take a finished line: 'more', 'done' (end of answer) or 'skip'."""
        with self.lock:
            self.current = ""
            self.version += 1
            if line.strip() == ".":
                return "done"
            if line.strip() == "/skip":
                return "skip"
            if not line.strip() and self.lines and not self.lines[-1].strip() and "".join(self.lines).strip():
                self.lines.pop()
                return "done"
            self.lines.append(line)
            return "more"


class _Autosave:
    """Every few seconds (and at once after each line) save the draft; warn at 80% of the time budget."""

    def __init__(self, typed: _Typed, save: Callable[[str], None], budget: int, notify: Callable[[str], None]) -> None:
        self.typed, self.save, self.budget, self.notify = typed, save, budget, notify
        self.started = time.monotonic()
        self._stop, self._poke = threading.Event(), threading.Event()
        self._saved = typed.version
        self._thread = threading.Thread(target=self._run, name="draft-autosave", daemon=True)
        self._thread.start()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def poke(self) -> None:
        self._poke.set()

    def stop(self) -> None:
        self._stop.set()
        self._poke.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        warned, over, last_save = False, False, time.monotonic()
        while not self._stop.is_set():
            self._poke.wait(timeout=0.5)
            if self._stop.is_set():
                return
            elapsed = self.elapsed()
            if not warned and elapsed >= WARN_AT * self.budget:
                warned = True
                self.notify(f"⏱ {_duration(elapsed)} of {_duration(self.budget)} used: start wrapping up.")
            if not over and elapsed >= self.budget:
                over = True
                self.notify("⏱ Time is up: finish your sentence and end the answer ('.' on its own line).")
            if self._poke.is_set() or time.monotonic() - last_save >= AUTOSAVE_SECONDS:
                self._poke.clear()
                last_save = time.monotonic()
                if self.typed.version != self._saved:
                    version, text = self.typed.version, self.typed.text()
                    try:
                        self.save(text)
                        self._saved = version
                    except Exception as exc:  # keep typing; the next tick tries again
                        self.notify(f"Could not autosave the draft: {exc}")


def _width(text: str) -> int:
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


class _Terminal:
    """A small line editor in cbreak mode, so the line being typed is visible to autosave before Enter."""

    def __init__(self, typed: _Typed) -> None:
        self.typed, self.fd, self.out = typed, sys.stdin.fileno(), threading.Lock()

    def write(self, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    def _rows_above(self, text: str) -> int:
        cols = max(shutil.get_terminal_size((80, 24)).columns, 10)
        return max(_width(PROMPT + text) - 1, 0) // cols

    def _redraw(self, before: str, up_extra: int = 0) -> None:
        up = self._rows_above(before) + up_extra
        self.write("\r" + (f"\x1b[{up}A" if up else "") + "\x1b[J" + PROMPT + self.typed.current)

    def notify(self, message: str) -> None:
        with self.out, self.typed.lock:
            current = self.typed.current
            self.write("\r" + (f"\x1b[{self._rows_above(current)}A" if self._rows_above(current) else "") + "\x1b[J")
            self.write(f"\x1b[33m{message}\x1b[0m\r\n{PROMPT}{current}")

    def read(self, on_line: Callable[[], None]) -> str:
        import termios
        import tty

        old = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        escape_seq = ""
        try:
            with self.out:
                self.write("".join(f"{PROMPT}{line}\r\n" for line in self.typed.lines) + PROMPT + self.typed.current)
            while True:
                data = os.read(self.fd, 1024)
                if not data:
                    return "done"
                for ch in decoder.decode(data):
                    if escape_seq:  # drop arrow keys and other escape sequences
                        escape_seq += ch
                        if len(escape_seq) == 2 and ch not in "[O" or len(escape_seq) > 2 and "@" <= ch <= "~":
                            escape_seq = ""
                        continue
                    result = self._key(ch, on_line)
                    if result == "escape":
                        escape_seq = ch
                    elif result in ("done", "skip"):
                        with self.out:
                            self.write("\r\n")
                        return result
        finally:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, old)

    def _key(self, ch: str, on_line: Callable[[], None]) -> str | None:
        typed = self.typed
        with self.out, typed.lock:
            if ch == "\x1b":
                return "escape"
            if ch in "\r\n":
                result = typed.accept(typed.current)
                if result == "more":
                    self.write("\r\n" + PROMPT)
                on_line()
                return result
            if ch == "\x04":  # Ctrl-D ends the answer, keeping the line being typed
                if typed.current:
                    typed.lines.append(typed.current)
                    typed.current = ""
                    typed.version += 1
                on_line()
                return "done"
            before = typed.current
            if ch in "\x7f\x08":
                if typed.current:
                    typed.current = typed.current[:-1]
                    self._redraw(before)
                elif typed.lines:  # back onto the previous line
                    typed.current = typed.lines.pop()
                    self._redraw("", up_extra=self._rows_above(typed.current) + 1)
            elif ch == "\x15":  # Ctrl-U
                typed.current = ""
                self._redraw(before)
            elif ch == "\x17":  # Ctrl-W
                typed.current = typed.current.rstrip().rpartition(" ")[0] + (
                    " " if " " in typed.current.rstrip() else ""
                )
                self._redraw(before)
            elif ch == "\t" or ch >= " ":
                typed.current += " " if ch == "\t" else ch
                self.write(" " if ch == "\t" else ch)
            else:
                return None
            typed.version += 1
            return None


def _read_lines(typed: _Typed, on_line: Callable[[], None]) -> str:
    """Standard input that is not a terminal (a pipe): one answer line per input line."""
    if typed.text():
        console.print(escape(typed.text()), style="dim")
    while True:
        raw = sys.stdin.readline()
        if not raw:
            if not typed.answer():
                raise _Pause("No more input.")
            return "done"
        result = typed.accept(raw.rstrip("\r\n"))
        on_line()
        if result != "more":
            return result


def _type_answer(ask: Any, interview: Any) -> tuple[str | None, float]:
    """The person's answer (None to skip) and how long it took, autosaving the draft as they type."""
    typed = _Typed(ask.draft)
    terminal = _Terminal(typed) if sys.stdin.isatty() and os.name == "posix" else None

    def notify(message: str) -> None:
        if terminal:
            terminal.notify(message)
        else:
            console.print(f"[yellow]{escape(message)}[/]")

    autosave = _Autosave(typed, lambda text: interview.save_draft(ask, text), ask.seconds, notify)
    try:
        result = terminal.read(autosave.poke) if terminal else _read_lines(typed, autosave.poke)
    except BaseException:
        autosave.stop()
        if typed.text().strip():
            interview.save_draft(ask, typed.text())
        raise
    autosave.stop()
    if result == "skip":
        return None, autosave.elapsed()
    return typed.answer(), autosave.elapsed()


# --- the interview -----------------------------------------------------------------------------------


def _show_plan(interview: Any, plan: Any) -> None:
    row = interview.session()
    table = Table(
        title=f"Session {row.id[:8]}: {len(row.plan)} question(s), about {plan.seconds // 60} min", expand=True
    )
    table.add_column("#", justify="right")
    table.add_column("type")
    table.add_column("min", justify="right")
    table.add_column("why this question", ratio=3)
    for n, (item, q) in enumerate(
        zip(plan.items, [interview.bank.get(i.question_id) for i in plan.items], strict=True), start=1
    ):
        table.add_row(str(n), q.type, f"{item.seconds / 60:.1f}".removesuffix(".0"), escape(item.reason))
    console.print(table)
    for note in plan.notes:
        console.print(f"[cyan]{escape(note)}[/]")


def _duration(seconds: float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min" + (f" {rest} s" if rest else "")


def _show_ask(ask: Any) -> None:
    if ask.kind == "question":
        q = ask.question
        title = f"Question {ask.number} of {ask.total} · {q.type} · {q.level}"
        console.print()
        console.print(Panel(escape(ask.prompt), title=title, subtitle=f"about {_duration(ask.seconds)}", expand=True))
        if ask.reason:
            console.print(f"[dim]Why: {escape(ask.reason)}[/]")
    else:
        console.print(
            Panel(
                escape(ask.prompt), title="Follow-up", subtitle=f"about {_duration(ask.seconds)}", border_style="blue"
            )
        )
    if ask.draft:
        console.print("[green]Your saved draft is restored below; keep typing.[/]")


def _show_failure(what: str, error: str | None) -> None:
    why = escape(error or "unknown error")
    console.print(f"[yellow]Your {what} is saved, but grading failed ({why}); `coach regrade` finishes it.[/]")


def _show_follow_up_result(outcome: Any) -> None:
    if outcome.grade is None:
        _show_failure("reply", outcome.error)
        return
    console.print(f"Follow-up reply: [bold]{outcome.grade.score:g} / 5[/] on the points it asked about")
    for kp in outcome.grade.key_points:
        console.print(f"  {STATUS_MARK[kp.status]} {escape(kp.text)}")


def _show_outcome(outcome: Any) -> None:
    if outcome.grade is None:
        _show_failure("answer", outcome.error)
    elif outcome.follow_up is not None:
        console.print(
            f"Answer saved and graded: [bold]{outcome.grade.score:g} / 5[/]. One follow-up first; feedback after it."
        )
    else:
        render_grade(outcome.grade, outcome.question)
    if outcome.review_due is not None:
        console.print(f"[dim]Next review of this question: {outcome.review_due:%d %b %Y}.[/]")


class _AiCoach:
    """`--ai-coach`: the optional LLM's feedback and follow-up wording, labelled, after the grader's."""

    def __init__(self, provider: Any) -> None:
        self.provider = provider

    def feedback(self, grade: Any, question: Any, answer: str) -> None:
        from coach.llm import coach_feedback

        with console.status(f"AI coach (LLM) at {self.provider.host} is reading your answer…"):
            result = coach_feedback(self.provider, question, answer, grade, user_key="local")
        title = "AI coach (LLM) - not the score of record"
        if result.status != "ok":
            console.print(Panel(f"LLM feedback unavailable: {escape(result.error or '')}", title=title, style="dim"))
            return
        lines = [escape(result.feedback)]
        lines += [f"+ {escape(s)}" for s in result.strengths] + [f"→ {escape(s)}" for s in result.improvements]
        if result.final_score != result.deterministic_score:
            lines.append(
                f"With the evidence it quoted, the AI coach would say {result.final_score:g} / 5 "
                f"(the grader's {result.deterministic_score:g} / 5 is the score of record)."
            )
        console.print(Panel("\n".join(lines), title=title, border_style="magenta"))

    def follow_up(self, ask: Any, answer: str) -> None:
        from coach.llm import rephrase_follow_up

        if ask.follow_up is None:
            return
        with console.status("AI interviewer (LLM) is phrasing the follow-up…"):
            result = rephrase_follow_up(self.provider, ask.question, ask.follow_up, answer, user_key="local")
        if result.source == "llm":
            console.print(f"[magenta]AI interviewer (LLM):[/] {escape(result.text)}")


def _run(
    interview: Any, answers: Iterator[dict[str, Any]] | None, answers_path: Path | None, ai: _AiCoach | None = None
) -> None:
    pending: Any = None  # (grade, question) of an answer whose feedback waits for its follow-up
    last_answer = ""  # the answer a follow-up follows (the AI interviewer may react to it)
    while (ask := interview.next_prompt()) is not None:
        _show_ask(ask)
        if ai is not None and ask.kind == "follow_up" and last_answer:
            ai.follow_up(ask, last_answer)
        if answers is not None:
            item = next(answers, None)
            if item is None:
                raise _Pause(f"The answers file {answers_path} has no more answers.")
            text, seconds = (None if item.get("skip") else item["answer"]), item.get("seconds")
            if text is not None:
                console.print(f"[dim]{escape(text)}[/]")
        else:
            console.print(f"[dim]{HELP}[/]")
            text, typed_for = _type_answer(ask, interview)
            # Typing takes longer than speaking: the grader's pace advice would be wrong, so no duration is given.
            seconds = None
            if text is not None:
                console.print(f"[dim]Typed in {_duration(typed_for)} (budget {_duration(ask.seconds)}); grading…[/]")
        if text is None:
            interview.skip()
            console.print("[dim]Skipped.[/]")
            continue
        try:
            outcome = interview.submit(text, seconds=seconds)
        except InvalidInput as exc:
            if answers is not None:
                raise InvalidInput(
                    f"{answers_path}: {exc.message} The session is kept; `coach practice --resume` continues it."
                ) from exc
            console.print(f"[red]{escape(exc.message)}[/] Your text is kept as a draft; try again.")
            interview.save_draft(ask, text)
            continue
        if outcome.kind == "follow_up":
            _show_follow_up_result(outcome)
            if pending is not None:
                console.print("\n[bold]Feedback on your first answer[/]")
                render_grade(*pending)
                if ai is not None:
                    ai.feedback(pending[0], pending[1], last_answer)
                pending = None
        else:
            _show_outcome(outcome)
            last_answer = text
            pending = (outcome.grade, outcome.question) if outcome.follow_up is not None else None
            if ai is not None and outcome.grade is not None and pending is None:
                ai.feedback(outcome.grade, outcome.question, text)


def _finish(interview: Any, db: Any, user_id: int) -> None:
    from coach.progress import build_report

    interview.finish()
    report = build_report(db, bank=interview.bank, user_id=user_id, session_id=interview.session_id)
    table = Table(title="Session report", expand=True)
    table.add_column("#", justify="right")
    table.add_column("question", ratio=3)
    table.add_column("score", justify="right")
    table.add_column("follow-up", justify="right")
    for q in report.questions:
        table.add_row(
            str(q.number),
            escape(q.text if len(q.text) <= 90 else q.text[:89].rstrip() + "…"),
            f"{q.score:g}" if q.score is not None else q.status,
            f"{q.follow_up_score:g}" if q.follow_up_score is not None else "—",
        )
    console.print()
    console.print(table)
    if report.average is not None:
        console.print(f"Average: [bold]{report.average:g} / 5[/]")
    for step in report.next_steps:
        console.print(f"→ {escape(step)}")
    sid = interview.session_id[:8]
    console.print(f"\nFull report: [bold]coach report {sid} --format html -o report-{sid}.html[/]")


def register(app: typer.Typer) -> None:
    @app.command("practice")
    @friendly
    def practice(
        role: Annotated[str | None, typer.Option("--role", help="responsible-ai-pm, ai-ethics-specialist, ...")] = None,
        level: Annotated[str | None, typer.Option("--level", help="beginner, intermediate or advanced.")] = None,
        seniority: Annotated[
            str | None, typer.Option("--seniority", help="junior, mid, senior, lead, manager, director.")
        ] = None,
        category: Annotated[
            list[str] | None, typer.Option("--category", help="Repeat for several: concepts, scenario, behavioral, ...")
        ] = None,
        count: Annotated[int | None, typer.Option("--count", "-n", help="How many questions (default 5).")] = None,
        minutes: Annotated[int | None, typer.Option("--minutes", "-m", help="Time for the whole session.")] = None,
        job_description: Annotated[
            Path | None,
            typer.Option(
                "--job-description", "-j", help="A job posting (text file): questions that match it come first."
            ),
        ] = None,
        no_follow_ups: Annotated[bool, typer.Option("--no-follow-ups", help="Do not ask follow-up questions.")] = False,
        resume: Annotated[bool, typer.Option("--resume", help="Continue the newest unfinished session.")] = False,
        session_id: Annotated[
            str | None, typer.Option("--session", help="With --resume: which session (id or prefix).")
        ] = None,
        answers_file: Annotated[
            Path | None,
            typer.Option(
                "--answers", help='JSONL of {"answer": ..., "seconds": ...}, taken in order (follow-up replies too).'
            ),
        ] = None,
        packs: Annotated[Path | None, typer.Option("--packs", help="Folder of extra question packs.")] = None,
        ai_coach: Annotated[
            bool,
            typer.Option(
                "--ai-coach",
                help="Also ask the LLM endpoint in COACH_LLM_BASE_URL for labelled feedback and follow-up wording "
                "(sends the question, its rubric and each answer there).",
            ),
        ] = False,
    ) -> None:
        """Run a mock interview: questions, time budget, follow-ups on gaps, feedback and a report."""
        from coach.api import default_grader
        from coach.interview import Interview, PlanRequest, extract_job_profile, load_history, plan_session
        from coach.interview.planner import check_request
        from coach.progress import find_session_id
        from coach.storage import open_database
        from coach.storage import repository as repo
        from coach.storage.tables import utcnow

        # Every input is checked before the database, the bank or the model is touched.
        answers = read_answers_file(answers_file) if answers_file else None
        job_text = read_text_file(job_description, "job description") if job_description else None
        s = settings()
        ai = None
        if ai_coach:
            from coach.providers import provider_from_settings

            provider = provider_from_settings(s)
            if provider is None:
                raise InvalidInput("--ai-coach needs an LLM endpoint: set COACH_LLM_BASE_URL (see docs/llm.md).")
            ai = _AiCoach(provider)
            console.print(f"[magenta]AI coach on: questions, rubrics and your answers go to {provider.host}.[/]")
        bank = load_bank(packs)
        request = PlanRequest(
            role=role,
            level=level,
            seniority=seniority,
            categories=tuple(category or ()),
            count=count,
            minutes=minutes,
            follow_ups=not no_follow_ups,
        )
        if job_text is not None:
            from dataclasses import replace

            request = replace(request, job=extract_job_profile(job_text, bank.questions))
        if not resume:
            check_request(bank, request)
        db = open_database(s)
        try:
            user = repo.get_or_create_local_user(db)
            grader = _BackgroundGrader(lambda: default_grader(s))
            if resume:
                sid = find_session_id(db, user_id=user.id, ref=session_id) if session_id else None
                interview = Interview.resume(db, bank=bank, grader=grader, user_id=user.id, session_id=sid)
                row = interview.session()
                at = min(row.current_index + 1, len(row.plan))
                console.print(f"Resuming session [bold]{row.id[:8]}[/] at question {at} of {len(row.plan)}.")
            else:
                unfinished = repo.list_sessions(db, user_id=user.id, status="active", limit=1)
                plan = plan_session(bank, request, load_history(db, bank=bank, user_id=user.id), utcnow())
                interview = Interview.start(db, bank=bank, grader=grader, user_id=user.id, plan=plan)
                if unfinished:
                    old = unfinished[0].id[:8]
                    console.print(
                        f"[dim]Session {old} is unfinished; `coach practice --resume --session {old}` continues it.[/]"
                    )
                _show_plan(interview, plan)
            try:
                _run(interview, iter(answers) if answers is not None else None, answers_file, ai)
            except (KeyboardInterrupt, _Pause) as exc:
                reason = str(exc) + " " if isinstance(exc, _Pause) else ""
                hint = "Paused. Everything so far is saved; continue with `coach practice --resume`."
                console.print(f"\n[yellow]{escape(reason)}{hint}[/]")
                raise typer.Exit(code=130 if isinstance(exc, KeyboardInterrupt) else 0) from None
            _finish(interview, db, user.id)
        finally:
            db.dispose()
