"""Find questions by meaning (sentence embeddings) and by words (BM25), and filter by attributes."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from coach.bank.loader import Bank, Entry
from coach.bank.schema import Question

_WORD = re.compile(r"[a-z0-9]+")
# fmt: off
_STOP = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "by", "do", "for", "from", "how", "i", "in", "is", "it", "of", "on", "or", "that", "the", "this", "to", "was", "we", "what", "when", "where", "which", "who", "why", "will", "with", "you", "your", "would", "can", "could", "should", "me", "my", "our", "about", "into"]
)
# fmt: on


class EmbedBatch(Protocol):
    def embed_batch(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Filters:
    role: str | None = None
    level: str | None = None
    seniority: str | None = None
    category: str | None = None
    type: str | None = None
    skill: str | None = None
    region: str | None = None
    pack: str | None = None

    def matches(self, entry: Entry) -> bool:
        q = entry.question
        if self.role and q.role != self.role:
            return False
        if self.level and q.level != self.level:
            return False
        if self.seniority and q.seniority != self.seniority:
            return False
        if self.category and q.category != self.category:
            return False
        if self.type and q.type != self.type:
            return False
        if self.pack and entry.pack != self.pack:
            return False
        if self.region and self.region.upper() not in q.region:
            return False
        if self.skill:
            wanted = self.skill.lower()
            if not any(wanted in s.lower() for s in q.skills):
                return False
        return True


def filter_entries(bank: Bank, filters: Filters) -> list[Entry]:
    return [e for e in bank.entries if filters.matches(e)]


def tokens(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


def _document(q: Question) -> str:
    parts = [q.text, q.text, " ".join(q.skills), q.why_asked, " ".join(kp.text for kp in q.key_points)]
    return " ".join(parts)


def bm25_scores(query: str, docs: Sequence[str], k1: float = 1.4, b: float = 0.75) -> list[float]:
    """Okapi BM25 of `query` against each document."""
    return _bm25(query, docs, k1, b)[0]


def _bm25(query: str, docs: Sequence[str], k1: float = 1.4, b: float = 0.75) -> tuple[list[float], float]:
    """BM25 scores plus the query's ceiling: the score of a document that matched every query term fully."""
    tokenised = [tokens(d) for d in docs]
    if not tokenised:
        return [], 0.0
    avg = sum(len(t) for t in tokenised) / len(tokenised) or 1.0
    df: Counter[str] = Counter()
    for t in tokenised:
        df.update(set(t))
    n = len(tokenised)
    scores = []
    terms = tokens(query)
    for t in tokenised:
        counts = Counter(t)
        score = 0.0
        for term in terms:
            if term not in counts:
                continue
            idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
            tf = counts[term]
            score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(t) / avg))
        scores.append(score)
    # Each term contributes less than idf * (k1 + 1), so this bounds every score from above.
    ceiling = sum(math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5)) * (k1 + 1) for term in terms if df[term])
    return scores, ceiling


@dataclass(frozen=True)
class Hit:
    entry: Entry
    score: float
    semantic: float
    lexical: float


def search(
    bank: Bank, query: str, *, embedder: EmbedBatch | None = None, filters: Filters | None = None, limit: int = 10
) -> list[Hit]:
    """Rank questions for `query`: a blend of embedding similarity and BM25, best first."""
    query = query.strip()
    if not query:
        return []
    entries = filter_entries(bank, filters or Filters())
    if not entries:
        return []
    docs = [_document(e.question) for e in entries]
    lexical, ceiling = _bm25(query, docs)
    # Scale by what the query could score, not by the best document: dividing by the best match made a
    # weak match on common words (e.g. "model") count as a perfect 1.0 and bury closer meanings.
    lexical_norm = [min(s / ceiling, 1.0) if ceiling else 0.0 for s in lexical]
    if embedder is not None:
        vectors = embedder.embed_batch([query] + [e.question.text for e in entries])
        semantic = [float(x) for x in vectors[1:] @ vectors[0]]
    else:
        semantic = [0.0] * len(entries)
    hits = []
    for entry, sem, lex in zip(entries, semantic, lexical_norm):
        score = 0.6 * sem + 0.4 * lex if embedder is not None else lex
        if score > 0.15 or lex > 0:
            hits.append(Hit(entry=entry, score=round(score, 4), semantic=round(sem, 4), lexical=round(lex, 4)))
    hits.sort(key=lambda h: (-h.score, h.entry.question.id))
    return hits[:limit]
