"""User packs from COACH_PACKS_DIR and --packs load next to the shipped ones; a reused id names both files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from coach.bank.loader import load_bank
from coach.cli import app

USER_PACKS = Path(__file__).parent / "fixtures" / "packs" / "user"
SHIPPED = Path(__file__).resolve().parents[1] / "coach" / "bank" / "packs"
USER_IDS = ["user-privacy-dpia-walkthrough", "user-privacy-deletion-story"]


def shipped_ids() -> list[str]:
    ids = []
    for path in sorted(SHIPPED.rglob("*.yaml")):
        ids += [q["id"] for q in yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]]
    return ids


def listed(*args: str) -> list[str]:
    result = CliRunner().invoke(app, ["bank", "list", "--json", *args])
    assert result.exit_code == 0, result.output
    return [item["id"] for item in json.loads(result.stdout)]


def test_the_packs_option_adds_the_user_questions_to_the_shipped_ones():
    assert sorted(listed("--packs", str(USER_PACKS))) == sorted(shipped_ids() + USER_IDS)


def test_coach_packs_dir_adds_the_user_questions_to_the_shipped_ones(monkeypatch):
    monkeypatch.setenv("COACH_PACKS_DIR", str(USER_PACKS))

    assert sorted(listed()) == sorted(shipped_ids() + USER_IDS)


def test_without_user_packs_only_the_shipped_questions_load():
    assert sorted(listed()) == sorted(shipped_ids())


def test_user_questions_can_be_filtered_and_shown(monkeypatch):
    monkeypatch.setenv("COACH_PACKS_DIR", str(USER_PACKS))

    assert listed("--role", "privacy-engineer") == USER_IDS
    result = CliRunner().invoke(app, ["bank", "show", "user-privacy-deletion-story", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["pack"] == "privacy-engineering"
    assert shown["region"] == ["US"]


def test_the_same_folder_from_the_environment_and_the_option_loads_once(monkeypatch):
    monkeypatch.setenv("COACH_PACKS_DIR", str(USER_PACKS))

    assert listed("--packs", str(USER_PACKS) + "/", "--role", "privacy-engineer") == USER_IDS


def test_load_bank_reads_user_folders_after_the_shipped_packs():
    bank = load_bank([USER_PACKS])

    assert [e.question.id for e in bank.entries][-2:] == USER_IDS
    assert bank.pack_of("user-privacy-dpia-walkthrough") == "privacy-engineering"


def _pack_reusing_a_shipped_id(folder: Path) -> tuple[Path, Path, str]:
    """Copy the user pack with its first question renamed to a shipped id; return both files and the id."""
    shipped_file = next(p for p in sorted(SHIPPED.rglob("*.yaml")) if "ai-ethics-specialist" in p.parts)
    reused = yaml.safe_load(shipped_file.read_text(encoding="utf-8"))["questions"][0]["id"]
    pack = yaml.safe_load((USER_PACKS / "privacy-engineer.yaml").read_text(encoding="utf-8"))
    pack["questions"][0]["id"] = reused
    folder.mkdir()
    user_file = folder / "clash.yaml"
    user_file.write_text(yaml.safe_dump(pack, sort_keys=False), encoding="utf-8")
    return user_file, shipped_file, reused


@pytest.mark.parametrize("how", ["option", "environment"])
def test_a_user_pack_reusing_a_shipped_id_is_refused_naming_both_files(tmp_path, monkeypatch, how):
    user_file, shipped_file, reused = _pack_reusing_a_shipped_id(tmp_path / "mine")
    args = ["bank", "list"]
    if how == "option":
        args += ["--packs", str(user_file.parent)]
    else:
        monkeypatch.setenv("COACH_PACKS_DIR", str(user_file.parent))

    result = CliRunner().invoke(app, args)

    assert result.exit_code == 2, result.output
    assert f"{reused!r}" in result.output
    assert str(shipped_file) in result.output
    assert str(user_file) in result.output
    assert "Traceback" not in result.output


def test_a_broken_user_pack_is_reported_with_its_file(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    pack = yaml.safe_load((USER_PACKS / "privacy-engineer.yaml").read_text(encoding="utf-8"))
    pack["questions"][1]["structure"] = "story"
    (folder / "broken.yaml").write_text(yaml.safe_dump(pack), encoding="utf-8")

    result = CliRunner().invoke(app, ["bank", "list", "--packs", str(folder)])

    assert result.exit_code == 2, result.output
    assert str(folder / "broken.yaml") in result.output
    assert "question user-privacy-deletion-story: field structure" in result.output


def test_a_missing_packs_folder_is_an_error_that_names_it(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere"
    monkeypatch.setenv("COACH_PACKS_DIR", str(missing))

    result = CliRunner().invoke(app, ["bank", "list"])

    assert result.exit_code == 2, result.output
    assert str(missing) in result.output
    assert "does not exist" in result.output


def test_a_json_export_of_user_questions_works_as_a_user_pack(tmp_path):
    out = tmp_path / "exported" / "privacy.json"
    args = ["bank", "export", "-f", "json", "-o", str(out), "--role", "privacy-engineer", "--packs", str(USER_PACKS)]
    export = CliRunner().invoke(app, args)
    assert export.exit_code == 0, export.output

    assert listed("--packs", str(out.parent), "--role", "privacy-engineer") == USER_IDS
