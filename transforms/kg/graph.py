"""Knowledge-graph loading and bounded shortest-path search over a compact CSR adjacency.

The graph is built once from one or more files (PrimeKG ``kg.csv``, Hetionet TSV/SIF or JSON,
plain ``head<TAB>relation<TAB>tail`` triples) and is then immutable. Nodes are stored sorted by
node id, so a node's index depends only on the graph's content, never on the input order.

Traversal is undirected: every distinct pair of adjacent nodes is one undirected edge, stored
twice in the CSR arrays (once from each end). When several KG edges join the same pair, the edge
whose relation name sorts first is kept (ties: the edge stored from the lower node index), and
the others are counted in :meth:`KnowledgeGraph.stats`. ``fwd`` records the direction of the kept
KG edge, so a path can be read back as KG triples (:func:`path_steps`).

Path search (:func:`shortest_paths`, :func:`many_to_many`) is a bidirectional breadth-first
search bounded by ``max_hops``, expanding the side whose frontier has the fewer incident edges,
followed by an enumeration of the shortest paths through the meeting layer in lexicographic order
of the node-index sequence, stopping after ``max_paths`` paths.
"""
from __future__ import annotations

import bisect
import csv
import gzip
import hashlib
import io
import json
import os
import re
from array import array
from typing import Iterable, Iterator, Optional

import numpy as np

__all__ = [
    "KnowledgeGraph", "GraphBuilder", "build_graph", "load_primekg", "load_hetionet",
    "load_hetionet_json", "load_triples_tsv", "load_graph", "detect_format", "shortest_paths",
    "path_steps", "many_to_many",
]

PRIMEKG_HEADER = ["relation", "display_relation", "x_index", "x_id", "x_type", "x_name", "x_source",
                  "y_index", "y_id", "y_type", "y_name", "y_source"]
HETIONET_NODES_HEADER = ["id", "name", "kind"]
HETIONET_SIF_HEADER = ["source", "metaedge", "target"]
TRIPLES_HEADER = ["head", "relation", "tail"]
MAX_HOPS_LIMIT = 100
# frontiers with at most this many incident edges are grown in plain Python, larger ones with
# vectorised numpy gathers (measured by bench/path_search.py --expand_threshold)
PY_EXPAND_MAX_VOLUME = 256
_MISSING_SHOWN = 5


# --------------------------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------------------------

def _open_text(path: str) -> io.TextIOBase:
    """Open ``path`` (str) for reading text (UTF-8, BOM dropped), gunzipping it when its first
    two bytes are the gzip magic number, whatever its name."""
    with open(path, "rb") as f:
        magic = f.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, "r", encoding="utf-8-sig", newline="")


def _tsv_rows(path: str) -> Iterator[tuple[int, list[str]]]:
    """(line number from 1, fields) for every non-blank line of a TSV file (str path)."""
    with _open_text(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if line.strip():
                yield lineno, line.split("\t")


def _first_line(path: str) -> str:
    with _open_text(path) as f:
        for line in f:
            if line.strip():
                return line.rstrip("\r\n")
    return ""


def detect_format(path: str) -> str:
    """The kind of a KG file (str path), from its first non-blank line: ``primekg``,
    ``hetionet_nodes``, ``hetionet_sif``, ``hetionet_metaedges``, ``hetionet_json`` or ``triples``
    (any other file with three tab-separated columns). Raises ValueError otherwise."""
    first = _first_line(path)
    if first.lstrip().startswith("{"):
        return "hetionet_json"
    if first.split(",")[:3] == PRIMEKG_HEADER[:3]:
        return "primekg"
    cols = first.split("\t")
    if cols[:3] == HETIONET_NODES_HEADER:
        return "hetionet_nodes"
    if cols[:3] == HETIONET_SIF_HEADER:
        return "hetionet_sif"
    if cols[:2] == ["metaedge", "abbreviation"]:
        return "hetionet_metaedges"
    if len(cols) == 3:
        return "triples"
    raise ValueError(f"{path}:1: unrecognised knowledge-graph file (first line {first[:80]!r})")


def read_metaedges(path: str) -> dict[str, str]:
    """Hetionet ``metaedges.tsv`` (str path; columns metaedge, abbreviation, ...) as
    {abbreviation: edge kind}, the kind being the middle word(s) of the metaedge name
    ("Compound - treats - Disease" -> "treats", "Gene > regulates > Gene" -> "regulates")."""
    out: dict[str, str] = {}
    for lineno, cols in _tsv_rows(path):
        if lineno == 1 and cols[:2] == ["metaedge", "abbreviation"]:
            continue
        if len(cols) < 2:
            raise ValueError(f"{path}:{lineno}: expected at least 2 tab-separated columns, got {len(cols)}")
        parts = re.split(r" [->] ", cols[0])
        if len(parts) != 3 or not parts[1].strip():
            raise ValueError(f"{path}:{lineno}: cannot read the edge kind of metaedge {cols[0]!r}")
        out[cols[1]] = parts[1].strip()
    return out


# --------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------

class GraphBuilder:
    """Accumulates nodes and edges from any number of sources, then builds a KnowledgeGraph.

    Node ids and relation names are interned as they arrive; edges are kept as three integer
    arrays, so a builder holding millions of edges stays compact.

    ``allow_missing_nodes`` (bool): an edge whose endpoint was never declared by a nodes table
    (:meth:`add_node`) is skipped and counted instead of being an error. Edges added with
    ``declare=True`` (PrimeKG rows, triples) declare their own endpoints.
    """

    def __init__(self, allow_missing_nodes: bool = False):
        self.allow_missing_nodes = allow_missing_nodes
        self._index: dict[str, int] = {}
        self._names: list[Optional[str]] = []
        self._types: list[Optional[str]] = []
        self._rel_index: dict[str, int] = {}
        self._heads = array("l")
        self._tails = array("l")
        self._rels = array("l")
        self._missing: list[str] = []
        self.counts = {"input_edges": 0, "missing_endpoint_edges": 0, "node_attribute_conflicts": 0}
        self.sources: list[str] = []

    def _node(self, node_id: str, name: Optional[str], ntype: Optional[str]) -> int:
        i = self._index.get(node_id)
        if i is None:
            i = len(self._names)
            self._index[node_id] = i
            self._names.append(name)
            self._types.append(ntype)
        elif self._names[i] != name or self._types[i] != ntype:
            self.counts["node_attribute_conflicts"] += 1
        return i

    def add_node(self, node_id: str, name: Optional[str], ntype: Optional[str]) -> None:
        """Declare a node (str id, str name, str or None type). A second declaration of the same
        id with other attributes keeps the first and is counted as a conflict."""
        self._node(node_id, name, ntype)

    def add_edge(self, head: str, relation: str, tail: str, where: str = "",
                 head_attrs: Optional[tuple] = None, tail_attrs: Optional[tuple] = None) -> None:
        """Add the KG edge ``head --relation--> tail`` (str node ids, str relation). When
        ``head_attrs``/``tail_attrs`` ((name, type) tuples) are given the endpoint is declared by
        the edge itself; otherwise it must already be declared. ``where`` (str, "file:line") is
        used in the error for a missing endpoint."""
        self.counts["input_edges"] += 1
        if head_attrs is not None:
            h = self._node(head, *head_attrs)
        else:
            h = self._index.get(head, -1)
        if tail_attrs is not None:
            t = self._node(tail, *tail_attrs)
        else:
            t = self._index.get(tail, -1)
        if h < 0 or t < 0:
            self.counts["missing_endpoint_edges"] += 1
            if len(self._missing) < _MISSING_SHOWN:
                missing = [x for x, i in ((head, h), (tail, t)) if i < 0]
                self._missing.append(f"{where}: {', '.join(missing)}")
            return
        r = self._rel_index.get(relation)
        if r is None:
            r = self._rel_index[relation] = len(self._rel_index)
        self._heads.append(h)
        self._tails.append(t)
        self._rels.append(r)

    def build(self, name: str = "") -> "KnowledgeGraph":
        """The immutable KnowledgeGraph (``name``: str). Raises ValueError listing the first few
        edges with undeclared endpoints unless ``allow_missing_nodes``."""
        if self._missing and not self.allow_missing_nodes:
            n = self.counts["missing_endpoint_edges"]
            raise ValueError(f"{n} edge(s) reference nodes missing from the nodes table; first: "
                             + "; ".join(self._missing))
        ids = list(self._index)
        n = len(ids)
        order = sorted(range(n), key=ids.__getitem__)
        perm = np.empty(n, dtype=np.int64)
        perm[np.asarray(order, dtype=np.int64)] = np.arange(n, dtype=np.int64)
        rel_names = sorted(self._rel_index)
        rel_perm = np.empty(len(rel_names), dtype=np.int64)
        for new, rname in enumerate(rel_names):
            rel_perm[self._rel_index[rname]] = new
        heads = perm[_as_int64(self._heads)]
        tails = perm[_as_int64(self._tails)]
        rels = rel_perm[_as_int64(self._rels)]
        return KnowledgeGraph._from_edges(
            name=name,
            node_ids=tuple(ids[i] for i in order),
            node_names=tuple(self._names[i] for i in order),
            node_types=tuple(self._types[i] for i in order),
            relations=tuple(rel_names),
            heads=heads, tails=tails, rels=rels,
            counts=dict(self.counts), sources=list(self.sources))

    # ---------------------------------------------------------------- file readers

    def read_primekg(self, path: str) -> None:
        """Rows of a PrimeKG ``kg.csv`` (str path). Node id ``<source>:<id>``, name, type from the
        x_/y_ columns; relation = display_relation, or relation when that is empty."""
        self.sources.append(path)
        with _open_text(path) as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None or [h.strip() for h in header[:12]] != PRIMEKG_HEADER:
                raise ValueError(f"{path}:1: expected the PrimeKG header {','.join(PRIMEKG_HEADER)}")
            col = {h.strip(): i for i, h in enumerate(header)}
            ix = [col[h] for h in PRIMEKG_HEADER]
            width = len(header)
            line_end = reader.line_num
            for row in reader:
                lineno = line_end + 1
                line_end = reader.line_num
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if len(row) != width:
                    raise ValueError(f"{path}:{lineno}: expected {width} comma-separated columns, got {len(row)}")
                (relation, display, _xi, x_id, x_type, x_name, x_source,
                 _yi, y_id, y_type, y_name, y_source) = (row[i] for i in ix)
                if not x_id or not y_id:
                    raise ValueError(f"{path}:{lineno}: empty x_id or y_id")
                label = display or relation
                if not label:
                    raise ValueError(f"{path}:{lineno}: empty relation and display_relation")
                self.add_edge(f"{x_source}:{x_id}", label, f"{y_source}:{y_id}", f"{path}:{lineno}",
                              (x_name, x_type or None), (y_name, y_type or None))

    def read_hetionet_nodes(self, path: str) -> None:
        """A Hetionet nodes TSV (str path; ``id<TAB>name<TAB>kind``, header optional)."""
        self.sources.append(path)
        seen_here: set[str] = set()
        for lineno, cols in _tsv_rows(path):
            if lineno == 1 and cols[:3] == HETIONET_NODES_HEADER:
                continue
            if len(cols) != 3:
                raise ValueError(f"{path}:{lineno}: expected 3 tab-separated columns (id, name, kind), "
                                 f"got {len(cols)}")
            if cols[0] in seen_here:
                raise ValueError(f"{path}:{lineno}: duplicate node id {cols[0]!r}")
            seen_here.add(cols[0])
            self.add_node(cols[0], cols[1], cols[2] or None)

    def read_hetionet_sif(self, path: str, kinds: Optional[dict[str, str]] = None) -> None:
        """A Hetionet edges SIF (str path, gzip or not; ``source<TAB>metaedge<TAB>target``).
        ``kinds`` ({abbreviation: edge kind}): relation labels; without it the abbreviation is
        the label. Endpoints must be declared by a nodes table read before."""
        self.sources.append(path)
        index, rel_index = self._index, self._rel_index
        heads, tails, rels = self._heads, self._tails, self._rels
        for lineno, cols in _tsv_rows(path):
            if lineno == 1 and cols[:3] == HETIONET_SIF_HEADER:
                continue
            if len(cols) != 3:
                raise ValueError(f"{path}:{lineno}: expected 3 tab-separated columns (source, metaedge, target), "
                                 f"got {len(cols)}")
            label = cols[1]
            if kinds is not None:
                if label not in kinds:
                    raise ValueError(f"{path}:{lineno}: metaedge {label!r} is not in the metaedges table")
                label = kinds[label]
            hi, ti, ri = index.get(cols[0]), index.get(cols[2]), rel_index.get(label)
            if hi is None or ti is None or ri is None:
                self.add_edge(cols[0], label, cols[2], f"{path}:{lineno}")
                continue
            # add_edge, inlined for the common case (known endpoints and relation)
            self.counts["input_edges"] += 1
            heads.append(hi)
            tails.append(ti)
            rels.append(ri)

    def read_hetionet_json(self, path: str) -> None:
        """A Hetionet JSON hetnet (str path, gzip or not): ``nodes`` [{kind, identifier, name}],
        ``edges`` [{source_id: [kind, id], target_id: [kind, id], kind}]. Node id
        ``<kind>::<identifier>``; relation = the edge kind."""
        self.sources.append(path)
        with _open_text(path) as f:
            try:
                doc = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{e.lineno}: invalid JSON: {e.msg}") from None
        if not (isinstance(doc, dict) and isinstance(doc.get("nodes"), list) and isinstance(doc.get("edges"), list)):
            raise ValueError(f"{path}: expected a JSON object with 'nodes' and 'edges' lists")
        for k, node in enumerate(doc["nodes"]):
            try:
                self.add_node(f"{node['kind']}::{node['identifier']}", node.get("name"), node["kind"])
            except (KeyError, TypeError):
                raise ValueError(f"{path}: nodes[{k}]: expected an object with kind, identifier, name") from None
        for k, edge in enumerate(doc["edges"]):
            try:
                (sk, si), (tk, ti), kind = edge["source_id"], edge["target_id"], edge["kind"]
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"{path}: edges[{k}]: expected source_id, target_id ([kind, id]) and kind") from None
            self.add_edge(f"{sk}::{si}", kind, f"{tk}::{ti}", f"{path}: edges[{k}]")

    def read_triples(self, path: str) -> None:
        """A plain TSV of ``head<TAB>relation<TAB>tail`` (str path; header line optional). Node id
        = name = the text; type None."""
        self.sources.append(path)
        # the loop of add_edge, inlined: this reader is the one used for very large edge lists
        index, names, types, rel_index = self._index, self._names, self._types, self._rel_index
        heads, tails, rels = self._heads, self._tails, self._rels
        node = self._node
        n_edges = 0
        for lineno, cols in _tsv_rows(path):
            if lineno == 1 and cols == TRIPLES_HEADER:
                continue
            if len(cols) != 3:
                raise ValueError(f"{path}:{lineno}: expected 3 tab-separated columns (head, relation, tail), "
                                 f"got {len(cols)}")
            h, r, t = cols
            if not h or not r or not t:
                raise ValueError(f"{path}:{lineno}: empty head, relation or tail")
            n_edges += 1
            hi = index.get(h)
            if hi is None or names[hi] != h or types[hi] is not None:
                hi = node(h, h, None)
            ti = index.get(t)
            if ti is None or names[ti] != t or types[ti] is not None:
                ti = node(t, t, None)
            ri = rel_index.get(r)
            if ri is None:
                ri = rel_index[r] = len(rel_index)
            heads.append(hi)
            tails.append(ti)
            rels.append(ri)
        self.counts["input_edges"] += n_edges


def _as_int64(a: array) -> np.ndarray:
    if not len(a):
        return np.zeros(0, dtype=np.int64)
    return np.frombuffer(a, dtype=f"i{a.itemsize}").astype(np.int64)


def _default_name(paths: Iterable[str]) -> str:
    return "+".join(os.path.basename(p) for p in paths)


def build_graph(edges: Iterable[tuple[str, str, str]],
                nodes: Optional[Iterable[tuple[str, str, Optional[str]]]] = None,
                name: str = "", allow_missing_nodes: bool = False) -> "KnowledgeGraph":
    """A KnowledgeGraph from in-memory data. ``edges``: (head id, relation, tail id) str triples;
    ``nodes``: (id, name, type) tuples, or None to let the edges declare their endpoints (name =
    id, type None)."""
    b = GraphBuilder(allow_missing_nodes)
    if nodes is None:
        for h, r, t in edges:
            b.add_edge(h, r, t, "edge", (h, None), (t, None))
    else:
        for node_id, node_name, ntype in nodes:
            b.add_node(node_id, node_name, ntype)
        for k, (h, r, t) in enumerate(edges):
            b.add_edge(h, r, t, f"edges[{k}]")
    return b.build(name)


def load_primekg(path: str, name: Optional[str] = None) -> "KnowledgeGraph":
    """A PrimeKG ``kg.csv`` (str path, gzip or not) as a KnowledgeGraph."""
    b = GraphBuilder()
    b.read_primekg(path)
    return b.build(name if name is not None else _default_name([path]))


def load_hetionet(nodes_tsv: str, edges_sif: str, metaedges_tsv: Optional[str] = None,
                  allow_missing_nodes: bool = False, name: Optional[str] = None) -> "KnowledgeGraph":
    """Hetionet nodes TSV + edges SIF (str paths, gzip or not). With ``metaedges_tsv`` the
    relation labels are edge kinds ("treats"), else metaedge abbreviations ("CtD")."""
    b = GraphBuilder(allow_missing_nodes)
    kinds = read_metaedges(metaedges_tsv) if metaedges_tsv else None
    b.read_hetionet_nodes(nodes_tsv)
    b.read_hetionet_sif(edges_sif, kinds)
    return b.build(name if name is not None else _default_name([nodes_tsv, edges_sif]))


def load_hetionet_json(path: str, allow_missing_nodes: bool = False, name: Optional[str] = None) -> "KnowledgeGraph":
    """A Hetionet JSON hetnet (str path, gzip or not) as a KnowledgeGraph."""
    b = GraphBuilder(allow_missing_nodes)
    b.read_hetionet_json(path)
    return b.build(name if name is not None else _default_name([path]))


def load_triples_tsv(path: str, name: Optional[str] = None) -> "KnowledgeGraph":
    """A ``head<TAB>relation<TAB>tail`` TSV (str path, gzip or not) as a KnowledgeGraph."""
    b = GraphBuilder()
    b.read_triples(path)
    return b.build(name if name is not None else _default_name([path]))


_FORMATS = ("auto", "primekg", "hetionet", "hetionet_json", "triples")


def load_graph(paths: list[str], fmt: str = "auto", allow_missing_nodes: bool = False,
               name: Optional[str] = None) -> "KnowledgeGraph":
    """One KnowledgeGraph merged from several files (list of str paths).

    ``fmt`` (str): ``auto`` detects each file's kind from its first line (:func:`detect_format`);
    ``primekg``, ``hetionet_json`` and ``triples`` force that reader for every file; ``hetionet``
    takes Hetionet nodes TSV, edges SIF and optional metaedges TSV in any order (told apart by
    their header lines). Node tables and the metaedges table are read before any edge file. A
    Hetionet SIF needs a nodes table among ``paths``.
    """
    if fmt not in _FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(_FORMATS)}")
    if not paths:
        raise ValueError("load_graph needs at least one path")
    if fmt in ("primekg", "hetionet_json", "triples"):
        kinds = [(fmt, p) for p in paths]
    else:
        kinds = [(detect_format(p), p) for p in paths]
        if fmt == "hetionet":
            for k, p in kinds:
                if not k.startswith("hetionet_"):
                    raise ValueError(f"{p}:1: not a Hetionet file (detected {k})")
    if any(k == "hetionet_sif" for k, _ in kinds) and not any(k == "hetionet_nodes" for k, _ in kinds):
        raise ValueError("a Hetionet edges SIF needs the Hetionet nodes TSV in the same load_graph call")
    b = GraphBuilder(allow_missing_nodes)
    metaedges: Optional[dict[str, str]] = None
    for k, p in kinds:
        if k == "hetionet_metaedges":
            metaedges = metaedges or {}
            metaedges.update(read_metaedges(p))
            b.sources.append(p)
        elif k == "hetionet_nodes":
            b.read_hetionet_nodes(p)
    for k, p in kinds:
        if k == "primekg":
            b.read_primekg(p)
        elif k == "hetionet_sif":
            b.read_hetionet_sif(p, metaedges)
        elif k == "hetionet_json":
            b.read_hetionet_json(p)
        elif k == "triples":
            b.read_triples(p)
    return b.build(name if name is not None else _default_name(paths))


# --------------------------------------------------------------------------------------------
# The graph
# --------------------------------------------------------------------------------------------

def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


class KnowledgeGraph:
    """An immutable, picklable knowledge graph with an undirected CSR adjacency.

    Attributes (read-only):
      node_ids, node_names, node_types: tuple[str, ...] in node-index order (sorted by node id;
        a name or type may be None or "" when unknown);
      relations: tuple[str, ...], sorted relation names (``rel`` indexes into it);
      indptr: int64 array [num_nodes + 1]; the neighbours of node i are ``nbr[indptr[i]:indptr[i+1]]``;
      nbr: int32 array, neighbour node indices, ascending within each node;
      rel: int32 array, relation index of the (kept) KG edge joining the pair;
      fwd: bool array, True when that KG edge points node -> neighbour.
    """

    __slots__ = ("_name", "node_ids", "node_names", "node_types", "relations", "indptr", "nbr", "rel",
                 "fwd", "_counts", "_sources", "_fingerprint")

    def __init__(self, name: str, node_ids: tuple, node_names: tuple, node_types: tuple, relations: tuple,
                 indptr: np.ndarray, nbr: np.ndarray, rel: np.ndarray, fwd: np.ndarray,
                 counts: dict, sources: list):
        """Low-level constructor from finished CSR arrays; use the loaders or :func:`build_graph`."""
        s = object.__setattr__
        s(self, "_name", str(name))
        s(self, "node_ids", tuple(node_ids))
        s(self, "node_names", tuple(node_names))
        s(self, "node_types", tuple(node_types))
        s(self, "relations", tuple(relations))
        s(self, "indptr", _readonly(np.asarray(indptr, dtype=np.int64)))
        s(self, "nbr", _readonly(np.asarray(nbr, dtype=np.int32)))
        s(self, "rel", _readonly(np.asarray(rel, dtype=np.int32)))
        s(self, "fwd", _readonly(np.asarray(fwd, dtype=bool)))
        s(self, "_counts", dict(counts))
        s(self, "_sources", list(sources))
        s(self, "_fingerprint", None)

    def __setattr__(self, key, value):
        raise AttributeError("KnowledgeGraph is immutable")

    def __delattr__(self, key):
        raise AttributeError("KnowledgeGraph is immutable")

    def __getstate__(self):
        return {k: getattr(self, k) for k in self.__slots__ if k != "_fingerprint"}

    def __setstate__(self, state):
        for k, v in state.items():
            if isinstance(v, np.ndarray):
                v = _readonly(v)
            object.__setattr__(self, k, v)
        object.__setattr__(self, "_fingerprint", None)

    def __repr__(self) -> str:
        return (f"KnowledgeGraph(name={self._name!r}, nodes={self.num_nodes}, edges={self.num_edges}, "
                f"relations={len(self.relations)}, fingerprint={self.fingerprint})")

    @classmethod
    def _from_edges(cls, name: str, node_ids: tuple, node_names: tuple, node_types: tuple, relations: tuple,
                    heads: np.ndarray, tails: np.ndarray, rels: np.ndarray, counts: dict,
                    sources: list) -> "KnowledgeGraph":
        """Dedup the KG edges (int64 arrays of head, tail and relation indices, already in final
        node and relation order) into the undirected CSR arrays."""
        n = len(node_ids)
        counts = dict(counts)
        loop = heads == tails
        counts["self_loops"] = int(loop.sum())
        keep = ~loop
        h, t, r = heads[keep], tails[keep], rels[keep]
        a = np.minimum(h, t)
        b = np.maximum(h, t)
        from_a = h == a  # the KG edge points a -> b
        # choose per pair: smallest relation name, then the edge stored from the lower index
        nrel = max(len(relations), 1)
        if n and float(n) * n * nrel * 2 < 2.0 ** 62:
            # one int64 key (pair, relation, direction) sorts faster than a four-key lexsort
            key = ((a * n + b) * nrel + r) * 2 + (~from_a)
            order = np.argsort(key, kind="stable")
        else:
            order = np.lexsort((~from_a, r, b, a))
        a, b, r, from_a = a[order], b[order], r[order], from_a[order]
        m = len(a)
        if m:
            new_pair = np.empty(m, dtype=bool)
            new_pair[0] = True
            new_pair[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
            new_rel = new_pair.copy()
            new_rel[1:] |= r[1:] != r[:-1]
            new_dir = new_rel.copy()
            new_dir[1:] |= from_a[1:] != from_a[:-1]
            pairs, rel_groups, dir_groups = int(new_pair.sum()), int(new_rel.sum()), int(new_dir.sum())
        else:
            new_pair = np.zeros(0, dtype=bool)
            pairs = rel_groups = dir_groups = 0
        counts["duplicate_edges"] = m - dir_groups          # identical (head, relation, tail)
        counts["reverse_edges"] = dir_groups - rel_groups   # same relation, the other direction
        counts["parallel_edges"] = rel_groups - pairs       # another relation on the same pair
        a, b, r, from_a = a[new_pair], b[new_pair], r[new_pair], from_a[new_pair]
        src = np.concatenate([a, b])
        dst = np.concatenate([b, a])
        rr = np.concatenate([r, r])
        ff = np.concatenate([from_a, ~from_a])
        o = np.argsort(src * n + dst, kind="stable") if n and float(n) * n < 2.0 ** 62 else np.lexsort((dst, src))
        src, dst, rr, ff = src[o], dst[o], rr[o], ff[o]
        indptr = np.zeros(n + 1, dtype=np.int64)
        if n:
            np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
        return cls(name, node_ids, node_names, node_types, relations, indptr,
                   dst.astype(np.int32), rr.astype(np.int32), ff, counts, sources)

    # ---------------------------------------------------------------- accessors

    @property
    def name(self) -> str:
        """The graph's name (str; by default the input file names joined by '+')."""
        return self._name

    @property
    def num_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def num_edges(self) -> int:
        """Distinct undirected node pairs joined by at least one KG edge."""
        return len(self.nbr) // 2

    def degree(self, i: int) -> int:
        """Number of distinct neighbours of node index ``i`` (int)."""
        return int(self.indptr[i + 1] - self.indptr[i])

    def neighbors(self, i: int) -> np.ndarray:
        """Neighbour node indices of node ``i`` (int), ascending (read-only int32 array)."""
        return self.nbr[self.indptr[i]:self.indptr[i + 1]]

    def index_of(self, node_id: str) -> int:
        """The index of ``node_id`` (str); KeyError when absent."""
        k = bisect.bisect_left(self.node_ids, node_id)
        if k < len(self.node_ids) and self.node_ids[k] == node_id:
            return k
        raise KeyError(node_id)

    def __contains__(self, node_id: str) -> bool:
        try:
            self.index_of(node_id)
            return True
        except KeyError:
            return False

    def edge_index(self, u: int, v: int) -> int:
        """Position in ``nbr``/``rel``/``fwd`` of the pair (u, v) (ints); KeyError when not adjacent."""
        lo, hi = int(self.indptr[u]), int(self.indptr[u + 1])
        k = lo + int(np.searchsorted(self.nbr[lo:hi], v))
        if k < hi and self.nbr[k] == v:
            return k
        raise KeyError((u, v))

    @property
    def fingerprint(self) -> str:
        """sha256 hex[:16] of the canonical content: node ids, names, types, relation names and the
        deduplicated edges (pair, relation, direction). Equal for equal content whatever the
        input order or file split."""
        if self._fingerprint is None:
            hsh = hashlib.sha256()
            for col in (self.node_ids, self.node_names, self.node_types, self.relations):
                for v in col:
                    hsh.update(b"\x00" if v is None else b"\x01" + v.encode("utf-8"))
                    hsh.update(b"\x1f")
                hsh.update(b"\x1e")
            src = np.repeat(np.arange(self.num_nodes, dtype=np.int64), np.diff(self.indptr))
            upper = src < self.nbr
            for arr in (src[upper], self.nbr[upper].astype(np.int64), self.rel[upper].astype(np.int64),
                        self.fwd[upper].astype(np.int64)):
                hsh.update(arr.astype("<i8").tobytes())
            object.__setattr__(self, "_fingerprint", hsh.hexdigest()[:16])
        return self._fingerprint

    def stats(self) -> dict:
        """Counts (dict): nodes, edges (distinct undirected pairs), relations, input_edges (KG edges
        read), self_loops, duplicate_edges (identical head/relation/tail), reverse_edges (same
        relation, both directions), parallel_edges (further relations on an already joined pair),
        missing_endpoint_edges, node_attribute_conflicts, isolated_nodes, max_degree,
        mean_degree, edges_per_relation {name: kept edges}, nodes_per_type {type: nodes},
        memory_bytes (the CSR arrays), sources (list of str), name, fingerprint."""
        deg = np.diff(self.indptr)
        src = np.repeat(np.arange(self.num_nodes, dtype=np.int64), deg)
        upper = src < self.nbr
        per_rel = np.bincount(self.rel[upper], minlength=len(self.relations))
        types: dict[str, int] = {}
        for t in self.node_types:
            key = t if t is not None else ""
            types[key] = types.get(key, 0) + 1
        out = {"name": self._name, "fingerprint": self.fingerprint, "nodes": self.num_nodes,
               "edges": self.num_edges, "relations": len(self.relations)}
        out.update(self._counts)
        out.update({
            "isolated_nodes": int((deg == 0).sum()),
            "max_degree": int(deg.max()) if len(deg) else 0,
            "mean_degree": round(float(deg.mean()), 3) if len(deg) else 0.0,
            "edges_per_relation": {name: int(c) for name, c in zip(self.relations, per_rel)},
            "nodes_per_type": dict(sorted(types.items())),
            "memory_bytes": int(self.indptr.nbytes + self.nbr.nbytes + self.rel.nbytes + self.fwd.nbytes),
            "sources": list(self._sources),
        })
        return out


# --------------------------------------------------------------------------------------------
# Path search
# --------------------------------------------------------------------------------------------

def _gather(g: KnowledgeGraph, nodes: np.ndarray) -> np.ndarray:
    """All neighbours (with repeats) of the node indices ``nodes`` (int array)."""
    if len(nodes) == 1:
        i = int(nodes[0])
        return g.nbr[g.indptr[i]:g.indptr[i + 1]]
    starts = g.indptr[nodes]
    lens = g.indptr[nodes + 1] - starts
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int32)
    shift = np.repeat(starts - (np.cumsum(lens) - lens), lens)
    return g.nbr[np.arange(total, dtype=np.int64) + shift]


class _Side:
    """Breadth-first layers from one node, grown on demand and reusable across searches:
    ``dist`` (int8 array, -1 = not reached), ``layers`` (list of int arrays, layer k at distance k),
    ``volume`` (list of int: edges incident to each layer)."""

    __slots__ = ("g", "dist", "layers", "volume")

    def __init__(self, g: KnowledgeGraph, node: int):
        self.g = g
        self.dist = np.full(g.num_nodes, -1, dtype=np.int8)
        self.dist[node] = 0
        self.layers = [np.array([node], dtype=np.int64)]
        self.volume = [g.degree(node)]

    def layer(self, k: int) -> np.ndarray:
        """Layer ``k`` (int), computing the layers up to it if needed."""
        while len(self.layers) <= k:
            last = self.layers[-1]
            if len(last) == 0:
                return last
            if self.volume[-1] <= PY_EXPAND_MAX_VOLUME:
                new = self._expand_py(last)
            else:
                nb = _gather(self.g, last)
                nb = nb[self.dist[nb] < 0]
                new = np.unique(nb).astype(np.int64)
            self.dist[new] = len(self.layers)
            self.layers.append(new)
            self.volume.append(int((self.g.indptr[new + 1] - self.g.indptr[new]).sum()) if len(new) else 0)
        return self.layers[k]

    def _expand_py(self, last: np.ndarray) -> np.ndarray:
        """The next layer by plain Python over the neighbour slices (small frontiers)."""
        indptr, nbr, dist = self.g.indptr, self.g.nbr, self.dist
        seen: set[int] = set()
        for v in last.tolist():
            seen.update(nbr[indptr[v]:indptr[v + 1]].tolist())
        if not seen:
            return np.zeros(0, dtype=np.int64)
        cand = np.fromiter(seen, dtype=np.int64, count=len(seen))
        cand.sort()
        return cand[dist[cand] < 0]


def _check_args(g: KnowledgeGraph, src: int, dst: int, max_hops: int, max_paths: int) -> None:
    n = g.num_nodes
    for name, v in (("src", src), ("dst", dst)):
        if not 0 <= v < n:
            raise IndexError(f"{name} {v} out of range for a graph of {n} nodes")
    if not 0 <= max_hops <= MAX_HOPS_LIMIT:
        raise ValueError(f"max_hops must be within 0..{MAX_HOPS_LIMIT}, got {max_hops}")
    if max_paths < 0:
        raise ValueError(f"max_paths must be >= 0, got {max_paths}")


def _search(g: KnowledgeGraph, s_side: _Side, t_side: _Side, max_hops: int, max_paths: int) -> list[list[int]]:
    """All shortest paths (up to ``max_paths``, none longer than ``max_hops``) between the roots
    of two BFS sides, in lexicographic order."""
    src = int(s_side.layers[0][0])
    dst = int(t_side.layers[0][0])
    if src == dst or max_paths == 0:
        return []
    ks = kt = 0
    meet = None
    while ks + kt < max_hops:
        # cached layers cost nothing; otherwise expand the side with the fewer incident edges
        s_cached = len(s_side.layers) > ks + 1
        t_cached = len(t_side.layers) > kt + 1
        if s_cached != t_cached:
            grow_s = s_cached
        else:
            grow_s = s_side.volume[ks] <= t_side.volume[kt]
        if grow_s:
            new = s_side.layer(ks + 1)
            ks += 1
            if len(new) == 0:
                return []
            d_other = t_side.dist[new]
            hit = new[(d_other >= 0) & (d_other <= kt)]
        else:
            new = t_side.layer(kt + 1)
            kt += 1
            if len(new) == 0:
                return []
            d_other = s_side.dist[new]
            hit = new[(d_other >= 0) & (d_other <= ks)]
        if len(hit):
            meet = hit
            break
    if meet is None:
        return []
    d = ks + kt
    # layers of the shortest-path DAG: position i holds the nodes at distance i from src that lie
    # on a shortest path; every node in it has a successor in position i + 1
    pos = np.full(g.num_nodes, -1, dtype=np.int8)
    pos_layers: list[np.ndarray] = [None] * (d + 1)  # type: ignore[list-item]
    pos_layers[ks] = meet
    for i in range(ks, 0, -1):
        nb = _gather(g, pos_layers[i])
        pos_layers[i - 1] = np.unique(nb[s_side.dist[nb] == i - 1])
    for i in range(ks, d):
        nb = _gather(g, pos_layers[i])
        pos_layers[i + 1] = np.unique(nb[t_side.dist[nb] == d - i - 1])
    for i, layer in enumerate(pos_layers):
        pos[layer] = i
    # depth-first enumeration in ascending neighbour order = lexicographic order
    out: list[list[int]] = []
    path = [src]
    indptr, nbr = g.indptr, g.nbr

    def successors(v: int, i: int) -> list[int]:
        layer = pos_layers[i + 1]
        cand = nbr[indptr[v]:indptr[v + 1]]
        if len(layer) * 8 < len(cand):
            # few candidates on the next layer: test them against v's sorted neighbours
            k = np.searchsorted(cand, layer)
            k = np.minimum(k, len(cand) - 1)
            return layer[cand[k] == layer].tolist()
        return cand[pos[cand] == i + 1].tolist()

    def walk(v: int, i: int) -> bool:
        if i == d:
            out.append(list(path))
            return len(out) >= max_paths
        for w in successors(v, i):
            path.append(w)
            done = walk(w, i + 1)
            path.pop()
            if done:
                return True
        return False

    walk(src, 0)
    return out


def shortest_paths(g: KnowledgeGraph, src: int, dst: int, max_hops: int = 3, max_paths: int = 20) -> list[list[int]]:
    """All shortest paths between node indices ``src`` and ``dst`` (ints) in the undirected
    graph, as node-index lists from src to dst, in lexicographic order, at most ``max_paths``
    (int) of them; [] when the distance exceeds ``max_hops`` (int), when they are not connected,
    or when src == dst."""
    _check_args(g, src, dst, max_hops, max_paths)
    if src == dst:
        return []
    return _search(g, _Side(g, src), _Side(g, dst), max_hops, max_paths)


def path_steps(g: KnowledgeGraph, path: list[int]) -> list[tuple[int, int, int, bool]]:
    """Per hop of ``path`` (list of node indices): (head index, relation index, tail index,
    inverse), read along the path (head = path[k], tail = path[k + 1]); ``inverse`` (bool) is True
    when the KG edge points tail -> head. Raises ValueError when two consecutive nodes are not
    adjacent."""
    out = []
    for u, v in zip(path, path[1:]):
        try:
            k = g.edge_index(int(u), int(v))
        except KeyError:
            raise ValueError(f"nodes {u} and {v} are not adjacent") from None
        out.append((int(u), int(g.rel[k]), int(v), not bool(g.fwd[k])))
    return out


# distinct endpoints whose BFS layers are kept across pairs in many_to_many (int8 per node each)
_SIDE_CACHE_BYTES = 64 * 2 ** 20


def many_to_many(g: KnowledgeGraph, sources: list[int], targets: list[int], max_hops: int = 3,
                 max_paths_per_pair: int = 20) -> dict[tuple[int, int], list[list[int]]]:
    """Shortest paths for every (source, target) pair (lists of node indices) as
    {(s, t): paths} with the same rules as :func:`shortest_paths`; pairs with s == t map to [].
    The BFS layers of each source, and of each target while they fit in a fixed memory budget,
    are computed once and reused for every pair they take part in."""
    for s in sources:
        _check_args(g, s, s, max_hops, max_paths_per_pair)
    for t in targets:
        _check_args(g, t, t, max_hops, max_paths_per_pair)
    uniq_t = sorted(set(targets))
    cache_targets = len(uniq_t) * max(g.num_nodes, 1) <= _SIDE_CACHE_BYTES
    t_sides: dict[int, _Side] = {}
    out: dict[tuple[int, int], list[list[int]]] = {}
    for s in dict.fromkeys(sources):
        s_side = _Side(g, s)
        for t in dict.fromkeys(targets):
            if s == t:
                out[(s, t)] = []
                continue
            if cache_targets:
                t_side = t_sides.get(t)
                if t_side is None:
                    t_side = t_sides[t] = _Side(g, t)
            else:
                t_side = _Side(g, t)
            out[(s, t)] = _search(g, s_side, t_side, max_hops, max_paths_per_pair)
    return out
