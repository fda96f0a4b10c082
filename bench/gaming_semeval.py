"""Acceptance of gaming attacks on SemEval-2013 Task 7, reference-only mode (RELIABILITY.md §2.3).

Fits the 2-way threshold on the `train` split, then builds attacks per question of the test split and
reports how often each is accepted (signal at or above the threshold), next to genuine answers.

    .venv/bin/python bench/gaming_semeval.py [--dataset semeval2013-beetle] [--split test-unseen-questions]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from attacks import gibberish, injection, keyword_list, shuffled, wrong_plus_keywords  # noqa: E402

from coach.api import default_grader  # noqa: E402
from coach.cli.evaluation import grade_reference_rows, reference_signal  # noqa: E402
from coach.errors import CoachError  # noqa: E402
from coach.evaluation import fit_threshold, read_jsonl  # noqa: E402
from coach.grading.rubric import reference_question  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "semeval2013-task7" / "items.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--dataset", default="semeval2013-scientsbank")
    parser.add_argument("--split", default="test-unseen-domains")
    parser.add_argument("--train-limit", type=int, default=None, help="rows of train used to fit the threshold")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--variants", type=int, default=10, help="attack instances per question")
    parser.add_argument("--threshold", type=float, default=None, help="skip fitting on train; use this threshold")
    parser.add_argument("--dump", type=Path, default=None, help="write every judged answer here (JSON lines)")
    args = parser.parse_args()
    rows = [r for r in read_jsonl(args.data) if r.get("dataset") == args.dataset]
    train = [r for r in rows if r["split"] == "train"][: args.train_limit]
    test = [r for r in rows if r["split"] == args.split]
    started = time.time()
    if args.threshold is None:
        threshold = fit_threshold(grade_reference_rows(train, "fitting on train"), [r["label_2way"] for r in train])
    else:
        threshold = args.threshold
    dump = args.dump.open("w") if args.dump else None
    grader = default_grader()
    rng = random.Random(args.seed)
    by_question: dict[str, list[dict]] = defaultdict(list)
    for r in test:
        by_question[r["question_id"]].append(r)
    question_ids = sorted(by_question)
    accepted: dict[str, list[bool]] = defaultdict(list)
    flagged: dict[str, list[bool]] = defaultdict(list)

    def judge(kind: str, question, answer: str, row: dict) -> None:
        try:
            g = grader.grade(question, answer, reference_only=True)
            value = reference_signal(grader, question, answer, row)
        except CoachError:
            accepted[kind].append(False)
            flagged[kind].append(True)
            return
        accepted[kind].append(value >= threshold)
        flagged[kind].append(
            any(f.code in ("keyword_stuffing", "injection_attempt", "off_topic", "copied_example") for f in g.flags)
        )
        if dump:
            record = {"kind": kind, "question_id": row["question_id"], "reference": question.example_answer}
            record.update(answer=answer, signal=round(value, 4), accepted=accepted[kind][-1])
            record["flags"] = [f.code for f in g.flags]
            dump.write(json.dumps(record) + "\n")

    for n, qid in enumerate(question_ids):
        items = by_question[qid]
        first = items[0]
        question = reference_question(first["question"], first["reference_answer"], question_id=qid)
        reference = first["reference_answer"]
        for r in items:
            judge("human correct" if r["label_2way"] == "correct" else "human incorrect", question, r["answer"], r)
        other = by_question[question_ids[(n + 1) % len(question_ids)]][0]["reference_answer"]
        judge("copy of the reference", question, reference, first)
        judge("question restated", question, first["question"], first)
        judge("answer to another question", question, other, first)
        for _ in range(args.variants):
            judge("keyword list", question, keyword_list(reference, rng), first)
            judge("keyword list x3", question, keyword_list(reference, rng, repeat=3), first)
            judge("reference shuffled", question, shuffled(reference, rng), first)
            judge("gibberish", question, gibberish(len(reference), rng), first)
        wrongs = [r["answer"] for r in items if r["label_2way"] != "correct"][: args.variants]
        for wrong in wrongs:
            judge("incorrect answer alone", question, wrong, first)
            judge("incorrect answer + keywords", question, wrong_plus_keywords(wrong, reference, rng), first)
            judge("incorrect answer + injection", question, injection(wrong), first)
    report = {
        "dataset": args.dataset,
        "split": args.split,
        "threshold": threshold,
        "questions": len(question_ids),
        "seconds": round(time.time() - started, 1),
        "accepted_percent": {k: round(100 * sum(v) / len(v), 1) for k, v in accepted.items()},
        "flagged_percent": {k: round(100 * sum(v) / len(v), 1) for k, v in flagged.items()},
        "n": {k: len(v) for k, v in accepted.items()},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
