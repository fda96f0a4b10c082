"""Background questions for contrastive relevance: is the answer closer to another question than to this one?

An off-topic answer is often fluent and in the same field, so its similarity to the asked question alone
is a weak signal. Comparing it with how well it matches other questions (their text and example
answers) separates "about something else" from "a weak answer to this question". The default background
is the shipped question bank, passed in by `coach.api`; grading itself never reads files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from coach.grading.embedders import Embedder, shared_vectors
from coach.grading.text import split_units

NEAR_DUPLICATE = 0.75  # background questions this close to the asked one are the same topic: left out


@dataclass(frozen=True)
class Background:
    questions: np.ndarray  # (n, dim) question texts
    examples: np.ndarray  # (n, dim) centroid of each example answer's sentences
    digest: str

    def __len__(self) -> int:
        return len(self.questions)

    def margin(self, answer: np.ndarray, question: np.ndarray, example: np.ndarray) -> tuple[float, float]:
        """How much closer the answer is to this question than to the best other one (text, example)."""
        if not len(self.questions):
            return 0.0, 0.0
        keep = (self.questions @ question) < NEAR_DUPLICATE
        keep &= (self.examples @ example) < 0.9
        if not keep.any():
            return 0.0, 0.0
        q_margin = float(answer @ question) - float((self.questions[keep] @ answer).max())
        e_margin = float(answer @ example) - float((self.examples[keep] @ answer).max())
        return q_margin, e_margin


def centroid(vectors: np.ndarray) -> np.ndarray:
    if not len(vectors):
        return np.zeros(vectors.shape[1] if vectors.ndim == 2 else 384, dtype=np.float32)
    c = vectors.mean(axis=0)
    return (c / max(float(np.linalg.norm(c)), 1e-9)).astype(np.float32)


def background_digest(pairs: Sequence[tuple[str, str]]) -> str:
    return hashlib.sha256("\x1e".join(q + "\x1f" + a for q, a in pairs).encode()).hexdigest()[:16]


def build_background(pairs: Sequence[tuple[str, str]], embedder: Embedder) -> Background:
    """Embed (question text, example answer) pairs once; the result is reused for every grade."""
    digest = background_digest(pairs)
    if not pairs:
        empty = np.zeros((0, 384), dtype=np.float32)
        return Background(empty, empty, digest)
    questions = shared_vectors(embedder, [q for q, _ in pairs])
    unit_lists = [[u.text for u in split_units(a)] or [a] for _, a in pairs]
    flat = [t for units in unit_lists for t in units]
    vectors = shared_vectors(embedder, flat)
    examples, start = [], 0
    for units in unit_lists:
        examples.append(centroid(vectors[start : start + len(units)]))
        start += len(units)
    return Background(questions.astype(np.float32), np.stack(examples), digest)
