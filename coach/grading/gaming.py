"""Gaming checks: keyword lists and jumbles, copies of the example answer, text aimed at the grader."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from coach.grading.model import Flag
from coach.grading.text import ENGLISH_STOPWORDS, Unit, content_words, stopword_ratio, words

LIST_UNIT_MIN_WORDS = 8
LIST_UNIT_STOPWORDS = 0.12
ANSWER_STOPWORDS = 0.15

_GRADER = r"(?:grader|grading (?:model|system|engine|ai|bot)|evaluator|assessor|marker|scorer|judge|llm|language model|ai model|ai system|assessment (?:model|system|engine|ai)|scoring (?:model|system|engine|ai|bot)|evaluation (?:model|system|engine|ai))"
_ANSWER = r"(?:this|my|the|our)\s+(?:answer|response|submission|reply|essay)"
_TOP = r"(?:5|five|10|ten|100|full|maximum|max|top|perfect|highest|a passing|passing|excellent)"

# Strong signs stand on their own; a grader noun alone does not (answers discuss "scoring models",
# "independent evaluators" and "third-party assessors"), only when the text addresses it.
_INJECTION_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (reason, re.compile(pattern, re.IGNORECASE | re.MULTILINE | re.DOTALL))
    for reason, pattern in (
        (
            "tells the reader to ignore its instructions",
            r"\b(?:ignore|disregard|forget|override|bypass)\s+(?:all\s+|any\s+)?(?:of\s+)?(?:the\s+|your\s+|my\s+)?"
            r"(?:previous|prior|above|earlier|preceding|original|system|grading|scoring|marking)?\s*"
            r"(?:instructions?|prompts?|rubric|marking scheme|scoring (?:rules|criteria|guide))\b",
        ),
        (
            "asks for a particular score",
            rf"\b(?:give|award|assign|grant|rate|score|mark|grade)\s+{_ANSWER}\b[^.\n]{{0,40}}\b{_TOP}\b",
        ),
        (
            "asks for a particular score",
            rf"\b(?:give|award|assign|grant)\s+(?:me|it|us)\s+(?:a\s+|the\s+)?{_TOP}\b[^.\n]{{0,20}}(?:marks?|score|points?|grade|rating)",
        ),
        ("asks for a particular score", r"\b(?:5|five|10|ten)\s*(?:/|out of)\s*(?:5|five|10|ten)\b"),
        (
            "asks for a particular score",
            rf"\b(?:return|assign|output|give|set|award|mark)\s+(?:it\s+|this\s+)?(?:a\s+|the\s+)?(?:score|grade|mark|rating)\s+(?:of\s+)?{_TOP}\b",
        ),
        (
            "claims to have built the grader",
            r"\b(?:built|wrote|developed|maintain|designed|created)\s+(?:this|the|your)\s+(?:automated\s+)?(?:grading|scoring|assessment|evaluation|marking)\s+(?:system|model|tool|pipeline|engine)",
        ),
        ("addresses an automated grader", rf"(?:#|//|/\*)\s*(?:note\s+(?:to|for)\s+)?(?:the\s+)?{_GRADER}\s*[:,]"),
        (
            "addresses an automated grader",
            rf"\bbefore you (?:grade|score|mark|evaluate|assess)\b|\b(?:as|to) the {_GRADER} (?:reading|seeing|grading|scoring)\b",
        ),
        ("asks for a particular score", r"\bfull marks\b|\bmaximum (?:score|marks|points)\b|\bperfect score\b"),
        (
            "addresses an automated grader",
            rf"\b(?:dear|attention|hello|hi|note|message|instructions?|reminder|memo)\b[^.\n]{{0,20}}\b(?:to|for)?\s*(?:the\s+|any\s+)?(?:automated\s+|ai\s+)?{_GRADER}\b",
        ),
        (
            "addresses an automated grader",
            rf"^[\s\[(#/*-]*(?:to\s+)?(?:the\s+)?(?:automated\s+|ai\s+)?{_GRADER}\s*[:,]",
        ),
        (
            "addresses an automated grader",
            r"\b(?:automated|automatic|ai|llm)\s+(?:grader|grading|evaluator|assessor|marker|scorer|judge)\b[^.\n]{0,60}\b(?:please|should|must|give|award|assign|return)\b[^.\n]{0,30}\b(?:score|marks?|grade|points)\b",
        ),
        ("addresses an automated grader", rf"\b(?:you|your)\b[^.\n]{{0,30}}\b(?:as|are)\s+(?:the|an?)\s+{_GRADER}\b"),
        ("contains a chat role marker", r"^\s*(?:\[|<|#+\s*)?(?:system|assistant|developer)\s*(?:\]|>|:)"),
        ("contains a chat role marker", r"<\|im_(?:start|end)\|>|\[/?INST\]|<</?SYS>>|<\|(?:system|user|assistant)\|>"),
        ("hides text in an HTML comment", r"<!--.*?-->"),
        ("contains a pre-filled verdict", r"[\"'](?:score|verdict|grade|rating|result|pass)[\"']\s*:\s*[\"']?\w"),
        (
            "claims special approval",
            r"\bpre-?approved (?:this|the|my) (?:answer|response)\b|\b(?:this|my) (?:answer|response) (?:is|was|has been) (?:pre-?)?approved\b|\bapproved by the interviewer\b",
        ),
        (
            "claims special authority",
            r"\b(?:i am|i'm|as) (?:the|your) (?:developer|creator|administrator|admin|system owner|programmer)\b",
        ),
        (
            "asks for special treatment in scoring",
            r"\b(?:approved|granted|have|has|with) (?:an? )?(?:approved )?accommodation\b[^.\n]{0,80}\b(?:scor|grad|mark|award|disregard|ignore)",
        ),
        (
            "tells the reader to ignore its instructions",
            r"\b(?:ignore|ignorar|ignora|desconsidere|desconsidera)\b[^.\n]{0,40}\b(?:instru[cç]|regras|reglas|rubrica|r[uú]brica)",
        ),
        ("asks for a particular score", r"\b(?:nota|pontua[cç][aã]o|puntuaci[oó]n|calificaci[oó]n) m[aá]xima\b"),
        ("addresses an automated grader", r"\b(?:avaliador|avaliadora|evaluador|evaluadora|corretor)\b"),
        (
            "addresses the model directly",
            rf"\byou are (?:now )?(?:a|an|the)\b[^.\n]{{0,30}}\b(?:grader|evaluator|assistant|judge|{_GRADER})\b",
        ),
    )
)

_QUOTED = re.compile(r"\"[^\"\n]{0,200}\"|'[^'\n]{0,200}'|“[^”\n]{0,200}”")


def _sentence_around(text: str, start: int, end: int) -> str:
    left = max(text.rfind(".", 0, start), text.rfind("\n", 0, start)) + 1
    right_candidates = [i for i in (text.find(".", end), text.find("\n", end)) if i != -1]
    right = min(right_candidates) + 1 if right_candidates else len(text)
    snippet = text[left:right].strip()
    return snippet[:300]


def detect_injection(text: str) -> Flag | None:
    """Text addressed to a grader or model rather than the interviewer."""
    quoted_spans = [m.span() for m in _QUOTED.finditer(text)]
    for reason, pattern in _INJECTION_PATTERNS:
        for match in pattern.finditer(text):
            # A quoted example of an attack ("we tested 'ignore previous instructions'") is content, not an attack.
            inside_quotes = any(a <= match.start() and match.end() <= b for a, b in quoted_spans)
            if inside_quotes and "ignore" in reason:
                continue
            return Flag(
                code="injection_attempt",
                reason=f"The answer {reason}. Text aimed at an automated grader earns nothing and caps the score.",
                evidence=_sentence_around(text, match.start(), match.end()),
            )
    return None


def is_list_unit(unit: Unit) -> bool:
    """A unit that reads as a list of terms, not a sentence: almost no function words, or a run of six
    or more short comma-separated items with no lead-in clause ("caste, jurisdiction, local law, ...")."""
    tokens = words(unit.text)
    if len(tokens) >= LIST_UNIT_MIN_WORDS and stopword_ratio(tokens) < LIST_UNIT_STOPWORDS:
        return True
    body = re.sub(r"^[^,;:]{1,40}:\s*", "", unit.text)  # a label such as "Key terms:" is the lead-in
    labelled = body != unit.text
    items = [words(part) for part in re.split(r"[,;]", body) if words(part)]
    if len(items) >= 6 and (labelled or len(items[0]) <= 3):
        return sum(len(item) <= (4 if labelled else 3) for item in items) >= 0.8 * len(items)
    return False


def detect_keyword_stuffing(text: str, units: Sequence[Unit], min_words: int = 10) -> Flag | None:
    tokens = words(text)
    if len(tokens) < min_words:
        return None
    ratio = stopword_ratio(tokens)
    list_words = sum(u.words for u in units if is_list_unit(u))
    list_share = list_words / max(1, sum(u.words for u in units))
    if ratio < ANSWER_STOPWORDS or list_share >= 0.4:
        evidence = next((u.text for u in units if is_list_unit(u)), units[0].text if units else None)
        return Flag(
            code="keyword_stuffing",
            reason=(
                "Most of the answer is a list of terms without sentences or reasoning. Key terms only count "
                "when you use them to explain what you would do and why."
            ),
            evidence=(evidence or "")[:300] or None,
        )
    return None


def detect_cue_list(units: Sequence[Unit], cues: Sequence[str]) -> Flag | None:
    """A list whose items are mostly the rubric's own cue phrases ("Key terms: disparate impact, ..."):
    naming what a strong answer would cover is not covering it."""
    known = {" ".join(words(c)) for c in cues if words(c)}
    if not known:
        return None
    for unit in units:
        if not is_list_unit(unit):
            continue
        body = re.sub(r"^[^,;:]{1,40}:\s*", "", unit.text)
        items = [" ".join(words(part)) for part in re.split(r"[,;]", body) if words(part)]
        hits = sum(item in known for item in items)
        if hits >= 4 and hits >= 0.5 * len(items):
            return Flag(
                code="keyword_stuffing",
                reason="The answer lists the key terms instead of using them; a term counts only inside an explanation.",
                evidence=unit.text[:200],
            )
    return None


# Share of the reference's terms a run must hold to be a list of them: half when the run is the whole
# answer, three quarters inside or at the end of a sentence (where phrases such as "water level" occur).
WHOLE_RUN_COVERAGE = 0.5
RUN_COVERAGE = 0.75
RUN_MIN = 3
RUN_BREAKS = 2


def _stem(word: str) -> str:
    return word[:5]


_STOP_STEMS = frozenset(_stem(w) for w in ENGLISH_STOPWORDS)
_NOUN_PHRASE_START = frozenset(
    ["a", "an", "the", "this", "that", "these", "those", "its", "their", "his", "her", "our", "your", "my"]
    + ["of", "in", "on", "at", "by", "for", "with", "to", "from", "into", "than", "more", "less", "very", "is", "are"]
)


def _ordered_after(x: str, y: str, positions: dict[str, list[int]], window: int = 3) -> bool:
    """y follows x closely in the reference (within `window` words), as in a phrase the answer kept."""
    return any(0 < py - px <= window for px in positions[x] for py in positions[y])


def detect_keyword_run(units: Sequence[Unit], reference: str, question: str) -> Flag | None:
    """The reference's terms strung together without a sentence ("... creates gap bulb damaged").

    A run is a stretch of the reference's content words with no function word between them. People write
    such stretches too ("blue absorbs heat faster", "a higher pitch"), but they keep the reference's order
    or turn one phrase around, and they hold a few of its terms. A list holds most of them and breaks the
    order somewhere. So a run is a list when its order breaks and it holds half the terms (the whole answer
    is the run) or three quarters of them (at the end of the answer, or anywhere with two breaks); a
    separate "sentence" of three quarters of the terms, or a run of all of them ending the answer, is one
    in any order. On SemEval-2013's 16,003 human answers 0.3-0.5% are flagged (the rule it replaced: 1.5-2.5%).
    """
    ref_tokens = [_stem(w) for w in words(reference)]
    positions: dict[str, list[int]] = {}
    for k, stem in enumerate(ref_tokens):
        if stem not in _STOP_STEMS:
            positions.setdefault(stem, []).append(k)
    terms = {_stem(w) for w in words(reference) if w not in ENGLISH_STOPWORDS and len(w) > 2}
    if not positions or not terms:
        return None

    def coverage(stems: set[str]) -> float:
        return len(stems & terms) / len(terms)

    everything = sum(len(words(unit.text)) for unit in units)
    for k, unit in enumerate(units):
        tokens = words(unit.text)
        n = len(tokens)
        stems = {_stem(t) for t in tokens}
        if (
            k > 0
            and n >= 2
            and all(t not in ENGLISH_STOPWORDS and _stem(t) in positions for t in tokens)
            and coverage(stems) >= RUN_COVERAGE
        ):
            # A "sentence" of nothing but the reference's terms after the answer, in any order.
            return Flag(
                code="keyword_stuffing",
                reason="The answer ends with a list of the reference's key terms that no sentence uses.",
                evidence=unit.text[:200],
            )
        i = 0
        while i < n:
            if tokens[i] in ENGLISH_STOPWORDS or _stem(tokens[i]) not in positions:
                i += 1
                continue
            j = i
            while j + 1 < n and tokens[j + 1] not in ENGLISH_STOPWORDS and _stem(tokens[j + 1]) in positions:
                j += 1
            run = [_stem(t) for t in tokens[i : j + 1]]
            breaks = sum(not _ordered_after(x, y, positions) for x, y in zip(run, run[1:]))
            whole = len(run) == everything
            at_end = unit is units[-1] and j == n - 1
            # A list tacked onto the end of an answer, not the object of its last clause ("... a louder sound").
            tail = at_end and (i == 0 or tokens[i - 1] not in _NOUN_PHRASE_START)
            # Every term of the reference in one run that ends the answer is a list in any order.
            complete = at_end and len(run) >= 3 and coverage(set(run)) == 1.0
            if complete or (
                breaks
                and (
                    (whole and coverage(set(run)) >= WHOLE_RUN_COVERAGE)
                    or (coverage(set(run)) >= RUN_COVERAGE and (tail or (len(run) >= RUN_MIN and breaks >= RUN_BREAKS)))
                )
            ):
                return Flag(
                    code="keyword_stuffing",
                    reason="The answer strings the reference's key terms together without a sentence that uses them.",
                    evidence=" ".join(tokens[i : j + 1])[:200],
                )
            i = j + 1
    return None


# Function words that carry the answer in a reply to a comparison question ("they are the same").
_ANSWERING_FUNCTION_WORDS = frozenset(
    ["same", "more", "most", "less", "not", "no", "few", "other", "both", "all", "only"]
)


def detect_restatement(text: str, question: str) -> Flag | None:
    """The question handed back as the answer: most of its content words and not one word of its own."""
    asked = {w[:5] for w in content_words(question)}
    if len(asked) < 3:
        return None
    given = {w[:5] for w in content_words(text)}
    question_words = set(words(question))
    own = (given - asked) | {w for w in words(text) if w in _ANSWERING_FUNCTION_WORDS and w not in question_words}
    if own or len(given & asked) < 0.7 * len(asked):
        return None
    return Flag(
        code="off_topic",
        reason="The answer repeats the question instead of answering it: it adds nothing the question did not say.",
        evidence=text[:200],
    )


def _ngrams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


_DET = {"the", "an"}  # not "a": short answers name things "bulb a", "terminal a"
_PREP = {"of", "in", "on", "at", "by", "for", "with", "to", "from", "into", "than"}
_CONJ = {"and", "or", "but"}
_AUX = {
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "can",
    "will",
    "would",
    "could",
    "should",
    "does",
    "do",
    "has",
    "have",
}
_FUNCTION = _DET | _PREP | _CONJ
_BAD_END = _FUNCTION | _AUX | {"when", "that", "because", "if", "which", "while", "then", "so", "not"}


def _word_salad_marks(text: str, tokens: list[str]) -> int:
    """Places where word order breaks English: 'the are', 'of and', a sentence ending in 'the'."""
    marks = 0
    for x, y in zip(tokens, tokens[1:]):
        if (
            (x in _DET and (y in _FUNCTION or y in _AUX))
            or (x in _PREP and y in (_PREP | _CONJ))
            or (x in _CONJ and y in _CONJ)
        ):
            marks += 1
    if tokens and tokens[0] in (_CONJ | {"by", "of", "than", "is", "are", "was", "were"}):
        marks += 1
    if tokens and tokens[-1] in _BAD_END:
        marks += 1
    if re.search(r"\.\s+[a-z]", text):
        marks += 1
    return marks


def order_kept(answer: str, reference: str) -> float:
    """1.0 unless the answer reuses the reference's words heavily; then how much of their order it keeps."""
    a, r = words(answer), words(reference)
    if len(a) < 4 or len(r) < 4:
        return 1.0
    ref_vocab = set(r)
    reuse = sum(t in ref_vocab for t in a) / len(a)
    recall = len(set(a) & ref_vocab) / len(ref_vocab)
    if reuse < 0.8 or recall < 0.6:
        return 1.0
    return _local_order(a, r)


def _local_order(answer: list[str], reference: list[str]) -> float:
    """Share of neighbouring shared words that keep their order and closeness from the reference."""
    positions: dict[str, list[int]] = {}
    for k, w in enumerate(reference):
        positions.setdefault(w, []).append(k)
    shared = [i for i, w in enumerate(answer) if w in positions]
    pairs = kept = 0
    for a, b in zip(shared, shared[1:]):
        if b - a > 3:
            continue
        pairs += 1
        if _ordered_after(answer[a], answer[b], positions):
            kept += 1
    return kept / pairs if pairs else 1.0


def _adjacent_kept(answer: list[str], reference: list[str]) -> float:
    """Share of neighbouring answer words, both from the reference, that are neighbours there too, in order.
    A shuffle of a short reference keeps few (about one in the reference's length); a near copy keeps most."""
    pairs = set(zip(reference, reference[1:]))
    vocab = set(reference)
    shared = [(x, y) for x, y in zip(answer, answer[1:]) if x in vocab and y in vocab]
    return sum(p in pairs for p in shared) / len(shared) if shared else 1.0


def _multiset_overlap(answer: list[str], reference: list[str]) -> float:
    shared = Counter(answer) & Counter(reference)
    return sum(shared.values()) / max(len(answer), len(reference))


def detect_jumble(answer: str, reference: str, *, short: bool = False) -> Flag | None:
    """The reference's own words in a scrambled order: heavy word reuse with broken order or grammar.

    For short reference answers (a sentence or two) the order and grammar marks are reliable; for long
    interview answers, where any text has a few odd joins, phrase overlap with the reference decides.
    """
    a, r = words(answer), words(reference)
    if len(a) < (4 if short else 8) or len(r) < (4 if short else 8):
        return None
    ref_vocab = set(r)
    reuse = sum(t in ref_vocab for t in a) / len(a)
    recall = len(set(a) & ref_vocab) / len(ref_vocab)
    if short:
        # Grammar marks alone also fire on some genuine sentences; a copy in the reference's own order is
        # a copy (reference-only mode rewards it), not a jumble.
        order, kept = _local_order(a, r), _adjacent_kept(a, r)
        marks = _word_salad_marks(answer, a) + scramble_marks(answer)
        # The reference's own words, nearly all of them and little else, in another order ("gap bulb A
        # damaged a creates"): people who reuse that many of its words keep its phrases.
        permuted = a != r and _multiset_overlap(a, r) >= 0.9 and kept < 0.75
        scrambled = (
            reuse >= 0.8
            and recall >= 0.6
            and (permuted or order < 0.5 or kept < 0.34 or (marks >= 1 and (order < 0.85 or kept < 0.6)))
        )
    else:
        a2, r2 = _ngrams(a, 2), _ngrams(r, 2)
        scrambled = reuse >= 0.8 and len(a2 & r2) / max(1, len(a2)) < 0.5
    if scrambled:
        return Flag(
            code="keyword_stuffing",
            reason="The answer reuses the example answer's words in a scrambled order; it does not read as sentences.",
            evidence=answer[:200],
        )
    return None


SCRAMBLE_MIN_WORDS = 40
SCRAMBLE_RATE = 0.03
SCRAMBLE_MIN_MARKS = 3
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s+(\S)")
_DANGLING_END = re.compile(r"\b(?:the|an|of|to|and|or|with|for|in|on|by|from|than)\s*[.!?](?:\s|$)", re.IGNORECASE)


_ARTICLES = frozenset(["a", "an", "the"])
_NOT_AFTER_ARTICLE = frozenset(["i", "we", "they", "you", "he", "she", "it", "who", "whom", "if", "because"])
_CONSONANTS = frozenset("bcdfgjklmnpqrstvwxz")  # not "h": "an hour", "an honest"


def scramble_marks(text: str) -> int:
    """Places where the text breaks English word order, needing no reference: a determiner before a
    function word ("the of"), stacked prepositions or conjunctions, a sentence ending in "the" or "of",
    a capitalised function word mid-sentence ("risks The"), and, in a text that does capitalise
    sentences, a sentence that starts in lower case. Genuine answers, non-native ones included, have
    almost none (at most 2 per 100 words on our dev set and bank); shuffled words have 4-12 per 100."""
    tokens = words(text)
    marks = sum(
        1
        for x, y in zip(tokens, tokens[1:])
        if (x in _DET and (y in _FUNCTION or y in _AUX))
        or (x in _PREP and y in (_PREP | _CONJ))
        or (x in _CONJ and y in _CONJ)
    )
    # An article before a pronoun or a conjunction ("the they", "a because"), or "an" before a consonant
    # ("an things"): neither occurs in written English, however plain.
    marks += sum(
        1
        for x, y in zip(tokens, tokens[1:])
        if (x in _ARTICLES and y in _NOT_AFTER_ARTICLE) or (x == "an" and y[:1] in _CONSONANTS)
    )
    marks += len(_DANGLING_END.findall(text))
    starts = [m.group(1) for m in _SENTENCE_END.finditer(text)]
    if any(c[:1].isupper() for c in starts):
        marks += sum(c[:1].islower() for c in starts)  # only for writers who capitalise at all
    spaced = re.findall(r"\S+", text)
    # A capitalised function word between two lower-case words: not Title Case, not ALL CAPS, not a new sentence.
    triples = list(zip(spaced, spaced[1:], [*spaced[2:], "x"]))
    marks += sum(
        1
        for before, word, after in triples
        if word[:1].isupper()
        and not word.isupper()
        and before[:1].islower()
        and after[:1].islower()
        and word.lower().strip(".,;:!?\"'()") in ENGLISH_STOPWORDS
        and len(word.strip(".,;:!?\"'()")) > 1  # "Bulb A", "Option B": labels, not words
        and not word.lower().startswith(("i'", "i\u2019"))  # I'd, I'm, I've
        and not before.endswith((".", "!", "?", ":", '"', "\u201d"))
    )
    return marks


def detect_scrambled(text: str) -> Flag | None:
    """A long answer whose words are shuffled (its own or anyone's): embeddings barely see word order,
    so a jumble of a strong answer would otherwise score like the answer."""
    n = len(words(text))
    if n < SCRAMBLE_MIN_WORDS:
        return None
    marks = scramble_marks(text)
    if marks >= SCRAMBLE_MIN_MARKS and marks / n >= SCRAMBLE_RATE:
        return Flag(
            code="keyword_stuffing",
            reason="The words are in a scrambled order: the answer does not read as sentences, so it earns no credit.",
            evidence=text[:200],
        )
    return None


def copy_ratio(answer: str, reference: str, n: int = 8) -> float:
    """Share of the answer's n-word runs that also appear in the reference."""
    a = words(answer)
    if len(a) < n:
        return 0.0
    runs = [tuple(a[i : i + n]) for i in range(len(a) - n + 1)]
    ref = _ngrams(words(reference), n)
    return sum(r in ref for r in runs) / len(runs)


def detect_copy(answer: str, reference: str, paraphrased_share: float) -> Flag | None:
    """A verbatim or lightly paraphrased copy of the example answer."""
    verbatim = copy_ratio(answer, reference)
    if verbatim >= 0.35 or paraphrased_share >= 0.6:
        how = "word for word" if verbatim >= 0.35 else "closely paraphrased"
        return Flag(
            code="copied_example",
            reason=(
                f"The answer matches the example answer ({how}). Practise in your own words, with your own "
                "examples; a copy is shown but does not count toward your progress."
            ),
            evidence=None,
        )
    return None
