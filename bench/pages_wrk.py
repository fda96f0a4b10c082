"""L1 page views: `wrk -t2 -c50` on the practice page and the history page of a signed-in user, with a
database of 100 users x 200 graded answers (seeded straight into the database before the server starts).

wrk comes from Debian (`apt-get install wrk`); bench/wrk_report.lua makes it count every response that is
not 200 (a lost session would redirect) and print p50/p95/p99. Printed per page: requests/s (the baseline
to guard against regressions), non-200 and socket errors (target 0), p95 (target <= 100 ms), p99 (<= 250 ms).

    .venv/bin/python bench/pages_wrk.py [--duration 60] [--connections 50] [--threads 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

from loadkit import Browser, Recorder, Server, machine_context, make_answer, print_result, questions, seed_users

HERE = Path(__file__).resolve().parent


def seed_answers(db: Any, users: int, per_user: int) -> str:
    """users x per_user graded attempts in one transaction, each with a real grade of a real answer."""
    from sqlalchemy import insert

    from coach.api import default_grader, shipped_bank
    from coach.storage.tables import Attempt, new_id, utcnow

    bank = shipped_bank()
    grader = default_grader()
    qs = questions(20)
    rng = random.Random(7)
    grades = {}
    for q in qs[:5]:
        grades[q.id] = grader.grade(bank.get(q.id), make_answer(q, rng, 0))
    now = utcnow()
    rows = []
    for user_id in range(1, users + 1):
        for i in range(per_user):
            q = qs[i % 5]
            grade = grades[q.id]
            when = now - timedelta(minutes=per_user - i)
            rows.append(
                {
                    "id": new_id(),
                    "user_id": user_id,
                    "question_id": q.id,
                    "kind": "answer",
                    "answer": make_answer(q, rng, i),
                    "status": "graded",
                    "grade": grade.model_dump(mode="json"),
                    "score": grade.score,
                    "engine_version": grade.engine.version,
                    "created_at": when,
                    "graded_at": when,
                }
            )
    with db.write() as session:
        session.execute(insert(Attempt), rows)
    return qs[0].id


def wrk(url: str, cookie: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{args.duration}s",
        "--timeout",
        "10s",
        "-s",
        str(HERE / "wrk_report.lua"),
        "-H",
        f"Cookie: {cookie}",
        url,
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    figures["requests_per_s"] = round(figures["requests"] / figures["seconds"], 1)
    return figures


async def signed_in_cookie(server: Server, email: str) -> str:
    browser = Browser(server.base_url, Recorder())
    await browser.sign_in(email)
    cookie = "; ".join(f"{name}={value}" for name, value in browser.client.cookies.items())
    await browser.close()
    return cookie


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--answers", type=int, default=200, help="answers per user")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    server = Server()
    server.home.mkdir(parents=True, exist_ok=True)
    db = server.open_db()
    emails = seed_users(db, args.users)
    question_id = seed_answers(db, args.users, args.answers)
    db.dispose()
    result: dict[str, Any] = {"config": vars(args), "machine": machine_context()}
    with server:
        server.wait_ready()
        cookie = asyncio.run(signed_in_cookie(server, emails[1]))
        for name, path in [("practice", f"/practice/{question_id}"), ("history", "/history")]:
            result[name] = wrk(server.base_url + path, cookie, args)
    result["targets_met"] = {
        f"{page}: {target}": ok
        for page in ("practice", "history")
        for target, ok in [
            (
                "0 non-200 and 0 socket errors",
                result[page]["non200"] == 0
                and not any(result[page][k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts")),
            ),
            ("p95 <= 100 ms", result[page]["p95_ms"] <= 100),
            ("p99 <= 250 ms", result[page]["p99_ms"] <= 250),
        ]
    }
    print_result("L1 page views (wrk)", result)


if __name__ == "__main__":
    main()
