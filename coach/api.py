"""The wired-up core: the default grader (embedded model + shipped bank as background) and helpers
that the CLI and the web app share. Shells call these; they never assemble the pieces themselves."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from coach.bank.loader import BUILTIN_PACKS, Bank, load_packs
from coach.bank.schema import Question
from coach.grading.background import Background, background_digest, build_background
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


SHIPPED_BACKGROUND = Path(__file__).resolve().parent / "grading" / "background.npz"


def shipped_background(embedder: Embedder) -> Background:
    """The shipped packs as contrast for off-topic detection (user packs never change grades).

    The vectors ship with the package (`make background` rebuilds them); they are used only when their
    digest matches the packs and model in hand, otherwise they are computed (once, then cached on disk).
    """
    bank = shipped_bank()
    pairs = [(q.text, q.example_answer) for q in bank.questions]
    digest = background_digest(pairs)
    model = embedder.id.rsplit("/", 1)[0]
    if SHIPPED_BACKGROUND.exists():
        with np.load(SHIPPED_BACKGROUND, allow_pickle=False) as data:
            if str(data["digest"]) == digest and str(data["model"]) == model:
                return Background(data["questions"], data["examples"], digest)
    return build_background(pairs, embedder)


def write_shipped_background(embedder: Embedder, path: Path = SHIPPED_BACKGROUND) -> Path:
    bank = shipped_bank()
    pairs = [(q.text, q.example_answer) for q in bank.questions]
    background = build_background(pairs, embedder)
    np.savez_compressed(
        path,
        questions=background.questions,
        examples=background.examples,
        digest=np.array(background.digest),
        model=np.array(embedder.id.rsplit("/", 1)[0]),
    )
    return path


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
