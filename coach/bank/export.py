"""Write the bank out as Markdown, JSON (re-importable) or an Anki deck."""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from coach.bank.loader import Entry
from coach.bank.schema import Question
from coach.errors import InvalidInput

FORMATS = ("markdown", "json", "anki")


def question_dict(entry: Entry) -> dict[str, Any]:
    """A question as plain JSON data with its pack; `coach bank validate` reads a list of these back."""
    data = entry.question.model_dump(mode="json", exclude_defaults=False)
    return {"pack": entry.pack, **data}


def to_json(entries: Sequence[Entry]) -> str:
    return json.dumps([question_dict(e) for e in entries], indent=2, ensure_ascii=False) + "\n"


def to_markdown(entries: Sequence[Entry]) -> str:
    lines = ["# Interview question bank", ""]
    for entry in entries:
        lines += question_markdown(entry.question, pack=entry.pack)
    return "\n".join(lines).rstrip() + "\n"


def question_markdown(q: Question, pack: str | None = None) -> list[str]:
    meta = [q.role_title, q.level]
    if q.seniority:
        meta.append(q.seniority)
    meta += [q.category, q.type]
    if q.region:
        meta.append("/".join(q.region))
    lines = [f"## {q.text}", "", f"*{' · '.join(meta)}* — `{q.id}`" + (f" in `{pack}`" if pack else ""), ""]
    lines += ["**Why it is asked.** " + q.why_asked, "", "**Key points of a strong answer**", ""]
    for kp in q.key_points:
        weight = f" (weight {kp.weight:g})" if kp.weight != 1 else ""
        lines.append(f"- {kp.text}{weight}")
    if q.pitfalls:
        lines += ["", "**What not to say**", ""]
        lines += [f"- {p.text}" for p in q.pitfalls]
    lines += ["", "**Example answer**", ""]
    lines += ["> " + para if para.strip() else ">" for para in q.example_answer.splitlines()]
    if q.follow_ups:
        lines += ["", "**Follow-ups**", ""]
        lines += [f"- {f}" for f in q.follow_ups]
    lines += ["", f"Skills: {', '.join(q.skills)}", ""]
    if q.references:
        lines += ["References: " + "; ".join(q.references), ""]
    return lines


def _stable_id(name: str) -> int:
    # Anki needs stable 31-bit ids so re-importing a deck updates notes instead of duplicating them.
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % (1 << 30) + (1 << 30)


def _back_html(q: Question) -> str:
    e = html.escape
    parts = [f"<p><b>Why it is asked.</b> {e(q.why_asked)}</p>", "<p><b>Key points</b></p><ul>"]
    parts += [f"<li>{e(kp.text)}</li>" for kp in q.key_points]
    parts.append("</ul>")
    if q.pitfalls:
        parts.append("<p><b>What not to say</b></p><ul>")
        parts += [f"<li>{e(p.text)}</li>" for p in q.pitfalls]
        parts.append("</ul>")
    parts.append(f"<p><b>Example answer</b></p><p>{e(q.example_answer)}</p>")
    if q.follow_ups:
        parts.append("<p><b>Follow-ups</b></p><ul>" + "".join(f"<li>{e(f)}</li>" for f in q.follow_ups) + "</ul>")
    return "".join(parts)


def write_anki(entries: Sequence[Entry], path: Path) -> None:
    import genanki

    model = genanki.Model(
        _stable_id("interview-coach question v1"),
        "interview-coach question",
        fields=[{"name": "Question"}, {"name": "Meta"}, {"name": "Guidance"}, {"name": "Id"}],
        templates=[
            {
                "name": "Practice",
                "qfmt": "<div class=q>{{Question}}</div><div class=meta>{{Meta}}</div>",
                "afmt": "{{FrontSide}}<hr id=answer>{{Guidance}}",
            }
        ],
        css=".card{font-family:sans-serif;font-size:18px;text-align:left;max-width:46em;margin:auto}"
        ".q{font-weight:bold}.meta{color:#666;font-size:14px;margin-top:.5em}",
    )
    deck = genanki.Deck(_stable_id("interview-coach deck"), "Interview coach: Responsible AI")
    for entry in entries:
        q = entry.question
        meta = " · ".join(x for x in (q.role_title, q.level, q.seniority or "", q.category) if x)
        note = genanki.Note(
            model=model,
            fields=[html.escape(q.text), html.escape(meta), _back_html(q), q.id],
            guid=genanki.guid_for(q.id),
            tags=[entry.pack, q.level, q.category],
        )
        deck.add_note(note)
    genanki.Package(deck).write_to_file(str(path))


def export(entries: Sequence[Entry], fmt: str, path: Path) -> None:
    if fmt not in FORMATS:
        raise InvalidInput(f"Unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "anki":
        write_anki(entries, path)
    elif fmt == "json":
        path.write_text(to_json(entries), encoding="utf-8")
    else:
        path.write_text(to_markdown(entries), encoding="utf-8")
