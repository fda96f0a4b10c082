"""The grader attack suite of RELIABILITY.md §2.4 (G1-G8), generated from questions, deterministic for a seed.

Each generator takes a question (and a seeded `random.Random`) and returns answers built the way a candidate
trying to game the grader would build them. `build_suite` turns a list of targets (a shipped or dev-set
question, with the dev set's labelled answers where there are any) into `Case`s; the tests
(tests/test_grader_attacks.py) grade a deterministic sample of them and `bench/grader_attacks.py` grades all.

No grader is imported here: the module only writes text, so it is cheap to import and easy to read.
"""

from __future__ import annotations

import json
import random
import re
import string
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from attacks import content_terms, gibberish  # noqa: E402

from coach.grading.text import split_units, words  # noqa: E402

PASS_MARK = 3.0  # "accepted": the score the practice page reports as a pass on the 1-5 scale
GAMING_FLAGS = frozenset({"keyword_stuffing", "copied_example", "off_topic", "injection_attempt"})
NON_ANSWER_FLAGS = GAMING_FLAGS | {"too_short"}


@dataclass(frozen=True)
class Target:
    """One question to attack: where it comes from, and any labelled answers it has (dev set only)."""

    question: Any  # coach.bank.schema.Question
    pack: str
    answers: dict[str, str] = field(default_factory=dict)  # dev-set kind -> text


@dataclass(frozen=True)
class Case:
    """One generated answer. `base` names the case it is compared with (G2 rise, G7 change), if any."""

    id: str
    gid: str
    kind: str
    question: Any
    answer: str
    base: str | None = None
    reference_only: bool = False
    note: str = ""


# --- text helpers -------------------------------------------------------------------------------------------


def sentences(text: str) -> list[str]:
    return [u.text for u in split_units(text)]


def first_paragraph(text: str, max_words: int = 70) -> str:
    """The opening sentences of an answer, up to `max_words` words (whole sentences)."""
    out: list[str] = []
    for s in sentences(text):
        if out and len(" ".join(out + [s]).split()) > max_words:
            break
        out.append(s)
    return " ".join(out)


def rubric_terms(question: Any) -> list[str]:
    """Key-point cues first, then the example answer's content words: what a keyword stuffer would paste."""
    seen: dict[str, None] = {}
    for kp in question.key_points:
        for cue in kp.cues:
            seen.setdefault(cue, None)
    for term in content_terms(question.example_answer):
        seen.setdefault(term, None)
    return list(seen)


# --- G1 keyword stuffing, G2 wrong answer + keywords, G4 shuffles --------------------------------------------

JOINERS = (", ", " ", "\n", "; ")


def keyword_stuffing(question: Any, rng: random.Random, repeat: int = 1) -> str:
    terms = rubric_terms(question)
    rng.shuffle(terms)
    joiner = JOINERS[rng.randrange(len(JOINERS))]
    return joiner.join(terms * repeat)


def cue_list(question: Any, rng: random.Random) -> str:
    cues = [c for kp in question.key_points for c in kp.cues]
    rng.shuffle(cues)
    return ", ".join(cues)


# Wrong answers any question can receive: confident, fluent, and wrong for a responsible-AI interview.
WRONG_ANSWERS = (
    "Honestly, I would not spend much time on this. The team that built the product knows it best, so I would "
    "trust their judgement, keep the launch date, and deal with any complaints if they come up later. Extra "
    "reviews mostly slow things down, and in my experience users rarely notice problems like these. If something "
    "goes wrong we can always issue a fix in the next release.",
    "The simplest answer is to remove the sensitive columns from the data and look at overall accuracy. If the "
    "overall number is high, the model is fine for everyone, because a good model treats all users the same. "
    "Documentation and sign-offs are paperwork for the legal team, so I would leave that to them and focus on "
    "shipping features that customers actually asked for.",
)


def wrong_plus_keywords(wrong: str, question: Any, rng: random.Random, *, style: str) -> str:
    """Powers' cue-word padding and Filighera-style insertion: a wrong answer with the rubric's words added."""
    if style == "cues":
        return wrong.rstrip() + "\n\nKey terms: " + cue_list(question, rng) + "."
    if style == "terms":
        terms = rubric_terms(question)
        rng.shuffle(terms)
        return wrong.rstrip() + " " + " ".join(terms[:40])
    if style == "inserted":
        # One cue phrase slipped into each sentence of the wrong answer, so no list stands alone.
        cues = [c for kp in question.key_points for c in kp.cues]
        rng.shuffle(cues)
        out = []
        for n, s in enumerate(sentences(wrong)):
            cue = cues[n % len(cues)] if cues else ""
            out.append(f"{s.rstrip('.')} with {cue} and {cues[(n + 3) % len(cues)]}." if cues else s)
        return " ".join(out)
    raise ValueError(style)


def shuffled_words(text: str, rng: random.Random) -> str:
    tokens = re.findall(r"\S+", text)
    rng.shuffle(tokens)
    return " ".join(tokens)


# --- G3 copies ---------------------------------------------------------------------------------------------

# Plain-English synonyms for words common in the example answers (a 10 % word swap is a light paraphrase).
SYNONYMS = {
    "ask": "request",
    "asks": "requests",
    "check": "verify",
    "checks": "verifies",
    "use": "employ",
    "used": "employed",
    "uses": "employs",
    "make": "create",
    "makes": "creates",
    "show": "demonstrate",
    "shows": "demonstrates",
    "start": "begin",
    "first": "initially",
    "then": "next",
    "also": "additionally",
    "because": "since",
    "important": "crucial",
    "help": "assist",
    "helps": "assists",
    "need": "require",
    "needs": "requires",
    "keep": "retain",
    "get": "obtain",
    "gets": "obtains",
    "give": "provide",
    "gives": "provides",
    "find": "discover",
    "change": "alter",
    "changes": "alterations",
    "big": "large",
    "small": "minor",
    "clear": "plain",
    "quickly": "rapidly",
    "often": "frequently",
    "about": "roughly",
    "team": "group",
    "teams": "groups",
    "people": "individuals",
    "users": "customers",
    "problem": "issue",
    "problems": "issues",
    "risk": "hazard",
    "risks": "hazards",
    "decision": "choice",
    "decisions": "choices",
    "result": "outcome",
    "results": "outcomes",
    "goal": "aim",
    "data": "information",
    "model": "system",
    "review": "assessment",
    "record": "log",
    "write": "draft",
    "run": "conduct",
    "test": "trial",
    "tests": "trials",
    "measure": "quantify",
    "compare": "contrast",
    "build": "construct",
    "plan": "scheme",
    "set": "establish",
    "choose": "pick",
    "would": "will",
    "could": "might",
    "before": "prior to",
    "after": "following",
    "each": "every",
    "whole": "entire",
    "different": "distinct",
    "same": "identical",
    "main": "primary",
    "own": "particular",
    "early": "soon",
    "later": "afterwards",
    "enough": "sufficient",
    "way": "manner",
    "ways": "methods",
    "says": "states",
    "said": "stated",
    "tell": "inform",
    "told": "informed",
    "agree": "concur",
    "agreed": "concurred",
    "report": "account",
    "owner": "custodian",
    "fix": "repair",
    "fixed": "repaired",
    "stop": "halt",
    "stopped": "halted",
    "wrong": "incorrect",
    "right": "correct",
    "harm": "damage",
    "harms": "damages",
    "likely": "probable",
    "rate": "ratio",
    "rates": "ratios",
    "group": "cohort",
    "groups": "cohorts",
    "launch": "release",
    "product": "offering",
    "customer": "client",
}


def synonym_swap(text: str, rng: random.Random, share: float = 0.10) -> tuple[str, float]:
    """Replace about `share` of the words with a synonym; returns the text and the share actually swapped."""
    tokens = list(re.finditer(r"[A-Za-z]+", text))
    candidates = [m for m in tokens if m.group(0).lower() in SYNONYMS]
    want = round(share * len(tokens))
    chosen = sorted(rng.sample(candidates, min(want, len(candidates))), key=lambda m: m.start())
    out, last = [], 0
    for m in chosen:
        word = m.group(0)
        new = SYNONYMS[word.lower()]
        new = new[0].upper() + new[1:] if word[0].isupper() else new
        out.append(text[last : m.start()] + new)
        last = m.end()
    out.append(text[last:])
    return "".join(out), len(chosen) / max(1, len(tokens))


def sentence_shuffled(text: str, rng: random.Random) -> str:
    parts = sentences(text)
    original = list(parts)
    for _ in range(5):
        rng.shuffle(parts)
        if parts != original:
            break
    return " ".join(parts)


# --- G5 non-answers ------------------------------------------------------------------------------------------


def random_characters(n: int, rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits + string.punctuation + "     "
    return "".join(rng.choice(alphabet) for _ in range(n))


def non_answers(question: Any, rng: random.Random) -> dict[str, str]:
    heaviest = max(question.key_points, key=lambda kp: kp.weight)
    one_word = (heaviest.cues[0] if heaviest.cues else words(heaviest.text)[0]).split()[0]
    return {
        "gibberish": gibberish(len(question.example_answer), rng),
        "random characters": random_characters(400, rng),
        "nswvtnvakgxpm": "nswvtnvakgxpm",
        "one word": one_word,
        "emoji": "👍 🙂 🤖 ✅ 💯 🚀",
        "question restated": question.text,
        "question restated as a statement": "You are asking: " + question.text.rstrip("?") + ". That is the question.",
        "I don't know": "I don't know.",
        "code": "def answer(question):\n    # TODO\n    return None\n\nprint(answer('" + question.id + "'))",
        "JSON": json.dumps({"answer": None, "topics": [c for kp in question.key_points for c in kp.cues][:12]}),
    }


GIBBERISH_KINDS = ("gibberish", "random characters", "nswvtnvakgxpm")


# --- G6 off-topic --------------------------------------------------------------------------------------------

STAR_STORIES = (
    "Last spring I ran the volunteer rota for our neighbourhood food bank. The situation was that half of our "
    "Saturday drivers had moved away, and deliveries to elderly residents were running two hours late. My task "
    "was to rebuild the schedule within a month. I called every volunteer, split the town into four delivery "
    "zones, and paired new drivers with experienced ones for their first two runs. I also set up a shared "
    "spreadsheet so people could swap shifts without phoning me. As a result, late deliveries dropped from "
    "twelve a week to two, and we recruited nine new drivers by the end of the summer.",
    "At my previous job in a furniture warehouse, our picking errors had crept up to about four percent of "
    "orders, and the returns were costing the company a lot of money. I was asked to find out why. I spent a "
    "week on the floor with the pickers, timed each step, and found that similar products sat on neighbouring "
    "shelves with labels that were hard to read. I proposed colour-coded bins and a barcode scan at packing, "
    "then trained each shift myself. Within two months errors fell below one percent, and the approach was "
    "copied by two other sites.",
    "When I coached my daughter's under-twelve football team, we lost our first six matches and the children "
    "were losing interest. I decided the problem was that training was mostly drills and very little play. I "
    "reorganised sessions around small-sided games, gave every child a turn as captain, and asked parents to "
    "cheer effort rather than goals. By the end of the season we had won four of our last eight games, "
    "attendance at training went from about ten children to sixteen, and every player signed up again.",
)


# --- G7 length and repetition --------------------------------------------------------------------------------

_OPENERS = (
    "In my experience",
    "Generally speaking",
    "As a rule",
    "Over the years",
    "From what I have seen",
    "In most organisations",
    "On a good day",
    "When things are busy",
    "Looking back",
    "For most people",
)
_MIDDLES = (
    "it helps to keep everyone informed as the work moves along",
    "good communication makes a real difference to how a project feels",
    "people appreciate being listened to before decisions are made",
    "a calm approach usually works better than a rushed one",
    "it pays to stay curious and open to different points of view",
    "teams do their best work when expectations are clear",
    "small habits add up to large differences over time",
    "it is worth taking a moment to think before reacting",
    "collaboration across departments tends to smooth things over",
    "a positive attitude goes a long way with colleagues",
    "clear notes after a meeting save a lot of confusion later",
    "being reliable builds trust more than any single success",
)
_TAILS = (
    "and I try to keep that in mind",
    "which is something I value",
    "and that has stayed with me",
    "as most colleagues would agree",
    "and I think that matters here too",
    "which I find encouraging",
)


def plausible_filler(n_words: int, seed: int = 7) -> str:
    """Fluent, content-free workplace sentences, none repeated, about `n_words` words long."""
    rng = random.Random(seed)
    combos = [(o, m, t) for o in _OPENERS for m in _MIDDLES for t in _TAILS]
    rng.shuffle(combos)
    out: list[str] = []
    count = 0
    for o, m, t in combos:
        sentence = f"{o}, {m}, {t}."
        out.append(sentence)
        count += len(sentence.split())
        if count >= n_words:
            break
    return " ".join(out)


def repeated(paragraph: str, copies: int) -> str:
    return "\n\n".join([paragraph] * copies)


REPEAT_COPIES = (2, 3, 5, 10, 37)


# --- G8 non-native variants ---------------------------------------------------------------------------------


def with_typos(text: str, rng: random.Random, share: float = 0.05) -> str:
    """Typos in about `share` of the words: a swapped, dropped or doubled letter in words of 4+ letters."""

    def typo(match: re.Match[str]) -> str:
        word = match.group(0)
        if len(word) < 4 or rng.random() >= share:
            return word
        i = rng.randrange(1, len(word) - 1)
        how = rng.randrange(3)
        if how == 0:
            return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        if how == 1:
            return word[:i] + word[i + 1 :]
        return word[:i] + word[i] + word[i:]

    return re.sub(r"[A-Za-z]+", typo, text)


def without_articles(text: str) -> str:
    """Learner English: the articles dropped ("we check the model on a sample" -> "we check model on sample")."""
    out = re.sub(r"\b(?:the|a|an)\s+(?=[A-Za-z])", "", text)
    out = re.sub(r"\b(?:The|A|An)\s+([a-z])", lambda m: m.group(1).upper(), out)
    return out


# --- the suite -----------------------------------------------------------------------------------------------


def build_suite(targets: Sequence[Target], seed: int = 2026) -> list[Case]:
    """Every attack of G1-G7 for every target, with the baselines they are compared with."""
    cases: list[Case] = []
    by_pack: dict[str, list[Target]] = {}
    for t in targets:
        by_pack.setdefault(t.pack, []).append(t)
    packs = sorted(by_pack)
    filler = plausible_filler(1000)
    for n, t in enumerate(targets):
        q = t.question
        rng = random.Random(f"{seed}:{q.id}")
        qid = q.id

        def add(gid: str, kind: str, answer: str, base: str | None = None, note: str = "") -> str:
            case = Case(f"{gid}:{qid}:{kind}", gid, kind, q, answer, base, note=note)
            cases.append(case)
            return case.id

        # G1
        add("G1", "keyword list x1", keyword_stuffing(q, rng))
        add("G1", "keyword list x3", keyword_stuffing(q, rng, repeat=3))
        # G2: each wrong answer alone, then with keywords appended or inserted
        wrongs = {f"generic wrong {n % len(WRONG_ANSWERS) + 1}": WRONG_ANSWERS[n % len(WRONG_ANSWERS)]}
        wrongs.update({f"dev-set {k}": t.answers[k] for k in ("weak", "poor") if k in t.answers})
        for label, wrong in wrongs.items():
            base = add("G2", f"{label} alone", wrong)
            for style in ("cues", "terms", "inserted"):
                add("G2", f"{label} + keywords ({style})", wrong_plus_keywords(wrong, q, rng, style=style), base)
        # G3
        add("G3", "verbatim", q.example_answer)
        add("G3", "sentence-shuffled", sentence_shuffled(q.example_answer, rng))
        swapped, share = synonym_swap(q.example_answer, rng)
        add("G3", "10% words swapped", swapped, note=f"{share:.1%} of words swapped")
        # G4
        add("G4", "example answer shuffled", shuffled_words(q.example_answer, rng))
        for k in ("excellent", "good"):
            if k in t.answers:
                add("G4", f"dev-set {k} answer shuffled", shuffled_words(t.answers[k], rng))
        # G5
        for kind, answer in non_answers(q, rng).items():
            add("G5", kind, answer)
        # G6: the example answer of the least related question (by rubric words) in the same pack and in
        # another pack, and a STAR story about something else
        same = [o for o in by_pack[t.pack] if o is not t]
        if same:
            other = least_related(t, same)
            add(
                "G6",
                "example answer of another question, same pack",
                other.question.example_answer,
                note=other.question.id,
            )
        elsewhere = [o for p in packs if p != t.pack for o in by_pack[p]]
        if elsewhere:
            other = least_related(t, elsewhere)
            add(
                "G6",
                "example answer of a question in another pack",
                other.question.example_answer,
                note=other.question.id,
            )
        add("G6", "generic STAR story", STAR_STORIES[n % len(STAR_STORIES)])
        # G7: needs an answer of the candidate's own; the dev set has them
        good = t.answers.get("good")
        if good:
            paragraph = first_paragraph(good)
            single = add("G7", "paragraph x1", paragraph)
            for copies in REPEAT_COPIES:
                add("G7", f"paragraph x{copies}", repeated(paragraph, copies), single)
        for k in ("good", "weak"):
            if k in t.answers:
                base = add("G7", f"dev-set {k}", t.answers[k])
                add("G7", f"dev-set {k} + 1000 words filler before", filler + "\n\n" + t.answers[k], base)
                add("G7", f"dev-set {k} + 1000 words filler after", t.answers[k] + "\n\n" + filler, base)
        if "excellent" in t.answers:
            base = add("G7", "dev-set excellent", t.answers["excellent"])
            head = plausible_filler(320, seed=11)
            add("G7", "dev-set excellent after 300+ words of filler", head + "\n\n" + t.answers["excellent"], base)
    return cases


def topic_words(question: Any) -> set[str]:
    text = " ".join(
        [question.text, *(kp.text for kp in question.key_points), *(c for kp in question.key_points for c in kp.cues)]
    )
    return {w[:5] for w in content_terms(text)}


def least_related(target: Target, others: Sequence[Target]) -> Target:
    """The question whose rubric shares the fewest words with the target's (Jaccard), first on ties."""
    mine = topic_words(target.question)

    def overlap(o: Target) -> float:
        theirs = topic_words(o.question)
        return len(mine & theirs) / max(1, len(mine | theirs))

    return min(others, key=overlap)


def genuine_variants(item_id: str, text: str, question: Any, *, reference_only: bool, seed: int = 2026) -> list[Case]:
    """G8: a genuine answer, the same with typos in 5 % of words, and without articles."""
    rng = random.Random(f"{seed}:{item_id}")
    base = Case(f"G8:{item_id}:original", "G8", "original", question, text, reference_only=reference_only)
    out = [base]
    typos = with_typos(text, rng)
    if typos != text:
        out.append(Case(f"G8:{item_id}:typos", "G8", "typos in 5% of words", question, typos, base.id, reference_only))
    bare = without_articles(text)
    if bare != text:
        out.append(Case(f"G8:{item_id}:no-articles", "G8", "articles dropped", question, bare, base.id, reference_only))
    return out


def dev_targets(devset_questions: dict[str, Any], answers: Iterable[dict[str, Any]]) -> list[Target]:
    by_q: dict[str, dict[str, str]] = {}
    for a in answers:
        by_q.setdefault(a["question_id"], {})[a["kind"]] = a["text"]
    return [Target(q, "dev-set", by_q.get(qid, {})) for qid, q in sorted(devset_questions.items())]


def shipped_targets(bank: Any) -> list[Target]:
    return [Target(e.question, e.pack) for e in bank.entries]


def sample_evenly(items: Sequence[Any], n: int) -> list[Any]:
    """`n` items spread evenly over the sequence (every k-th), deterministic."""
    if n >= len(items):
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


# --- grading and tallies -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What the grader made of one case: a score and flags, or the InvalidInput message it refused it with."""

    score: float | None
    flags: frozenset[str]
    rejected: str | None = None
    grade: Any = None

    @property
    def accepted(self) -> bool:
        return self.score is not None and self.score >= PASS_MARK

    @property
    def gaming_flagged(self) -> bool:
        return self.rejected is not None or bool(self.flags & GAMING_FLAGS)

    @property
    def not_an_answer(self) -> bool:
        """Refused as input, or flagged as too short or as not a genuine answer."""
        return self.rejected is not None or bool(self.flags & NON_ANSWER_FLAGS)


def grade_case(grader: Any, case: Case) -> Outcome:
    from coach.errors import InvalidInput

    try:
        g = grader.grade(case.question, case.answer, reference_only=case.reference_only)
    except InvalidInput as exc:
        return Outcome(None, frozenset(), rejected=str(exc))
    return Outcome(g.score, frozenset(f.code for f in g.flags), grade=g)


def share(values: Iterable[bool]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else float("nan")
