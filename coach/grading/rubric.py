"""Rubric handling: cue matching, and key points derived from an example answer (reference-only mode)."""

from __future__ import annotations

import hashlib
import re
from collections import Counter

from coach.bank.schema import KeyPoint, Question
from coach.grading.text import ENGLISH_STOPWORDS, content_words, split_units, words

_CUE_CACHE: dict[str, re.Pattern[str]] = {}


def cue_pattern(cue: str) -> re.Pattern[str]:
    """A cue matches at a word start; a cue ending in a letter also matches longer forms (stems)."""
    pattern = _CUE_CACHE.get(cue)
    if pattern is None:
        escaped = re.escape(cue.lower()).replace(r"\ ", r"[\s-]+")
        # A cue that ends in a digit must not match inside a longer number ("0.8" is not "0.85").
        tail = r"(?![0-9])" if cue[-1:].isdigit() else ""
        pattern = re.compile(r"(?<![a-z0-9])" + escaped + tail, re.IGNORECASE)
        _CUE_CACHE[cue] = pattern
    return pattern


def cue_hits(cues: tuple[str, ...], text: str) -> tuple[str, ...]:
    return tuple(c for c in cues if cue_pattern(c).search(text))


def is_reference_only(data: dict[str, object]) -> bool:
    return "key_points" not in data and "example_answer" in data


def _slug(text: str, n: int) -> str:
    base = "-".join(re.sub(r"[^a-z0-9]+", "", w) for w in content_words(text)[:4]) or "point"
    return re.sub(r"-+", "-", f"ref-{n}-{base}")[:60].strip("-")


def derive_key_points(reference: str, max_points: int = 7) -> tuple[KeyPoint, ...]:
    """Key points from a reference answer: its sentences (or clauses), each with distinctive cue words."""
    units = [u.text for u in split_units(reference)]
    clauses: list[str] = []
    for unit in units:
        # Long sentences carry several ideas; split them at clause boundaries so each can be credited.
        if len(words(unit)) > 22:
            parts = [p.strip() for p in re.split(r";|, (?:and|but|because|so|which|while) ", unit) if p.strip()]
            for part in parts:
                # A short tail ("because metal conducts") belongs to the clause before it.
                if clauses and len(words(part)) < 3 and part is not parts[0]:
                    clauses[-1] = clauses[-1] + ", " + part
                else:
                    clauses.append(part)
        else:
            clauses.append(unit)
    # Fragments ("2:", "Yes.") are not ideas of their own: fold them into a neighbour.
    merged: list[str] = []
    for clause in clauses:
        if merged and len(content_words(clause)) < 2:
            merged[-1] = merged[-1] + " " + clause
        elif not merged or len(content_words(merged[-1])) >= 2:
            merged.append(clause)
        else:
            merged[-1] = merged[-1] + " " + clause
    clauses = [c for c in merged if len(c.strip()) >= 3]
    if not clauses:
        clauses = [reference.strip() if len(reference.strip()) >= 3 else f"Answer: {reference.strip()}"]
    if len(clauses) > max_points:
        # Merge neighbours so the longest pieces survive; order is kept.
        while len(clauses) > max_points:
            i = min(range(len(clauses) - 1), key=lambda k: len(clauses[k]) + len(clauses[k + 1]))
            clauses[i : i + 2] = [clauses[i] + " " + clauses[i + 1]]
    doc_counts = Counter(w for c in clauses for w in set(content_words(c)))
    points = []
    for n, clause in enumerate(clauses, start=1):
        cw = [w for w in content_words(clause) if w not in ENGLISH_STOPWORDS]
        # Distinctive words first: those not repeated in every clause.
        ranked = sorted(dict.fromkeys(cw), key=lambda w: (doc_counts[w], -len(w)))
        cues = tuple(ranked[:5])
        weight = 1.0 + min(len(cw), 12) / 24
        points.append(KeyPoint(id=_slug(clause, n), text=clause, weight=round(weight, 2), cues=cues))
    return tuple(points)


def reference_question(text: str, reference: str, *, question_id: str | None = None) -> Question:
    """A question built from only its text and a reference answer, graded against derived key points."""
    qid = question_id or "ref-" + hashlib.sha256((text + "\n" + reference).encode()).hexdigest()[:12]
    return Question(
        id=re.sub(r"[^a-z0-9._-]+", "-", qid.lower()).strip("-") or "ref",
        text=text,
        role="custom",
        level="intermediate",
        category="concepts",
        type="competency",
        skills=("custom",),
        why_asked="A question of your own, graded against key points derived from its reference answer.",
        key_points=derive_key_points(reference),
        structure="none",
        example_answer=reference,
    )
