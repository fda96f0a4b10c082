"""`coach bank export`: JSON loads back into equal questions, Markdown keeps every question, Anki is a real deck."""

from __future__ import annotations

import json
import sqlite3
import zipfile
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from coach.bank.loader import load_bank, load_packs
from coach.cli import app

SHIPPED = Path(__file__).resolve().parents[1] / "coach" / "bank" / "packs"


def shipped_packs() -> dict[str, str]:
    """Question id -> pack id, read straight from the shipped YAML."""
    packs = {}
    for path in sorted(SHIPPED.rglob("*.yaml")):
        pack = yaml.safe_load(path.read_text(encoding="utf-8"))
        packs.update({q["id"]: pack["id"] for q in pack["questions"]})
    return packs


def shipped_texts() -> dict[str, str]:
    texts = {}
    for path in sorted(SHIPPED.rglob("*.yaml")):
        for q in yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]:
            texts[q["id"]] = q["text"].strip()
    return texts


def export(tmp_path: Path, fmt: str, name: str, *extra: str) -> Path:
    out = tmp_path / "out" / name
    result = CliRunner().invoke(app, ["bank", "export", "--format", fmt, "--output", str(out), *extra])
    assert result.exit_code == 0, result.output
    assert out.exists()
    return out


def test_json_export_loads_back_into_the_same_questions_and_packs(tmp_path):
    original = load_bank()
    path = export(tmp_path, "json", "bank.json")

    reloaded = load_packs([path])

    assert reloaded.questions == original.questions
    assert [e.pack for e in reloaded.entries] == [e.pack for e in original.entries]
    assert len(reloaded) == len(shipped_texts())


def test_a_filtered_json_export_holds_only_the_matching_questions(tmp_path):
    original = [q for q in load_bank().questions if q.role == "ai-ethics-specialist" and q.level == "advanced"]
    assert original

    path = export(tmp_path, "json", "ethics.json", "--role", "ai-ethics-specialist", "--level", "advanced")

    assert load_packs([path]).questions == original


def test_a_json_export_validates_with_the_cli(tmp_path):
    path = export(tmp_path, "json", "bank.json")

    result = CliRunner().invoke(app, ["bank", "validate", "--strict", str(path)])

    assert result.exit_code == 0, result.output


def test_markdown_export_contains_every_question_text_and_id(tmp_path):
    text = export(tmp_path, "markdown", "bank.md").read_text(encoding="utf-8")

    texts = shipped_texts()
    missing = [qid for qid, q in texts.items() if f"## {q}" not in text or f"`{qid}`" not in text]
    assert missing == []
    assert text.count("\n## ") == len(texts)


def test_anki_export_is_a_deck_with_one_note_per_question(tmp_path):
    path = export(tmp_path, "anki", "bank.apkg")

    assert zipfile.is_zipfile(path)
    with zipfile.ZipFile(path) as deck:
        collection = next(n for n in deck.namelist() if n.startswith("collection.anki2"))
        db_path = tmp_path / "collection.db"
        db_path.write_bytes(deck.read(collection))
    with sqlite3.connect(db_path) as db:
        rows = db.execute("select flds from notes").fetchall()

    texts = shipped_texts()
    fields = [row[0].split("\x1f") for row in rows]
    assert len(fields) == len(texts)
    assert sorted(f[-1] for f in fields) == sorted(texts)  # the last field is the question id


def test_anki_notes_keep_stable_guids_across_exports(tmp_path):
    # Re-importing a new export must update the notes, not duplicate them.
    def guids(path: Path) -> set[str]:
        with zipfile.ZipFile(path) as deck:
            target = tmp_path / f"{path.stem}.db"
            target.write_bytes(deck.read("collection.anki2"))
        with sqlite3.connect(target) as db:
            return {row[0] for row in db.execute("select guid from notes")}

    assert guids(export(tmp_path, "anki", "one.apkg")) == guids(export(tmp_path, "anki", "two.apkg"))


@pytest.mark.parametrize("fmt", ["pdf", "JSON"])
def test_export_rejects_an_unknown_format(tmp_path, fmt):
    result = CliRunner().invoke(app, ["bank", "export", "--format", fmt, "--output", str(tmp_path / "x")])

    assert result.exit_code == 2, result.output
    assert "markdown, json, anki" in result.output
    assert not (tmp_path / "x").exists()


def test_json_export_is_plain_json_with_the_pack_of_each_question(tmp_path):
    data = json.loads(export(tmp_path, "json", "bank.json").read_text(encoding="utf-8"))

    assert {item["id"]: item["pack"] for item in data} == shipped_packs()
