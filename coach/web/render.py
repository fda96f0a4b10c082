"""Templates and the small presentation helpers they use (no scoring arithmetic: that is the grader's)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from coach.bank.schema import KNOWN_ROLES
from coach.grading.model import Grade
from coach.grading.text import normalise
from coach.web.security import csrf_token, request_values

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"
# No eval, no script tags from responses, requests to this site only, no inline indicator styles (the CSP
# forbids them), no history snapshots in localStorage, and error fragments are shown (swapped) too.
HTMX_CONFIG = (
    '{"allowEval":false,"allowScriptTags":false,"selfRequestsOnly":true,'
    '"includeIndicatorStyles":false,"historyCacheSize":0,"refreshOnHistoryMiss":true,'
    '"responseHandling":[{"code":"204","swap":false},{"code":"[23]..","swap":true},'
    '{"code":"[45]..","swap":true,"error":true}]}'
)
PASS_MARK = 3.0

FLAG_WORDS = {
    "keyword_stuffing": "This reads like a list of keywords rather than an answer",
    "copied_example": "This is very close to the example answer, so it does not count toward your progress",
    "off_topic": "This does not seem to answer the question that was asked",
    "injection_attempt": "This contains instructions aimed at the grader",
    "too_short": "This is too short to show what a strong answer covers",
    "repetition": "Some sentences are repeated",
}
STATUS_WORDS = {"covered": "Covered", "partial": "Partly covered", "missing": "Missing"}
LEVEL_WORDS = {"beginner": "Beginner", "intermediate": "Intermediate", "advanced": "Advanced"}


def make_templates(secret: str) -> Jinja2Templates:
    def context(request: Request) -> dict[str, Any]:
        return {
            "csrf_token": csrf_token(request.scope, secret),
            "current_user": request_values(request.scope).get("user"),
            "htmx_config": HTMX_CONFIG,
        }

    # Autoescape every template whatever its extension: stored answers and pack text render as text.
    env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True, undefined=StrictUndefined)
    templates = Jinja2Templates(env=env, context_processors=[context])
    env.filters.update(when=format_when, duration=format_duration, score=format_score)
    env.globals.update(
        FLAG_WORDS=FLAG_WORDS,
        STATUS_WORDS=STATUS_WORDS,
        LEVEL_WORDS=LEVEL_WORDS,
        PASS_MARK=PASS_MARK,
        score_class=score_class,
        score_label=score_label,
        humanize=humanize,
        role_title=role_title,
    )
    return templates


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    templates: Jinja2Templates = request.app.state.services.templates
    return templates.TemplateResponse(request, name, context or {}, status_code=status_code, headers=headers)


# --- filters ---------------------------------------------------------------------------------------


def format_when(value: datetime | None) -> str:
    if value is None:
        return ""
    value = value.astimezone(UTC)
    today = datetime.now(UTC).date()
    if value.date() == today:
        return f"today, {value:%H:%M} UTC"
    if value.year == today.year:
        return f"{value.day} {value:%b}, {value:%H:%M} UTC"
    return f"{value.day} {value:%b %Y}"


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    total = int(round(seconds))
    minutes, secs = divmod(total, 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def format_score(score: float | None) -> str:
    if score is None:
        return "–"
    return f"{score:g}"


def score_class(score: float | None) -> str:
    """A CSS class per half point (the CSP forbids inline styles, so the ring is drawn by class)."""
    if score is None:
        return "score-none"
    return "score-" + f"{score:g}".replace(".", "-")


def score_label(score: float | None) -> str:
    if score is None:
        return "Not graded"
    if score >= 4.5:
        return "Outstanding"
    if score >= 4:
        return "Strong"
    if score >= PASS_MARK:
        return "Passes"
    if score >= 2:
        return "Developing"
    return "Not yet an answer"


def role_title(slug: str | None) -> str:
    return KNOWN_ROLES.get(slug or "", humanize(slug))


def humanize(slug: str | None) -> str:
    return (slug or "").replace("-", " ").replace("_", " ").capitalize()


# --- the answer with its evidence highlighted -----------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """A stretch of the user's answer; `kind` is "" for plain text, "evidence" or "pitfall" for a highlight."""

    text: str
    kind: str = ""
    labels: tuple[str, ...] = ()


def answer_segments(answer: str, grade: Grade | None) -> list[Segment]:
    """Split the answer so that each evidence sentence can be wrapped in <mark> by the template.

    Only positions are computed here; the template escapes every segment, so user text stays text.
    """
    text = normalise(answer).strip()
    if grade is None:
        return [Segment(text)]
    wanted: list[tuple[str, str, str]] = []
    for number, point in enumerate(grade.key_points, start=1):
        if point.evidence and point.status != "missing":
            wanted.append((point.evidence, "evidence", f"key point {number}"))
    for pitfall in grade.pitfalls:
        wanted.append((pitfall.evidence, "pitfall", "pitfall"))
    spans: dict[tuple[int, int], tuple[str, list[str]]] = {}
    for evidence, kind, label in wanted:
        start = text.find(evidence.strip())
        if start < 0:
            continue
        span = (start, start + len(evidence.strip()))
        current = spans.setdefault(span, (kind, []))
        if kind == "pitfall" and current[0] != "pitfall":
            spans[span] = ("pitfall", current[1])
        spans[span][1].append(label)
    segments: list[Segment] = []
    position = 0
    for (start, end), (kind, labels) in sorted(spans.items()):
        if start < position:  # overlapping sentences: keep the first highlight
            continue
        if start > position:
            segments.append(Segment(text[position:start]))
        segments.append(Segment(text[start:end], kind, tuple(labels)))
        position = end
    if position < len(text):
        segments.append(Segment(text[position:]))
    return segments


def parse_grade(data: dict[str, Any] | None) -> Grade | None:
    if not data:
        return None
    try:
        return Grade.model_validate(data)
    except ValueError:
        return None  # written by another engine version; the page shows the score alone


def draft_not_saved_signed_out(request: Request) -> Response:
    """An autosave after the session ended: a status line, not a redirect (that would leave the page and its
    unsaved text); submitting asks for the password and keeps the answer."""
    error = "Not saved: your session ended. Keep writing; submitting will ask you to sign in."
    return render(request, "_draft_status.html", {"saved_at": None, "error": error}, status_code=401)
