"""Determinism (same input, same Grade JSON), the embedders (numpy forward pass = sentence-transformers), the
embedding caches, and proof that grading never needs the network."""

from __future__ import annotations

import os
import socket

import numpy as np
import pytest
import pytest_socket
from _grading_fixtures import LOADED_WITH, OFFLINE_ENV, load_devset, sockets_blocked
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coach.grading.embedders import CachedEmbedder, DiskCache, MiniLMEmbedder, OnnxEmbedder
from coach.grading.engine import Grader, draft_units
from coach.grading.engine import grade as grade_fn
from coach.grading.model import Grade
from coach.grading.text import check_answer, split_units

pytest_plugins = ["_grading_fixtures"]  # the shared `grader` and `devset` fixtures
pytestmark = pytest.mark.disable_socket

SENTENCES = [
    "Demographic parity asks that every group receives the positive outcome at the same rate.",
    "Fairness",
    "Under the LGPD, Article 20 gives people the right to ask for a review of automated decisions.",
    "We'd pause the rollout, tell affected customers, and re-measure false positive rates per group — então seguimos.",
    " ".join(["The audit compared selection rates, error rates and calibration for every intersectional group."] * 30),
]
SAMPLE_ANSWERS = ["dev-02-excellent", "dev-07-good", "dev-11-non_native", "dev-05-injection", "dev-03-poor"]


@pytest.fixture(scope="module")
def fresh_model():
    """A second, independently loaded copy of the model (no cache in front of it)."""
    return MiniLMEmbedder()


# --- the network ---


@pytest.mark.filterwarnings("ignore:A test tried to use socket:UserWarning")
def test_grading_tests_run_with_sockets_blocked():
    assert sockets_blocked()
    with pytest.raises(pytest_socket.SocketBlockedError):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with pytest.raises(pytest_socket.SocketBlockedError):
        socket.getaddrinfo("huggingface.co", 443)


def test_the_shared_grader_was_loaded_offline_with_sockets_blocked(grader):
    assert LOADED_WITH["sockets_blocked"] is True
    assert LOADED_WITH["env"] == OFFLINE_ENV
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert len(grader.background) >= 100  # the shipped bank was embedded as background


def test_the_model_loads_from_the_installed_package_and_embeds_with_sockets_blocked(fresh_model):
    embedder = fresh_model
    vectors = embedder.embed_batch(SENTENCES[:2])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.path.is_dir() and (embedder.path / "model.safetensors").is_file()


# --- determinism ---


@pytest.mark.parametrize("answer_id", SAMPLE_ANSWERS)
def test_grading_the_same_answer_twice_gives_identical_json(grader, devset, answer_id):
    item = devset.answer(answer_id)
    question = devset.questions[item["question_id"]]
    first = grader.grade(question, item["text"], seconds=90).model_dump_json()
    second = grader.grade(question, item["text"], seconds=90).model_dump_json()
    assert first == second


def test_a_fresh_grader_with_a_freshly_loaded_model_gives_identical_json(grader, devset):
    fresh = Grader(CachedEmbedder(type(grader.embedder.inner)()), grader.background)  # same backend, new load
    for answer_id in ("dev-02-excellent", "dev-02-poor"):  # one question: its rubric is embedded afresh once
        item = devset.answer(answer_id)
        question = devset.questions[item["question_id"]]
        assert (
            fresh.grade(question, item["text"]).model_dump_json()
            == grader.grade(question, item["text"]).model_dump_json()
        )


def test_a_grade_survives_a_json_round_trip(grader, devset):
    grade = grader.grade(devset.questions["dev-06"], devset.text("dev-06-good"))
    assert Grade.model_validate_json(grade.model_dump_json()) == grade


def _sentence_pool() -> dict[str, list[str]]:
    loaded = load_devset()
    if loaded is None:
        return {}
    pool: dict[str, list[str]] = {}
    for item in loaded.answers:
        pool.setdefault(item["question_id"], []).extend(u.text for u in split_units(check_answer(item["text"])))
    return pool


POOL = _sentence_pool()


@st.composite
def devset_mixtures(draw):
    """Answers assembled from dev-set sentences of one question (all already embedded: fast to grade)."""
    question_id = draw(st.sampled_from(sorted(POOL)))
    sentences = draw(st.lists(st.sampled_from(POOL[question_id]), min_size=1, max_size=12))
    joiner = draw(st.sampled_from([" ", "\n", "\n\n"]))
    return question_id, joiner.join(sentences)


@pytest.mark.skipif(not POOL, reason="no dev set")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(devset_mixtures())
def test_any_answer_grades_to_a_half_point_score_with_evidence_from_its_own_sentences_and_the_same_json_again(
    grader, devset, case
):
    question_id, answer = case
    question = devset.questions[question_id]
    grade = grader.grade(question, answer)
    assert 1.0 <= grade.score <= 5.0 and (grade.score * 2).is_integer()
    units = {u.text for u in split_units(check_answer(answer))}
    assert all(kp.evidence is None or kp.evidence in units for kp in grade.key_points)
    assert all(p.evidence in units for p in grade.pitfalls)
    assert grader.grade(question, answer).model_dump_json() == grade.model_dump_json()


# --- embedders: numpy forward pass versus the sentence-transformers reference ---


@pytest.fixture(scope="module")
def reference_embedder(grader):  # after the shared grader, so HF_HUB_OFFLINE is already set
    from coach.grading.embedders import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


def test_the_numpy_embedder_agrees_with_sentence_transformers(reference_embedder, fresh_model):
    ours = fresh_model.embed_batch(SENTENCES)
    reference = reference_embedder.embed_batch(SENTENCES)
    cosines = (ours * reference).sum(axis=1)
    assert cosines.min() >= 0.9999, cosines
    assert np.abs(ours - reference).max() < 1e-3


def test_both_embedders_name_the_same_model_and_their_backend(grader, reference_embedder):
    numpy_id, reference_id = grader.embedder.id, reference_embedder.id
    assert numpy_id.rsplit("/", 1)[0] == reference_id.rsplit("/", 1)[0]
    assert reference_id.endswith("/sentence-transformers")
    assert numpy_id.endswith("/onnxruntime")  # the default backend


def test_the_default_onnx_embedder_agrees_with_the_numpy_pass(grader, fresh_model):
    texts = [*SENTENCES, "x " * 400]
    ours = grader.embedder.inner.embed_batch(texts)
    numpy_pass = fresh_model.embed_batch(texts)
    assert np.abs(ours - numpy_pass).max() < 1e-5
    assert grader.embedder.inner.count_tokens("x " * 400) == fresh_model.count_tokens("x " * 400) == 400


def test_without_onnxruntime_the_default_falls_back_to_the_numpy_pass(monkeypatch):
    import sys

    from coach.grading.embedders import make_embedder

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    embedder = make_embedder("onnx")
    assert embedder.id.endswith("/numpy")
    assert embedder.embed_batch(["Consent must be specific."]).shape == (1, 384)


def test_an_unknown_backend_is_a_clear_error():
    from coach.errors import CoachError
    from coach.grading.embedders import make_embedder

    with pytest.raises(CoachError, match="onnx"):
        make_embedder("gpu-please")


def test_grading_with_the_reference_embedder_records_its_id_and_gives_the_same_result(
    devset, reference_embedder, fresh_model
):
    question, text = devset.questions["dev-10"], devset.text("dev-10-good")
    ours = grade_fn(question, text, embedder=fresh_model)
    theirs = grade_fn(question, text, embedder=reference_embedder)
    assert theirs.engine.embedder == reference_embedder.id != ours.engine.embedder
    assert theirs.score == ours.score
    assert [k.status for k in theirs.key_points] == [k.status for k in ours.key_points]
    assert [k.evidence for k in theirs.key_points] == [k.evidence for k in ours.key_points]


def test_the_model_window_is_256_word_pieces_so_text_beyond_it_is_ignored(grader):
    long = SENTENCES[-1]
    assert grader.embedder.inner.count_tokens(long) > 256
    vectors = grader.embedder.embed_batch([long, long + " And then an unrelated tail about gardening and the weather."])
    assert float(vectors[0] @ vectors[1]) > 0.9999  # why the grader cuts answers into units of at most 60 words


# --- caches ---


class CountingEmbedder:
    id = "counting/1"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed_batch(self, texts):
        self.calls.append(list(texts))
        return np.stack([np.full(384, float(len(t)), dtype=np.float32) for t in texts])


def test_the_cache_embeds_each_distinct_text_once_and_returns_rows_in_order():
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner)
    first = cached.embed_batch(["a", "bb", "a"])
    second = cached.embed_batch(["bb", "ccc"])
    assert inner.calls == [["a", "bb"], ["ccc"]]
    assert [row[0] for row in first] == [1.0, 2.0, 1.0]
    assert [row[0] for row in second] == [2.0, 3.0]
    assert cached.id == inner.id


def test_the_disk_cache_serves_shared_vectors_to_a_new_process_without_embedding_again(tmp_path):
    path = tmp_path / "cache" / "embeddings.sqlite"
    CachedEmbedder(CountingEmbedder(), disk=DiskCache(path, "counting")).embed_shared(["alpha", "beta"])
    inner = CountingEmbedder()
    vectors = CachedEmbedder(inner, disk=DiskCache(path, "counting")).embed_shared(["beta", "alpha", "gamma"])
    assert inner.calls == [["gamma"]]
    assert [row[0] for row in vectors] == [4.0, 5.0, 5.0]


def test_answer_texts_are_cached_in_memory_but_never_written_to_disk(tmp_path):
    path = tmp_path / "cache" / "embeddings.sqlite"
    first = CachedEmbedder(CountingEmbedder(), disk=DiskCache(path, "counting"))
    first.embed_batch(["my private answer"])
    first.embed_batch(["my private answer"])
    assert first.misses == 1 and first.hits == 1
    inner = CountingEmbedder()
    CachedEmbedder(inner, disk=DiskCache(path, "counting")).embed_batch(["my private answer"])
    assert inner.calls == [["my private answer"]]


def test_the_disk_cache_keeps_models_apart(tmp_path):
    path = tmp_path / "embeddings.sqlite"
    CachedEmbedder(CountingEmbedder(), disk=DiskCache(path, "model-a")).embed_shared(["alpha"])
    inner = CountingEmbedder()
    CachedEmbedder(inner, disk=DiskCache(path, "model-b")).embed_shared(["alpha"])
    assert inner.calls == [["alpha"]]


def test_an_lru_cache_that_is_full_still_returns_every_row():
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, max_items=2)
    vectors = cached.embed_batch(["a", "bb", "ccc", "dddd"])
    assert [row[0] for row in vectors] == [1.0, 2.0, 3.0, 4.0]


# --- length-bucketed batches ---


@given(st.lists(st.integers(min_value=1, max_value=256), max_size=80), st.integers(min_value=1, max_value=32))
@settings(max_examples=200, deadline=None)
def test_length_batches_partition_the_texts_and_never_pad_more_than_one_batch(lengths, max_batch):
    from coach.grading.embedders import BATCH_OVERHEAD_TOKENS, length_batches

    batches = length_batches(lengths, max_batch=max_batch)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert all(1 <= len(b) <= max_batch for b in batches)
    cost = sum(len(b) * max(lengths[i] for i in b) + BATCH_OVERHEAD_TOKENS for b in batches)
    # The greedy split into consecutive sorted chunks of max_batch is one candidate the programme considers.
    ordered = sorted(lengths)
    chunks = [ordered[k : k + max_batch] for k in range(0, len(ordered), max_batch)]
    assert cost <= sum(len(c) * c[-1] + BATCH_OVERHEAD_TOKENS for c in chunks)
    assert batches == length_batches(lengths, max_batch=max_batch)


def test_mixed_lengths_are_split_rather_than_padded_to_the_longest():
    from coach.grading.embedders import length_batches

    batches = length_batches([8, 9, 10, 11, 120, 12, 9])
    assert [4] in batches  # the 120-token text is not allowed to pad six short ones


def test_bucketed_vectors_equal_one_text_at_a_time(fresh_model):
    texts = [s for s in SENTENCES] + ["Short.", "A medium sentence about consent and purpose limitation under GDPR."]
    together = fresh_model.embed_batch(texts)
    alone = np.stack([fresh_model.embed_batch([t])[0] for t in texts])
    assert np.abs(together - alone).max() < 1e-5


def test_an_onnx_vector_is_the_same_bit_for_bit_whatever_it_is_batched_with():
    """The default backend's vector of a text must not depend on its batch (size, mates, padding): cached
    vectors (from an autosaved draft or another answer) then equal freshly computed ones exactly."""
    model = OnnxEmbedder()
    texts = [*SENTENCES[:4], "Short.", "Odd.", "We would audit the model with legal before launch, then report."]
    alone = {t: model.embed_batch([t])[0] for t in texts}
    for start in range(len(texts)):
        for size in (2, 3, len(texts)):
            batch = (texts[start:] + texts[:start])[:size]
            together = model.embed_batch(batch)
            for row, text in zip(together, batch, strict=True):
                assert np.array_equal(row, alone[text]), (text, float(np.abs(row - alone[text]).max()))


def test_draft_units_are_the_finished_sentences_the_grader_will_embed():
    assert draft_units("We audit the model first. Then we tell the regul") == ["We audit the model first."]
    assert draft_units("We audit the model first. Then we tell them.") == [
        "We audit the model first.",
        "Then we tell them.",
    ]
    assert draft_units("Same point. Same point. Then") == ["Same point."]
    assert draft_units("") == [] and draft_units("   ") == [] and draft_units("nul\x00") == []
    answer = "We audit the model first. Then we tell them. Finally we fix it."
    graded = {u.text for u in split_units(check_answer(answer))}
    assert set(draft_units(answer[:40])) <= graded


def test_grading_after_a_draft_was_prepared_gives_the_same_json_as_a_cold_grade(grader, devset):
    """Autosave embeds a draft's sentences ahead of the submit; the grade must not know it happened."""
    item = devset.answer("dev-02-excellent")
    question = devset.questions[item["question_id"]]
    text = item["text"]
    cold = Grader(CachedEmbedder(grader.embedder.inner), grader.background)
    warmed = Grader(CachedEmbedder(grader.embedder.inner), grader.background)
    warmed.prepare(question)
    draft = text[: len(text) * 2 // 3]
    assert warmed.prepare_draft(draft) == len(draft_units(draft)) >= 2
    misses = warmed.embedder.misses
    assert warmed.grade(question, text).model_dump_json() == cold.grade(question, text).model_dump_json()
    answer_units = {u.text for u in split_units(check_answer(text))}
    assert warmed.embedder.misses - misses == len(answer_units - set(draft_units(draft)))  # only the rest
