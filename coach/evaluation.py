"""Measure the grader: the interview dev-set format and human-scored reference-answer data."""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from coach.errors import InvalidInput

GENUINE_KINDS = ("excellent", "good", "adequate", "weak", "poor")
GAMING_KINDS = {"keyword_salad": "keyword_stuffing", "injection": "injection_attempt", "off_topic": "off_topic"}


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    a, b = np.asarray(x, float), np.asarray(y, float)
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _ranks(values: Sequence[float]) -> np.ndarray:
    arr = np.asarray(values, float)
    order = arr.argsort(kind="mergesort")
    ranks = np.empty(len(arr))
    i = 0
    while i < len(arr):
        j = i
        while j + 1 < len(arr) and arr[order[j + 1]] == arr[order[i]]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    return pearson(_ranks(x).tolist(), _ranks(y).tolist())


def quadratic_weighted_kappa(x: Sequence[int], y: Sequence[int]) -> float:
    labels = sorted(set(x) | set(y))
    if len(labels) < 2:
        return float("nan")
    index = {v: i for i, v in enumerate(labels)}
    n = len(labels)
    observed = np.zeros((n, n))
    for a, b in zip(x, y):
        observed[index[a], index[b]] += 1
    weights = np.array([[(i - j) ** 2 / (n - 1) ** 2 for j in range(n)] for i in range(n)])
    expected = np.outer(observed.sum(1), observed.sum(0)) / observed.sum()
    denom = (weights * expected).sum()
    return float(1 - (weights * observed).sum() / denom) if denom else float("nan")


def macro_f1(gold: Sequence[str], pred: Sequence[str]) -> float:
    labels = sorted(set(gold) | set(pred))
    scores = []
    for label in labels:
        tp = sum(g == label and p == label for g, p in zip(gold, pred))
        fp = sum(g != label and p == label for g, p in zip(gold, pred))
        fn = sum(g == label and p != label for g, p in zip(gold, pred))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return float(np.mean(scores)) if scores else float("nan")


def fit_threshold(values: Sequence[float], gold: Sequence[str], positive: str = "correct") -> float:
    """The cut on `values` that maximises macro-F1 on the given (training) labels."""
    candidates = sorted(set(round(v, 4) for v in values))
    best, best_f1 = candidates[0] if candidates else 0.0, -1.0
    for cut in candidates:
        pred = [positive if v >= cut else "incorrect" for v in values]
        f1 = macro_f1([g if g == positive else "incorrect" for g in gold], pred)
        if f1 > best_f1:
            best, best_f1 = cut, f1
    return best


@dataclass
class DevsetReport:
    rows: list[dict[str, Any]] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        rows = self.rows
        genuine = [r for r in rows if r["kind"] in GENUINE_KINDS]
        out: dict[str, Any] = {"answers": len(rows)}
        out["spearman_genuine"] = round(spearman([r["score"] for r in genuine], [r["expected"] for r in genuine]), 4)
        out["pearson_genuine"] = round(pearson([r["score"] for r in genuine], [r["expected"] for r in genuine]), 4)
        scored = [r for r in rows if r["kind"] not in GAMING_KINDS]
        out["exact_agreement"] = round(sum(round(r["score"]) == r["expected"] for r in scored) / max(1, len(scored)), 4)
        out["within_one"] = round(sum(abs(r["score"] - r["expected"]) <= 1 for r in scored) / max(1, len(scored)), 4)
        by_kind: dict[str, list[float]] = defaultdict(list)
        for r in rows:
            by_kind[r["kind"]].append(r["score"])
        out["by_kind"] = {
            k: {"mean": round(float(np.mean(v)), 3), "max": max(v), "min": min(v), "n": len(v)}
            for k, v in by_kind.items()
        }
        flags: dict[str, dict[str, float]] = {}
        all_codes = {c for r in rows for c in r["expected_flags"]} | set(GAMING_KINDS.values()) | {"too_short"}
        for code in sorted(all_codes):
            expected = [r for r in rows if code in r["expected_flags"]]
            raised = [r for r in rows if code in r["flags"]]
            tp = [r for r in expected if code in r["flags"]]
            flags[code] = {
                "expected": len(expected),
                "raised": len(raised),
                "recall": round(len(tp) / len(expected), 4) if expected else float("nan"),
                "precision": round(len(tp) / len(raised), 4) if raised else float("nan"),
            }
        out["flags"] = flags
        clean = [r for r in rows if r["kind"] in GENUINE_KINDS + ("non_native",) and not r["expected_flags"]]
        gaming_codes = set(GAMING_KINDS.values()) | {"copied_example"}
        false_flags = [r for r in clean if set(r["flags"]) & gaming_codes]
        out["false_gaming_flags_on_genuine"] = round(len(false_flags) / max(1, len(clean)), 4)
        twins = []
        by_id = {r["answer_id"]: r for r in rows}
        for r in rows:
            if r["kind"] == "non_native":
                good = by_id.get(r["answer_id"].replace("non_native", "good"))
                if good:
                    twins.append(abs(r["score"] - good["score"]))
        out["non_native_gap_mean"] = round(float(np.mean(twins)), 3) if twins else float("nan")
        return out


def load_devset(root: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from coach.bank.loader import load_packs

    questions_dir = root / "questions"
    answers_file = root / "answers.jsonl"
    if not questions_dir.is_dir() or not answers_file.is_file():
        raise InvalidInput(f"{root}: expected a dev set with questions/*.yaml and answers.jsonl.")
    bank = load_packs([questions_dir])
    answers = [json.loads(line) for line in answers_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {q.id: q for q in bank.questions}, answers


def evaluate_devset(
    root: Path, grade_fn: Callable[..., Any], progress: Callable[[int], None] | None = None
) -> DevsetReport:
    questions, answers = load_devset(root)
    report = DevsetReport()
    for item in answers:
        q = questions[item["question_id"]]
        g = grade_fn(q, item["text"])
        report.rows.append(
            {
                "answer_id": item["answer_id"],
                "kind": item["kind"],
                "expected": item["expected_score"],
                "expected_flags": list(item.get("expected_flags", [])),
                "score": g.score,
                "coverage": g.coverage,
                "flags": [f.code for f in g.flags],
            }
        )
        if progress:
            progress(1)
    return report


# Reference-answer data (SemEval-2013 style): question, reference_answer, answer, label or score, split.


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for n, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"{path}:{n}: not valid JSON ({exc.msg}).") from exc
    return rows


def group_by(items: Iterable[dict[str, Any]], key: str) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        groups[str(item.get(key))].append(item)
    return groups


def label_counts(rows: Iterable[dict[str, Any]], key: str = "label") -> dict[str, int]:
    return dict(Counter(str(r.get(key)) for r in rows))


__all__ = [
    "DevsetReport",
    "evaluate_devset",
    "fit_threshold",
    "macro_f1",
    "math",
    "pearson",
    "quadratic_weighted_kappa",
    "spearman",
]
