"""L8 cold start: from `coach serve` to the first graded answer, on a fresh COACH_HOME (nothing cached).

Polls /healthz and /readyz every 50 ms from the moment the process is started. Printed: when the port first
answered, when /healthz first said 200 (liveness; target within 1 s of the port answering), how many 503s
/readyz gave and when it turned 200 (it must never be 200 before the grader is loaded), and the time from
process start to the first answer graded (sign up, submit, poll; target <= 15 s).

    .venv/bin/python bench/cold_start.py [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from typing import Any

import httpx
from loadkit import Browser, Recorder, Server, machine_context, make_answer, print_result, questions


async def one_run() -> dict[str, Any]:
    server = Server(warm=False)  # nothing cached: the model, the background and every rubric load now
    recorder = Recorder()
    question = questions(1)[0]
    with server:
        t0 = server.started_at
        first_answer = healthy = ready = None
        not_ready = 0
        ready_body: dict[str, Any] = {}
        async with httpx.AsyncClient(base_url=server.base_url, timeout=5) as client:
            while ready is None and time.perf_counter() - t0 < 180:
                try:
                    health = await client.get("/healthz")
                    first_answer = first_answer or time.perf_counter() - t0
                    if health.status_code == 200 and healthy is None:
                        healthy = time.perf_counter() - t0
                    readiness = await client.get("/readyz")
                    if readiness.status_code == 503:
                        not_ready += 1
                    elif readiness.status_code == 200:
                        ready = time.perf_counter() - t0
                        ready_body = readiness.json()
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        browser = Browser(server.base_url, recorder)
        await browser.sign_up("first@bench.example")
        key = await browser.open_practice(question.id)
        attempt = await browser.submit(question.id, make_answer(question, random.Random(1), 1), key, 90)
        graded = await browser.feedback(attempt, first_poll=0.1, poll_every=0.1)
        first_graded = time.perf_counter() - t0
        await browser.close()
    return {
        "port_answered_s": round(first_answer or -1, 2),
        "healthz_200_s": round(healthy or -1, 2),
        "readyz_503_count": not_ready,
        "readyz_200_s": round(ready or -1, 2),
        "ready_body": ready_body,
        "first_answer_graded_s": round(first_graded, 2) if graded else None,
        "errors": recorder.errors,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    runs = [await one_run() for _ in range(args.runs)]
    graded = [r["first_answer_graded_s"] for r in runs if r["first_answer_graded_s"] is not None]
    return {
        "machine": machine_context(),
        "runs": runs,
        "median_first_answer_graded_s": statistics.median(graded) if graded else None,
        "targets_met": {
            "readyz 503 before 200 in every run": all(r["readyz_503_count"] > 0 for r in runs),
            "liveness within 1 s of the port answering": all(
                r["healthz_200_s"] - r["port_answered_s"] <= 1 for r in runs
            ),
            "first answer graded <= 15 s (every run)": bool(graded) and max(graded) <= 15,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print_result("L8 cold start", asyncio.run(run(args)))


if __name__ == "__main__":
    main()
