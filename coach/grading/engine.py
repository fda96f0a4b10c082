"""grade(question, answer): deterministic, explainable scoring of one answer against its rubric.

The method, thresholds and score formula are explained in docs/grading.md; change both together.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from coach.bank.schema import Question
from coach.errors import InvalidInput
from coach.grading import gaming
from coach.grading.background import Background, centroid
from coach.grading.delivery import assess_delivery, assess_specificity
from coach.grading.embedders import Embedder, default_embedder, shared_vectors
from coach.grading.feedback import write_feedback
from coach.grading.model import (
    ENGINE_VERSION,
    SCORE_CAPS,
    Engine,
    Flag,
    Grade,
    KeyPointResult,
    PitfallResult,
)
from coach.grading.rubric import cue_hits, cue_pattern
from coach.grading.structure import assess_structure
from coach.grading.text import Unit, check_answer, content_words, has_negation, split_units, words

# Similarity bands (cosine, all-MiniLM-L6-v2), set on the dev set and the SemEval train split only.
SUPPORT_LOW = 0.36  # below this a sentence gives no credit for a key point
SUPPORT_HIGH = 0.62  # at or above this, full credit
COVERED_AT = 0.52
PARTIAL_AT = 0.43
CUE_BONUS = 0.04  # per matching cue in the same sentence, at most two
PITFALL_AT = 0.72
REUSE_PENALTY = 0.05
PITFALL_PENALTY = 0.25
OFF_TOPIC_MAX_COVERAGE = 0.35
ORDER_WEIGHT = 0.5  # how much a scrambled word order lowers the reference match
MIN_WORDS = 40  # an interview answer under 40 words cannot show a rubric's worth of content
RESTATEMENT_AT = 0.9


@dataclass(frozen=True)
class _Rubric:
    kp: np.ndarray  # key point texts
    kp_example: np.ndarray  # for each key point, the example-answer sentence closest to it
    pitfalls: np.ndarray
    question: np.ndarray
    example_units: list[Unit]
    example: np.ndarray
    example_centroid: np.ndarray


def _unit_vectors(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    return embedder.embed_batch(list(texts))


def _prepare(question: Question, embedder: Embedder) -> _Rubric:
    example_units = split_units(question.example_answer)
    texts = [kp.text for kp in question.key_points] + [p.text for p in question.pitfalls] + [question.text]
    texts += [u.text for u in example_units]
    vectors = shared_vectors(embedder, texts)
    n_kp, n_p = len(question.key_points), len(question.pitfalls)
    kp = vectors[:n_kp]
    pitfalls = vectors[n_kp : n_kp + n_p]
    q = vectors[n_kp + n_p]
    example = vectors[n_kp + n_p + 1 :]
    if len(example):
        kp_example = example[(kp @ example.T).argmax(axis=1)]
        centroid = example.mean(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-9)
    else:
        kp_example = kp
        centroid = q
    return _Rubric(kp, kp_example, pitfalls, q, example_units, example, centroid)


def _dedupe(units: list[Unit]) -> tuple[list[Unit], int]:
    seen: set[str] = set()
    unique: list[Unit] = []
    repeated = 0
    for unit in units:
        key = " ".join(words(unit.text))
        if key in seen:
            repeated += 1
            continue
        seen.add(key)
        unique.append(unit)
    return unique, repeated


_FINISHED_RE = re.compile(r"[.!?][\"')\]]*\s*$")


def draft_units(draft: str) -> list[str]:
    """The sentences of an unfinished answer that grading the finished one will embed: every unit but the one
    being typed (the last, unless it already ends a sentence), each once. Splitting is the grader's own, so a
    sentence left unchanged in the submitted answer gives the same unit text (and the same cached vector)."""
    try:
        text = check_answer(draft)  # the grader's own checks and normalisation; a draft it refuses embeds nothing
    except InvalidInput:
        return []
    units = split_units(text)
    if units and not _FINISHED_RE.search(text):
        units = units[:-1]
    return [u.text for u in _dedupe(units)[0]]


def _credit(support: float) -> float:
    return float(np.clip((support - SUPPORT_LOW) / (SUPPORT_HIGH - SUPPORT_LOW), 0.0, 1.0))


def _round_half(x: float) -> float:
    return float(np.clip(np.floor(x * 2 + 0.5) / 2, 1.0, 5.0))


class Grader:
    """A grader bound to an embedder and a background; `grade` is pure for a fixed pair of them."""

    def __init__(self, embedder: Embedder | None = None, background: Background | None = None) -> None:
        self.embedder = embedder or default_embedder()
        self.background = background

    def prepare(self, question: Question) -> None:
        """Embed the question's rubric now (the embedder caches it), so its first answer is graded at full speed."""
        _prepare(question, self.embedder)

    def prepare_draft(self, draft: str, *, batch: int = 4, keep_going: Callable[[], bool] | None = None) -> int:
        """Embed the finished sentences of an answer still being written, into the embedder's memory cache only
        (`embed_batch` never writes an answer's vectors to disk), so grading the submitted answer embeds only
        what changed since. A few sentences at a time; stops early when `keep_going()` turns false. Returns
        how many sentences were sent to the embedder (already cached ones cost a hash lookup)."""
        texts = draft_units(draft)
        done = 0
        for start in range(0, len(texts), batch):
            if keep_going is not None and not keep_going():
                break
            chunk = texts[start : start + batch]
            self.embedder.embed_batch(chunk)
            done += len(chunk)
        return done

    def grade(
        self, question: Question, answer: str, *, seconds: float | None = None, reference_only: bool = False
    ) -> Grade:
        return grade(
            question,
            answer,
            seconds=seconds,
            embedder=self.embedder,
            background=self.background,
            reference_only=reference_only,
        )


def _negated_before(text: str, start: int) -> bool:
    """A negation among the five words before position `start` ("we would not simply drop ...")."""
    before = text[:start].split()[-5:]
    return has_negation(" ".join(before)) if before else False


def _pitfall_evidence(pitfall_cues: tuple[str, ...], unit: Unit, semantic: float, best_key_point: float) -> bool:
    for cue in pitfall_cues:
        match = cue_pattern(cue).search(unit.text)
        if match and not _negated_before(unit.text, match.start()):
            return True
    # Without a cue, only a sentence much closer to the pitfall than to any key point, and not negated.
    return semantic >= PITFALL_AT and semantic - best_key_point >= 0.12 and not has_negation(unit.text)


def grade(
    question: Question,
    answer: str,
    *,
    seconds: float | None = None,
    embedder: Embedder | None = None,
    background: Background | None = None,
    reference_only: bool = False,
) -> Grade:
    """Grade one answer. Pure: the same question, answer and background always give the same Grade."""
    text = check_answer(answer)
    if seconds is not None and not (isinstance(seconds, int | float) and 0 < seconds < 24 * 3600):
        raise InvalidInput(f"seconds must be a positive duration under a day; got {seconds!r}.")
    embedder = embedder or default_embedder()
    rubric = _prepare(question, embedder)
    all_units = split_units(text)
    units, repeated = _dedupe(all_units)
    vectors = _unit_vectors(embedder, [u.text for u in units])
    list_mask = np.array([gaming.is_list_unit(u) for u in units], dtype=bool)
    # A sentence that only restates the question is no evidence of an answer (bank example answers never
    # come closer to their question than 0.85).
    if len(units):
        list_mask |= (vectors @ rubric.question) >= RESTATEMENT_AT
        question_stems = {w[:5] for w in content_words(question.text)}
        for j, unit in enumerate(units):
            stems = [w[:5] for w in content_words(unit.text)]
            if len(stems) >= 4 and sum(w in question_stems for w in stems) >= 0.8 * len(stems):
                list_mask[j] = True
    n_kp = len(question.key_points)
    sim_kp = rubric.kp @ vectors.T if len(units) else np.zeros((n_kp, 0))
    sim_ex = rubric.kp_example @ vectors.T if len(units) else sim_kp
    semantic = np.maximum(sim_kp + 0.04, sim_ex)  # (key points, units)
    best_kp_per_unit = semantic.max(axis=0) if n_kp and len(units) else np.zeros(len(units))

    # Pitfalls first: a sentence that makes a pitfall is not evidence for any key point.
    pitfall_results: list[PitfallResult] = []
    pitfall_units: set[int] = set()
    for i, pitfall in enumerate(question.pitfalls):
        for j, unit in enumerate(units):
            if list_mask[j]:
                continue
            if _pitfall_evidence(
                pitfall.cues, unit, float(rubric.pitfalls[i] @ vectors[j]), float(best_kp_per_unit[j])
            ):
                pitfall_results.append(PitfallResult(id=pitfall.id, text=pitfall.text, evidence=unit.text))
                pitfall_units.add(j)
                break

    # Key points, heaviest first: each takes its best-supporting sentence; a sentence already used as
    # evidence supports further key points a little less (one sentence rarely makes several points).
    order = sorted(range(n_kp), key=lambda i: (-question.key_points[i].weight, i))
    uses = np.zeros(len(units))
    found: dict[int, tuple[float, int | None, tuple[str, ...], float]] = {}
    for i in order:
        kp = question.key_points[i]
        best, best_j, raw_best = 0.0, None, 0.0
        best_hits: tuple[str, ...] = ()
        for j, unit in enumerate(units):
            if list_mask[j] or j in pitfall_units:
                continue
            hits = cue_hits(kp.cues, unit.text)
            support = float(semantic[i, j]) + CUE_BONUS * min(len(hits), 2) - REUSE_PENALTY * uses[j]
            if support > best:
                best, best_j, best_hits, raw_best = support, j, hits, float(semantic[i, j])
        if best_j is not None and best >= PARTIAL_AT:
            uses[best_j] += 1
        found[i] = (best, best_j, best_hits, raw_best)

    results: list[KeyPointResult] = []
    positions: list[int | None] = []
    weighted_credit = 0.0
    for i, kp in enumerate(question.key_points):
        best, best_j, best_hits, raw_best = found[i]
        status = "covered" if best >= COVERED_AT else "partial" if best >= PARTIAL_AT else "missing"
        weighted_credit += kp.weight * _credit(best)
        has_evidence = best_j is not None and status != "missing"
        # Where the answer first makes the point, for the order of its structure: a point raised early and
        # elaborated at the end was still raised early (adding a sentence must never break the order).
        first_j = best_j
        if has_evidence and best_j is not None:
            first_j = next(
                (
                    j
                    for j in range(best_j)
                    if not list_mask[j] and j not in pitfall_units and float(semantic[i, j]) >= PARTIAL_AT
                ),
                best_j,
            )
        positions.append(first_j if has_evidence else None)
        results.append(
            KeyPointResult(
                id=kp.id,
                text=kp.text,
                weight=kp.weight,
                status=status,  # type: ignore[arg-type]
                similarity=round(raw_best, 4),
                cue_hits=best_hits if has_evidence else (),
                evidence=units[best_j].text if has_evidence and best_j is not None else None,
            )
        )
    total_weight = question.total_weight()
    coverage = weighted_credit / total_weight if total_weight else 0.0

    # Relevance: the answer against this question, its example answer, its vocabulary and the background.
    content_units = [j for j in range(len(units)) if not list_mask[j]]
    answer_centroid = centroid(vectors[content_units]) if content_units else np.zeros(384, dtype=np.float32)
    topic = float(answer_centroid @ rubric.question)
    example_sim = float(answer_centroid @ rubric.example_centroid)
    q_margin, e_margin = (
        background.margin(answer_centroid, rubric.question, rubric.example_centroid) if background else (0.0, 0.0)
    )
    vocabulary = lexical_share(text, question)

    flags: list[Flag] = []
    injection = gaming.detect_injection(text)
    if injection:
        flags.append(injection)
    stuffing = gaming.detect_keyword_stuffing(text, units, min_words=4 if reference_only else 10)
    if stuffing is None:
        stuffing = gaming.detect_jumble(text, question.example_answer, short=reference_only)
    if stuffing is None and reference_only:
        stuffing = gaming.detect_keyword_run(units, question.example_answer, question.text)
    if stuffing is None:
        stuffing = gaming.detect_scrambled(text)
    if stuffing is None:
        stuffing = gaming.detect_cue_list(units, [c for kp in question.key_points for c in kp.cues])
    if stuffing:
        flags.append(stuffing)
    if not reference_only and rubric.example_units and len(units) >= 2:
        near = (vectors @ rubric.example.T).max(axis=1) >= 0.9
        copy = gaming.detect_copy(text, question.example_answer, float(near.mean()))
        if copy:
            flags.append(copy)
    # Repeated sentences count once: five copies of a short answer are still a short answer (G7).
    n_words = sum(len(words(u.text)) for u in units) if repeated else len(words(text))
    min_words = MIN_WORDS if not reference_only else max(3, len(words(question.example_answer)) // 4)
    if n_words < min_words:
        counted = f"{n_words} words (not counting repeats)" if repeated else f"{n_words} words"
        flags.append(
            Flag(
                code="too_short",
                reason=f"{counted} is too short to show what the question asks for; aim for 150-400 words.",
            )
        )
    restated = gaming.detect_restatement(text, question.text) if not stuffing else None
    if restated:
        flags.append(restated)
    elif (
        not stuffing
        and not reference_only
        and _off_topic(n_words, coverage, topic, q_margin + e_margin, vocabulary, background is not None)
    ):
        flags.append(
            Flag(
                code="off_topic",
                reason="The answer reads as a reply to a different question: it does not address what was asked.",
                evidence=units[0].text[:200] if units else None,
            )
        )
    if repeated >= 2 or (repeated and repeated >= len(units)):
        flags.append(Flag(code="repetition", reason="Parts of the answer are repeated; repeats earn nothing."))

    # Structure, specificity and delivery read only the units that carry content for this question.
    relevant = [
        units[j]
        for j in content_units
        if float(best_kp_per_unit[j]) >= SUPPORT_LOW or float(vectors[j] @ rubric.question) >= 0.3
    ]
    structure = assess_structure(question, units, positions)
    specificity = assess_specificity(relevant)
    delivery = assess_delivery(text, units, repeated, seconds)

    match = reference_match(embedder, question.text, text, question.example_answer) if reference_only else None
    if match is not None:
        # Short reference answers: the key points are clauses of one sentence, so the whole-answer match
        # (question words demoted) carries as much weight as clause coverage.
        coverage = 0.5 * coverage + 0.5 * float(np.clip((match - 0.2) / 0.5, 0.0, 1.0))
    score = _score(coverage, specificity.score, structure.complete, structure.expected, len(pitfall_results))
    for flag in flags:
        cap = SCORE_CAPS.get(flag.code)
        if cap is not None:
            score = min(score, cap)
    score = _round_half(score)

    feedback = write_feedback(question, score, results, pitfall_results, structure, specificity, delivery, flags)
    return Grade(
        question_id=question.id,
        score=score,
        coverage=round(coverage, 4),
        relevance={
            "question": round(topic, 4),
            "example_answer": round(example_sim, 4),
            "background_margin": round(q_margin + e_margin, 4),
            "vocabulary": round(vocabulary, 4),
            **({"reference_match": round(match, 4)} if match is not None else {}),
        },
        key_points=tuple(results),
        pitfalls=tuple(pitfall_results),
        structure=structure,
        specificity=specificity,
        delivery=delivery,
        flags=tuple(flags),
        feedback=feedback,
        engine=Engine(version=ENGINE_VERSION, embedder=getattr(embedder, "id", type(embedder).__name__)),
        reference_only=reference_only,
    )


def _demote(text: str, question_stems: set[str]) -> str:
    kept = [w for w in words(text) if w[:5] not in question_stems]
    return " ".join(kept)


def reference_match(
    embedder: Embedder, question_text: str, answer: str, reference: str, alternatives: Sequence[str] = ()
) -> float:
    """How well a short answer matches a reference answer, with the question's own words demoted.

    Words the question already contains are no evidence that the answer is right (restating the question
    earns nothing), so they are removed before comparing (question demoting, as in Sultan et al. 2016).
    The result averages three views: the plain cosine and the cosine of the demoted texts (best over the
    reference and any alternative references), and the share of the main reference's demoted content
    words that the answer uses (alternatives are often bare keyword lists, too easy to "recall").
    """
    question_stems = {w[:5] for w in content_words(question_text)}
    references = [reference, *[a for a in alternatives if a.strip()]]
    demoted_refs = [d for d in (_demote(r, question_stems) for r in references) if d]
    demoted_answer = _demote(answer, question_stems)
    texts = [answer, *references, *([demoted_answer, *demoted_refs] if demoted_answer and demoted_refs else [])]
    vectors = embedder.embed_batch(texts)
    n = len(references)
    plain = float((vectors[1 : 1 + n] @ vectors[0]).max())
    # An answer made only of the question's words has nothing left to compare: no credit from this view
    # (it used to compare "nothing" with "nothing" and score 1.0 against references that also vanish).
    demoted = (
        float((vectors[2 + n :] @ vectors[1 + n]).max()) if len(texts) > 1 + n else (plain if not demoted_refs else 0.0)
    )
    ref_words = {w[:5] for w in content_words(reference)} - question_stems
    ans_words = {w[:5] for w in content_words(answer)} - question_stems
    if ref_words:
        recall = len(ref_words & ans_words) / len(ref_words)
    else:
        all_ref = {w[:5] for w in content_words(reference)}
        recall = len(all_ref & {w[:5] for w in content_words(answer)}) / max(1, len(all_ref))
    # Embeddings barely see word order: a reshuffled reference would match perfectly without this.
    order = gaming.order_kept(answer, reference)
    return (plain + demoted + recall) / 3 * (1 - ORDER_WEIGHT + ORDER_WEIGHT * order)


def lexical_share(text: str, question: Question) -> float:
    """Share of the answer's content words (by 5-letter stem) that the question's own material uses."""
    material = " ".join(
        [question.text, question.why_asked, question.example_answer]
        + [kp.text + " " + " ".join(kp.cues) for kp in question.key_points]
        + [p.text for p in question.pitfalls]
    )
    vocab = {w[:5] for w in content_words(material)}
    answer_words = content_words(text)
    if not answer_words:
        return 0.0
    return sum(w[:5] in vocab for w in answer_words) / len(answer_words)


def _off_topic(
    n_words: int, coverage: float, topic: float, margin: float, vocabulary: float, contrastive: bool
) -> bool:
    """Fluent but about something else: little coverage, and at least two independent signals agree."""
    if n_words < MIN_WORDS or coverage >= OFF_TOPIC_MAX_COVERAGE:
        return False
    far_from_question = topic < 0.36
    foreign_vocabulary = vocabulary < 0.3
    closer_elsewhere = contrastive and margin <= -0.27
    if closer_elsewhere:
        return far_from_question or foreign_vocabulary or coverage < 0.2
    return far_from_question and foreign_vocabulary


def _score(coverage: float, specificity: float, structure_complete: bool, expected: str, pitfalls: int) -> float:
    raw = 1.0 + 3.6 * coverage + 0.8 * specificity * coverage
    if expected != "none" and coverage >= 0.3:
        raw += 0.2 if structure_complete else -0.2
    if pitfalls:
        raw -= min(PITFALL_PENALTY * (1 + 0.5 * (pitfalls - 1)), 2 * PITFALL_PENALTY)
    return float(np.clip(raw, 1.0, 5.0))
