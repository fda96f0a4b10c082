"""Attack the grader with every generated attack of RELIABILITY.md §2.4 over ALL questions, and print a table.

Targets: every question in the shipped packs (coach/bank/packs) and in the dev set (../shared/devset, or
COACH_DEVSET), attacked by bench/attack_suite.py (G1-G7); genuine answers for false flags (G8): the dev
set's excellent, good and non-native answers and the human-labelled correct answers of SemEval-2013 Task 7
(../shared/data/semeval2013-task7, reference-only mode), each also with typos and without articles.

"Accepted" means a score of at least 3.0 on the 1-5 scale (the practice page's pass mark) for interview
questions; for SemEval items it is bench/gaming_semeval.py's definition: the reference signal at or above
the 2-way threshold fitted on the train split (here on the first --train-limit train rows per dataset).

G10 (--g10 N): a bounded greedy black-box attacker on N questions: starting from the example answer of an
unrelated question, it tries adding a rubric word or removing a word, keeps the best-scoring edit, and stops
after --queries grades per question or when no edit helps.

    .venv/bin/python bench/grader_attacks.py [--shipped N] [--semeval N] [--g10 3] [--json out.json]

Runs offline (HF_HUB_OFFLINE=1). Timings are not reported: the figures are rates and scores.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import attack_suite as suite  # noqa: E402

from coach.api import default_grader, shipped_bank  # noqa: E402
from coach.evaluation import fit_threshold, load_devset, read_jsonl  # noqa: E402
from coach.grading.rubric import reference_question  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEVSET = Path(os.environ.get("COACH_DEVSET") or ROOT.parent / "shared" / "devset")
SEMEVAL = ROOT.parent / "shared" / "data" / "semeval2013-task7" / "items.jsonl"


def family(case: suite.Case) -> str:
    """Group attack instances that differ only in the wrong answer used or the dev-set kind."""
    kind = re.sub(r"^(generic wrong \d|dev-set (weak|poor))", "wrong answer", case.kind)
    return re.sub(r"^dev-set (excellent|good) answer shuffled", "strong dev-set answer shuffled", kind)


def row(gid: str, kind: str, outcomes: list[suite.Outcome], extra: str = "") -> dict[str, Any]:
    scores = [o.score for o in outcomes if o.score is not None]
    flagged = (
        suite.share(o.not_an_answer for o in outcomes)
        if gid == "G5"
        else suite.share(o.gaming_flagged or "repetition" in o.flags for o in outcomes)
        if gid == "G7"
        else suite.share(o.gaming_flagged for o in outcomes)
    )
    return {
        "id": gid,
        "attack": kind,
        "n": len(outcomes),
        "accepted_pct": round(100 * suite.share(o.accepted for o in outcomes), 1),
        "flagged_pct": round(100 * flagged, 1),
        "mean_score": round(statistics.mean(scores), 2) if scores else None,
        "max_score": max(scores) if scores else None,
        "rejected": sum(o.rejected is not None for o in outcomes),
        "extra": extra,
    }


def relative(cases: list[suite.Case], outcomes: dict[str, suite.Outcome], limit: float, absolute: bool) -> str:
    deltas = [
        outcomes[c.id].score - outcomes[c.base].score  # type: ignore[operator]
        for c in cases
        if c.base and outcomes[c.id].score is not None and outcomes[c.base].score is not None
    ]
    if not deltas:
        return ""
    within = suite.share((abs(d) if absolute else d) <= limit for d in deltas)
    name = "|change|" if absolute else "rise"
    return f"{name} <= {limit}: {100 * within:.1f}%; changes {min(deltas):+.1f}..{max(deltas):+.1f}"


def semeval_rows(grader: Any, args: argparse.Namespace) -> list[dict[str, Any]]:
    from coach.cli.evaluation import reference_signal

    if not SEMEVAL.exists():
        return []
    rows = read_jsonl(SEMEVAL)
    out: list[dict[str, Any]] = []
    for dataset in ("semeval2013-scientsbank", "semeval2013-beetle"):
        data = [r for r in rows if r["dataset"] == dataset]
        train = [r for r in data if r["split"] == "train"][: args.train_limit]
        questions: dict[str, Any] = {}

        def question(r: dict[str, Any]) -> Any:
            if r["question_id"] not in questions:
                questions[r["question_id"]] = reference_question(
                    r["question"], r["reference_answer"], question_id=r["question_id"]
                )
            return questions[r["question_id"]]

        signals = []
        for r in train:
            try:
                signals.append(reference_signal(grader, question(r), r["answer"], r))
            except Exception:  # noqa: BLE001  (an unreadable answer earns nothing, as in `coach eval`)
                signals.append(0.0)
        threshold = fit_threshold(signals, [r["label_2way"] for r in train])
        correct = [r for r in data if r["split"] != "train" and r["label_2way"] == "correct"]
        correct = suite.sample_evenly(correct, args.semeval) if args.semeval else correct
        by_kind: dict[str, list[tuple[suite.Outcome, bool]]] = defaultdict(list)
        deltas: list[float] = []
        for r in correct:
            for case in suite.genuine_variants(r["answer_id"], r["answer"], question(r), reference_only=True):
                o = suite.grade_case(grader, case)
                accepted = o.score is not None and reference_signal(grader, case.question, case.answer, r) >= threshold
                by_kind[case.kind].append((o, accepted))
                if case.base and o.score is not None:
                    base = by_kind["original"][-1][0]
                    if base.score is not None:
                        deltas.append(abs(o.score - base.score))
        for kind, pairs in by_kind.items():
            scores = [o.score for o, _ in pairs if o.score is not None]
            out.append(
                {
                    "id": "G8",
                    "attack": f"{dataset.split('-')[-1]} correct answers: {kind} (reference-only)",
                    "n": len(pairs),
                    "accepted_pct": round(100 * suite.share(a for _, a in pairs), 1),
                    "flagged_pct": round(100 * suite.share(o.gaming_flagged for o, _ in pairs), 1),
                    "mean_score": round(statistics.mean(scores), 2) if scores else None,
                    "max_score": max(scores) if scores else None,
                    "rejected": sum(o.rejected is not None for o, _ in pairs),
                    "extra": f"threshold {threshold} fitted on {len(train)} train rows"
                    + (
                        f"; variants |d|<=0.5: {100 * suite.share(d <= 0.5 for d in deltas):.1f}%"
                        if kind == "original" and deltas
                        else ""
                    ),
                }
            )
    return out


def greedy_attack(grader: Any, target: suite.Target, start: str, queries: int, rng: random.Random) -> dict[str, Any]:
    """G10: greedy hill-climbing on the score, black-box (only `grade` is called), at most `queries` grades."""
    q = target.question
    vocab = suite.rubric_terms(q)[:60]
    current = start
    best = suite.grade_case(grader, suite.Case("g10", "G10", "adaptive", q, current))
    used = 1
    best_score = best.score or 0.0
    trail = [best_score]
    while used < queries:
        candidates = []
        tokens = current.split()
        for _ in range(min(12, queries - used)):
            if rng.random() < 0.7 or len(tokens) < 10:
                word = rng.choice(vocab)
                pos = rng.randrange(len(tokens) + 1)
                candidates.append(" ".join(tokens[:pos] + [word] + tokens[pos:]))
            else:
                pos = rng.randrange(len(tokens))
                candidates.append(" ".join(tokens[:pos] + tokens[pos + 1 :]))
        improved = False
        for text in candidates:
            o = suite.grade_case(grader, suite.Case("g10", "G10", "adaptive", q, text))
            used += 1
            if o.score is not None and o.score > best_score:
                best_score, current, best, improved = o.score, text, o, True
        trail.append(best_score)
        if not improved and len(trail) > 8 and trail[-8] == best_score:
            break  # eight rounds without progress
    return {
        "question": q.id,
        "queries": used,
        "start_score": trail[0],
        "final_score": best_score,
        "accepted": best_score >= suite.PASS_MARK,
        "flags": sorted(best.flags),
        "added_words": len(current.split()) - len(start.split()),
    }


def print_header() -> None:
    print("\n| ID | attack | n | accepted % | flagged % | mean score | max score | notes |")
    print("|---|---|---:|---:|---:|---:|---:|---|")


def print_rows(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        notes = "; ".join(x for x in (r["extra"], f"{r['rejected']} refused as input" if r["rejected"] else "") if x)
        print(
            f"| {r['id']} | {r['attack']} | {r['n']} | {r['accepted_pct']} | {r['flagged_pct']} | "
            f"{r['mean_score']} | {r['max_score']} | {notes} |",
            flush=True,
        )


def print_worst(groups: dict[tuple[str, str], list[suite.Case]], outcomes: dict[str, suite.Outcome], n: int) -> None:
    print("\nHighest-scoring attack answers that were accepted (G1-G6), and copies not flagged (G3):")
    for (gid, kind), members in sorted(groups.items()):
        if gid not in ("G1", "G2", "G3", "G4", "G5", "G6") or (gid == "G2" and "alone" in kind):
            continue
        scored = sorted(
            (c for c in members if outcomes[c.id].score is not None),
            key=lambda c: -outcomes[c.id].score,  # type: ignore[operator]
        )
        for c in scored[:n]:
            o = outcomes[c.id]
            if o.accepted or (gid == "G3" and "copied_example" not in o.flags):
                snippet = c.answer[:110].replace("\n", " ")
                print(f"- {gid} {kind} | {c.question.id} | {o.score} {sorted(o.flags)} | {snippet!r}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shipped", type=int, default=0, help="attack N shipped questions, spread evenly (0: all)")
    parser.add_argument("--semeval", type=int, default=0, help="N correct SemEval answers per dataset (0: all)")
    parser.add_argument("--train-limit", type=int, default=400, help="train rows per dataset to fit the threshold")
    parser.add_argument("--no-semeval", action="store_true")
    parser.add_argument("--g10", type=int, default=0, help="run the adaptive attacker on N questions")
    parser.add_argument("--queries", type=int, default=500, help="G10 grades per question")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    parser.add_argument("--worst", type=int, default=3, help="print the N highest-scoring cases per attack")
    args = parser.parse_args()

    started = time.time()
    grader = default_grader()
    shipped = suite.shipped_targets(shipped_bank())
    if args.shipped:
        shipped = suite.sample_evenly(shipped, args.shipped)
    targets = list(shipped)
    dev_questions, dev_answers = ({}, []) if not DEVSET.exists() else load_devset(DEVSET)
    targets += suite.dev_targets(dev_questions, dev_answers)
    cases = suite.build_suite(targets, seed=args.seed)
    for item in dev_answers:
        if item["kind"] in ("excellent", "good", "non_native"):
            cases += suite.genuine_variants(
                item["answer_id"], item["text"], dev_questions[item["question_id"]], reference_only=False
            )
    outcomes: dict[str, suite.Outcome] = {}
    for n, c in enumerate(cases, start=1):
        outcomes[c.id] = suite.grade_case(grader, c)
        if n % 250 == 0:
            print(f"graded {n}/{len(cases)} in {time.time() - started:.0f} s", file=sys.stderr, flush=True)

    groups: dict[tuple[str, str], list[suite.Case]] = defaultdict(list)
    for c in cases:
        groups[(c.gid, family(c) if c.gid != "G8" else f"dev-set strong answers: {c.kind}")].append(c)
    rows = []
    for (gid, kind), members in sorted(groups.items(), key=lambda kv: kv[0][0]):
        extra = ""
        if gid == "G2" and "+" in kind:
            extra = relative(members, outcomes, 0.5, absolute=False)
        elif gid == "G7" and members[0].base:
            extra = relative(members, outcomes, 0.25 if "paragraph" in kind else 0.5, absolute=True)
        elif gid == "G8" and members[0].base:
            extra = relative(members, outcomes, 0.5, absolute=True)
        rows.append(row(gid, kind, [outcomes[c.id] for c in members], extra))
    print(
        f"{len(shipped)} shipped + {len(dev_questions)} dev-set questions, {len(cases)} generated answers; "
        f"accepted = score >= {suite.PASS_MARK}; {time.time() - started:.0f} s so far"
    )
    print_header()
    print_rows(rows)
    if args.worst:
        print_worst(groups, outcomes, args.worst)
    if not args.no_semeval:
        more = semeval_rows(grader, args)
        print_header()
        print_rows(more)
        rows += more
    adaptive = []
    if args.g10:
        rng = random.Random(args.seed)
        print("\nG10 per question:")
        for t in suite.sample_evenly([t for t in targets if t.pack != "dev-set"] or targets, args.g10):
            other = suite.least_related(t, [o for o in targets if o.pack != t.pack] or targets)
            adaptive.append(greedy_attack(grader, t, other.question.example_answer, args.queries, rng))
            print(f"- {adaptive[-1]}", flush=True)
        g10 = {
            "id": "G10",
            "attack": f"greedy adaptive attacker, <= {args.queries} queries, off-topic start",
            "n": len(adaptive),
            "accepted_pct": round(100 * suite.share(a["accepted"] for a in adaptive), 1),
            "flagged_pct": round(100 * suite.share(bool(set(a["flags"]) & suite.GAMING_FLAGS) for a in adaptive), 1),
            "mean_score": round(statistics.mean(a["final_score"] for a in adaptive), 2),
            "max_score": max(a["final_score"] for a in adaptive),
            "rejected": 0,
            "extra": "queries used " + ", ".join(str(a["queries"]) for a in adaptive),
        }
        print_header()
        print_rows([g10])
        rows.append(g10)
    print(f"\n{time.time() - started:.0f} s in all", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "adaptive": adaptive}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
