"""Structure: STAR for stories; for scenarios and strategy, an ordered approach (assess, contain, fix,
communicate, prevent) or the question's own sequence of key points."""

from __future__ import annotations

import re
from collections.abc import Sequence

from coach.bank.schema import Question
from coach.grading.model import StructureResult
from coach.grading.text import Unit

_STAR = {
    "situation": re.compile(
        r"\b(?:situation|at my (?:last|previous|former|current)|in my (?:last|previous|former|current|first) (?:role|job|team|company|position)"
        r"|when i (?:was|worked|joined|led)|(?:a|two|three|few|couple of) (?:years?|months?) ago|last (?:year|quarter|spring|summer|autumn|fall|winter)"
        r"|in 20\d\d|at (?:a|an|my) [a-z-]+ (?:startup|company|firm|bank|fintech|insurer|retailer|hospital|team)"
        r"|(?:our|the) (?:team|company|product|startup|client) (?:was|were|had|planned|wanted)|we were (?:about|building|launching|preparing|getting))\b",
        re.IGNORECASE,
    ),
    "task": re.compile(
        r"\b(?:task|my (?:role|job|task|responsibility|goal|remit) (?:was|is)|i was (?:responsible|asked|tasked|accountable|the)"
        r"|i (?:needed|had) to|the goal was|our goal|my goal|i owned|it was my (?:job|call|responsibility))\b",
        re.IGNORECASE,
    ),
    "action": re.compile(
        r"\b(?:action|i (?:\w+ed|ran|built|wrote|met|took|set|made|led|brought|went|spoke|sat|told|got|chose|put|drew|did"
        r"|found|began|sent|sought|laid|held|kept|gave|showed|pulled|split|shared|framed|pushed|asked|called))\b",
        re.IGNORECASE,
    ),
    "result": re.compile(
        r"\b(?:result|as a result|in the end|ultimately|outcome|eventually|the upshot|which (?:led|meant|cut|reduced|raised)"
        r"|we (?:launched|shipped|reduced|cut|improved|avoided|delayed|caught|closed|recovered|agreed|kept|went)"
        r"|it (?:reduced|cut|improved|led|became|went)|since then|afterwards|that (?:led|meant))\b",
        re.IGNORECASE,
    ),
}
_REFLECTION = re.compile(
    r"\b(?:i learned|i learnt|lesson|next time|looking back|in hindsight|since then|what i took away)\b", re.I
)
_NUMBER = re.compile(
    r"\b\d+(?:[.,]\d+)?\s*(?:%|percent|per cent|points?|x|times|weeks?|days?|months?|hours?)?|\b(?:half|doubled|tripled|halved)\b",
    re.I,
)

_STAGES = {
    "assess": re.compile(
        r"\b(?:assess|investigat|understand|quantif|measur|analy[sz]|audit|diagnos|gather|scope|triage|verify|check|size|map)\w*",
        re.I,
    ),
    "contain": re.compile(
        r"\b(?:pause|paus|roll ?back|halt|stop|contain|disabl|suspend|kill switch|limit|restrict|freeze|pull|turn off|switch off|hold)\w*",
        re.I,
    ),
    "fix": re.compile(
        r"\b(?:fix|retrain|reweigh|mitigat|adjust|remediat|redesign|correct|recalibrat|rebuild|patch|resolv|improv|replac)\w*",
        re.I,
    ),
    "communicate": re.compile(
        r"\b(?:communicat|inform|notify|tell|explain|brief|stakeholder|transparen|disclos|escalat|report|update|share)\w*",
        re.I,
    ),
    "prevent": re.compile(
        r"\b(?:prevent|monitor|recurr|post-?mortem|checklist|going forward|long[- ]term|guardrail|policy|process|regular|ongoing|continuous|review)\w*",
        re.I,
    ),
}
_SIGNPOSTS = re.compile(
    r"\b(?:first(?:ly)?|second(?:ly)?|third(?:ly)?|fourth|fifth|then|next|after that|finally|lastly|step \d|to start|to begin|once|before)\b",
    re.I,
)
_SCENARIO_CATEGORIES = ("scenario", "situational", "leadership")


def _star(units: Sequence[Unit]) -> StructureResult:
    text = " ".join(u.text for u in units)
    elements = {name: bool(pattern.search(text)) for name, pattern in _STAR.items()}
    # An action needs the speaker doing things: at least two first-person past-tense actions.
    elements["action"] = len(_STAR["action"].findall(text)) >= 2
    result_units = [u.text for u in units if _STAR["result"].search(u.text)]
    tail = " ".join(u.text for u in units[-max(2, len(units) // 3) :])
    measured = bool(_NUMBER.search(" ".join(result_units) + " " + tail)) if elements["result"] else False
    elements["reflection"] = bool(_REFLECTION.search(text))
    missing = [k for k in ("situation", "task", "action", "result") if not elements[k]]
    complete = not missing
    advice = None
    if missing:
        advice = (
            "Tell it as a STAR story: "
            + ", ".join(
                {
                    "situation": "set the scene (where, when, what was at stake)",
                    "task": "say what you were responsible for",
                    "action": "describe what you did, in the first person",
                    "result": "end with the outcome",
                }[k]
                for k in missing
            )
            + "."
        )
    elif not measured:
        advice = "Measure the result: a number (rate, time, money, people affected) makes the outcome credible."
    elif not elements["reflection"]:
        advice = "Close with what you learned or changed afterwards; interviewers listen for reflection."
    return StructureResult(
        expected="star", elements=elements, measured_result=measured, ordered=None, complete=complete, advice=advice
    )


def _framework(question: Question, units: Sequence[Unit], evidence_positions: Sequence[int | None]) -> StructureResult:
    text = " ".join(u.text for u in units)
    signposts = len(_SIGNPOSTS.findall(text))
    positions = [p for p in evidence_positions if p is not None]
    in_order = sum(1 for a, b in zip(positions, positions[1:]) if b >= a)
    follows_rubric = len(positions) >= 3 and in_order >= 0.6 * (len(positions) - 1)
    elements: dict[str, bool] = {"signposted": signposts >= 2, "follows_a_sequence": follows_rubric}
    if question.category in _SCENARIO_CATEGORIES:
        for name, pattern in _STAGES.items():
            elements[name] = bool(pattern.search(text))
        stages = sum(elements[n] for n in _STAGES)
        complete = stages >= 4 and (elements["signposted"] or follows_rubric)
        missing = [n for n in _STAGES if not elements[n]]
        advice = None
        if missing:
            advice = "Walk through the situation in order: " + ", ".join(_STAGES) + f". Missing: {', '.join(missing)}."
        elif not complete:
            advice = "Signpost your steps (first, then, finally) so the interviewer can follow your plan."
    else:
        complete = elements["signposted"] or follows_rubric
        advice = None if complete else "Lay your approach out as ordered steps (first, then, finally)."
    ordered = elements["signposted"] or follows_rubric
    return StructureResult(expected="framework", elements=elements, ordered=ordered, complete=complete, advice=advice)


def assess_structure(
    question: Question, units: Sequence[Unit], evidence_positions: Sequence[int | None]
) -> StructureResult:
    if question.structure == "star":
        return _star(units)
    if question.structure == "framework":
        return _framework(question, units, evidence_positions)
    return StructureResult(expected="none", elements={}, complete=True)
