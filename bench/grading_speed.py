"""Grader speed and memory on this machine (issue 3 targets), printed as JSON.

- warm latency of grading a ~250-word answer against a cached rubric (p50/p95), next to a bare encode
  of the same sentences (the floor) and their ratio;
- `coach grade --batch` throughput (answers/s) on the dev set's answers;
- `coach grade` from process start to result (cold CLI), median of a few runs;
- resident memory (max RSS) of a process that has graded.

    .venv/bin/python bench/grading_speed.py [--runs 60] [--embedder onnx|numpy|sentence-transformers]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEVSET = ROOT.parent / "shared" / "devset"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--embedder", default="onnx")
    parser.add_argument("--cli-runs", type=int, default=5)
    args = parser.parse_args()
    os.environ["COACH_EMBEDDER"] = args.embedder
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from coach.api import default_grader, shipped_bank
    from coach.grading.text import split_units

    t0 = time.perf_counter()
    grader = default_grader()
    load_seconds = time.perf_counter() - t0
    bank = shipped_bank()
    question = bank.get("rai-pm-aif360-hiring-audit")
    words = question.example_answer.split()
    answer = " ".join(words[:250]) if len(words) >= 250 else question.example_answer
    # A 250-word answer in the candidate's own order: reuse the example's sentences but shuffle them.
    units = [u.text for u in split_units(answer)]
    answer = " ".join(units[::-1])
    grader.grade(question, answer)  # warm: rubric embeddings cached

    latencies, floors = [], []
    inner = grader.embedder.inner  # the uncached model: a bare encode of the same sentences
    sentences = [u.text for u in split_units(answer)]
    for i in range(args.runs):
        # A new answer each time (every sentence changed), so nothing of it is cached.
        fresh = [f"In case {i}, {s[0].lower()}{s[1:]}" for s in sentences]
        t = time.perf_counter()
        grader.grade(question, " ".join(fresh))
        latencies.append((time.perf_counter() - t) * 1000)
        fresh = [f"In run {i}, {s[0].lower()}{s[1:]}" for s in sentences]
        t = time.perf_counter()
        inner.embed_batch(fresh)
        floors.append((time.perf_counter() - t) * 1000)

    # Batch throughput through the real CLI on the 100 dev-set answers.
    rows = [json.loads(line) for line in (DEVSET / "answers.jsonl").read_text().splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        batch_in = Path(tmp) / "in.jsonl"
        batch_out = Path(tmp) / "out.jsonl"
        questions = {p.stem: p for p in (DEVSET / "questions").glob("*.yaml")}
        import yaml

        with batch_in.open("w") as handle:
            for r in rows:
                q = yaml.safe_load(questions[r["question_id"]].read_text())
                handle.write(json.dumps({"id": r["answer_id"], "question": q, "answer": r["text"]}) + "\n")
        env = {**os.environ, "COACH_HOME": os.environ.get("COACH_HOME", str(Path(tmp) / "home"))}
        cmd = [sys.executable, "-m", "coach", "grade", "--batch", str(batch_in), "-o", str(batch_out)]
        subprocess.run(cmd, check=True, env=env, capture_output=True)  # warm the disk cache
        t = time.perf_counter()
        subprocess.run(cmd, check=True, env=env, capture_output=True)
        batch_seconds = time.perf_counter() - t
        answer_file = Path(tmp) / "answer.txt"
        answer_file.write_text(answer)
        cold = []
        for _ in range(args.cli_runs):
            t = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "coach", "grade", "-q", question.id, "-a", str(answer_file), "--json"],
                check=True,
                env=env,
                capture_output=True,
            )
            cold.append(time.perf_counter() - t)

    report = {
        "embedder": grader.embedder.id,
        "grader_ready_seconds": round(load_seconds, 2),
        "warm_grade_250_words_ms": {
            "p50": round(percentile(latencies, 50), 1),
            "p95": round(percentile(latencies, 95), 1),
        },
        "bare_encode_same_sentences_ms": {
            "p50": round(percentile(floors, 50), 1),
            "p95": round(percentile(floors, 95), 1),
        },
        "ratio_to_floor_p50": round(percentile(latencies, 50) / percentile(floors, 50), 2),
        "answer_words": len(answer.split()),
        "batch_answers_per_second": round(len(rows) / batch_seconds, 1),
        "batch_seconds_including_start": round(batch_seconds, 2),
        "cli_cold_grade_seconds_median": round(statistics.median(cold), 2),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_average": os.getloadavg(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
