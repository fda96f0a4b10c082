"""The work behind `coach eval`: grade labelled data with progress, then compute the figures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from coach.cli.common import err_console
from coach.errors import InvalidInput
from coach.evaluation import (
    evaluate_devset,
    fit_threshold,
    group_by,
    macro_f1,
    pearson,
    quadratic_weighted_kappa,
    read_jsonl,
    spearman,
)

GAMING = {"keyword_stuffing", "copied_example", "off_topic", "injection_attempt"}


def _progress(total: int, label: str) -> tuple[Progress, Callable[[int], None]]:
    progress = Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err_console, transient=True
    )
    task = progress.add_task(label, total=total)
    return progress, lambda n: progress.advance(task, n)


def run_devset(root: Path) -> dict[str, Any]:
    from coach.api import default_grader

    grader = default_grader()
    answers = (
        (root / "answers.jsonl").read_text(encoding="utf-8").count("\n") if (root / "answers.jsonl").exists() else 0
    )
    progress, advance = _progress(answers, "grading dev set")
    with progress:
        report = evaluate_devset(root, lambda q, a: grader.grade(q, a), progress=advance)
    return report.figures()


def reference_signal(grader: Any, question: Any, answer: str, row: dict[str, Any]) -> float:
    """The reference match against the row's references (main first), zero for gaming answers."""
    from coach.grading.engine import reference_match
    from coach.grading.text import normalise

    g = grader.grade(question, answer, reference_only=True)
    if any(f.code in GAMING for f in g.flags):
        return 0.0
    alternatives = [
        str(ref.get("text", ""))
        for ref in row.get("reference_answers") or []
        if str(ref.get("text", "")).strip() and str(ref.get("text", "")).strip() != question.example_answer.strip()
    ]
    if not alternatives:
        return float(g.relevance.get("reference_match", g.coverage))
    return reference_match(grader.embedder, question.text, normalise(answer), question.example_answer, alternatives)


def grade_reference_rows(rows: list[dict[str, Any]], label: str = "grading") -> list[float]:
    from coach.api import default_grader
    from coach.errors import CoachError
    from coach.grading.rubric import reference_question

    grader = default_grader()
    questions: dict[tuple[str, str], Any] = {}
    values: list[float] = []
    progress, advance = _progress(len(rows), label)
    with progress:
        for row in rows:
            key = (str(row.get("question", "")), str(row.get("reference_answer", "")))
            if key not in questions:
                if not key[0].strip() or not key[1].strip():
                    raise InvalidInput("Every row needs `question` and `reference_answer`.")
                questions[key] = reference_question(key[0], key[1], question_id=row.get("question_id"))
            try:
                values.append(reference_signal(grader, questions[key], str(row.get("answer", "")), row))
            except CoachError:
                values.append(0.0)  # empty or unreadable answers earn nothing, as a human marker would say
            advance(1)
    return values


def run_reference_data(path: Path, *, limit: int | None = None, dataset: str | None = None) -> dict[str, Any]:
    rows = read_jsonl(path)
    if dataset:
        rows = [r for r in rows if r.get("dataset") == dataset]
    if not rows:
        raise InvalidInput(f"{path}: no rows to evaluate" + (f" for dataset {dataset!r}." if dataset else "."))
    splits = group_by(rows, "split")
    if limit:
        splits = {k: v[:limit] for k, v in splits.items()}
    numeric = all(isinstance(r.get("score"), int | float) for r in rows[:50]) and "label" not in rows[0]
    out: dict[str, Any] = {"file": str(path), "dataset": dataset, "mode": "score" if numeric else "label"}
    values = {name: grade_reference_rows(items, f"grading {name}") for name, items in splits.items()}
    if numeric:
        for name, items in splits.items():
            gold = [float(r["score"]) for r in items]
            pred = values[name]
            lo, hi = min(gold), max(gold)
            mapped = [round(lo + v * (hi - lo)) for v in pred]
            out[name] = {
                "n": len(items),
                "pearson": round(pearson(pred, gold), 4),
                "spearman": round(spearman(pred, gold), 4),
                "qwk": round(quadratic_weighted_kappa(mapped, [round(g) for g in gold]), 4),
            }
        return out
    label_key = "label_2way" if "label_2way" in rows[0] else "label"
    fit_on = "train" if "train" in splits else next(iter(splits))
    gold_train = [str(r[label_key]) for r in splits[fit_on]]
    threshold = fit_threshold(values[fit_on], gold_train)
    out["label_field"] = label_key
    out["threshold"] = threshold
    out["fitted_on"] = fit_on
    for name, items in splits.items():
        labels = [str(r[label_key]) if str(r[label_key]) == "correct" else "incorrect" for r in items]
        predicted = ["correct" if v >= threshold else "incorrect" for v in values[name]]
        out[name] = {
            "n": len(items),
            "accuracy": round(sum(g == p for g, p in zip(labels, predicted)) / len(items), 4),
            "macro_f1": round(macro_f1(labels, predicted), 4),
        }
    return out
