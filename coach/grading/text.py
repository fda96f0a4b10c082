"""Text handling for grading: validation, normalisation, sentence units, words and negation."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from coach.errors import InvalidInput

MAX_ANSWER_CHARS = 20_000
# Units longer than this many words are split, so every part of an answer stays inside the model's
# 256-word-piece window (about 200 English words) and nothing is silently truncated.
MAX_UNIT_WORDS = 60

# fmt: off
ENGLISH_STOPWORDS = frozenset(
    ["a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "yourself", "yourselves", "i'd", "i'm", "i've", "i'll", "we'd", "we'll", "we're", "we've", "it's", "that's", "there's", "don't", "didn't", "doesn't", "isn't", "wasn't", "weren't", "won't", "wouldn't", "can't", "couldn't", "shouldn't", "let's", "also", "may", "might", "must", "shall", "one", "first", "then", "next"]
)

# Frequent function words of languages candidates might answer in by mistake (for the "not English" check).
FOREIGN_STOPWORDS = frozenset(
    ["que", "de", "la", "el", "los", "las", "del", "para", "por", "con", "una", "uno", "unos", "unas", "es", "son", "está", "están", "pero", "como", "más", "muy", "también", "sobre", "entre", "cuando", "donde", "porque", "ser", "fue", "hay", "sus", "nuestro", "nuestra", "não", "nao", "uma", "um", "com", "para", "pelo", "pela", "pelos", "pelas", "é", "são", "está", "estão", "mas", "mais", "muito", "também", "sobre", "entre", "quando", "onde", "porque", "ser", "foi", "há", "seus", "suas", "nosso", "nossa", "dos", "das", "ao", "aos", "às", "você", "isso", "esse", "essa", "este", "esta", "le", "les", "des", "du", "et", "est", "une", "pour", "dans", "qui", "pas", "sur", "avec", "sont", "nous", "vous", "leur", "cette", "ces", "mais", "plus", "der", "die", "das", "und", "ist", "nicht", "ein", "eine", "mit", "für", "auf", "den", "dem", "des", "sich", "auch", "von", "zu", "wir", "sie", "ich"]
)
# fmt: on

NEGATIONS = (
    r"\bnot\b",
    r"\bnever\b",
    r"\bno\b",
    r"n't\b",
    r"\bwithout\b",
    r"\brather than\b",
    r"\binstead of\b",
    r"\bavoid(?:s|ed|ing)?\b",
    r"\bnor\b",
    r"\bisn't enough\b",
    r"\bnot enough\b",
    r"\bwouldn't\b",
    r"\bagainst\b",
    r"\bmistake\b",
    r"\bmyth\b",
    r"\bwrong\b",
    r"\bfalse\b",
    r"\bfails? to\b",
    r"\binsufficient\b",
    r"\bdoesn't\b",
    r"\bcan't\b",
    r"\bcannot\b",
    r"\bresist(?:ed)?\b",
    r"\brefus",
)
_NEGATION_RE = re.compile("|".join(NEGATIONS), re.IGNORECASE)

_ABBREVIATIONS = (
    "e.g.",
    "i.e.",
    "etc.",
    "vs.",
    "art.",
    "arts.",
    "al.",
    "no.",
    "nos.",
    "fig.",
    "mr.",
    "mrs.",
    "ms.",
    "dr.",
    "prof.",
    "inc.",
    "ltd.",
    "co.",
    "corp.",
    "u.s.",
    "u.k.",
    "e.u.",
    "approx.",
    "sec.",
    "para.",
    "cf.",
    "jr.",
)
_ABBREVIATION_RE = re.compile(
    r"(?<![A-Za-z\u00C0-\u024F.])(?:" + "|".join(re.escape(a) for a in _ABBREVIATIONS) + ")", re.IGNORECASE
)
_WORD_RE = re.compile(r"[A-Za-z\u00C0-\u024F0-9]+(?:['’][A-Za-z]+)?")
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\U000e0000-\U000e007f]")


def normalise(text: str) -> str:
    """NFKC, invisible characters removed, curly quotes straightened, line endings unified."""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return text.replace("\r\n", "\n").replace("\r", "\n")


def words(text: str) -> list[str]:
    """Lower-cased word tokens (apostrophes kept inside words)."""
    return [w.lower().replace("’", "'") for w in _WORD_RE.findall(text)]


def stopword_ratio(tokens: list[str]) -> float:
    if not tokens:
        return 0.0
    return sum(t in ENGLISH_STOPWORDS for t in tokens) / len(tokens)


def has_negation(text: str) -> bool:
    return bool(_NEGATION_RE.search(text))


def check_answer(answer: object) -> str:
    """Return the answer as normalised text, or raise InvalidInput saying what is wrong with it."""
    if isinstance(answer, bytes):
        try:
            answer = answer.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput("The answer is binary data, not text. Paste or save your answer as plain text.") from exc
    if not isinstance(answer, str):
        raise InvalidInput(f"The answer must be text, not {type(answer).__name__}.")
    if "\x00" in answer:
        raise InvalidInput("The answer contains binary data (NUL bytes). Paste or save your answer as plain text.")
    controls = sum(1 for ch in answer if unicodedata.category(ch) == "Cc" and ch not in "\n\r\t")
    if controls > max(3, len(answer) // 100):
        raise InvalidInput("The answer looks like binary data (many control characters). Use plain text.")
    if len(answer) > MAX_ANSWER_CHARS:
        raise InvalidInput(
            f"The answer is {len(answer):,} characters; the limit is {MAX_ANSWER_CHARS:,} (about 3,000 words, "
            "far more than a spoken answer). Shorten it and try again."
        )
    text = normalise(answer).strip()
    if not text:
        raise InvalidInput("The answer is empty. Write or say your answer, then submit it.")
    letters = [ch for ch in text if ch.isalpha()]
    if letters and sum(ord(ch) > 0x24F for ch in letters) > 0.5 * len(letters):
        raise InvalidInput(
            "The answer does not look like English. The grader scores English answers only; "
            "answer in English (simple English is fine: content counts, not polish)."
        )
    tokens = words(text)
    if not tokens:
        raise InvalidInput("The answer has no words in it. Write your answer in sentences.")
    if not is_english(tokens):
        raise InvalidInput(
            "The answer does not look like English. The grader scores English answers only; "
            "answer in English (simple English is fine: content counts, not polish)."
        )
    return text


def is_english(tokens: list[str]) -> bool:
    """True unless the text is mostly another language (mixed answers with an English majority pass)."""
    if len(tokens) < 8:
        return True
    english = sum(t in ENGLISH_STOPWORDS for t in tokens)
    foreign = sum(t in FOREIGN_STOPWORDS and t not in ENGLISH_STOPWORDS for t in tokens)
    non_latin = sum(1 for t in tokens if any(ord(c) > 0x24F for c in t))
    if non_latin > 0.5 * len(tokens):
        return False
    return not (foreign >= 4 and foreign > 1.5 * english)


@dataclass(frozen=True)
class Unit:
    """A sentence (or a slice of a very long one) of the answer, with its position."""

    index: int
    text: str
    start: int  # character offset in the normalised answer
    words: int


def _protect(text: str) -> str:
    protected = text
    # Whole words only: "harms." or "legal." ending a sentence is not "ms." or "al.".
    protected = _ABBREVIATION_RE.sub(lambda m: m.group(0).replace(".", "\x01"), protected)
    # Decimals (0.8), initials (J. Smith) and section numbers (Art. 22.1) keep their dots.
    protected = re.sub(r"(?<=\d)\.(?=\d)", "\x01", protected)
    protected = re.sub(r"\b([A-Z])\.(?=\s?[A-Z]\.)", "\\1\x01", protected)
    return protected


# A colon or semicolon ends a unit only before a capital: "the labels: 0.72 fails" stays one sentence.
# A line break ends one too, unless the line goes on in lower case ("e.g.\nthe audit"): a wrapped line.
_SPLIT_RE = re.compile(
    r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])|(?<=[;:])\s+(?=[\"'(\[]?[A-Z])|(?<=[.!?])\s+(?=[a-z])|\n\s*(?![a-z\s])|\n\s*\n\s*|(?<=[.!?])(?=[A-Z][a-z])"
)
_LIST_ITEM_RE = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")


def split_units(text: str, max_words: int = MAX_UNIT_WORDS) -> list[Unit]:
    """Split into sentences; bullets and line breaks end a unit; long sentences are cut at clause breaks."""
    protected = _protect(text)
    pieces: list[tuple[int, str]] = []
    pos = 0
    for match in _SPLIT_RE.finditer(protected):
        pieces.append((pos, protected[pos : match.start()]))
        pos = match.end()
    pieces.append((pos, protected[pos:]))
    units: list[Unit] = []
    for start, raw in pieces:
        piece = _LIST_ITEM_RE.sub("", raw.replace("\x01", ".")).strip()
        if not piece or not words(piece) or re.fullmatch(r"[\W\d_]*", piece):
            continue  # empty, or only a list number such as "1."
        for offset, part in _cut_long(piece, max_words):
            units.append(Unit(index=len(units), text=part, start=start + offset, words=len(words(part))))
    return units


def _cut_long(sentence: str, max_words: int) -> list[tuple[int, str]]:
    tokens = list(re.finditer(r"\S+", sentence))
    if len(tokens) <= max_words:
        return [(0, sentence)]
    parts: list[tuple[int, str]] = []
    begin = 0
    while begin < len(tokens):
        end = min(begin + max_words, len(tokens))
        if end < len(tokens):
            # Prefer to cut after a comma or semicolon in the second half of the window.
            for k in range(end - 1, begin + max_words // 2, -1):
                if tokens[k].group(0).endswith((",", ";", ":")):
                    end = k + 1
                    break
        chunk_start = tokens[begin].start()
        chunk_end = tokens[end - 1].end()
        parts.append((chunk_start, sentence[chunk_start:chunk_end]))
        begin = end
    return parts


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in ENGLISH_STOPWORDS and len(w) > 2]
