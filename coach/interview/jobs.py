"""Read a job description for what it asks of a candidate: the bank's skills it names and its salient
terms, then score how well a question matches them. Pure and lexical (no model, no network), so the
reason shown for each planned question quotes words the person can find in the posting."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from coach.bank.schema import Question
from coach.errors import InvalidInput

MAX_CHARS = 200_000
MAX_TERMS = 25

_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_STOP = frozenset(
    re.findall(
        r"\S+",
        """
    a about above across after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each either etc few for from further had
    has have having he her here hers him his how i if in into is it its itself just me more most my no nor not
    of off on once only or other our ours out over own per same she should so some such than that the their
    theirs them then there these they this those through to too under until up us very via was we were what
    when where which while who whom why will with within without would you your yours
    """,
    )
)
# Words every job advert uses: they say nothing about which questions to practise.
_GENERIC = frozenset(
    re.findall(
        r"\S+",
        """
    ability able apply applicant applicants benefit benefits candidate candidates company competitive culture
    day degree environment equal excellent experience experienced familiarity full great help ideal including
    join job knowledge looking new nice offer opportunity part plus position preferred proven related relevant
    remote required requirement requirements responsibilities responsibility role salary skill skills strong
    team teams time understanding want we'll work working world year years you'll own run lead leading define
    drive build partner partners support ensure deliver develop manage manager managers product products pm
    programme program features feature engineering engineers bonus hybrid office location based across cross
    functional closely including business solutions impact high level senior junior mid
    """,
    )
)
# Domain words that count as terms even when the bank's wording differs slightly.
_ALIASES = {
    "explainable": "explainability",
    "interpretability": "explainability",
    "interpretable": "explainability",
    "biased": "bias",
    "biases": "bias",
    "unfair": "fairness",
    "fair": "fairness",
    "llms": "llm",
    "genai": "generative",
    "redteaming": "red-teaming",
}


@dataclass(frozen=True)
class JobProfile:
    """What a job description asks for, in the bank's vocabulary."""

    skills: tuple[str, ...]  # bank skills the description names, most mentioned first
    terms: tuple[str, ...]  # other salient words it shares with the bank, as the description writes them

    @property
    def empty(self) -> bool:
        return not self.skills and not self.terms


@dataclass(frozen=True)
class JobMatch:
    score: float  # 0..1
    matched: tuple[str, ...]  # the skills and terms behind the score, strongest first


def stem(word: str) -> str:
    """A crude, predictable stem: enough to meet "audits"/"auditing" and "governance"/"governing"."""
    word = _ALIASES.get(word, word)
    for suffix in (
        "ations",
        "ation",
        "ments",
        "ment",
        "ness",
        "ities",
        "ity",
        "ings",
        "ing",
        "ies",
        "ers",
        "es",
        "ed",
        "s",
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    return word[:7]


def words(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    return [w for w in _WORD.findall(text) if w not in _STOP]


def stems(text: str) -> list[str]:
    return [stem(w) for w in words(text)]


def check_job_description(text: str) -> str:
    """The description as text, or InvalidInput saying how to fix it."""
    if "\x00" in text:
        raise InvalidInput("The job description is binary data, not text. Save the posting as plain text.")
    if len(text) > MAX_CHARS:
        raise InvalidInput(
            f"The job description is {len(text):,} characters; the limit is {MAX_CHARS:,}. "
            "Keep only the posting itself."
        )
    if not text.strip():
        raise InvalidInput(
            "The job description is empty. Paste the text of the job posting into the file and try again."
        )
    if not words(text):
        raise InvalidInput("The job description has no words in it. Paste the text of the job posting into the file.")
    return text


def extract_job_profile(text: str, questions: Sequence[Question]) -> JobProfile:
    """The bank skills a description names, and its salient words that also occur in the bank."""
    text = check_job_description(text)
    surface = words(text)
    jd = [stem(w) for w in surface]
    jd_counts = Counter(jd)
    spelling: dict[str, Counter[str]] = {}
    for word, st in zip(surface, jd, strict=True):
        spelling.setdefault(st, Counter())[word] += 1
    skill_hits: Counter[str] = Counter()
    for skill in sorted({s for q in questions for s in q.skills}):
        found = _phrase_count(_skill_stems(skill), jd)
        if found:
            skill_hits[skill] = found
    skills = _drop_subsumed(skill_hits)

    documents = [set(_document_stems(q)) for q in questions]
    df = Counter(s for doc in documents for s in doc)
    n = max(len(documents), 1)
    in_skills = {s for skill in skills for s in _skill_stems(skill)}
    salience: dict[str, float] = {}
    for term, count in jd_counts.items():
        if term in _GENERIC_STEMS or term in in_skills or term.isdigit() or len(term) < 2 or not df[term]:
            continue
        # Words most questions share ("model", "data") do not tell questions apart; a word only one question
        # uses (a city, a product name) is more likely chance than a topic.
        if df[term] > 0.6 * n or df[term] < 2:
            continue
        salience[term] = (1 + math.log(count)) * math.log(1 + n / df[term])
    ranked = [t for t, _ in sorted(salience.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_TERMS]]
    terms = tuple(spelling[t].most_common(1)[0][0] for t in ranked)
    return JobProfile(skills=skills, terms=terms)


def match_question(profile: JobProfile, question: Question) -> JobMatch:
    """How well a question fits the profile (0..1) and which skills and terms make it fit."""
    if profile.empty:
        return JobMatch(0.0, ())
    own = [_skill_stems(s) for s in question.skills]
    doc = _document_stems(question)
    named = [s for s in profile.skills if any(_phrase_count(_skill_stems(s), o) for o in own)]
    mentioned = [s for s in profile.skills if s not in named and _phrase_count(_skill_stems(s), doc)]
    doc_set = set(doc)
    terms = [t for t in profile.terms if stem(t) in doc_set]
    # A skill the question is about counts most; a skill its rubric mentions, less; shared words, least.
    strength = 1.0 * len(named) + 0.35 * len(mentioned) + 0.15 * len(terms)
    score = 1.0 - math.exp(-strength / 1.5)
    return JobMatch(round(score, 4), tuple(dict.fromkeys([*named, *mentioned, *terms])))


_GENERIC_STEMS = frozenset(stem(w) for w in _GENERIC)


def _drop_subsumed(hits: Counter[str]) -> tuple[str, ...]:
    """Skills most mentioned first, without repeats: "impact assessments" when "impact assessment" is in,
    or "metrics" when every mention of it is part of "fairness metrics"."""
    ordered = sorted(hits.items(), key=lambda kv: (-len(_skill_stems(kv[0])), -kv[1], kv[0]))
    kept: dict[tuple[str, ...], tuple[str, int]] = {}
    for skill, count in ordered:
        key = tuple(_skill_stems(skill))
        if key in kept:
            continue
        inside = sum(c for k, (_, c) in kept.items() if len(k) > len(key) and _phrase_count(key, k))
        if count > inside:
            kept[key] = (skill, count)
    ranked = sorted(kept.values(), key=lambda sc: (-sc[1], -len(sc[0]), sc[0]))
    return tuple(skill for skill, _ in ranked)


def _skill_stems(skill: str) -> list[str]:
    return stems(skill)


def _phrase_count(phrase: Sequence[str], sequence: Sequence[str]) -> int:
    if not phrase:
        return 0
    width = len(phrase)
    return sum(1 for i in range(len(sequence) - width + 1) if list(sequence[i : i + width]) == list(phrase))


def _document_stems(question: Question) -> list[str]:
    parts: list[str] = [question.text, " . ".join(question.skills)]
    for kp in question.key_points:
        parts.append(kp.text)
        parts.extend(kp.cues)
    return stems(" . ".join(parts))
