"""Load question packs from YAML files, with errors that name the file, the question and the field."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from coach.bank.schema import Pack, Question
from coach.errors import NotFound, PackError

BUILTIN_PACKS = Path(__file__).resolve().parent / "packs"
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
PACK_SUFFIXES = (".yaml", ".yml", ".json")
MAX_PACK_BYTES = 5 * 1024 * 1024

_EXPECTED = {
    "missing": "this field is required",
    "extra_forbidden": "this field is not part of the format (check its spelling)",
    "literal_error": "",
    "string_pattern_mismatch": "",
}


@dataclass(frozen=True)
class Entry:
    """A question with the pack and file it came from."""

    question: Question
    pack: str
    source: Path


@dataclass
class Bank:
    """Every loaded question, indexed by id, in load order."""

    entries: list[Entry] = field(default_factory=list)
    packs: list[Pack] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_id = {e.question.id: e for e in self.entries}

    @property
    def questions(self) -> list[Question]:
        return [e.question for e in self.entries]

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, question_id: object) -> bool:
        return question_id in self._by_id

    def find(self, question_id: str) -> Question | None:
        entry = self._by_id.get(question_id)
        return entry.question if entry else None

    def get(self, question_id: str) -> Question:
        entry = self._by_id.get(question_id)
        if entry is None:
            close = difflib.get_close_matches(question_id, list(self._by_id), n=3, cutoff=0.6)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise NotFound(f"No question {question_id!r} in the bank.{hint} `coach bank list` shows the ids.")
        return entry.question

    def entry(self, question_id: str) -> Entry:
        self.get(question_id)
        return self._by_id[question_id]

    def pack_of(self, question_id: str) -> str:
        return self.entry(question_id).pack


def _describe(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    msg = str(error.get("msg", ""))
    if kind == "missing":
        return _EXPECTED["missing"]
    if kind == "extra_forbidden":
        return _EXPECTED["extra_forbidden"]
    if kind == "value_error":
        # Our own validators already say what was wrong and quote the bad value; pydantic adds a prefix.
        return msg.removeprefix("Value error, ")
    if "input" in error and kind not in ("missing",):
        shown = repr(error["input"])
        if len(shown) > 60:
            shown = shown[:57] + "..."
        return f"{msg}; got {shown}"
    return msg


def _field_path(loc: Sequence[Any], raw: dict[str, Any]) -> str:
    parts: list[str] = []
    node: Any = raw
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            if isinstance(node, list) and 0 <= item < len(node) and isinstance(node[item], dict):
                inner_id = node[item].get("id")
                if inner_id:
                    label = f"[{item}] ({inner_id})"
            parts.append(label)
            node = node[item] if isinstance(node, list) and 0 <= item < len(node) else None
        else:
            parts.append(("." if parts else "") + str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "(question)"


def _read_yaml(path: Path) -> Any:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise PackError(f"{path}: cannot read the file ({exc.strerror}).") from exc
    if size > MAX_PACK_BYTES:
        raise PackError(f"{path}: the file is {size:,} bytes; a pack may be at most {MAX_PACK_BYTES:,} bytes.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PackError(f"{path}: not UTF-8 text (byte {exc.start}); save the pack as UTF-8 YAML.") from exc
    except OSError as exc:
        raise PackError(f"{path}: cannot read the file ({exc.strerror}).") from exc
    return parse_yaml_text(text, str(path))


def parse_yaml_text(text: str, name: str) -> Any:
    """Parse YAML with the safe loader; a syntax error names the line and column."""
    try:
        return yaml.load(text, Loader=_SafeLoader)  # noqa: S506 - a safe loader, in C when available
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise PackError(f"{name}: not valid YAML{where}: {exc.problem}.") from exc
    except yaml.YAMLError as exc:
        raise PackError(f"{name}: not valid YAML: {exc}.") from exc


def build_packs(data: Any, name: str, default_id: str) -> list[Pack]:
    """Validate parsed YAML or JSON into packs; list items that carry a `pack` key are grouped by it."""
    if isinstance(data, list) and data and all(isinstance(q, dict) and "pack" in q for q in data):
        groups: dict[str, list[dict[str, Any]]] = {}
        for raw in data:
            body = {k: v for k, v in raw.items() if k != "pack"}
            groups.setdefault(str(raw["pack"]), []).append(body)
        packs, problems = [], []
        for pack_id, questions in groups.items():
            try:
                packs.append(build_pack({"id": pack_id, "questions": questions}, name, pack_id))
            except PackError as exc:
                problems.append(exc.message)
        if problems:
            raise PackError("\n".join(problems))
        return packs
    return [build_pack(data, name, default_id)]


def build_pack(data: Any, name: str, default_id: str) -> Pack:
    """Validate parsed YAML (a pack, a list of questions or one question) into a Pack."""
    if isinstance(data, dict) and "questions" in data:
        meta = {k: v for k, v in data.items() if k != "questions"}
        raw_questions = data.get("questions")
    elif isinstance(data, dict) and "text" in data:
        meta, raw_questions = {}, [data]
    elif isinstance(data, list):
        meta, raw_questions = {}, data
    elif data is None:
        raise PackError(f"{name}: the file is empty; expected a pack with a `questions` list.")
    else:
        raise PackError(
            f"{name}: expected a pack (a mapping with `id` and `questions`), a list of questions "
            f"or one question; got {type(data).__name__}."
        )
    if not isinstance(raw_questions, list):
        raise PackError(f"{name}: `questions` must be a list of questions.")

    problems: list[str] = []
    questions: list[Question] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_questions):
        if not isinstance(raw, dict):
            problems.append(f"{name}: question [{index}]: expected a mapping of fields, got {type(raw).__name__}.")
            continue
        qid = raw.get("id") or f"#{index + 1}"
        try:
            question = Question.model_validate(raw)
        except ValidationError as exc:
            for err in exc.errors():
                where = _field_path(err["loc"], raw)
                problems.append(f"{name}: question {qid!s}: field {where}: {_describe(dict(err))}.")
            continue
        if question.id in seen:
            problems.append(
                f"{name}: question {question.id}: the id is used twice in this file "
                f"(entries {seen[question.id] + 1} and {index + 1})."
            )
            continue
        seen[question.id] = index
        questions.append(question)

    meta.setdefault("id", default_id)
    try:
        pack = Pack.model_validate({**meta, "questions": []})
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            problems.append(f"{name}: pack field {where}: {_describe(dict(err))}.")
        pack = None
    if problems:
        raise PackError("\n".join(problems))
    assert pack is not None
    return pack.model_copy(update={"questions": tuple(questions)})


def load_pack_file(path: Path) -> list[Pack]:
    """Load and validate one pack file (YAML, or JSON as written by `coach bank export`)."""
    default_id = path.stem if path.parent.name != "questions" else path.parent.parent.name or path.stem
    return build_packs(_read_yaml(path), str(path), _slug(default_id))


def _slug(text: str) -> str:
    import re

    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-")
    return slug or "pack"


def pack_files(paths: Iterable[Path]) -> list[Path]:
    """Expand folders into their YAML files, sorted; files are kept as given, each file once."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix in PACK_SUFFIXES and p.is_file()))
        elif path.exists():
            found.append(path)
        else:
            raise PackError(f"{path}: no such file or folder.")
    # The same folder can arrive twice (COACH_PACKS_DIR and --packs); reading a file twice is not a clash.
    seen: set[Path] = set()
    unique: list[Path] = []
    for path in found:
        if path.resolve() not in seen:
            seen.add(path.resolve())
            unique.append(path)
    return unique


def load_packs(paths: Iterable[Path]) -> Bank:
    """Load packs from files and folders into one bank; a duplicate id names both files."""
    entries: list[Entry] = []
    packs: list[Pack] = []
    origin: dict[str, Path] = {}
    problems: list[str] = []
    for path in pack_files(paths):
        try:
            file_packs = load_pack_file(path)
        except PackError as exc:
            problems.append(exc.message)
            continue
        for pack in file_packs:
            packs.append(pack)
            for question in pack.questions:
                if question.id in origin:
                    problems.append(
                        f"Question id {question.id!r} is defined twice: in {origin[question.id]} and in {path}. "
                        "Ids must be unique across all loaded packs; rename one of them."
                    )
                    continue
                origin[question.id] = path
                entries.append(Entry(question=question, pack=pack.id, source=path))
    if problems:
        raise PackError("\n".join(problems))
    return Bank(entries=entries, packs=_merge_packs(packs))


def _merge_packs(packs: list[Pack]) -> list[Pack]:
    # A pack may be split over several files that share its id (one file per group of questions).
    merged: dict[str, Pack] = {}
    for pack in packs:
        if pack.id in merged:
            first = merged[pack.id]
            merged[pack.id] = first.model_copy(update={"questions": first.questions + pack.questions})
        else:
            merged[pack.id] = pack
    return list(merged.values())


def load_bank(extra_dirs: Sequence[Path | str] = (), *, builtin: bool = True) -> Bank:
    """Load the shipped packs plus any user pack folders (`COACH_PACKS_DIR`, `--packs`)."""
    paths: list[Path] = [BUILTIN_PACKS] if builtin else []
    for extra in extra_dirs:
        if not extra:
            continue
        p = Path(extra).expanduser()
        if not p.exists():
            raise PackError(f"{p}: the packs folder does not exist (set by COACH_PACKS_DIR or --packs).")
        paths.append(p)
    return load_packs(paths)
