"""Load what a worker shares for the KG job: graph, entity index, node-name embeddings (pure).

``load_resources(spec)`` is called once per worker process (``transforms.kg.transforms`` holds the
result in a ``Shared`` handle); node-name embeddings are cached on local disk by graph fingerprint,
so a rerun or a second worker on the same machine does not encode the names again.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
from dataclasses import dataclass
from typing import Optional

import numpy as np

from transforms.kg import graph as kg_graph
from transforms.kg.linking import EntityIndex, read_synonyms
from transforms.kg.reason import KgResources

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KgSpec:
    """Where the graph is and how to link to it. Paths are local files (the Beam side copies
    ``gs://`` inputs to local files first)."""
    kg_paths: tuple[str, ...]
    kg_format: str = "auto"
    synonyms_path: Optional[str] = None
    embedding: bool = True
    embedding_node_types: tuple[str, ...] = ()  # empty = every node
    embedding_model: Optional[str] = None  # a sentence-transformers model folder; None = the packaged one
    cache_dir: Optional[str] = None


def _embedding_cache_path(spec: KgSpec, fingerprint: str, model: str) -> Optional[str]:
    if not spec.cache_dir:
        return None
    key = hashlib.sha256("\x1f".join([fingerprint, model, *spec.embedding_node_types]).encode()).hexdigest()[:16]
    return os.path.join(spec.cache_dir, f"node-embeddings-{key}.npy")


class CachedEncoder:
    """``encode`` with a bounded per-process memory of texts already encoded (question phrases
    such as "physical examination" recur across thousands of questions)."""

    def __init__(self, encode, max_entries: int = 50_000):
        self._encode, self._max = encode, max_entries
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()  # DoFn threads of a worker share one encoder
        self.hits = self.misses = 0

    def __call__(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            found = {t: self._cache[t] for t in texts if t in self._cache}
        todo = [t for t in dict.fromkeys(texts) if t not in found]
        if todo:
            found.update(zip(todo, self._encode(todo)))
            with self._lock:
                if len(self._cache) + len(todo) > self._max:
                    self._cache.clear()
                self._cache.update((t, found[t]) for t in todo)
        with self._lock:
            self.hits += len(texts) - len(todo)
            self.misses += len(todo)
        return np.stack([found[t] for t in texts])


def load_resources(spec: KgSpec) -> KgResources:
    """Graph + entity index (+ node embeddings and an encoder when ``spec.embedding``)."""
    graph = kg_graph.load_graph(list(spec.kg_paths), fmt=spec.kg_format)
    synonyms = []
    if spec.synonyms_path:
        with open(spec.synonyms_path, encoding="utf-8") as f:
            synonyms = read_synonyms(f.read())
    index = EntityIndex.build(graph.node_ids, graph.node_names, graph.node_types, synonyms)
    encode = None
    if spec.embedding:
        from transforms.kg.embedding import SentenceEncoder
        encoder = SentenceEncoder(spec.embedding_model)
        types = set(spec.embedding_node_types)
        nodes = np.array([i for i, t in enumerate(graph.node_types)
                          if graph.node_names[i] and (not types or t in types)], dtype=np.int64)
        if not len(nodes):
            known = sorted({t for t in graph.node_types if t})
            raise ValueError(f"no node of the embedding types {sorted(types)} in the graph; its types are "
                             f"{known[:20]}")
        cache = _embedding_cache_path(spec, graph.fingerprint, spec.embedding_model or "packaged-all-MiniLM-L6-v2")
        if cache and os.path.exists(cache):
            matrix = np.load(cache)
        else:
            log.info("encoding %d node names", len(nodes))
            matrix = encoder.encode([graph.node_names[i] for i in nodes]).astype(np.float32)
            if cache:
                os.makedirs(os.path.dirname(cache), exist_ok=True)
                tmp = f"{cache}.{os.getpid()}.tmp.npy"
                np.save(tmp, matrix)
                os.replace(tmp, cache)
        if len(matrix) != len(nodes):
            raise ValueError(f"node embedding cache {cache} holds {len(matrix)} rows for {len(nodes)} nodes")
        index.embeddings, index.embedded_nodes = matrix, nodes
        encode = CachedEncoder(encoder.encode)
    return KgResources(graph=graph, index=index, encode=encode)
