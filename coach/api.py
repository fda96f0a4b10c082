"""The wired-up core: the default grader (embedded model + shipped bank as background) and helpers
that the CLI and the web app share. Shells call these; they never assemble the pieces themselves."""

from __future__ import annotations

import threading
from pathlib import Path

from coach.bank.loader import BUILTIN_PACKS, Bank, load_packs
from coach.bank.schema import Question
from coach.grading.background import Background, build_background
from coach.grading.embedders import Embedder, default_embedder
from coach.grading.engine import Grader
from coach.grading.model import Grade
from coach.settings import Settings

_lock = threading.Lock()
_graders: dict[str, Grader] = {}


_shipped: Bank | None = None


def shipped_bank() -> Bank:
    """The shipped packs, parsed once per process."""
    global _shipped
    if _shipped is None:
        _shipped = load_packs([BUILTIN_PACKS])
    return _shipped


def shipped_background(embedder: Embedder) -> Background:
    """The shipped packs as contrast for off-topic detection (user packs never change grades)."""
    bank = shipped_bank()
    return build_background([(q.text, q.example_answer) for q in bank.questions], embedder)


def embedding_cache_path(settings: Settings | None = None) -> Path:
    return (settings or Settings()).home / "cache" / "embeddings.sqlite"


def default_grader(settings: Settings | None = None) -> Grader:
    """One grader per process: loads the model, and embeds the background once per machine (disk cache)."""
    settings = settings or Settings()
    key = settings.embedder
    with _lock:
        grader = _graders.get(key)
        if grader is None:
            embedder = default_embedder(settings.embedder, disk_path=embedding_cache_path(settings))
            grader = Grader(embedder, shipped_background(embedder))
            _graders[key] = grader
        return grader


def grade(question: Question, answer: str, *, seconds: float | None = None, reference_only: bool = False) -> Grade:
    """Grade with the default grader: `coach.grade(question, answer)`."""
    return default_grader().grade(question, answer, seconds=seconds, reference_only=reference_only)


__all__ = ["Path", "default_grader", "grade", "shipped_background", "shipped_bank"]
