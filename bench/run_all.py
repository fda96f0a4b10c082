"""Run the benchmarks one after another and keep what each printed (`make bench`).

Every run is bounded in time and count, talks to 127.0.0.1 only, and starts (and stops) its own server on
a fresh COACH_HOME. The load runs (RELIABILITY.md section 5) and issue 5's figure:

| name         | plan  | what                                                                        |
|--------------|-------|-----------------------------------------------------------------------------|
| users-sqlite | issue 5 | 50 users, 60 s, SQLite, one process (bench/load_users.py)                 |
| users-pg     | issue 5 | the same on PostgreSQL with two worker processes                          |
| pages        | L1    | wrk -t2 -c50 on the practice and history pages, 100 users x 200 answers     |
| journey      | L2+L3 | 100 users, 2 min, think 10-30 s, /healthz probe 10/s, asyncio debug on     |
| overload     | L4    | 30 answers/s for 60 s, then a bounded drain                                 |
| logins       | L6    | 20 sign-ins/s for 60 s, production argon2                                   |
| cold         | L8    | process start to /readyz 200 and to the first graded answer                 |
| grading      | -     | grader latency and throughput (bench/grading_speed.py)                      |

    .venv/bin/python bench/run_all.py                 # everything (about 20 minutes)
    .venv/bin/python bench/run_all.py users-sqlite pages   # some of them

PostgreSQL runs use COACH_BENCH_DATABASE_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test),
in a schema of their own that is dropped afterwards; they are skipped when the server does not answer.
Output goes to the terminal and to bench/out/<name>.txt.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable

RUNS: dict[str, list[str]] = {
    "users-sqlite": ["load_users.py"],
    "users-pg": ["load_users.py", "--database", "postgres", "--workers", "2"],
    "pages": ["pages_wrk.py"],
    "journey": [
        "load_users.py",
        "--users",
        "100",
        "--duration",
        "120",
        "--think",
        "10",
        "30",
        "--write",
        "10",
        "30",
        "--probe",
        "10",
        "--asyncio-debug",
    ],
    "overload": ["overload.py"],
    "logins": ["login_storm.py"],
    "cold": ["cold_start.py", "--runs", "2"],
    "grading": ["grading_speed.py", "--runs", "30", "--cli-runs", "2"],
}


def postgres_available() -> bool:
    try:
        from sqlalchemy import create_engine, text

        url = os.environ.get("COACH_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def main() -> None:
    names = sys.argv[1:] or list(RUNS)
    unknown = [n for n in names if n not in RUNS]
    if unknown:
        raise SystemExit(f"unknown run(s) {unknown}; choose from {list(RUNS)}")
    results = HERE / "out"
    results.mkdir(exist_ok=True)
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1")
    failed = []
    for name in names:
        if "postgres" in RUNS[name] and not postgres_available():
            print(f"-- {name}: skipped, PostgreSQL does not answer", flush=True)
            continue
        command = [PY, str(HERE / RUNS[name][0]), *RUNS[name][1:]]
        print(f"-- {name}: {' '.join(command)}", flush=True)
        start = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        output = done.stdout + (f"\n[stderr]\n{done.stderr[-4000:]}" if done.returncode else "")
        (results / f"{name}.txt").write_text(output)
        print(output, flush=True)
        print(f"-- {name}: exit {done.returncode} after {time.perf_counter() - start:.0f} s", flush=True)
        if done.returncode:
            failed.append(name)
    if failed:
        raise SystemExit(f"failed: {failed}")


if __name__ == "__main__":
    main()
