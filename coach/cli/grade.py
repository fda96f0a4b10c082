"""`coach grade` (one answer or a batch) and `coach eval` (measure the grader on labelled data)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from coach.cli.common import console, err_console, friendly, load_bank
from coach.errors import InvalidInput

STATUS_MARK = {"covered": "[green]✔ covered[/]", "partial": "[yellow]◐ partial[/]", "missing": "[red]✘ missing[/]"}


def _read_answer(answer: Path | None) -> str:
    if answer is None or str(answer) == "-":
        if sys.stdin.isatty():
            err_console.print("Type or paste your answer, then press Ctrl-D:")
        data = sys.stdin.buffer.read()
    else:
        try:
            data = answer.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"Cannot read the answer file {answer}: {exc.strerror}.") from exc
    if b"\x00" in data:
        raise InvalidInput("The answer is binary data, not text. Save your answer as plain text.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput("The answer is not UTF-8 text. Save it as UTF-8 plain text.") from exc


def render_grade(grade: Any, question: Any) -> None:
    """Print a grade for a person: score, checklist with evidence, pitfalls, flags, advice."""
    colour = "green" if grade.score >= 4 else "yellow" if grade.score >= 3 else "red"
    console.print(f"\n[bold]{escape(question.text)}[/]\n")
    console.print(f"Score: [bold {colour}]{grade.score:g} / 5[/]   {escape(grade.feedback.summary.split('. ', 1)[-1])}")
    for flag in grade.flags:
        console.print(f"[bold magenta]⚑ {flag.code.replace('_', ' ')}[/]: {escape(flag.reason)}")
    table = Table(title="Key points", show_lines=True, expand=True)
    table.add_column("", no_wrap=True)
    table.add_column("what a strong answer covers", ratio=2)
    table.add_column("your sentence that shows it", ratio=3)
    for kp in grade.key_points:
        table.add_row(STATUS_MARK[kp.status], escape(kp.text), escape(kp.evidence or "—"))
    console.print(table)
    if grade.pitfalls:
        console.print("[bold red]Pitfalls[/]")
        for p in grade.pitfalls:
            console.print(f"  • {escape(p.text)}\n    you said: “{escape(p.evidence)}”")
    s = grade.structure
    if s.expected != "none":
        found = ", ".join(k for k, v in s.elements.items() if v) or "none"
        console.print(
            f"[bold]Structure[/] ({s.expected}): {'complete' if s.complete else 'incomplete'}; found: {found}"
        )
    sp = grade.specificity
    console.print(
        f"[bold]Specificity[/] {sp.score:.2f}: named {', '.join(sp.named[:6]) or '—'}; numbers {', '.join(sp.numbers[:4]) or '—'}"
    )
    d = grade.delivery
    pace = f", {d.words_per_minute:.0f} words/min" if d.words_per_minute else ""
    console.print(f"[bold]Delivery[/]: {d.words} words (~{d.estimated_seconds}s spoken{pace}), length {d.length}")
    if grade.feedback.strengths:
        console.print("\n[bold green]Strengths[/]")
        for item in grade.feedback.strengths:
            console.print(f"  + {escape(item)}")
    if grade.feedback.improvements:
        console.print("[bold yellow]Next steps[/]")
        for item in grade.feedback.improvements:
            console.print(f"  → {escape(item)}")
    if grade.feedback.drop:
        console.print(f"[bold red]Stop saying[/]\n  ✘ {escape(grade.feedback.drop)}")
    console.print(f"\n[dim]engine {grade.engine.version} · {grade.engine.embedder}[/]")


def _question_from(spec: Any, bank: Any) -> tuple[Any, bool]:
    """A bank id, an inline question object, or {text, example_answer} for reference-only grading."""
    from coach.bank.loader import build_pack
    from coach.grading.rubric import is_reference_only, reference_question

    if isinstance(spec, str):
        return bank.get(spec), False
    if isinstance(spec, dict):
        if is_reference_only(spec):
            text = str(spec.get("text") or spec.get("question") or "").strip()
            reference = str(spec.get("example_answer") or "").strip()
            if not text or not reference:
                raise InvalidInput("A reference-only question needs `text` and `example_answer`.")
            return reference_question(text, reference, question_id=spec.get("id")), True
        pack = build_pack({"id": "inline", "questions": [spec]}, "inline question", "inline")
        return pack.questions[0], False
    raise InvalidInput("`question` must be a bank id or a question object.")


def _load_question_arg(value: str, packs: Path | None) -> tuple[Any, bool]:
    path = Path(value)
    if path.suffix in (".yaml", ".yml", ".json") and path.exists():
        from coach.bank.loader import parse_yaml_text

        try:
            data = parse_yaml_text(path.read_text(encoding="utf-8"), str(path))
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"{path}: not UTF-8 text.") from exc
        if isinstance(data, dict) and "questions" in data and isinstance(data["questions"], list) and data["questions"]:
            data = data["questions"][0]
        return _question_from(data, None)
    return _question_from(value, load_bank(packs))


def register(app: typer.Typer) -> None:
    @app.command("grade")
    @friendly
    def grade_cmd(
        question: Annotated[
            str | None, typer.Option("--question", "-q", help="A bank id, or a YAML/JSON file with one question.")
        ] = None,
        answer: Annotated[
            Path | None,
            typer.Option("--answer", "-a", help="File with the answer; '-' or nothing reads standard input."),
        ] = None,
        seconds: Annotated[float | None, typer.Option("--seconds", help="How long the spoken answer took.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the grade as JSON.")] = False,
        batch: Annotated[
            Path | None, typer.Option("--batch", help="JSONL of {id, question, answer[, seconds]}.")
        ] = None,
        output: Annotated[Path | None, typer.Option("--output", "-o", help="Where --batch writes its JSONL.")] = None,
        packs: Annotated[Path | None, typer.Option("--packs", help="Folder of extra question packs.")] = None,
    ) -> None:
        """Grade an answer against its question's rubric: score, key points with evidence, pitfalls, advice."""
        from coach.api import default_grader

        if batch is not None:
            _grade_batch(batch, output, packs)
            return
        if not question:
            raise InvalidInput("Say which question: `--question ID` (see `coach bank list`) or `--question FILE.yaml`.")
        q, reference_only = _load_question_arg(question, packs)
        text = _read_answer(answer)
        result = default_grader().grade(q, text, seconds=seconds, reference_only=reference_only)
        if as_json:
            typer.echo(result.model_dump_json(indent=2))
        else:
            render_grade(result, q)

    @app.command("eval")
    @friendly
    def eval_cmd(
        data: Annotated[
            Path | None, typer.Argument(help="JSONL of question, reference_answer, answer, score|label, split.")
        ] = None,
        devset: Annotated[
            Path | None, typer.Option("--devset", help="A dev-set folder (questions/*.yaml + answers.jsonl).")
        ] = None,
        limit: Annotated[int | None, typer.Option("--limit", help="Use at most this many items per split.")] = None,
        dataset: Annotated[
            str | None, typer.Option("--dataset", help="Only rows whose `dataset` field equals this.")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    ) -> None:
        """Measure the grader: correlation and QWK, or accuracy and macro-F1, on human-labelled data."""
        from coach.cli.evaluation import run_devset, run_reference_data

        if devset is None and data is None:
            raise InvalidInput("Give a JSONL file of human-scored answers, or --devset DIR.")
        figures = run_devset(devset) if devset is not None else run_reference_data(data, limit=limit, dataset=dataset)  # type: ignore[arg-type]
        if as_json:
            typer.echo(json.dumps(figures, indent=2))
        else:
            console.print_json(json.dumps(figures))


def _grade_batch(batch: Path, output: Path | None, packs: Path | None) -> None:
    from coach.api import default_grader
    from coach.errors import CoachError

    if output is None:
        raise InvalidInput("`--batch` needs `-o OUT.jsonl` for the results.")
    try:
        lines = [line for line in batch.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"Cannot read {batch} as UTF-8 JSON lines: {exc}.") from exc
    bank = load_bank(packs)
    grader = default_grader()
    failures = 0
    with (
        output.open("w", encoding="utf-8") as out,
        Progress(
            TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err_console
        ) as progress,
    ):
        task = progress.add_task("grading", total=len(lines))
        for n, line in enumerate(lines, start=1):
            record: dict[str, Any] = {}
            try:
                item = json.loads(line)
                if not isinstance(item, dict):
                    raise InvalidInput("each line must be a JSON object")
                record["id"] = item.get("id", n)
                q, reference_only = _question_from(item.get("question"), bank)
                g = grader.grade(q, item.get("answer", ""), seconds=item.get("seconds"), reference_only=reference_only)
                record["grade"] = g.model_dump(mode="json")
            except (CoachError, json.JSONDecodeError, ValueError) as exc:
                failures += 1
                record.setdefault("id", n)
                record["error"] = (
                    str(exc) if not isinstance(exc, json.JSONDecodeError) else f"line {n}: not JSON ({exc.msg})"
                )
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            progress.advance(task)
    console.print(
        f"Graded {len(lines) - failures} of {len(lines)} answer(s) into {output}"
        + (f"; {failures} error(s) recorded" if failures else "")
    )
