"""Shared grading fixtures: ONE default grader per test session, loaded and used with the network off.

A test module uses them with `pytest_plugins = ["_grading_fixtures"]` (registered once per session, so
there is one grader however many modules ask; the line can move to conftest.py) and marks itself
`pytestmark = pytest.mark.disable_socket`: pytest-socket then blocks every socket during each test, and
the grader itself is first loaded with sockets blocked and HF_HUB_OFFLINE=1, so a test run proves that
grading never needs the network.

The grader is `coach.api.default_grader()` (the default onnxruntime MiniLM embedder plus the shipped bank as
background). Its on-disk embedding cache lives in pytest's cache folder (`.pytest_cache/d/...`), never in
the real home directory: vectors are keyed by model id and text hash, so a warm cache only saves time
(the background takes a minute or two to embed on a cold 2-core machine, about a second warm).

PYTEST_DONT_REWRITE: test modules import helpers from here before `pytest_plugins` registers it.
"""

from __future__ import annotations

import functools
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_socket

from coach.bank.schema import Question

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_PACKS = ROOT / "coach" / "bank" / "packs"
DEVSET = Path(os.environ.get("COACH_DEVSET") or ROOT.parent / "shared" / "devset")
GOLDEN = Path(__file__).parent / "golden"

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}


LOADED_WITH: dict[str, Any] = {}  # the conditions the session grader was loaded under (for the no-network test)


def sockets_blocked() -> bool:
    return socket.socket is not pytest_socket._true_socket


@functools.cache
def _load_default_grader(cache_home: str):
    """Load the default grader once per process, with sockets blocked while the model and background load."""
    from coach.api import default_grader
    from coach.settings import Settings

    for key, value in OFFLINE_ENV.items():
        os.environ[key] = value  # before anything imports huggingface_hub; the Makefile exports the same
    was_blocked = sockets_blocked()
    if not was_blocked:
        pytest_socket.disable_socket()
    try:
        LOADED_WITH.update(sockets_blocked=sockets_blocked(), env={k: os.environ.get(k) for k in OFFLINE_ENV})
        return default_grader(Settings(home=Path(cache_home)))
    finally:
        if not was_blocked:
            pytest_socket.enable_socket()


@pytest.fixture(scope="session")
def grader(request, tmp_path_factory):
    """The process-wide default grader (`coach.api.default_grader()`), loaded with the network off."""
    cache = getattr(request.config, "cache", None)
    home = cache.mkdir("coach-grading-home") if cache is not None else tmp_path_factory.mktemp("coach-grading-home")
    return _load_default_grader(str(home))


@functools.cache
def shipped_questions() -> dict[str, Question]:
    from coach.api import shipped_bank

    return {q.id: q for q in shipped_bank().questions}


def shipped_question(question_id: str) -> Question:
    return shipped_questions()[question_id]


@dataclass(frozen=True)
class Devset:
    root: Path
    questions: dict[str, Question]
    answers: tuple[dict[str, Any], ...]

    def answer(self, answer_id: str) -> dict[str, Any]:
        return next(a for a in self.answers if a["answer_id"] == answer_id)

    def text(self, answer_id: str) -> str:
        return self.answer(answer_id)["text"]


@functools.cache
def load_devset() -> Devset | None:
    if not (DEVSET / "answers.jsonl").is_file():
        return None
    from coach.evaluation import load_devset as _load

    questions, answers = _load(DEVSET)
    return Devset(DEVSET, questions, tuple(answers))


@pytest.fixture(scope="session")
def devset() -> Devset:
    """The labelled dev set (shared/devset, or COACH_DEVSET): 12 questions, 100 answers."""
    loaded = load_devset()
    if loaded is None:
        pytest.skip(f"no dev set at {DEVSET}; set COACH_DEVSET to the folder with answers.jsonl")
    return loaded


def golden_rows(name: str = "devset.jsonl") -> list[dict[str, Any]]:
    path = GOLDEN / name
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
