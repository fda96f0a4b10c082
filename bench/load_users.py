"""Issue 5's load figure: simulated users on loopback against a real `coach serve` (RELIABILITY.md section 5).

Each user signs up once (setup, not timed into the page figures), then during the run signs in once in a
fresh browser and loops: dashboard, bank, a question page, the practice page, writes for a while (autosaving the
text typed so far every 2-4 s, as the page does; --no-autosave for a browser without JavaScript), submits,
waits for the feedback the way the page does (a held status request, then the graded page), and now and then
opens the history. Printed: errors (target 0), page p95 (target <= 200 ms), answer acknowledged p95,
submit-to-feedback p95 (target <= 1 s), and whether every acknowledged answer is in the database afterwards.

    .venv/bin/python bench/load_users.py                              # 50 users, 60 s, SQLite, 1 process
    .venv/bin/python bench/load_users.py --database postgres --workers 2   # PostgreSQL `test`, 2 processes

Passwords use the production argon2id cost (m=19 MiB, t=2, p=1) unless --hash-cost test is given; each user
hashes once (sign-up) and verifies once (sign-in), so the KDF is a small share of the work here (the login
storm is bench/login_storm.py). Think times are in --think and --write (seconds, uniform ranges).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from loadkit import (
    BenchError,
    Browser,
    Recorder,
    Server,
    check_stored,
    cpu_seconds,
    grading_timings,
    machine_context,
    make_answer,
    percentile,
    print_result,
    questions,
    rss_mib,
    table,
)

PAGE_LABELS = [
    "page: dashboard",
    "page: bank",
    "page: question",
    "page: practice",
    "page: feedback",
    "page: history",
]
# Autosaves are counted with the pages: the practice page sends them while the user types.
PAGE_AND_AUTOSAVE_LABELS = [*PAGE_LABELS, "autosave"]


async def setup_users(server: Server, count: int, recorder: Recorder) -> list[str]:
    """Sign every user up through the form, a few at a time (the first one becomes the admin)."""
    emails = [f"user{i}@bench.example" for i in range(count)]
    first = Browser(server.base_url, recorder)
    await first.sign_up(emails[0])
    await first.close()
    semaphore = asyncio.Semaphore(4)

    async def one(email: str) -> None:
        async with semaphore:
            browser = Browser(server.base_url, recorder)
            try:
                await browser.sign_up(email)
            finally:
                await browser.close()

    await asyncio.gather(*(one(e) for e in emails[1:]))
    return emails


async def user_loop(
    n: int,
    email: str,
    server: Server,
    recorder: Recorder,
    deadline: float,
    qs: list[Any],
    acknowledged: dict[str, tuple[str, str]],
    args: argparse.Namespace,
) -> None:
    rng = random.Random(n)
    browser = Browser(server.base_url, recorder)

    async def think(low: float, high: float) -> None:
        await asyncio.sleep(min(rng.uniform(low, high), max(0.0, deadline - time.perf_counter())))

    try:
        await think(0, args.think[1])  # users arrive spread over the first seconds, not all at once
        await browser.sign_in(email)
        round_ = 0
        while time.perf_counter() < deadline:
            round_ += 1
            await browser.page("page: dashboard", "/")
            await think(*args.think)
            await browser.page("page: bank", "/bank")
            await think(*args.think)
            question = rng.choice(qs)
            await browser.page("page: question", f"/bank/{question.id}")
            await think(*args.think)
            key = await browser.open_practice(question.id)
            answer = make_answer(question, rng, n * 1000 + round_)
            writing = min(rng.uniform(*args.write), max(0.0, deadline - time.perf_counter()))
            if args.autosave:
                await browser.write(question.id, answer, writing, rng)
            else:
                await asyncio.sleep(writing)
            if time.perf_counter() >= deadline:
                break
            start = time.perf_counter()
            attempt_id = await browser.submit(question.id, answer, key, seconds=rng.uniform(60, 300))
            acknowledged[attempt_id] = (email, answer)
            if await browser.feedback(attempt_id):
                recorder.add("submit -> feedback shown", time.perf_counter() - start)
            await think(*args.think)
            if rng.random() < 0.3:
                await browser.page("page: history", "/history")
                await think(*args.think)
    except BenchError:
        pass  # already recorded; this user stops (a real one would reload)
    finally:
        await browser.close()


SLOW_CALLBACK = "Executing <"  # asyncio debug mode: "Executing <Handle ...> took 0.123 seconds"


async def probe_health(server: Server, recorder: Recorder, deadline: float, per_second: float) -> None:
    """L3: /healthz (async, trivial) at a fixed rate on its own connection; its latency is the loop's delay."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                response = await client.get("/healthz")
                recorder.add("probe: /healthz", time.perf_counter() - start)
                if response.status_code != 200:
                    recorder.error(f"/healthz -> {response.status_code}")
            except httpx.HTTPError as error:
                recorder.error(f"/healthz: {type(error).__name__}")
            await asyncio.sleep(max(0.0, 1 / per_second - (time.perf_counter() - start)))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    env = {"PYTHONASYNCIODEBUG": "1"} if args.asyncio_debug else {}
    server = Server(database=args.database, workers=args.workers, hash_cost=args.hash_cost, env=env)
    qs = questions(args.questions)
    recorder = Recorder()
    with server:
        ready = server.wait_ready(consecutive=10 if args.workers > 1 else 1)
        setup = Recorder()
        t0 = time.perf_counter()
        emails = await setup_users(server, args.users, setup)
        setup_seconds = time.perf_counter() - t0
        if setup.errors:
            raise SystemExit(f"sign-up failed: {setup.errors[:5]}")
        acknowledged: dict[str, tuple[str, str]] = {}
        cpu0, wall0 = cpu_seconds(server.pid), time.perf_counter()
        rss_peak = 0.0
        deadline = time.perf_counter() + args.duration

        async def sample_rss() -> None:
            nonlocal rss_peak
            while time.perf_counter() < deadline:
                rss_peak = max(rss_peak, rss_mib(server.pid))
                await asyncio.sleep(1)

        probes = [probe_health(server, recorder, deadline, args.probe)] if args.probe else []
        await asyncio.gather(
            sample_rss(),
            *probes,
            *(
                user_loop(i, email, server, recorder, deadline, qs, acknowledged, args)
                for i, email in enumerate(emails)
            ),
        )
        wall = time.perf_counter() - wall0
        cpu = cpu_seconds(server.pid) - cpu0
        # Let grading finish, then check that every acknowledged answer is stored as sent.
        db = server.open_db()
        drain_start = time.perf_counter()
        while time.perf_counter() - drain_start < 120:
            stored = check_stored(db, acknowledged)
            if stored["statuses"].get("stored", 0) == 0:
                break
            await asyncio.sleep(0.5)
        stored = check_stored(db, acknowledged)
        db.dispose()
        log_text = server.log_text()
        slow_callbacks = [line for line in log_text.splitlines() if SLOW_CALLBACK in line]
    pages = recorder.merged(PAGE_AND_AUTOSAVE_LABELS)
    feedback = recorder.latencies.get("submit -> feedback shown", [])
    print(table(recorder))
    result = {
        "config": {
            "users": args.users,
            "duration_s": args.duration,
            "database": args.database,
            "workers": args.workers,
            "hash_cost": args.hash_cost,
            "think_s": args.think,
            "write_s": args.write,
            "autosave": args.autosave,
        },
        "machine": machine_context(),
        "ready_after_s": round(ready, 2),
        "setup_sign_ups": {"n": len(emails), "seconds": round(setup_seconds, 1), **setup.summary("sign-up")},
        "errors": len(recorder.errors),
        "error_samples": recorder.errors[:10],
        "requests": sum(len(v) for v in recorder.latencies.values()),
        "answers_acknowledged": len(acknowledged),
        "answers_per_s": round(len(acknowledged) / wall, 2),
        "page_views_per_s": round(len(pages) / wall, 1),
        "page_p50_ms": round(percentile(pages, 50), 1),
        "page_p95_ms": round(percentile(pages, 95), 1),
        # The submit's response waits up to 1.5 s for the grade when the grader's queue is short (after the
        # commit): this is time until the redirect arrives, not until the answer was safe.
        "ack": recorder.summary("submit (ack)"),
        "autosave": recorder.summary("autosave"),
        "feedback_landed_graded": recorder.counts["submit landed on the graded page"],
        "feedback_reloaded_after_wait": recorder.counts["feedback page reloaded after grading"],
        "sign_in": recorder.summary("sign-in"),
        "sign_in_retried_after_503": recorder.counts["sign-in retried after 503 + Retry-After"],
        "feedback_p50_ms": round(percentile(feedback, 50), 1),
        "feedback_p95_ms": round(percentile(feedback, 95), 1),
        "server_cpu_percent_of_2_cores": round(100 * cpu / wall / 2, 1),
        "server_cpu_seconds": round(cpu, 1),
        "server_cpu_ms_per_request": round(1000 * cpu / max(1, sum(len(v) for v in recorder.latencies.values())), 1),
        "server_rss_peak_mib": round(rss_peak, 1),
        "stored_check": stored,
        "server_grading_ms": grading_timings(log_text),
        "healthz_probe": recorder.summary("probe: /healthz") if args.probe else None,
        "slow_callback_warnings": len(slow_callbacks) if args.asyncio_debug else None,
        "slow_callback_samples": slow_callbacks[:5] if args.asyncio_debug else None,
        "targets_met": {
            "errors == 0": not recorder.errors,
            "page p95 <= 200 ms": percentile(pages, 95) <= 200,
            "submit-to-feedback p95 <= 1 s": percentile(feedback, 95) <= 1000,
            "every acknowledged answer stored": stored["missing"] == 0 and stored["changed"] == 0,
        },
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load after set-up")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--hash-cost", choices=["production", "test"], default="production")
    parser.add_argument("--think", type=float, nargs=2, default=[1.0, 3.0], help="seconds between page views")
    parser.add_argument("--write", type=float, nargs=2, default=[5.0, 15.0], help="seconds spent writing an answer")
    parser.add_argument(
        "--no-autosave",
        dest="autosave",
        action="store_false",
        help="write without autosaving drafts (the page autosaves 2 s after each pause; a user without JavaScript "
        "does not)",
    )
    parser.add_argument("--questions", type=int, default=None, help="use only the first N questions")
    parser.add_argument("--probe", type=float, default=0, help="L3: GET /healthz this many times a second")
    parser.add_argument(
        "--asyncio-debug",
        action="store_true",
        help="L3: run the server with PYTHONASYNCIODEBUG=1, count slow callbacks",
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the result as JSON to this file")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    result["date"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    result["command"] = " ".join(["bench/load_users.py", *sys.argv[1:]])
    print_result(f"load_users {args.users} users, {args.database}, {args.workers} worker(s)", result)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
