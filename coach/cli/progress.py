"""`coach history`, `progress`, `report`, `export`, `import`, `forget` and `regrade`: what is stored about
you, how you are doing, and control over it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from coach.cli.common import console, friendly, load_bank, settings
from coach.errors import InvalidInput

TREND_MARK = {"up": "[green]↑ up[/]", "down": "[red]↓ down[/]", "steady": "→ steady", "new": "[dim]new[/]"}
PacksOpt = Annotated[Path | None, typer.Option("--packs", help="Folder of extra question packs.")]


@contextmanager
def _local_user() -> Iterator[tuple[Any, int]]:
    from coach.storage import open_database
    from coach.storage import repository as repo

    db = open_database(settings())
    try:
        yield db, repo.get_or_create_local_user(db).id
    finally:
        db.dispose()


def write_private(path: Path, text: str) -> None:
    """Write `text` to a new or replaced file readable only by its owner (it holds your answers)."""
    path = path.expanduser()
    if path.is_dir():
        raise InvalidInput(f"{path} is a folder; give a file name such as {path / 'out.json'}.")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InvalidInput(f"Cannot write {path}: {exc.strerror}. Check the folder exists and is writable.") from exc


def _short(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def register(app: typer.Typer) -> None:
    @app.command("history")
    @friendly
    def history(
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON: sessions with their attempts.")] = False,
        limit: Annotated[int | None, typer.Option("--limit", "-n", min=1, help="Only the newest N sessions.")] = None,
        packs: PacksOpt = None,
    ) -> None:
        """List your interview sessions, newest first, with their answers and scores."""
        from coach.progress import session_history

        with _local_user() as (db, user_id):
            sessions = session_history(db, user_id=user_id, limit=limit)
        if as_json:
            typer.echo(json.dumps(sessions, indent=2, ensure_ascii=False))
            return
        if not sessions:
            console.print("No sessions yet. `coach practice` starts a mock interview.")
            return
        bank = load_bank(packs)
        flagged = False
        for s in sessions:
            avg = f"{s['average']:g}" if s["average"] is not None else "—"
            console.print(
                f"\n[bold]{s['id'][:8]}[/]  {s['started'][:16].replace('T', ' ')}  {s['status']}  "
                f"{s['answered']}/{s['questions']} answered  average [bold]{avg}[/]"
            )
            for a in s["attempts"]:
                q = bank.find(a["question_id"])
                if a["kind"] == "follow_up":
                    label = f"  ↳ follow-up: {_short(a['prompt'] or '', 66)}"
                else:
                    label = _short(q.text if q else a["question_id"], 80)
                score = f"{a['score']:g}" if a["score"] is not None else a["status"]
                mark = "  " if a["counts_toward_progress"] else " [magenta]⚑[/]"
                flagged = flagged or not a["counts_toward_progress"]
                console.print(f"  [bold]{score:>6}[/]{mark} {escape(label)}", no_wrap=True, overflow="ellipsis")
        if flagged:
            console.print(
                "\n[magenta]⚑[/] flagged (copied, keyword list, off-topic ...): shown, not counted toward progress."
            )

    @app.command("progress")
    @friendly
    def progress(
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
        packs: PacksOpt = None,
    ) -> None:
        """Skill mastery with trend, reviews due, and a suggested next session."""
        from coach.interview import PlanRequest, load_history, plan_session
        from coach.progress import load_progress
        from coach.storage.tables import utcnow

        bank = load_bank(packs)
        now = utcnow()
        with _local_user() as (db, user_id):
            summary = load_progress(db, bank=bank, user_id=user_id, now=now)
            suggestion = plan_session(bank, PlanRequest(count=5), load_history(db, bank=bank, user_id=user_id), now)
        if as_json:
            data = {
                "skills": [m.__dict__ for m in summary.skills],
                "due": [{**r.__dict__, "due_at": r.due_at.isoformat()} for r in summary.due],
                "upcoming": [{**r.__dict__, "due_at": r.due_at.isoformat()} for r in summary.upcoming],
                "suggested": [item.to_dict() for item in suggestion.items],
            }
            typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
            return
        console.print(f"{summary.answers} graded answer(s) in {summary.sessions} session(s).")
        if summary.skills:
            table = Table(title="Skill mastery (weakest first)", expand=True)
            for col, just in (
                ("skill", "left"),
                ("mastery", "right"),
                ("answers", "right"),
                ("last", "right"),
                ("trend", "left"),
            ):
                table.add_column(col, justify=just)  # type: ignore[arg-type]
            for m in summary.skills:
                colour = "green" if m.mastery >= 0.75 else "yellow" if m.mastery >= 0.6 else "red"
                table.add_row(
                    escape(m.skill),
                    f"[{colour}]{m.mastery:.0%}[/]",
                    str(m.attempts),
                    f"{m.last_score:g}",
                    TREND_MARK[m.trend],
                )
            console.print(table)
        if summary.due:
            console.print(f"\n[bold]{len(summary.due)} review(s) due[/]")
            for r in summary.due:
                last = f" (last {r.last_score:g})" if r.last_score is not None else ""
                console.print(f"  • {escape(r.question_id)}{last}: due {r.due_at:%d %b %Y}")
        elif summary.upcoming:
            nxt = summary.upcoming[0]
            console.print(f"\nNo reviews due; the next is {escape(nxt.question_id)} on {nxt.due_at:%d %b %Y}.")
        console.print("\n[bold]Suggested next session[/]: coach practice --count 5")
        for n, item in enumerate(suggestion.items, start=1):
            console.print(f"  {n}. {escape(item.question_id)}: [dim]{escape(item.reason)}[/]")

    @app.command("report")
    @friendly
    def report(
        session: Annotated[str, typer.Argument(help="Session id, its first 8 characters, or 'last'.")],
        fmt: Annotated[str, typer.Option("--format", "-f", help="md or html (standalone, with charts).")] = "md",
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="Write to this file instead of printing.")
        ] = None,
        packs: PacksOpt = None,
    ) -> None:
        """A session report: score per question, skills, trend over sessions, and next steps."""
        from coach.progress import build_report, find_session_id, render
        from coach.progress.report import FORMATS

        if fmt not in FORMATS:
            raise InvalidInput(f"Unknown report format {fmt!r}; choose one of: {', '.join(FORMATS)}.")
        bank = load_bank(packs)
        with _local_user() as (db, user_id):
            sid = find_session_id(db, user_id=user_id, ref=session)
            text = render(build_report(db, bank=bank, user_id=user_id, session_id=sid), fmt)
        if output is None:
            typer.echo(text, nl=False)
            return
        write_private(output, text)
        console.print(f"Wrote the {fmt} report of session {sid[:8]} to {output}")

    @app.command("export")
    @friendly
    def export(output: Annotated[Path, typer.Option("--output", "-o", help="The JSON file to write.")]) -> None:
        """Export everything stored about you (sessions, answers, grades, drafts, reviews) as re-importable JSON."""
        from coach.storage import repository as repo

        with _local_user() as (db, user_id):
            data = repo.export_user(db, user_id=user_id)
        write_private(output, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        console.print(
            f"Exported {len(data['sessions'])} session(s), {len(data['attempts'])} answer(s), "
            f"{len(data['drafts'])} draft(s) and {len(data['reviews'])} review card(s) to {output}"
        )

    @app.command("import")
    @friendly
    def import_cmd(source: Annotated[Path, typer.Argument(help="A file written by `coach export`.")]) -> None:
        """Import a `coach export` file into this machine's data."""
        from coach.cli.practice import read_text_file
        from coach.storage import repository as repo

        try:
            data = json.loads(read_text_file(source, "export file"))
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                f"{source} is not JSON ({exc.msg} at line {exc.lineno}); give a file written by `coach export`."
            ) from exc
        with _local_user() as (db, user_id):
            counts = repo.import_user(db, data=data, into_user_id=user_id)
        console.print("Imported " + ", ".join(f"{n} {name}" for name, n in counts.items()) + f" from {source}")

    @app.command("forget")
    @friendly
    def forget(
        session: Annotated[
            str | None, typer.Option("--session", help="Delete this session (id or prefix) and its answers.")
        ] = None,
        everything: Annotated[
            bool, typer.Option("--all", help="Delete all your sessions, answers, drafts and reviews.")
        ] = False,
        yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    ) -> None:
        """Delete practice data for good (it cannot be undone; `coach export` first to keep a copy)."""
        from coach.progress import find_session_id
        from coach.storage import repository as repo

        if bool(session) == everything:
            raise InvalidInput("Say what to forget: `--session ID` for one session, or `--all` for everything.")
        with _local_user() as (db, user_id):
            if session:
                sid = find_session_id(db, user_id=user_id, ref=session)
                if not yes:
                    typer.confirm(f"Delete session {sid[:8]} and its answers for good?", abort=True)
                repo.forget_session(db, user_id=user_id, session_id=sid)
                console.print(f"Deleted session {sid[:8]} and its answers.")
                return
            if not yes:
                typer.confirm("Delete ALL your sessions, answers, drafts and review cards for good?", abort=True)
            counts = repo.forget_all(db, user_id=user_id)
        console.print("Deleted " + ", ".join(f"{n} {name}" for name, n in counts.items()) + ".")

    @app.command("regrade")
    @friendly
    def regrade(packs: PacksOpt = None) -> None:
        """Grade answers left ungraded ('stored' or 'failed'), e.g. after a crash or a grader error."""
        from coach.api import default_grader
        from coach.interview import regrade_attempts
        from coach.storage import repository as repo

        bank = load_bank(packs)
        with _local_user() as (db, user_id):
            if not repo.list_ungraded_attempts(db, user_id=user_id, limit=1):
                console.print("Every answer is graded; nothing to do.")
                return
            with console.status("Preparing the grader…"):
                grader = default_grader(settings())
            summary = regrade_attempts(db, bank=bank, grader=grader, user_id=user_id)
        console.print(f"Graded {summary.graded} answer(s).")
        for attempt_id, why in summary.failed:
            console.print(f"[red]Could not grade {attempt_id[:8]}[/]: {escape(why)}")
        if summary.failed:
            raise typer.Exit(code=1)
