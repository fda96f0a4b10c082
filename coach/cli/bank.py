"""`coach bank`: list, show, search, validate, stats and export the question bank."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table

from coach.bank.export import FORMATS, export, question_dict, question_markdown
from coach.bank.schema import CATEGORIES, LEVELS, SENIORITIES, TYPES
from coach.bank.search import Filters, filter_entries, search
from coach.cli.common import console, friendly, load_bank
from coach.errors import InvalidInput

app = typer.Typer(help="Browse, search, check and export the question bank.", no_args_is_help=True)

PacksOpt = Annotated[
    Path | None,
    typer.Option("--packs", help="Folder of extra question packs (also COACH_PACKS_DIR).", show_default=False),
]
RoleOpt = Annotated[str | None, typer.Option("--role", help="responsible-ai-pm, ai-ethics-specialist, ...")]
LevelOpt = Annotated[str | None, typer.Option("--level", help="beginner, intermediate or advanced.")]
SeniorityOpt = Annotated[str | None, typer.Option("--seniority", help="junior, mid, senior, lead, manager, director.")]
CategoryOpt = Annotated[
    str | None, typer.Option("--category", help="concepts, scenario, workflow-tools, behavioral, ...")
]
TypeOpt = Annotated[
    str | None, typer.Option("--type", help="behavioral, situational, technical, leadership, competency.")
]
SkillOpt = Annotated[str | None, typer.Option("--skill", help="Part of a skill name, e.g. 'fairness'.")]
RegionOpt = Annotated[str | None, typer.Option("--region", help="BR, ES, EU, US ...")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _check_choice(value: str | None, allowed: tuple[str, ...], name: str) -> None:
    if value is not None and value not in allowed:
        raise InvalidInput(f"Unknown {name} {value!r}; choose one of: {', '.join(allowed)}.")


def _filters(role, level, seniority, category, qtype, skill, region) -> Filters:
    _check_choice(level, LEVELS, "level")
    _check_choice(seniority, SENIORITIES, "seniority")
    _check_choice(category, CATEGORIES, "category")
    _check_choice(qtype, TYPES, "type")
    return Filters(
        role=role, level=level, seniority=seniority, category=category, type=qtype, skill=skill, region=region
    )


@app.command("list")
@friendly
def list_questions(
    role: RoleOpt = None,
    level: LevelOpt = None,
    seniority: SeniorityOpt = None,
    category: CategoryOpt = None,
    qtype: TypeOpt = None,
    skill: SkillOpt = None,
    region: RegionOpt = None,
    as_json: JsonOpt = False,
    packs: PacksOpt = None,
) -> None:
    """List questions, optionally filtered."""
    bank = load_bank(packs)
    entries = filter_entries(bank, _filters(role, level, seniority, category, qtype, skill, region))
    if as_json:
        typer.echo(json.dumps([question_dict(e) for e in entries], indent=2, ensure_ascii=False))
        return
    if not entries:
        console.print("No questions match these filters. Try fewer filters, or `coach bank stats` to see what exists.")
        return
    table = Table(title=f"{len(entries)} question(s)", show_lines=False, expand=True)
    table.add_column("id", style="cyan", no_wrap=True)
    table.add_column("question", ratio=3)
    table.add_column("level")
    table.add_column("seniority")
    table.add_column("category")
    for e in entries:
        q = e.question
        table.add_row(q.id, q.text, q.level, q.seniority or "-", q.category)
    console.print(table)


@app.command("show")
@friendly
def show(
    question_id: Annotated[str, typer.Argument(help="The question id (see `coach bank list`).")],
    as_json: JsonOpt = False,
    packs: PacksOpt = None,
) -> None:
    """Show one question with its full guidance: the question first, guidance below."""
    bank = load_bank(packs)
    entry = bank.entry(question_id)
    if as_json:
        typer.echo(json.dumps(question_dict(entry), indent=2, ensure_ascii=False))
        return
    q = entry.question
    console.print(Panel(q.text, title=f"[bold]{q.id}[/]", subtitle=f"{q.role_title} · {q.level} · {q.category}"))
    body = question_markdown(q, pack=entry.pack)[2:]  # the panel already shows the question
    console.print(Markdown("\n".join(body)))


@app.command("search")
@friendly
def search_cmd(
    text: Annotated[str, typer.Argument(help="What you are looking for, in your own words.")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=100, help="How many results.")] = 10,
    words_only: Annotated[
        bool, typer.Option("--words-only", help="Match words only; skip the embedding model.")
    ] = False,
    role: RoleOpt = None,
    level: LevelOpt = None,
    as_json: JsonOpt = False,
    packs: PacksOpt = None,
) -> None:
    """Search questions by meaning and by words."""
    if not text.strip():
        raise InvalidInput('Give some words to search for, e.g. `coach bank search "model cards"`.')
    bank = load_bank(packs)
    embedder = None
    if not words_only:
        from coach.grading.embedders import default_embedder

        embedder = default_embedder()
    hits = search(
        bank, text, embedder=embedder, filters=_filters(role, level, None, None, None, None, None), limit=limit
    )
    if as_json:
        typer.echo(
            json.dumps([{**question_dict(h.entry), "score": h.score} for h in hits], indent=2, ensure_ascii=False)
        )
        return
    if not hits:
        console.print(f"Nothing in the bank matches {text!r}. Try other words, or `coach bank list`.")
        return
    table = Table(title=f"Best matches for {text!r}", expand=True)
    table.add_column("score", justify="right")
    table.add_column("id", style="cyan", no_wrap=True)
    table.add_column("question", ratio=3)
    for h in hits:
        table.add_row(f"{h.score:.2f}", h.entry.question.id, h.entry.question.text)
    console.print(table)


@app.command("validate")
@friendly
def validate(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Pack files or folders (default: the shipped packs).")
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Also apply the content rules for shipped questions.")
    ] = False,
) -> None:
    """Check question packs; errors name the file, question and field."""
    from coach.bank.loader import BUILTIN_PACKS, load_packs
    from coach.bank.quality import content_problems

    targets = list(paths) if paths else [BUILTIN_PACKS]
    bank = load_packs(targets)
    problems = [p for q in bank.questions for p in content_problems(q)] if strict else []
    for p in problems:
        console.print(f"[yellow]content:[/] {p}")
    files = len({e.source for e in bank.entries})
    console.print(f"[green]OK[/]: {len(bank)} question(s) in {len(bank.packs)} pack(s) from {files} file(s).")
    if problems:
        raise typer.Exit(code=1)


@app.command("stats")
@friendly
def stats(as_json: JsonOpt = False, packs: PacksOpt = None) -> None:
    """Count questions by pack, role, level, seniority and category."""
    bank = load_bank(packs)
    qs = bank.questions
    data = {
        "total": len(qs),
        "pack": dict(Counter(e.pack for e in bank.entries)),
        "role": dict(Counter(q.role for q in qs)),
        "level": {k: v for k in LEVELS if (v := sum(q.level == k for q in qs))},
        "seniority": {k: v for k in SENIORITIES if (v := sum(q.seniority == k for q in qs))},
        "category": {k: v for k in CATEGORIES if (v := sum(q.category == k for q in qs))},
        "role_level": {f"{r} / {lv}": n for (r, lv), n in sorted(Counter((q.role, q.level) for q in qs).items())},
        "role_seniority": {
            f"{r} / {s}": n for (r, s), n in sorted(Counter((q.role, q.seniority or "-") for q in qs).items())
        },
    }
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    console.print(f"[bold]{data['total']}[/] questions")
    for key in ("pack", "role", "level", "seniority", "category", "role_level", "role_seniority"):
        table = Table(title=key.replace("_", " by "), show_header=False, min_width=40)
        table.add_column(key)
        table.add_column("count", justify="right")
        for name, count in data[key].items():  # type: ignore[attr-defined]
            table.add_row(str(name), str(count))
        console.print(table)


@app.command("export")
@friendly
def export_cmd(
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="markdown, json or anki.")] = "markdown",
    role: RoleOpt = None,
    level: LevelOpt = None,
    packs: PacksOpt = None,
) -> None:
    """Export questions with guidance to Markdown, JSON (re-importable) or an Anki deck."""
    if fmt not in FORMATS:
        raise InvalidInput(f"Unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}.")
    bank = load_bank(packs)
    entries = filter_entries(bank, _filters(role, level, None, None, None, None, None))
    export(entries, fmt, output)
    console.print(f"Wrote {len(entries)} question(s) as {fmt} to {output}")
