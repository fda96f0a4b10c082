"""L4 overload: answers arrive faster than they can be graded (default 30 a second for 60 s), then stop.

Open-loop arrivals (each answer is sent on schedule whether or not earlier ones were answered) by signed-in
users through the practice form, while a few other users keep browsing. Printed: answers sent, acknowledged,
5xx and 503 (+Retry-After) counts, acknowledgement p95, page p95 during the overload, the grading queue at
the end of the burst, how fast it drained (graded answers per second, from the database's graded_at) and
whether every acknowledged answer is stored as sent. The drain wait is bounded (--drain seconds); what is
left then is reported with the time it would still take at the measured rate.

    .venv/bin/python bench/overload.py [--rate 30] [--duration 60] [--drain 120]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from typing import Any

from loadkit import (
    BenchError,
    Browser,
    Recorder,
    Server,
    check_stored,
    machine_context,
    make_answer,
    percentile,
    print_result,
    questions,
    seed_users,
    table,
)

PAGES = ["/", "/bank", "/history"]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    server = Server(hash_cost="test" if args.cheap_hash else "production")
    qs = questions()
    recorder = Recorder()
    server.home.mkdir(parents=True, exist_ok=True)
    db = server.open_db()
    emails = seed_users(db, args.users, hash_cost=server.hash_cost)
    with server:
        server.wait_ready()
        browsers = [Browser(server.base_url, recorder) for _ in emails]
        for browser, email in zip(browsers, emails, strict=True):
            await browser.sign_in(email)
            await browser.page("page: dashboard", "/")
        acknowledged: dict[str, tuple[str, str]] = {}
        sent = 0
        rng = random.Random(4)
        start = time.perf_counter()
        deadline = start + args.duration
        tasks: list[asyncio.Task[None]] = []

        async def one_answer(n: int) -> None:
            browser = browsers[n % len(browsers)]
            question = qs[n % len(qs)]
            answer = make_answer(question, random.Random(n), n)
            data = {"answer": answer, "idempotency_key": uuid.uuid4().hex, "seconds": "120", "csrf_token": browser.csrf}
            t = time.perf_counter()
            try:
                response = await browser.client.post(f"/practice/{question.id}", data=data)
            except Exception as error:  # a timeout or a refused connection is an error, never silence
                recorder.error(f"submit: {type(error).__name__}")
                return
            recorder.add("submit (ack)", time.perf_counter() - t)
            recorder.counts[f"submit {response.status_code}"] += 1
            if response.status_code == 303:
                acknowledged[response.headers["location"].split("/")[2]] = (emails[n % len(emails)], answer)
            elif response.status_code == 503 and "retry-after" in response.headers:
                recorder.counts["503 with Retry-After"] += 1
            else:
                recorder.error(f"submit -> {response.status_code}")

        async def browsing(browser: Browser) -> None:
            while time.perf_counter() < deadline:
                path = rng.choice(PAGES)
                try:
                    response = await browser.request(f"page: {path}", "GET", path, expect=(200, 503))
                except BenchError:
                    return
                if response.status_code == 503:
                    recorder.counts["page shed (503)"] += 1
                await asyncio.sleep(rng.uniform(0.5, 1.5))

        # Page views during the overload come from the first few users (their sessions are signed in).
        readers = [asyncio.create_task(browsing(b)) for b in browsers[: args.readers]]
        while time.perf_counter() < deadline:
            due = start + sent / args.rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(one_answer(sent)))
            sent += 1
        await asyncio.gather(*tasks, *readers)
        burst_end = time.perf_counter()
        stored_at_end = check_stored(db, acknowledged)
        queue_at_end = stored_at_end["statuses"].get("stored", 0)
        # Bounded drain: watch the database until nothing is 'stored' or --drain seconds pass.
        while time.perf_counter() - burst_end < args.drain:
            now = check_stored(db, acknowledged)
            if now["statuses"].get("stored", 0) == 0:
                break
            await asyncio.sleep(1)
        drained_in = time.perf_counter() - burst_end
        stored = check_stored(db, acknowledged)
        rate = _graded_per_second(db)
        for browser in browsers:
            await browser.close()
    db.dispose()
    pages = [v for label, values in recorder.latencies.items() if label.startswith("page:") for v in values]
    left = stored["statuses"].get("stored", 0)
    print(table(recorder))
    return {
        "config": {"rate_per_s": args.rate, "duration_s": args.duration, "users": args.users, "readers": args.readers},
        "machine": machine_context(),
        "sent": sent,
        "acknowledged": len(acknowledged),
        "errors": len(recorder.errors),
        "error_samples": recorder.errors[:10],
        "status_counts": dict(recorder.counts),
        "ack": recorder.summary("submit (ack)"),
        "page_p95_ms_during_overload": round(percentile(pages, 95), 1),
        "pages_shed_503": recorder.counts["page shed (503)"],
        "queue_at_end_of_burst": queue_at_end,
        "drain_seconds_watched": round(drained_in, 1),
        "graded_per_second": rate,
        "left_ungraded_after_drain_wait": left,
        "would_drain_in_s": round(left / rate["steady"], 0) if left and rate["steady"] else 0,
        "stored_check": stored,
        "targets_met": {
            "every acknowledged answer stored": stored["missing"] == 0 and stored["changed"] == 0,
            "0 lost (sent == acknowledged + 503s)": sent == len(acknowledged) + recorder.counts["503 with Retry-After"],
            "0 5xx other than 503+Retry-After": not any(
                k.startswith("submit 5") and k != "submit 503" for k in recorder.counts
            ),
            "page p95 <= 500 ms": percentile(pages, 95) <= 500,
            "queue drains at >= 10 answers/s": bool(rate["steady"] and rate["steady"] >= 10),
        },
    }


def _graded_per_second(db: Any) -> dict[str, float | None]:
    """Grading throughput from graded_at: overall, and over the middle 80 % (the steady rate)."""
    from sqlalchemy import select

    from coach.storage.tables import Attempt

    with db.read() as session:
        times = sorted(t for t in session.scalars(select(Attempt.graded_at).where(Attempt.graded_at.is_not(None))))
    if len(times) < 10:
        return {"overall": None, "steady": None, "graded": len(times)}
    span = (times[-1] - times[0]).total_seconds()
    lo, hi = int(len(times) * 0.1), int(len(times) * 0.9)
    middle = (times[hi] - times[lo]).total_seconds()
    return {
        "graded": len(times),
        "overall": round(len(times) / span, 2) if span else None,
        "steady": round((hi - lo) / middle, 2) if middle else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=30.0, help="answers a second")
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--drain", type=float, default=120.0, help="most seconds to wait for the queue to drain")
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--readers", type=int, default=5, help="users who keep opening pages meanwhile")
    parser.add_argument("--cheap-hash", action="store_true", help="argon2 test cost (the sign-ins are not measured)")
    args = parser.parse_args()
    print_result("L4 overload", asyncio.run(run(args)))


if __name__ == "__main__":
    main()
