"""D1: kill -9 under load. Does every acknowledged answer survive, exactly once?

A real server (`coach serve` on 127.0.0.1, uvicorn, SQLite in a temporary COACH_HOME) takes answers from
an asyncio client (httpx) that submits the practice form as fast as it can from several tasks, each
answer with its own idempotency key. A controller sends SIGKILL to the server at random intervals and
starts it again. The client retries every unacknowledged answer with the same key until it is
acknowledged (303 to its feedback page). At the end the database is opened directly and checked:

- acknowledged keys are a subset of the stored ones (0 lost), and no key is stored twice;
- `PRAGMA integrity_check` is ok and `foreign_key_check` empty, after every kill and at the end;
- answers still waiting for the grader are reported (the server re-queues them on start).

Bounded in count and time; traffic goes to 127.0.0.1 only. Prints the figures as JSON.

    .venv/bin/python bench/kill9.py [--cycles 20] [--max-seconds 300] [--tasks 8] [--min-gap 2 --max-gap 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

import httpx

PASSWORD = "kill nine bench passphrase"
ANSWER = (
    "I would start from the harms: who is hurt by a wrong decision and how badly. Then I would measure error "
    "rates by group, run a bias audit, document the results in a model card, launch in shadow mode with human "
    "review of declines, and agree monitoring with a rollback trigger before launch. Answer number {n}."
)
QUESTION = "ethics-br-merchant-credit-rush"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def coach_command() -> list[str]:
    return [sys.executable, "-m", "coach"]


class Server:
    def __init__(self, home: Path, port: int, log_path: Path) -> None:
        self.home, self.port, self.log_path = home, port, log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        env = {
            **os.environ,
            "COACH_HOME": str(self.home),
            "COACH_PASSWORD_HASH_COST": "test",
            "HF_HUB_OFFLINE": "1",
            "COACH_DATABASE_URL": "",
        }
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [*coach_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


async def wait_healthy(client: httpx.AsyncClient, deadline: float) -> float:
    started = time.monotonic()
    while time.monotonic() < deadline:
        try:
            if (await client.get("/healthz")).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError("the server did not answer /healthz in time")


def form_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if not found:
        raise RuntimeError("no CSRF token on the page")
    return found.group(1)


async def sign_up(client: httpx.AsyncClient) -> str:
    token = form_token((await client.get("/sign-up")).text)
    data = {"csrf_token": token, "email": "bench@example.org", "password": PASSWORD, "display_name": "Bench"}
    response = await client.post("/sign-up", data=data)
    if response.status_code != 303:
        raise RuntimeError(f"sign-up answered {response.status_code}")
    return form_token((await client.get(f"/practice/{QUESTION}")).text)


def check_database(path: Path) -> list[str]:
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as conn:
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check") if row[0] != "ok"]
        problems += [f"foreign key: {row}" for row in conn.execute("PRAGMA foreign_key_check")]
    return problems


async def run(args: argparse.Namespace) -> dict[str, object]:
    rng = random.Random(args.seed)
    home = Path(tempfile.mkdtemp(prefix="coach-kill9-"))
    port = free_port()
    server = Server(home, port, home / "server.log")
    db_path = home / "coach.db"
    acked: dict[str, str] = {}
    attempts_sent = 0
    errors: dict[str, int] = {}
    stop = asyncio.Event()
    integrity_after_kill: list[str] = []
    restart_seconds: list[float] = []

    limits = httpx.Limits(max_connections=args.tasks, max_keepalive_connections=args.tasks)
    timeout = httpx.Timeout(10.0)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=timeout) as client:
        server.start()
        begin = time.monotonic()
        await wait_healthy(client, time.monotonic() + 120)
        token = await sign_up(client)

        async def submitter(task: int) -> None:
            nonlocal attempts_sent
            n = 0
            while not stop.is_set():
                key = f"k{task:02d}-{n:07d}"
                while True:  # retried with the same key until acknowledged, even after the stop (bounded)
                    attempts_sent += 1
                    try:
                        response = await client.post(
                            f"/practice/{QUESTION}",
                            data={"csrf_token": token, "idempotency_key": key, "answer": ANSWER.format(n=key)},
                        )
                    except httpx.TransportError as error:
                        errors[type(error).__name__] = errors.get(type(error).__name__, 0) + 1
                        await asyncio.sleep(0.05)
                        if stop.is_set() and time.monotonic() > final_deadline:
                            return
                        continue
                    if response.status_code == 303:
                        acked[key] = response.headers["location"].rsplit("/", 1)[-1]
                        break
                    errors[f"HTTP {response.status_code}"] = errors.get(f"HTTP {response.status_code}", 0) + 1
                    await asyncio.sleep(0.05)
                n += 1

        final_deadline = float("inf")
        tasks = [asyncio.create_task(submitter(i)) for i in range(args.tasks)]
        kills = 0
        while kills < args.cycles and time.monotonic() - begin < args.max_seconds:
            await asyncio.sleep(rng.uniform(args.min_gap, args.max_gap))
            server.kill()
            kills += 1
            integrity_after_kill.extend(check_database(db_path))
            server.start()
            restart_seconds.append(await wait_healthy(client, time.monotonic() + 120))
        # Let the retries of the last cycle land, then stop the submitters.
        await asyncio.sleep(2)
        final_deadline = time.monotonic() + 30
        stop.set()
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - begin
        # Give the grader a minute to catch up after the last restart, then stop cleanly.
        waited = 0.0
        while waited < args.grade_wait:
            with closing(sqlite3.connect(f"{db_path.as_uri()}?mode=ro", uri=True)) as conn:
                waiting = conn.execute("SELECT count(*) FROM attempts WHERE status = 'stored'").fetchone()[0]
            if waiting == 0:
                break
            await asyncio.sleep(1)
            waited += 1
        server.stop()

    with closing(sqlite3.connect(f"{db_path.as_uri()}?mode=ro", uri=True)) as conn:
        stored = dict(conn.execute("SELECT idempotency_key, id FROM attempts WHERE idempotency_key IS NOT NULL"))
        total = conn.execute("SELECT count(*) FROM attempts").fetchone()[0]
        by_status = dict(conn.execute("SELECT status, count(*) FROM attempts GROUP BY status"))
    lost = [key for key in acked if key not in stored]
    wrong_id = [key for key, attempt_id in acked.items() if key in stored and stored[key] != attempt_id]
    final_problems = check_database(db_path)
    return {
        "kills": kills,
        "server_starts": server.starts,
        "seconds": round(elapsed, 1),
        "tasks": args.tasks,
        "requests_sent": attempts_sent,
        "answers_acked": len(acked),
        "acked_per_second": round(len(acked) / elapsed, 1),
        "answers_stored": total,
        "stored_but_never_acked": total - len(acked),
        "acked_lost": len(lost),
        "acked_with_other_id": len(wrong_id),
        "duplicates": total - len(set(stored)),
        "integrity_problems_after_kills": integrity_after_kill[:5],
        "integrity_final": final_problems or "ok",
        "restart_to_healthy_s_median": round(sorted(restart_seconds)[len(restart_seconds) // 2], 2)
        if restart_seconds
        else None,
        "statuses_at_end": by_status,
        "grading_wait_s": waited,
        "client_errors": errors,
        "home": str(home),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=20, help="SIGKILLs to send (>= 20 for the release check)")
    parser.add_argument("--max-seconds", type=float, default=300, help="stop killing after this long")
    parser.add_argument("--tasks", type=int, default=8, help="concurrent submitters")
    parser.add_argument("--min-gap", type=float, default=2.0)
    parser.add_argument("--max-gap", type=float, default=10.0)
    parser.add_argument("--grade-wait", type=float, default=60.0, help="seconds to let grading catch up at the end")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=2))
    ok = not result["acked_lost"] and not result["duplicates"] and not result["acked_with_other_id"]
    ok = ok and result["integrity_final"] == "ok" and not result["integrity_problems_after_kills"]
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
