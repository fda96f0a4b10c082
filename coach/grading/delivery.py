"""Specificity (numbers, named methods and laws, stakeholders, examples) and delivery (length, pace,
fillers, hedging, rambling), read from the text of the answer."""

from __future__ import annotations

import re
from collections.abc import Sequence

from coach.grading.model import DeliveryResult, SpecificityResult
from coach.grading.text import Unit

SPOKEN_WPM = 140  # a comfortable interview pace; 1-3 minutes is about 140-420 words

_NUMBER = re.compile(
    r"(?<![\w.])(?:\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?:\s?%|\s?(?:percent|per cent|points?|pp|x\b|ms|k\b|m\b|million|billion))?"
)
_NAMED = re.compile(
    r"\b(?:GDPR|LGPD|ANPD|AEPD|AESIA|CCPA|CPRA|HIPAA|ECOA|FCRA|FTC|CFPB|EEOC|NIST|ISO(?:/IEC)?\s?\d+|AI RMF|AI Act|"
    r"Art(?:icle|\.)?\s?\d+|Annex\s?[IVX]+|Regulation B|Title VII|Local Law 144|Section 5|SB\s?\d+|PL\s?\d+|"
    r"DPIA|FRIA|AIA|RIPD|AIF360|AI Fairness 360|Fairlearn|SHAP|LIME|What-If Tool|Clarify|Model Monitor|SageMaker|"
    r"Great Expectations|Weights (?:&|and) Biases|W&B|MLflow|NeMo Guardrails|Guardrails AI|Responsible AI (?:dashboard|Toolbox)|"
    r"model cards?|datasheets?|system cards?|red[- ]team\w*|demographic parity|equali[sz]ed odds|equal opportunity|"
    r"disparate impact|statistical parity|four-fifths|calibration|counterfactual|false (?:positive|negative) rates?|"
    r"precision|recall|AUC|F1|differential privacy|federated learning|k-anonymity|synthetic data|reweigh\w*|"
    r"post-processing|pre-processing|in-processing|threshold\w*|drift|A/B test\w*|canary|rollback|"
    r"Gender Shades|COMPAS|Kusner|Mitchell|Gebru|Agarwal|Hardt|Obermeyer|Buolamwini|Chouldechova|Kleinberg|"
    r"C2PA|watermark\w*|OWASP|STRIDE|SOC ?2|RACI|OKRs?|KPIs?)\b",
    re.IGNORECASE,
)
_ACRONYM = re.compile(r"\b[A-Z][A-Z0-9&]{1,6}\b")
_STAKEHOLDERS = re.compile(
    r"\b(?:legal|counsel|lawyers?|compliance|privacy (?:team|office)|dpo|data protection officer|regulators?|auditors?|"
    r"engineers?|engineering|data scientists?|researchers?|designers?|ux|users?|customers?|patients?|clinicians?|doctors?|"
    r"applicants?|candidates?|borrowers?|communit(?:y|ies)|advocates?|civil society|executives?|leadership|board|ceo|cto|"
    r"product (?:team|lead|manager)s?|sales|support|marketing|policy team|ethics (?:board|committee|council)|works council|unions?)\b",
    re.IGNORECASE,
)
_EXAMPLE = re.compile(
    r"\b(?:for example|for instance|e\.g\.|such as|in my (?:last|previous|current) (?:role|job|team)|at my (?:last|previous)|"
    r"when i (?:was|worked)|we once|one time|a case where|take the case|imagine|say (?:we|the|a|our))\b",
    re.IGNORECASE,
)
_FILLERS = {
    "um": r"\bu+m+\b",
    "uh": r"\bu+h+\b",
    "like": r",\s*like,|\blike,\s",
    "you know": r"\byou know\b",
    "basically": r"\bbasically\b",
    "actually": r"\bactually\b",
    "literally": r"\bliterally\b",
    "sort of": r"\bsort of\b",
    "kind of": r"\bkind of\b",
    "i mean": r"\bi mean\b",
    "stuff": r"\band stuff\b|\bstuff like that\b",
}
_HEDGES = {
    "i think": r"\bi think\b",
    "maybe": r"\bmaybe\b",
    "probably": r"\bprobably\b",
    "i guess": r"\bi guess\b",
    "perhaps": r"\bperhaps\b",
    "not sure": r"\bnot (?:really )?sure\b",
    "i suppose": r"\bi suppose\b",
    "somewhat": r"\bsomewhat\b",
    "hopefully": r"\bhopefully\b",
}
_FILLER_RE = {k: re.compile(v, re.IGNORECASE) for k, v in _FILLERS.items()}
_HEDGE_RE = {k: re.compile(v, re.IGNORECASE) for k, v in _HEDGES.items()}


def _unique(items: list[str], limit: int = 12) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for item in items:
        key = item.lower().strip()
        if key and key not in seen:
            seen[key] = item.strip()
    return tuple(list(seen.values())[:limit])


def assess_specificity(units: Sequence[Unit]) -> SpecificityResult:
    """Concrete detail in the units that carry content (the caller leaves out lists and filler)."""
    text = re.sub(r"\s+", " ", " ".join(u.text for u in units))  # "for  example" split by tabs or a line break
    numbers = _unique([m.group(0) for m in _NUMBER.finditer(text)])
    named = _unique(
        [m.group(0) for m in _NAMED.finditer(text)] + [a for a in _ACRONYM.findall(text) if a not in ("I", "AI", "OK")]
    )
    stakeholders = _unique([m.group(0) for m in _STAKEHOLDERS.finditer(text)])
    example = bool(_EXAMPLE.search(text))
    score = (
        0.3 * min(len(numbers), 3) / 3
        + 0.4 * min(len(named), 5) / 5
        + 0.15 * min(len(stakeholders), 3) / 3
        + 0.15 * example
    )
    return SpecificityResult(
        score=round(score, 3), numbers=numbers, named=named, stakeholders=stakeholders, example=example
    )


def length_band(n_words: int) -> str:
    if n_words < 40:
        return "too short"
    if n_words < 100:
        return "short"
    if n_words <= 450:
        return "good"
    if n_words <= 650:
        return "long"
    return "too long"


def assess_delivery(text: str, units: Sequence[Unit], repeated: int, seconds: float | None) -> DeliveryResult:
    n_words = sum(u.words for u in units)
    fillers = {k: n for k, rx in _FILLER_RE.items() if (n := len(rx.findall(text)))}
    hedges = {k: n for k, rx in _HEDGE_RE.items() if (n := len(rx.findall(text)))}
    long_sentences = sum(1 for u in units if u.words > 45)
    band = length_band(n_words)
    notes: list[str] = []
    if band == "too short":
        notes.append("Too short for a spoken answer: aim for 1-3 minutes (about 150-400 words).")
    elif band == "short":
        notes.append("On the short side: add the reasoning and one concrete example.")
    elif band in ("long", "too long"):
        notes.append("Long for a spoken answer: lead with your main point and cut what does not support it.")
    if sum(fillers.values()) >= 3:
        notes.append("Cut filler words (" + ", ".join(sorted(fillers)) + "); a short pause sounds more confident.")
    if sum(hedges.values()) >= 3:
        notes.append(
            "Hedging a lot (" + ", ".join(sorted(hedges)) + ") undersells you; state your view, then its limits."
        )
    if long_sentences >= 2:
        notes.append("Some sentences run past 45 words; break them up so they are easy to follow aloud.")
    if repeated:
        notes.append("You repeat yourself; each point needs saying once.")
    wpm = None
    if seconds:
        wpm = round(n_words / seconds * 60, 1)
        if wpm < 100:
            notes.append(f"Pace {wpm:.0f} words/min is slow; practise until the answer flows at 120-170.")
        elif wpm > 180:
            notes.append(f"Pace {wpm:.0f} words/min is fast; slow down so each point lands.")
        if seconds > 240:
            notes.append(f"{seconds / 60:.1f} minutes is long; most interview answers fit in 1-3 minutes.")
    return DeliveryResult(
        words=n_words,
        sentences=len(units),
        estimated_seconds=round(n_words / SPOKEN_WPM * 60),
        seconds=seconds,
        words_per_minute=wpm,
        length=band,  # type: ignore[arg-type]
        fillers=fillers,
        hedges=hedges,
        long_sentences=long_sentences,
        repeated_sentences=repeated,
        notes=tuple(notes),
    )
