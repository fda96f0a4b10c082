"""Session reports: the data (per question, per skill, trend over sessions), as Markdown or as one
standalone HTML file with inline SVG charts (no scripts, no external assets). All user text is escaped."""

from __future__ import annotations

import html
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from coach.bank.loader import Bank
from coach.errors import NotFound
from coach.progress.mastery import SkillMastery, counts, skill_mastery
from coach.storage import repository as repo
from coach.storage.db import Database
from coach.storage.tables import Attempt, InterviewSession

FORMATS = ("md", "html")


@dataclass(frozen=True)
class PointResult:
    text: str
    status: str  # covered, partial, missing
    evidence: str | None = None


@dataclass(frozen=True)
class QuestionReport:
    number: int
    question_id: str
    text: str
    reason: str
    skills: tuple[str, ...]
    budget_seconds: int | None
    status: str  # graded, failed, stored, skipped, not asked
    answer: str | None = None
    seconds: float | None = None
    score: float | None = None
    counts: bool = True
    points: tuple[PointResult, ...] = ()
    flags: tuple[str, ...] = ()
    strengths: tuple[str, ...] = ()
    improvements: tuple[str, ...] = ()
    error: str | None = None
    follow_up: str | None = None
    follow_up_answer: str | None = None
    follow_up_score: float | None = None
    follow_up_points: tuple[PointResult, ...] = ()


@dataclass(frozen=True)
class SessionPoint:
    session_id: str
    started: datetime
    average: float
    current: bool


@dataclass(frozen=True)
class SessionReport:
    session_id: str
    status: str
    started: datetime
    finished: datetime | None
    filters: dict[str, str]
    questions: tuple[QuestionReport, ...]
    skills: tuple[tuple[str, float, SkillMastery | None], ...]  # skill, this session's mean score, overall mastery
    trend: tuple[SessionPoint, ...]
    next_steps: tuple[str, ...] = field(default_factory=tuple)

    @property
    def average(self) -> float | None:
        scores = [q.score for q in self.questions if q.score is not None and q.counts]
        return round(sum(scores) / len(scores), 2) if scores else None


def find_session_id(db: Database, *, user_id: int, ref: str) -> str:
    """A session id from an id, a unique prefix of one (8 characters, as `coach history` shows), or 'last'."""
    sessions = repo.list_sessions(db, user_id=user_id)
    if ref in ("last", "latest"):
        if not sessions:
            raise NotFound("There are no interview sessions yet; `coach practice` starts one.")
        return sessions[0].id
    matches = [s.id for s in sessions if s.id == ref] or [
        s.id for s in sessions if len(ref) >= 4 and s.id.startswith(ref)
    ]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise NotFound(f"{ref!r} matches {len(matches)} sessions; give more of the id (`coach history` lists them).")
    raise NotFound(f"No interview session {ref!r}; `coach history` lists your sessions.")


def build_report(db: Database, *, bank: Bank, user_id: int, session_id: str) -> SessionReport:
    row = repo.get_session(db, user_id=user_id, session_id=session_id)
    all_attempts = repo.list_attempts(db, user_id=user_id)
    mine = [a for a in all_attempts if a.session_id == session_id]
    questions = tuple(_question_report(n, item, row, mine, bank) for n, item in enumerate(row.plan, start=1))
    mastery = {m.skill: m for m in skill_mastery(all_attempts, bank)}
    per_skill: dict[str, list[float]] = defaultdict(list)
    for q in questions:
        if q.score is not None and q.counts:
            for skill in q.skills:
                per_skill[skill].append(q.score)
    skills = tuple(
        sorted(
            ((s, round(sum(v) / len(v), 2), mastery.get(s)) for s, v in per_skill.items()),
            key=lambda t: (t[1], t[0]),
        )
    )
    report = SessionReport(
        session_id=row.id,
        status=row.status,
        started=row.created_at,
        finished=row.finished_at,
        filters={
            k: str(v)
            for k, v in (
                ("role", row.role),
                ("level", row.level),
                ("seniority", row.seniority),
                ("minutes", row.minutes),
            )
            if v
        },
        questions=questions,
        skills=skills,
        trend=_trend(repo.list_sessions(db, user_id=user_id), all_attempts, current=row.id, until=row.created_at),
    )
    return SessionReport(**{**report.__dict__, "next_steps": _next_steps(report)})


def _question_report(
    number: int, item: dict[str, Any], row: InterviewSession, attempts: list[Attempt], bank: Bank
) -> QuestionReport:
    qid = item["question_id"]
    question = bank.find(qid)
    answer = next((a for a in attempts if a.question_id == qid and a.kind == "answer"), None)
    reply = next((a for a in attempts if a.question_id == qid and a.kind == "follow_up"), None)
    asked = number - 1 < row.current_index or answer is not None
    status = answer.status if answer else ("skipped" if asked else "not asked")
    grade = answer.grade if answer and answer.grade else {}
    follow = item.get("follow_up") or {}
    return QuestionReport(
        number=number,
        question_id=qid,
        text=question.text if question else qid,
        reason=str(item.get("reason") or ""),
        skills=tuple(question.skills) if question else (),
        budget_seconds=item.get("seconds"),
        status=status,
        answer=answer.answer if answer else None,
        seconds=answer.seconds if answer else None,
        score=answer.score if answer else None,
        counts=counts(answer) if answer else True,
        points=_points(grade),
        flags=tuple(str(f.get("reason") or f.get("code")) for f in grade.get("flags", [])),
        strengths=tuple(grade.get("feedback", {}).get("strengths", ())),
        improvements=tuple(grade.get("feedback", {}).get("improvements", ())),
        error=answer.error if answer and answer.status != "graded" else None,
        follow_up=(reply.prompt if reply else follow.get("prompt")) if (reply or follow) else None,
        follow_up_answer=reply.answer if reply else None,
        follow_up_score=reply.score if reply else None,
        follow_up_points=_points(reply.grade or {}) if reply else (),
    )


def _points(grade: dict[str, Any]) -> tuple[PointResult, ...]:
    return tuple(PointResult(str(k["text"]), str(k["status"]), k.get("evidence")) for k in grade.get("key_points", []))


def _trend(
    sessions: list[InterviewSession], attempts: list[Attempt], *, current: str, until: datetime
) -> tuple[SessionPoint, ...]:
    scores: dict[str, list[float]] = defaultdict(list)
    for a in attempts:
        if a.session_id and counts(a):
            scores[a.session_id].append(float(a.score))  # type: ignore[arg-type]
    points = [
        SessionPoint(s.id, s.created_at, round(sum(scores[s.id]) / len(scores[s.id]), 2), s.id == current)
        for s in sorted(sessions, key=lambda s: s.created_at)
        if scores.get(s.id) and s.created_at <= until
    ]
    return tuple(points[-20:])


def _next_steps(report: SessionReport) -> tuple[str, ...]:
    steps: list[str] = []
    weak = [s for s, mean, _ in report.skills if mean < 3.5][:3]
    if weak:
        steps.append(f"Practise {', '.join(weak)}: `coach practice` puts your weakest skills first.")
    missed = [q for q in report.questions if q.score is not None and q.score < 3]
    if missed:
        steps.append(
            f"Re-read the guidance for {', '.join(q.question_id for q in missed[:3])} with `coach bank show ID`."
        )
    if any(q.status in ("stored", "failed") for q in report.questions):
        steps.append("Some answers are not graded yet: `coach regrade` finishes them.")
    if not steps:
        steps.append("Strong session. Try a harder level or a new role with `coach practice --level advanced`.")
    return tuple(steps)


# --- Markdown ------------------------------------------------------------------------------------------


def _md(text: str | None) -> str:
    """User text inside Markdown: HTML escaped (renderers pass raw HTML through) and kept on its lines."""
    return html.escape(text or "", quote=False).replace("\n", "  \n")


def _quote(text: str | None) -> str:
    return "\n".join(f"> {html.escape(line, quote=False)}" for line in (text or "").splitlines() or [""])


_MARK = {"covered": "✔", "partial": "◐", "missing": "✘"}


def render_markdown(report: SessionReport) -> str:
    out = [f"# Interview report {report.session_id[:8]}", ""]
    out.append(
        f"Started {report.started:%Y-%m-%d %H:%M} UTC · {report.status}"
        + (f" · {_md(', '.join(f'{k} {v}' for k, v in report.filters.items()))}" if report.filters else "")
    )
    out.append("")
    out.append(
        f"**Average score: {report.average:g} / 5**" if report.average is not None else "**No graded answers yet.**"
    )
    out += ["", "## Scores", "", "| # | question | score | follow-up |", "|---|---|---|---|"]
    for q in report.questions:
        score = f"{q.score:g}{'' if q.counts else ' ⚑'}" if q.score is not None else q.status
        fu = f"{q.follow_up_score:g}" if q.follow_up_score is not None else ("asked" if q.follow_up_answer else "—")
        out.append(f"| {q.number} | {_md(_short(q.text, 90)).replace('|', '&#124;')} | {score} | {fu} |")
    if report.skills:
        out += ["", "## Skills", "", "| skill | this session | mastery | trend |", "|---|---|---|---|"]
        for skill, mean, m in report.skills:
            out.append(f"| {_md(skill)} | {mean:g} | {f'{m.mastery:.0%}' if m else '—'} | {m.trend if m else '—'} |")
    if len(report.trend) > 1:
        out += ["", "## Trend over sessions", ""]
        out += [f"- {p.started:%Y-%m-%d}: {p.average:g}{' ← this session' if p.current else ''}" for p in report.trend]
    out += ["", "## Questions"]
    for q in report.questions:
        out += ["", f"### {q.number}. {_md(q.text)}", "", f"*{_md(q.reason)}*", ""]
        if q.answer is None:
            out.append(f"_{q.status}_")
            continue
        out += [_quote(q.answer), ""]
        out.append(
            f"Score: **{q.score:g} / 5**"
            if q.score is not None
            else f"Not graded ({_md(q.error or q.status)}); run `coach regrade`."
        )
        out += [f"- {_MARK.get(p.status, '?')} {_md(p.text)}" for p in q.points]
        out += [f"- ⚑ {_md(f)}" for f in q.flags]
        out += [f"- + {_md(s)}" for s in q.strengths] + [f"- → {_md(s)}" for s in q.improvements]
        if q.follow_up:
            out += ["", f"**Follow-up:** {_md(q.follow_up)}", ""]
            if q.follow_up_answer is not None:
                out += [_quote(q.follow_up_answer), ""]
                out += [f"- {_MARK.get(p.status, '?')} {_md(p.text)}" for p in q.follow_up_points]
    out += ["", "## Next steps", ""] + [f"- {_md(s)}" for s in report.next_steps]
    return "\n".join(out) + "\n"


def _short(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


# --- HTML ------------------------------------------------------------------------------------------------


def _e(text: object) -> str:
    return html.escape(str(text) if text is not None else "", quote=True)


def _colour(score: float | None) -> str:
    if score is None:
        return "#9aa0a6"
    return "#1e8e3e" if score >= 4 else "#f29900" if score >= 3 else "#d93025"


def _el(tag: str, content: str = "", **attrs: object) -> str:
    """One SVG element; attribute values are numbers or escaped text, `content` is already safe markup."""
    rendered = " ".join(
        f'{name.rstrip("_").replace("_", "-")}="{f"{value:.1f}" if isinstance(value, float) else _e(value)}"'
        for name, value in attrs.items()
    )
    return f"<{tag} {rendered}>{content}</{tag}>"


def _svg(label: str, width: int, height: int, parts: list[str]) -> str:
    head = f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{_e(label)}" '
    return head + f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">' + "".join(parts) + "</svg>"


def _grid(parts: list[str], left: int, right: int, top: int, plot_h: int, ticks: range, lowest: int) -> None:
    span = ticks[-1] - lowest
    for tick in ticks:
        y = top + plot_h - plot_h * (tick - lowest) / span
        parts.append(_el("line", x1=left, x2=right, y1=y, y2=y, stroke="#e0e0e0"))
        parts.append(_el("text", str(tick), x=left - 8, y=y + 4, text_anchor="end", font_size=11))


def score_chart(report: SessionReport) -> str:
    """Bars: each question's score, with the follow-up reply's score beside it (lighter)."""
    qs = report.questions
    width, height, left, bottom, top = max(320, 70 * len(qs) + 60), 240, 40, 40, 16
    plot_h = height - bottom - top
    step = (width - left - 10) / max(len(qs), 1)
    parts: list[str] = []
    _grid(parts, left, width - 10, top, plot_h, range(0, 6), 0)
    for i, q in enumerate(qs):
        x, bar_w = left + i * step + step * 0.15, step * 0.45
        middle = x + bar_w / 2
        if q.score is not None:
            h = plot_h * q.score / 5
            flag = "" if q.counts else " ⚑"
            tip = _el("title", _e(f"Q{q.number}: {q.score:g}/5{flag} — {_short(q.text, 120)}"))
            fill, opacity = _colour(q.score), 1.0 if q.counts else 0.45
            parts.append(_el("rect", tip, x=x, y=top + plot_h - h, width=bar_w, height=h, fill=fill, opacity=opacity))
            label = f"{q.score:g}{flag}"
            parts.append(_el("text", label, x=middle, y=top + plot_h - h - 4, text_anchor="middle", font_size=11))
        else:
            label = _e(q.status)
            parts.append(
                _el("text", label, x=middle, y=top + plot_h - 6, text_anchor="middle", font_size=10, fill="#777")
            )
        if q.follow_up_score is not None:
            h = plot_h * q.follow_up_score / 5
            tip = _el("title", _e(f"Q{q.number} follow-up reply: {q.follow_up_score:g}/5"))
            fill = _colour(q.follow_up_score)
            x2 = x + bar_w + 2
            parts.append(
                _el("rect", tip, x=x2, y=top + plot_h - h, width=bar_w * 0.45, height=h, fill=fill, opacity=0.55)
            )
        parts.append(_el("text", f"Q{q.number}", x=middle, y=height - bottom + 16, text_anchor="middle", font_size=12))
    return _svg("Score per question", width, height, parts)


def skills_chart(report: SessionReport) -> str:
    """Horizontal bars: each skill's score this session; a tick marks overall mastery on the same scale."""
    rows = report.skills[:14]
    label_w, bar_w, row_h = 230, 300, 22
    width, height = label_w + bar_w + 60, max(row_h * len(rows) + 30, 60)
    parts: list[str] = []
    for i, (skill, mean, mastery) in enumerate(rows):
        y = 10 + i * row_h
        parts.append(_el("text", _e(_short(skill, 34)), x=label_w - 8, y=y + 14, text_anchor="end", font_size=12))
        parts.append(_el("rect", x=label_w, y=y + 3, width=bar_w, height=14, fill="#f1f3f4"))
        tip = _el("title", _e(f"{skill}: {mean:g}/5 this session"))
        parts.append(_el("rect", tip, x=label_w, y=y + 3, width=bar_w * mean / 5, height=14, fill=_colour(mean)))
        if mastery is not None:
            mx = label_w + bar_w * (1 + 4 * mastery.mastery) / 5
            tip = _el("title", _e(f"overall mastery {mastery.mastery:.0%}, trend {mastery.trend}"))
            parts.append(_el("line", tip, x1=mx, x2=mx, y1=y, y2=y + 20, stroke="#202124", stroke_width=2))
        parts.append(_el("text", f"{mean:g}", x=label_w + bar_w + 8, y=y + 14, font_size=12))
    return _svg("Skills", width, height, parts)


def trend_chart(report: SessionReport) -> str:
    """A line: the average score of each session up to this one (this one in red)."""
    pts = report.trend
    width, height, left, bottom, top = 560, 200, 40, 36, 14
    plot_w, plot_h = width - left - 20, height - bottom - top
    parts: list[str] = []
    _grid(parts, left, width - 20, top, plot_h, range(1, 6), 1)
    coords = []
    for i, p in enumerate(pts):
        x = left + (plot_w * i / (len(pts) - 1) if len(pts) > 1 else plot_w / 2)
        coords.append((float(x), top + plot_h - plot_h * (p.average - 1) / 4, p))
    if len(coords) > 1:
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in coords)
        parts.append(_el("polyline", fill="none", stroke="#1a73e8", stroke_width=2, points=line))
    for x, y, p in coords:
        r, fill = (6, "#d93025") if p.current else (4, "#1a73e8")
        parts.append(
            _el("circle", _el("title", _e(f"{p.started:%Y-%m-%d}: {p.average:g}")), cx=x, cy=y, r=r, fill=fill)
        )
        parts.append(_el("text", f"{p.started:%d %b}", x=x, y=height - bottom + 18, text_anchor="middle", font_size=10))
    return _svg("Trend over sessions", width, height, parts)


_CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#202124;max-width:980px;
  margin:2rem auto;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #e0e0e0;padding-bottom:.2rem}
.meta{color:#5f6368}.big{font-size:2rem;font-weight:700}
.card{border:1px solid #e0e0e0;border-radius:8px;padding:1rem;margin:1rem 0}
.reason{color:#5f6368;font-style:italic}
.answer{white-space:pre-wrap;background:#f8f9fa;border-left:3px solid #dadce0;padding:.6rem .8rem}
ul.points{list-style:none;padding-left:0}.covered{color:#1e8e3e}.partial{color:#b06000}.missing{color:#d93025}
.score{font-weight:700}.flag{color:#a142f4}.charts svg{max-width:100%;height:auto}
.followup{margin-left:1rem;border-left:3px solid #1a73e8;padding-left:.8rem}
"""


def _points_html(points: tuple[PointResult, ...]) -> str:
    items = []
    for p in points:
        evidence = f"<br><small>“{_e(p.evidence)}”</small>" if p.evidence else ""
        items.append(f'<li class="{_e(p.status)}">{_MARK.get(p.status, "?")} {_e(p.text)}{evidence}</li>')
    return f'<ul class="points">{"".join(items)}</ul>' if items else ""


def render_html(report: SessionReport) -> str:
    avg = f"{report.average:g} / 5" if report.average is not None else "none: no answer counts toward progress"
    meta = [f"Started {report.started:%Y-%m-%d %H:%M} UTC", _e(report.status)]
    meta += [f"{_e(k)} {_e(v)}" for k, v in report.filters.items()]
    body = [
        f"<h1>Interview report <code>{_e(report.session_id[:8])}</code></h1>",
        f'<p class="meta">{" · ".join(meta)}</p>',
        f'<p>Average score <span class="{"big" if report.average is not None else "meta"}">{avg}</span></p>',
        '<section class="charts"><h2>Score per question</h2>',
        score_chart(report),
    ]
    if any(q.follow_up_score is not None for q in report.questions):
        body.append("<p class=meta>Light bars: follow-up replies, graded on the points the follow-up asked about.</p>")
    if any(q.score is not None and not q.counts for q in report.questions):
        body.append("<p class=meta>⚑ Flagged answer (copied, keyword list, off-topic …): shown, not counted.</p>")
    if not report.skills and any(q.score is not None for q in report.questions):
        body.append(
            "<h2>Skills</h2><p class=meta>No answer in this session counts toward skills (flagged answers do not).</p>"
        )
    if report.skills:
        body += [
            "<h2>Skills</h2><p class=meta>Bars: this session's score. Black tick: overall mastery.</p>",
            skills_chart(report),
        ]
    if report.trend:
        body += ["<h2>Trend over sessions</h2>", trend_chart(report)]
        if not any(p.current for p in report.trend):
            body.append("<p class=meta>This session has no counted answers, so it has no point on the trend.</p>")
    body.append("</section><h2>Questions</h2>")
    for q in report.questions:
        card = [f'<div class="card"><h3>{q.number}. {_e(q.text)}</h3><p class="reason">{_e(q.reason)}</p>']
        if q.answer is None:
            card.append(f"<p><em>{_e(q.status)}</em></p>")
        else:
            timing = f" · {q.seconds:.0f} s of {q.budget_seconds} s" if q.seconds and q.budget_seconds else ""
            card.append(f'<div class="answer">{_e(q.answer)}</div>')
            if q.score is not None:
                card.append(
                    f'<p>Score <span class="score" style="color:{_colour(q.score)}">{q.score:g} / 5</span>{timing}</p>'
                )
            else:
                card.append(f"<p>Not graded ({_e(q.error or q.status)}); run <code>coach regrade</code>.</p>")
            card.append(_points_html(q.points))
            card += [f'<p class="flag">⚑ {_e(f)}</p>' for f in q.flags]
            if q.strengths or q.improvements:
                card.append(
                    "<ul>"
                    + "".join(f"<li>+ {_e(s)}</li>" for s in q.strengths)
                    + "".join(f"<li>→ {_e(s)}</li>" for s in q.improvements)
                    + "</ul>"
                )
        if q.follow_up:
            card.append(f'<div class="followup"><p><strong>Follow-up:</strong> {_e(q.follow_up)}</p>')
            if q.follow_up_answer is not None:
                score = (
                    f'<p>Reply score <span class="score">{q.follow_up_score:g} / 5</span></p>'
                    if q.follow_up_score is not None
                    else ""
                )
                card.append(
                    f'<div class="answer">{_e(q.follow_up_answer)}</div>{score}{_points_html(q.follow_up_points)}'
                )
            card.append("</div>")
        card.append("</div>")
        body.append("".join(card))
    body.append("<h2>Next steps</h2><ul>" + "".join(f"<li>{_e(s)}</li>" for s in report.next_steps) + "</ul>")
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Interview report {_e(report.session_id[:8])}</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def render(report: SessionReport, fmt: str) -> str:
    from coach.errors import InvalidInput

    if fmt not in FORMATS:
        raise InvalidInput(f"Unknown report format {fmt!r}; choose one of: {', '.join(FORMATS)}.")
    return render_html(report) if fmt == "html" else render_markdown(report)
