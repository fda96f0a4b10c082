"""Shared parts of the load benchmarks (RELIABILITY.md section 5): a real server, simulated browsers, figures.

- `Server` starts `coach serve` (one process) or `coach serve --workers N` on 127.0.0.1 with a fresh
  COACH_HOME, on SQLite or on a fresh schema of the PostgreSQL database `test`, waits for /readyz and stops it.
- `Browser` is one simulated user: an httpx.AsyncClient with its own cookies that reads CSRF tokens from
  forms, signs up or in, opens pages, submits answers and waits for the feedback the way the page's
  htmx status request does.
- `Recorder` keeps latencies per label and every error; `report` prints them as a table and JSON.

Nothing here leaves the loopback interface, and every run is bounded in time and count.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PASSWORD = "a bench password that is long enough"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
KEY_RE = re.compile(r'name="idempotency_key" value="([^"]+)"')


# --- figures -----------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


@dataclass
class Recorder:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, label: str, seconds: float) -> None:
        self.latencies[label].append(seconds * 1000)

    def error(self, what: str) -> None:
        self.errors.append(what)

    def summary(self, label: str) -> dict[str, Any]:
        values = self.latencies.get(label, [])
        return {
            "n": len(values),
            "p50_ms": round(percentile(values, 50), 1),
            "p95_ms": round(percentile(values, 95), 1),
            "p99_ms": round(percentile(values, 99), 1),
            "max_ms": round(max(values), 1) if values else float("nan"),
        }

    def merged(self, labels: list[str]) -> list[float]:
        return [v for label in labels for v in self.latencies.get(label, [])]


def table(recorder: Recorder, labels: list[str] | None = None) -> str:
    rows = [f"{'label':<28}{'n':>7}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}"]
    for label in labels or sorted(recorder.latencies):
        s = recorder.summary(label)
        rows.append(f"{label:<28}{s['n']:>7}{s['p50_ms']:>10}{s['p95_ms']:>10}{s['p99_ms']:>10}{s['max_ms']:>10}")
    return "\n".join(rows)


def print_result(name: str, result: dict[str, Any]) -> None:
    print(f"\n== {name} ==")
    print(json.dumps(result, indent=2, default=str))


def machine_context() -> dict[str, Any]:
    """What else the machine was doing: the load average and core count at the time of the run."""
    load1, load5, _ = os.getloadavg()
    return {"cores": os.cpu_count(), "loadavg_1m": round(load1, 2), "loadavg_5m": round(load5, 2)}


# --- processes ---------------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(x) for x in (task / "children").read_text().split()]
    return found


def process_tree(pid: int) -> list[int]:
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += _children(current)
    return tree


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (MiB)."""
    total = 0
    for p in process_tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in process_tree(pid):
        with contextlib.suppress(OSError, IndexError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A real `coach serve` on 127.0.0.1 with its own COACH_HOME (and its own PostgreSQL schema)."""

    def __init__(
        self,
        *,
        database: str = "sqlite",
        workers: int = 1,
        hash_cost: str = "production",
        env: dict[str, str] | None = None,
        pg_url: str | None = None,
        warm: bool = True,
    ) -> None:
        self.database = database
        self.workers = workers
        self.hash_cost = hash_cost
        self.extra_env = env or {}
        self.warm = warm
        self.pg_base = pg_url or os.environ.get("COACH_BENCH_DATABASE_URL", DEFAULT_PG)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.tmp = Path(tempfile.mkdtemp(prefix="coach-bench-"))
        self.home = self.tmp / "home"
        self.log_path = self.tmp / "server.log"
        self.schema: str | None = None
        self.database_url: str | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.ready_after: float | None = None

    # environment and database

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "COACH_HOME": str(self.home),
                "COACH_SECRET_KEY": secrets.token_urlsafe(48),
                "COACH_PASSWORD_HASH_COST": self.hash_cost,
                "HF_HUB_OFFLINE": "1",
                "HF_HUB_DISABLE_TELEMETRY": "1",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.pop("COACH_DATABASE_URL", None)
        env.pop("COACH_PACKS_DIR", None)
        if self.database_url:
            env["COACH_DATABASE_URL"] = self.database_url
        env.update(self.extra_env)
        return env

    def prepare_database(self) -> None:
        """A fresh schema on PostgreSQL, upgraded with `coach db upgrade` (SQLite upgrades itself on open)."""
        if self.database != "postgres":
            return
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        self.schema = f"coach_bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(self.pg_base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{self.schema}"')
        admin.dispose()
        url = make_url(self.pg_base).update_query_dict({"options": f"-csearch_path={self.schema}"})
        self.database_url = url.render_as_string(hide_password=False)
        subprocess.run([str(BIN / "coach"), "db", "upgrade"], env=self.env(), check=True, capture_output=True)

    def open_db(self) -> Any:
        """The same database, opened in this process (for seeding and for checking what was stored)."""
        from coach.settings import Settings
        from coach.storage import open_database

        return open_database(Settings(home=self.home, database_url=self.database_url))

    # process

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        if self.warm and not (self.home / "cache").exists():
            copy_cache(self.home)
        if self.database_url is None:
            self.prepare_database()
        command = [str(BIN / "coach"), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if self.workers > 1:
            command += ["--workers", str(self.workers)]
        self.log = self.log_path.open("wb")
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(command, env=self.env(), stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 180.0, consecutive: int = 1) -> float:
        """Seconds from process start until /readyz answered 200 (`consecutive` times in a row, on new
        connections, so that with several workers each of them is likely to have been asked)."""
        assert self.process is not None
        deadline = time.perf_counter() + timeout
        streak = 0
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.log_text()[-3000:]}")
            try:
                status = httpx.get(self.base_url + "/readyz", timeout=2).status_code
            except httpx.HTTPError:
                status = 0
            streak = streak + 1 if status == 200 else 0
            if streak >= consecutive:
                self.ready_after = time.perf_counter() - self.started_at
                return self.ready_after
            time.sleep(0.05 if streak else 0.1)
        raise TimeoutError(f"/readyz did not answer 200 within {timeout} s:\n{self.log_text()[-3000:]}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if getattr(self, "log", None):
            self.log.close()

    def drop_database(self) -> None:
        if self.schema:
            from sqlalchemy import create_engine

            admin = create_engine(self.pg_base, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
            admin.dispose()
            self.schema = None

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
        self.drop_database()
        if not os.environ.get("COACH_BENCH_KEEP"):  # set it to keep the server's home and log for a look
            import shutil

            shutil.rmtree(self.tmp, ignore_errors=True)


# --- the embedding cache ----------------------------------------------------------------------------

CACHE_HOME = Path(tempfile.gettempdir()) / "coach-bench-cache"


def warm_cache() -> Path:
    """An embedding cache holding every shipped question's rubric, built once per machine (about 3 minutes of
    CPU here) and copied into each bench server's fresh COACH_HOME: the state of a server that has been
    running for a while, whose warm-up at start has finished (coach/web/worker.py)."""
    path = CACHE_HOME / "cache" / "embeddings.sqlite"
    marker = CACHE_HOME / "complete"
    if marker.exists() and path.exists():
        return path
    from coach.api import default_grader, shipped_bank
    from coach.settings import Settings

    print("building the bench embedding cache once (a few minutes) ...", flush=True)
    grader = default_grader(Settings(home=CACHE_HOME))
    bank = shipped_bank()
    for question in bank.questions:
        grader.prepare(question)
    grader.embedder.embed_batch([q.text for q in bank.questions])
    marker.touch()
    return path


def copy_cache(home: Path) -> None:
    import sqlite3

    source = sqlite3.connect(warm_cache())
    (home / "cache").mkdir(parents=True, exist_ok=True)
    target = sqlite3.connect(home / "cache" / "embeddings.sqlite")
    with target:
        source.backup(target)
    source.close()
    target.close()


# --- seeding -----------------------------------------------------------------------------------------


def seed_users(db: Any, count: int, *, hash_cost: str = "production", prefix: str = "user") -> list[str]:
    """Accounts created straight in the database (one password hash, computed once, shared by all)."""
    from coach.storage import repository
    from coach.web.auth import password_hasher

    password_hash = password_hasher(hash_cost).hash(PASSWORD)
    emails = []
    for i in range(count):
        email = f"{prefix}{i}@bench.example"
        repository.create_user(
            db, email=email, display_name=f"{prefix} {i}", password_hash=password_hash, is_admin=i == 0
        )
        emails.append(email)
    return emails


# --- answers -----------------------------------------------------------------------------------------


@dataclass
class Question:
    id: str
    sentences: list[str]


def questions(limit: int | None = None) -> list[Question]:
    """Shipped questions with an example answer, split into sentences (answers are built from them)."""
    from coach.api import shipped_bank
    from coach.grading.text import split_units

    found = []
    for q in shipped_bank().questions:
        if q.example_answer and len(q.example_answer.split()) >= 60:
            found.append(Question(q.id, [u.text for u in split_units(q.example_answer)]))
    found.sort(key=lambda item: item.id)
    return found[:limit] if limit else found


LEAD_INS = (
    "In my last role",
    "On one project",
    "When I was asked about this",
    "From what I have seen",
    "In a similar case",
    "Speaking from experience",
    "First of all",
    "Beyond that",
    "In practice",
    "As a next step",
)


def make_answer(question: Question, rng: random.Random, n: int) -> str:
    """A fresh answer: most of the example's sentences, shuffled, each with a lead-in that makes it new to the
    embedding cache (so every answer costs a real encode, as a candidate's own words would)."""
    sentences = list(question.sentences)
    rng.shuffle(sentences)
    chosen = sentences[: max(3, int(len(sentences) * 0.8))]
    return " ".join(f"{rng.choice(LEAD_INS)} (note {n}.{i}), {s[0].lower()}{s[1:]}" for i, s in enumerate(chosen))


# --- one simulated browser ----------------------------------------------------------------------------


class BenchError(Exception):
    pass


class Browser:
    """One user's browser: cookies, CSRF tokens and timings of every request it makes."""

    def __init__(
        self,
        base_url: str,
        recorder: Recorder,
        *,
        forwarded_for: str | None = None,
        timeout: float = 30.0,
        limits: httpx.Limits | None = None,
    ) -> None:
        headers = {"user-agent": "coach-bench/1", "sec-fetch-site": "same-origin"}
        if forwarded_for:
            headers["x-forwarded-for"] = forwarded_for
        self.client = httpx.AsyncClient(
            base_url=base_url,
            headers=headers,
            timeout=timeout,
            follow_redirects=False,
            limits=limits or httpx.Limits(max_connections=4, max_keepalive_connections=4),
        )
        self.recorder = recorder
        self.csrf = ""

    async def close(self) -> None:
        await self.client.aclose()

    async def request(
        self, label: str, method: str, url: str, *, expect: tuple[int, ...] = (200,), **kw: Any
    ) -> httpx.Response:
        start = time.perf_counter()
        try:
            response = await self.client.request(method, url, **kw)
        except httpx.HTTPError as error:
            self.recorder.error(f"{label}: {type(error).__name__}: {error}")
            raise BenchError(label) from error
        self.recorder.add(label, time.perf_counter() - start)
        self.recorder.counts[f"status {response.status_code}"] += 1
        if response.status_code not in expect:
            self.recorder.error(f"{label}: {method} {url} -> {response.status_code}")
            raise BenchError(label)
        found = (
            CSRF_RE.search(response.text) if response.headers.get("content-type", "").startswith("text/html") else None
        )
        if found:
            self.csrf = found.group(1)
        return response

    async def page(self, label: str, url: str) -> httpx.Response:
        return await self.request(label, "GET", url)

    async def sign_up(self, email: str, password: str = PASSWORD) -> None:
        await self.page("sign-up form", "/sign-up")
        data = {"email": email, "password": password, "display_name": email.split("@")[0], "csrf_token": self.csrf}
        await self.request("sign-up", "POST", "/sign-up", data=data, expect=(303,))

    async def sign_in(
        self, email: str, password: str = PASSWORD, *, label: str = "sign-in", expect: tuple[int, ...] = (303,)
    ) -> httpx.Response:
        """Sign in; a 503 with Retry-After (too many sign-ins waiting for the password hash) is retried after
        the time it asks for, as a person would, up to 5 times, and counted, unless the caller expects 503."""
        if not self.csrf:
            await self.page("sign-in form", "/sign-in")
        data = {"email": email, "password": password, "next": "/", "csrf_token": self.csrf}
        retry = 503 not in expect
        for _ in range(5 if retry else 0):
            response = await self.request(label, "POST", "/sign-in", data=data, expect=(*expect, 503))
            if response.status_code != 503 or "retry-after" not in response.headers:
                break
            self.recorder.counts["sign-in retried after 503 + Retry-After"] += 1
            await asyncio.sleep(float(response.headers["retry-after"]))
        else:
            return await self.request(label, "POST", "/sign-in", data=data, expect=expect)
        if response.status_code not in expect:
            self.recorder.error(f"{label}: POST /sign-in -> {response.status_code}")
            raise BenchError(label)
        return response

    async def sign_out(self) -> None:
        await self.request("sign-out", "POST", "/sign-out", data={"csrf_token": self.csrf}, expect=(303,))
        self.csrf = ""

    async def open_practice(self, question_id: str) -> str:
        """Open the practice page; returns its idempotency key."""
        response = await self.page("page: practice", f"/practice/{question_id}")
        found = KEY_RE.search(response.text)
        if not found:
            self.recorder.error("practice page without an idempotency key")
            raise BenchError("practice")
        return found.group(1)

    async def write(self, question_id: str, answer: str, seconds: float, rng: random.Random) -> int:
        """Type `answer` over `seconds` the way the practice page autosaves it: the box posts the text typed so
        far each time the writer pauses (hx-trigger "input changed delay:2s"), here every 2-4 s, cut wherever
        the typing has reached (mid-word, mid-sentence). Returns how many drafts were saved. Whatever was typed
        after the last pause reaches the server only with the submit."""
        start = time.perf_counter()
        saved = 0
        while True:
            pause = rng.uniform(2.0, 4.0)
            if time.perf_counter() - start + pause >= seconds:
                await asyncio.sleep(max(0.0, seconds - (time.perf_counter() - start)))
                return saved
            await asyncio.sleep(pause)
            typed = answer[: int(len(answer) * min(1.0, (time.perf_counter() - start) / seconds))]
            data = {"answer": typed, "csrf_token": self.csrf}
            await self.request(
                "autosave", "POST", f"/practice/{question_id}/draft", data=data, headers={"hx-request": "true"}
            )
            saved += 1

    async def submit(self, question_id: str, answer: str, key: str, seconds: float) -> str:
        """POST the answer; returns the attempt id from the redirect (the answer is acknowledged)."""
        data = {"answer": answer, "idempotency_key": key, "seconds": f"{seconds:.0f}", "csrf_token": self.csrf}
        response = await self.request("submit (ack)", "POST", f"/practice/{question_id}", data=data, expect=(303,))
        location = response.headers.get("location", "")
        if not location.startswith("/attempts/"):
            self.recorder.error(f"submit redirected to {location!r}")
            raise BenchError("submit")
        return location.split("/")[2].split("?")[0]

    async def feedback(self, attempt_id: str, *, give_up: float = 120.0) -> bool:
        """Open the feedback page and wait for the grade exactly as the page does (templates/_grading.html):
        while the page shows the grading panel, ask for the status at once (`load`); the server holds that
        request until the grade is saved or a few seconds pass. 200 is the panel again (ask again at once),
        204 means graded (htmx reloads the page). True when the graded page was shown."""
        response = await self.page("page: feedback", f"/attempts/{attempt_id}")
        if 'id="grading"' not in response.text:
            self.recorder.counts["submit landed on the graded page"] += 1
        deadline = time.perf_counter() + give_up
        while 'id="grading"' in response.text:
            if time.perf_counter() > deadline:
                self.recorder.error(f"attempt {attempt_id} not graded within {give_up} s")
                return False
            status = await self.request(
                "status (held until graded)",
                "GET",
                f"/attempts/{attempt_id}/status",
                expect=(200, 204),
                headers={"hx-request": "true"},
            )
            if status.status_code == 204:
                self.recorder.counts["feedback page reloaded after grading"] += 1
                response = await self.page("page: feedback", f"/attempts/{attempt_id}")
        return True


def _grading_latency(db: Any, ids: list[str]) -> dict[str, float]:
    """From the database: graded_at - created_at of the given attempts (the server's own submit-to-grade time,
    free of the page's polling interval)."""
    from sqlalchemy import select

    from coach.storage.tables import Attempt

    with db.read() as session:
        rows = session.execute(
            select(Attempt.created_at, Attempt.graded_at).where(Attempt.id.in_(ids), Attempt.graded_at.is_not(None))
        ).all()
    values = [(graded - created).total_seconds() * 1000 for created, graded in rows]
    return {"n": len(values), "p50": round(percentile(values, 50), 1), "p95": round(percentile(values, 95), 1)}


GRADED_RE = re.compile(
    r"graded attempt \S+: queued (?P<queued>\d+) ms, loading (?P<loading>\d+) ms, grading (?P<grading>\d+) ms "
    r"\(cpu (?P<cpu>\d+) ms\), saving (?P<saving>\d+) ms, (?P<waiting>-?\d+) waiting"
)


def grading_timings(log_text: str) -> dict[str, Any]:
    """The server's own account of each graded answer (coach/web/worker.py logs one line per answer): time in
    the queue, grading wall time and its CPU time (the grading thread's, or the grader process's), saving;
    p50/p95/max of each."""
    rows = [m.groupdict() for m in GRADED_RE.finditer(log_text)]
    result: dict[str, Any] = {"n": len(rows)}
    for key in ("queued", "loading", "grading", "cpu", "saving", "waiting"):
        values = [float(row[key]) for row in rows]
        result[key] = {
            "p50": round(percentile(values, 50), 1),
            "p95": round(percentile(values, 95), 1),
            "max": max(values) if values else float("nan"),
        }
    return result


def check_stored(db: Any, acknowledged: dict[str, tuple[int, str]]) -> dict[str, Any]:
    """Every acknowledged attempt (id -> (user id, answer)) is in the database with the same answer."""
    from sqlalchemy import func, select

    from coach.storage.tables import Attempt

    missing, changed = 0, 0
    with db.read() as session:
        rows = {a.id: a for a in session.scalars(select(Attempt).where(Attempt.id.in_(list(acknowledged))))}
        statuses = dict(session.execute(select(Attempt.status, func.count()).group_by(Attempt.status)).all())
        total = session.scalar(select(func.count()).select_from(Attempt))
    for attempt_id, (_user, answer) in acknowledged.items():
        row = rows.get(attempt_id)
        if row is None:
            missing += 1
        elif row.answer != answer:
            changed += 1
    return {
        "grade_ready_after_submit_ms": _grading_latency(db, list(acknowledged)),
        "acknowledged": len(acknowledged),
        "missing": missing,
        "changed": changed,
        "rows_in_db": total,
        "statuses": statuses,
    }


def run(coro: Any) -> Any:
    return asyncio.run(coro)
