"""Knowledge-graph loaders, the CSR graph and bounded shortest-path search (transforms/kg/graph.py)."""
import gzip
import json
import pickle
import random
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from transforms.kg.graph import (
    KnowledgeGraph, build_graph, detect_format, load_graph, load_hetionet, load_hetionet_json,
    load_primekg, load_triples_tsv, many_to_many, path_steps, shortest_paths,
)

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "medreason"
HET = CORPUS / "hetionet"
PRIMEKG_SAMPLE = CORPUS / "primekg_plus" / "20260529-literature_edges_novel.csv"


def ids(g: KnowledgeGraph, path: list[int]) -> list[str]:
    return [g.node_ids[i] for i in path]


# ------------------------------------------------------------------------------------------
# small files written by the tests
# ------------------------------------------------------------------------------------------

TRIPLES = (
    "head\trelation\ttail\n"
    "b\ttreats\ta\n"
    "a\ttreats\tb\n"      # the same relation the other way: a reverse edge
    "b\ttreats\ta\n"      # identical to line 2: a duplicate
    "a\tcauses\tb\n"      # another relation on the pair; 'causes' sorts first and is kept
    "c\tbinds\tc\n"       # self-loop
    "c\tbinds\ta\n"
    "\n"
    "d\tbinds\tc\n"
)


def test_triples_loader_csr_and_counts(tmp_path):
    p = tmp_path / "kg.tsv"
    p.write_text(TRIPLES)
    g = load_triples_tsv(str(p))
    assert g.node_ids == ("a", "b", "c", "d")
    assert g.node_names == ("a", "b", "c", "d")
    assert g.node_types == (None, None, None, None)
    assert g.relations == ("binds", "causes", "treats")
    assert g.name == "kg.tsv"
    assert (g.num_nodes, g.num_edges) == (4, 3)
    assert [g.degree(i) for i in range(4)] == [2, 1, 2, 1]
    assert g.indptr.tolist() == [0, 2, 3, 5, 6]
    assert g.nbr.tolist() == [1, 2, 0, 0, 3, 2]
    assert g.rel.tolist() == [1, 0, 1, 0, 0, 0]
    assert g.fwd.tolist() == [True, False, False, True, False, True]
    assert (g.indptr.dtype, g.nbr.dtype, g.rel.dtype, g.fwd.dtype) == (np.int64, np.int32, np.int32, np.bool_)
    st = g.stats()
    assert {k: st[k] for k in ("nodes", "edges", "relations", "input_edges", "self_loops", "duplicate_edges",
                               "reverse_edges", "parallel_edges", "missing_endpoint_edges", "isolated_nodes",
                               "max_degree")} == {
        "nodes": 4, "edges": 3, "relations": 3, "input_edges": 7, "self_loops": 1, "duplicate_edges": 1,
        "reverse_edges": 1, "parallel_edges": 1, "missing_endpoint_edges": 0, "isolated_nodes": 0,
        "max_degree": 2}
    assert st["edges_per_relation"] == {"binds": 2, "causes": 1, "treats": 0}
    assert st["nodes_per_type"] == {"": 4}
    assert st["mean_degree"] == 1.5
    assert st["memory_bytes"] == 5 * 8 + 6 * 4 + 6 * 4 + 6
    assert g.index_of("c") == 2
    with pytest.raises(KeyError):
        g.index_of("e")
    assert "d" in g and "e" not in g
    # steps read along a path: a -> c is stored c --binds--> a, so inverse
    assert path_steps(g, [1, 0, 2, 3]) == [(1, 1, 0, True), (0, 0, 2, True), (2, 0, 3, True)]
    assert path_steps(g, [3, 2]) == [(3, 0, 2, False)]
    with pytest.raises(ValueError, match="not adjacent"):
        path_steps(g, [1, 3])


def test_triples_loader_without_header_and_errors(tmp_path):
    p = tmp_path / "plain.tsv"
    p.write_text("x\tr\ty\ny\tr\tz\n")
    g = load_triples_tsv(str(p))
    assert g.node_ids == ("x", "y", "z") and g.num_edges == 2
    bad = tmp_path / "bad.tsv"
    bad.write_text("head\trelation\ttail\nx\tr\ty\nx\ty\n")
    with pytest.raises(ValueError, match=r"bad\.tsv:3: expected 3 tab-separated columns \(head, relation, tail\), got 2"):
        load_triples_tsv(str(bad))
    empty = tmp_path / "empty.tsv"
    empty.write_text("x\tr\ty\n\t\tz\n")
    with pytest.raises(ValueError, match=r"empty\.tsv:2: empty head, relation or tail"):
        load_triples_tsv(str(empty))


def test_duplicate_pair_tie_keeps_edge_from_lower_index():
    # the same relation in both directions: the edge stored from the lower node index is kept
    g = build_graph([("y", "r", "x"), ("x", "r", "y")])
    assert g.fwd.tolist() == [True, False]
    g2 = build_graph([("y", "r", "x")])
    assert g2.fwd.tolist() == [False, True]
    assert g.fingerprint != g2.fingerprint
    assert g.stats()["reverse_edges"] == 1


NODES_TSV = (
    "id\tname\tkind\n"
    "Gene::2\tG2\tGene\n"
    "Compound::DB1\tdrug one\tCompound\n"
    "Gene::1\tG1\tGene\n"
    "Disease::D1\tdisease one\tDisease\n"
    "Gene::3\tG3\tGene\n"
)
SIF = (
    "source\tmetaedge\ttarget\n"
    "Compound::DB1\tCtD\tDisease::D1\n"
    "Compound::DB1\tCbG\tGene::1\n"
    "Gene::1\tGr>G\tGene::2\n"
    "Gene::2\tGr>G\tGene::1\n"
    "Disease::D1\tDaG\tGene::2\n"
)
METAEDGES = (
    "metaedge\tabbreviation\tedges\tsource_nodes\ttarget_nodes\tunbiased\n"
    "Compound - binds - Gene\tCbG\t11571\t1389\t1689\t0\n"
    "Compound - treats - Disease\tCtD\t755\t387\t77\t0\n"
    "Disease - associates - Gene\tDaG\t12623\t134\t5392\t1284\n"
    "Gene > regulates > Gene\tGr>G\t265672\t4634\t7048\t265672\n"
)


@pytest.fixture
def het_files(tmp_path):
    nodes = tmp_path / "nodes.tsv"
    nodes.write_text(NODES_TSV)
    sif = tmp_path / "edges.sif"  # gzip without a .gz name: detected by its magic bytes
    sif.write_bytes(gzip.compress(SIF.encode()))
    meta = tmp_path / "metaedges.tsv"
    meta.write_text(METAEDGES)
    return str(nodes), str(sif), str(meta)


def test_hetionet_loader(het_files):
    nodes, sif, meta = het_files
    g = load_hetionet(nodes, sif, metaedges_tsv=meta)
    assert g.node_ids == ("Compound::DB1", "Disease::D1", "Gene::1", "Gene::2", "Gene::3")
    assert g.node_names == ("drug one", "disease one", "G1", "G2", "G3")
    assert g.node_types == ("Compound", "Disease", "Gene", "Gene", "Gene")
    assert g.relations == ("associates", "binds", "regulates", "treats")
    assert (g.num_nodes, g.num_edges) == (5, 4)
    assert [g.degree(i) for i in range(5)] == [2, 2, 2, 2, 0]
    st = g.stats()
    assert (st["reverse_edges"], st["parallel_edges"], st["duplicate_edges"], st["self_loops"]) == (1, 0, 0, 0)
    assert st["isolated_nodes"] == 1
    assert st["nodes_per_type"] == {"Compound": 1, "Disease": 1, "Gene": 3}
    assert st["edges_per_relation"] == {"associates": 1, "binds": 1, "regulates": 1, "treats": 1}
    assert shortest_paths(g, 0, 1) == [[0, 1]]
    assert path_steps(g, [0, 1]) == [(0, 3, 1, False)]
    # drug -> G2: via the disease (treats, associates) and via G1 (binds, regulates)
    assert [ids(g, p) for p in shortest_paths(g, 0, 3)] == [
        ["Compound::DB1", "Disease::D1", "Gene::2"], ["Compound::DB1", "Gene::1", "Gene::2"]]
    assert path_steps(g, [0, 2, 3]) == [(0, 1, 2, False), (2, 2, 3, False)]
    assert path_steps(g, [3, 1]) == [(3, 0, 1, True)]
    # without the metaedges table the relation is the abbreviation
    g2 = load_hetionet(nodes, sif)
    assert g2.relations == ("CbG", "CtD", "DaG", "Gr>G")
    assert g2.fingerprint != g.fingerprint
    assert g2.node_ids == g.node_ids and g2.nbr.tolist() == g.nbr.tolist()


def test_hetionet_missing_nodes_and_bad_lines(het_files, tmp_path):
    nodes, _, meta = het_files
    sif = tmp_path / "missing.sif"
    sif.write_text(SIF + "Gene::1\tGr>G\tGene::99\nGene::98\tCbG\tCompound::DB1\n")
    with pytest.raises(ValueError) as e:
        load_hetionet(nodes, str(sif), metaedges_tsv=meta)
    assert str(e.value) == (f"2 edge(s) reference nodes missing from the nodes table; first: "
                            f"{sif}:7: Gene::99; {sif}:8: Gene::98")
    g = load_hetionet(nodes, str(sif), metaedges_tsv=meta, allow_missing_nodes=True)
    assert g.num_edges == 4
    assert g.stats()["missing_endpoint_edges"] == 2
    assert g.stats()["input_edges"] == 7
    bad = tmp_path / "bad.sif"
    bad.write_text(SIF + "Gene::1\tGr>G\n")
    with pytest.raises(ValueError, match=r"bad\.sif:7: expected 3 tab-separated columns"):
        load_hetionet(nodes, str(bad))
    unknown = tmp_path / "unknown.sif"
    unknown.write_text(SIF + "Gene::1\tGiG\tGene::3\n")
    with pytest.raises(ValueError, match=r"unknown\.sif:7: metaedge 'GiG' is not in the metaedges table"):
        load_hetionet(nodes, str(unknown), metaedges_tsv=meta)
    dup = tmp_path / "dup_nodes.tsv"
    dup.write_text(NODES_TSV + "Gene::1\tG1\tGene\n")
    with pytest.raises(ValueError, match=r"dup_nodes\.tsv:7: duplicate node id 'Gene::1'"):
        load_hetionet(str(dup), str(sif))


def test_load_graph_detects_and_merges(het_files, tmp_path):
    nodes, sif, meta = het_files
    assert [detect_format(p) for p in (nodes, sif, meta)] == ["hetionet_nodes", "hetionet_sif", "hetionet_metaedges"]
    direct = load_hetionet(nodes, sif, metaedges_tsv=meta)
    merged = load_graph([sif, meta, nodes])  # order does not matter: tables are read first
    assert merged.fingerprint == direct.fingerprint
    assert merged.name == "edges.sif+metaedges.tsv+nodes.tsv"
    assert load_graph([sif, nodes], fmt="hetionet").relations == ("CbG", "CtD", "DaG", "Gr>G")
    with pytest.raises(ValueError, match="needs the Hetionet nodes TSV"):
        load_graph([sif])
    extra = tmp_path / "extra.tsv"
    extra.write_text("Gene::3\tlinked\tDisease::D1\nGene::3\tlinked\tnew node\n")
    assert detect_format(str(extra)) == "triples"
    g = load_graph([nodes, sif, str(extra)])
    # triples declare their own endpoints; an existing node keeps its table attributes
    assert g.node_ids[-1] == "new node" and g.node_types[-1] is None
    assert g.node_names[g.index_of("Gene::3")] == "G3"
    assert g.stats()["node_attribute_conflicts"] == 3  # Gene::3 twice, Disease::D1 once
    assert g.num_edges == 6
    with pytest.raises(ValueError, match="unknown format"):
        load_graph([nodes], fmt="csv")
    with pytest.raises(ValueError, match=r"extra\.tsv:1: not a Hetionet file"):
        load_graph([nodes, str(extra)], fmt="hetionet")


def test_hetionet_json_loader(tmp_path):
    doc = {
        "metanode_kinds": ["Compound", "Gene"], "metaedge_tuples": [], "kind_to_abbrev": {},
        "nodes": [
            {"kind": "Gene", "identifier": 1576, "name": "CYP3A4", "data": {}},
            {"kind": "Compound", "identifier": "DB01156", "name": "Bupropion", "data": {}},
            {"kind": "Gene", "identifier": 1565, "name": "CYP2D6", "data": {}},
        ],
        "edges": [
            {"source_id": ["Compound", "DB01156"], "target_id": ["Gene", 1576], "kind": "binds", "direction": "both", "data": {}},
            {"source_id": ["Gene", 1565], "target_id": ["Compound", "DB01156"], "kind": "binds", "direction": "both", "data": {}},
        ],
    }
    p = tmp_path / "sub.json.gz"
    p.write_bytes(gzip.compress(json.dumps(doc).encode()))
    assert detect_format(str(p)) == "hetionet_json"
    g = load_hetionet_json(str(p))
    assert g.node_ids == ("Compound::DB01156", "Gene::1565", "Gene::1576")
    assert g.node_names == ("Bupropion", "CYP2D6", "CYP3A4")
    assert g.relations == ("binds",)
    assert g.fwd.tolist() == [False, True, True, False]
    assert shortest_paths(g, 1, 2) == [[1, 0, 2]]
    assert path_steps(g, [1, 0, 2]) == [(1, 0, 0, False), (0, 0, 2, False)]
    doc["edges"].append({"source_id": ["Gene", 7], "target_id": ["Gene", 1565], "kind": "interacts"})
    p.write_bytes(gzip.compress(json.dumps(doc).encode()))
    with pytest.raises(ValueError, match=r"sub\.json\.gz: edges\[2\]: Gene::7"):
        load_hetionet_json(str(p))
    assert load_hetionet_json(str(p), allow_missing_nodes=True).stats()["missing_endpoint_edges"] == 1
    doc["edges"].append({"source_id": "Gene", "kind": "interacts"})
    p.write_bytes(gzip.compress(json.dumps(doc).encode()))
    with pytest.raises(ValueError, match=r"edges\[3\]: expected source_id, target_id"):
        load_hetionet_json(str(p))


PRIMEKG = (
    "relation,display_relation,x_index,x_id,x_type,x_name,x_source,y_index,y_id,y_type,y_name,y_source\n"
    "indication,indication,1,DB001,drug,Aspirin,DrugBank,2,123,disease,\"pain, chronic\",MONDO\n"
    "disease_phenotype_positive,,2,123,disease,\"pain, chronic\",MONDO,3,HP:1,effect/phenotype,ache,HPO\n"
    "drug_protein,target,1,DB001,drug,Aspirin,DrugBank,4,5742,gene/protein,PTGS1,NCBI\n"
    "protein_protein,ppi,4,5742,gene/protein,PTGS1 (alias),NCBI,4,5742,gene/protein,PTGS1,NCBI\n"
)


def test_primekg_loader(tmp_path):
    p = tmp_path / "kg.csv"
    p.write_text(PRIMEKG)
    assert detect_format(str(p)) == "primekg"
    g = load_primekg(str(p))
    assert g.node_ids == ("DrugBank:DB001", "HPO:HP:1", "MONDO:123", "NCBI:5742")
    assert g.node_names == ("Aspirin", "ache", "pain, chronic", "PTGS1")
    assert g.node_types == ("drug", "effect/phenotype", "disease", "gene/protein")
    # the empty display_relation falls back to relation
    assert g.relations == ("disease_phenotype_positive", "indication", "ppi", "target")
    st = g.stats()
    assert (st["input_edges"], st["self_loops"], st["node_attribute_conflicts"], g.num_edges) == (4, 1, 1, 3)
    assert [ids(g, q) for q in shortest_paths(g, 3, 1)] == [["NCBI:5742", "DrugBank:DB001", "MONDO:123", "HPO:HP:1"]]
    assert path_steps(g, [3, 0, 2, 1]) == [(3, 3, 0, True), (0, 1, 2, False), (2, 0, 1, False)]
    gz = tmp_path / "kg.csv.gz"
    gz.write_bytes(gzip.compress(PRIMEKG.encode()))
    assert load_graph([str(gz)]).fingerprint == load_graph([str(p)], fmt="primekg").fingerprint
    bad = tmp_path / "bad.csv"
    bad.write_text(PRIMEKG + "ppi,ppi,4,5742,gene/protein,PTGS1,NCBI\n")
    with pytest.raises(ValueError, match=r"bad\.csv:6: expected 12 comma-separated columns, got 7"):
        load_primekg(str(bad))
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(ValueError, match=r"wrong\.csv:1: expected the PrimeKG header"):
        load_primekg(str(wrong))


# ------------------------------------------------------------------------------------------
# graph properties
# ------------------------------------------------------------------------------------------

def test_fingerprint_is_order_independent_and_graph_immutable():
    edges = [("a", "r", "b"), ("b", "s", "c"), ("c", "r", "d"), ("d", "t", "a")]
    g1 = build_graph(edges)
    g2 = build_graph(list(reversed(edges)))
    assert g1.fingerprint == g2.fingerprint
    assert len(g1.fingerprint) == 16 and int(g1.fingerprint, 16) >= 0
    assert build_graph(edges[:3]).fingerprint != g1.fingerprint
    assert build_graph(edges, nodes=[(x, x.upper(), "T") for x in "abcd"]).fingerprint != g1.fingerprint
    with pytest.raises(AttributeError):
        g1.nbr = np.zeros(3)
    with pytest.raises(ValueError):
        g1.nbr[0] = 5
    g3 = pickle.loads(pickle.dumps(g1))
    assert g3.fingerprint == g1.fingerprint and g3.name == g1.name
    assert g3.nbr.tolist() == g1.nbr.tolist() and g3.stats() == g1.stats()
    with pytest.raises(ValueError):
        g3.indptr[0] = 1


def test_paths_bounds_and_order():
    # s reaches t through a and b (2 hops); u is 4 hops from s
    edges = [("s", "r", "a"), ("s", "r", "b"), ("a", "r", "t"), ("b", "r", "t"), ("a", "r", "c"), ("c", "r", "t"),
             ("t", "r", "x"), ("x", "r", "y"), ("y", "r", "u"), ("t", "r", "y2"), ("y2", "r", "u"), ("lone", "r", "lone2")]
    g = build_graph(edges)
    ix = g.index_of
    assert [ids(g, p) for p in shortest_paths(g, ix("s"), ix("t"))] == [["s", "a", "t"], ["s", "b", "t"]]
    assert [ids(g, p) for p in shortest_paths(g, ix("s"), ix("t"), max_paths=1)] == [["s", "a", "t"]]
    assert shortest_paths(g, ix("s"), ix("t"), max_paths=0) == []
    assert shortest_paths(g, ix("s"), ix("t"), max_hops=1) == []
    assert shortest_paths(g, ix("s"), ix("s")) == []
    assert shortest_paths(g, ix("s"), ix("lone")) == []
    assert shortest_paths(g, ix("s"), ix("u"), max_hops=3) == []
    assert [ids(g, p) for p in shortest_paths(g, ix("s"), ix("u"), max_hops=4)] == [
        ["s", "a", "t", "y2", "u"], ["s", "b", "t", "y2", "u"]]
    assert [ids(g, p) for p in shortest_paths(g, ix("u"), ix("s"), max_hops=4)] == [
        ["u", "y2", "t", "a", "s"], ["u", "y2", "t", "b", "s"]]
    with pytest.raises(IndexError):
        shortest_paths(g, 0, g.num_nodes)
    with pytest.raises(ValueError):
        shortest_paths(g, 0, 1, max_hops=-1)
    mm = many_to_many(g, [ix("s"), ix("u")], [ix("t"), ix("u"), ix("lone")], max_hops=4, max_paths_per_pair=1)
    assert {(g.node_ids[s], g.node_ids[t]): [ids(g, p) for p in v] for (s, t), v in mm.items()} == {
        ("s", "t"): [["s", "a", "t"]], ("s", "u"): [["s", "a", "t", "y2", "u"]], ("s", "lone"): [],
        ("u", "t"): [["u", "y2", "t"]], ("u", "u"): [], ("u", "lone"): []}


def _random_graph(rng: random.Random, n: int, m: int) -> tuple[KnowledgeGraph, nx.Graph]:
    edges = [(f"n{rng.randrange(n):03d}", rng.choice("pqr"), f"n{rng.randrange(n):03d}") for _ in range(m)]
    g = build_graph(edges)
    G = nx.Graph()
    G.add_nodes_from(range(g.num_nodes))
    G.add_edges_from((g.index_of(h), g.index_of(t)) for h, _, t in edges if h != t)
    return g, G


def test_against_networkx_on_random_graphs():
    rng = random.Random(20261126)
    compared = with_path = 0
    for _ in range(40):
        n = rng.randint(8, 80)
        g, G = _random_graph(rng, n, rng.randint(n, 4 * n))
        assert g.num_edges == G.number_of_edges()
        assert [g.degree(i) for i in range(g.num_nodes)] == [G.degree(i) for i in range(g.num_nodes)]
        for _ in range(40):
            a, b = rng.randrange(g.num_nodes), rng.randrange(g.num_nodes)
            if a == b:
                continue
            try:
                d = nx.shortest_path_length(G, a, b)
                expected = sorted(nx.all_shortest_paths(G, a, b)) if d <= 4 else []
            except nx.NetworkXNoPath:
                expected = []
            assert shortest_paths(g, a, b, max_hops=4, max_paths=10 ** 6) == expected
            assert shortest_paths(g, a, b, max_hops=4, max_paths=3) == expected[:3]
            compared += 1
            with_path += bool(expected)
        srcs = [rng.randrange(g.num_nodes) for _ in range(4)]
        dsts = [rng.randrange(g.num_nodes) for _ in range(4)]
        mm = many_to_many(g, srcs, dsts, max_hops=3, max_paths_per_pair=5)
        assert mm == {(s, t): shortest_paths(g, s, t, 3, 5) for s in srcs for t in dsts}
    assert compared > 1400 and with_path > 700


def test_against_networkx_on_a_hub_graph():
    # a few hubs joined to most nodes: many shortest paths, capped by max_paths
    rng = random.Random(7)
    edges = [(f"h{h}", "r", f"v{v:03d}") for h in range(3) for v in range(200) if rng.random() < 0.5]
    edges += [(f"v{rng.randrange(200):03d}", "s", f"v{rng.randrange(200):03d}") for _ in range(150)]
    g = build_graph(edges)
    G = nx.Graph([(g.index_of(h), g.index_of(t)) for h, _, t in edges if h != t])
    for _ in range(200):
        a, b = rng.sample(sorted(G.nodes), 2)
        expected = [p for p in sorted(nx.all_shortest_paths(G, a, b)) if len(p) <= 4]
        assert shortest_paths(g, a, b, max_hops=3, max_paths=20) == expected[:20]


def test_determinism_and_pickling():
    rng = random.Random(3)
    g, _ = _random_graph(rng, 300, 900)
    pairs = [(rng.randrange(300), rng.randrange(300)) for _ in range(100)]
    first = [shortest_paths(g, a, b, 3, 20) for a, b in pairs]
    assert [shortest_paths(g, a, b, 3, 20) for a, b in pairs] == first
    g2 = pickle.loads(pickle.dumps(g))
    assert [shortest_paths(g2, a, b, 3, 20) for a, b in pairs] == first
    assert sum(bool(p) for p in first) > 50


# ------------------------------------------------------------------------------------------
# the real files
# ------------------------------------------------------------------------------------------

def _need(*paths: Path) -> None:
    for p in paths:
        if not p.exists():
            pytest.skip(f"{p} is absent")


@pytest.fixture(scope="module")
def hetionet():
    nodes, edges, meta = HET / "hetionet-v1.0-nodes.tsv", HET / "edges-5k.sif.gz", HET / "metaedges.tsv"
    _need(nodes, edges, meta)
    return load_hetionet(str(nodes), str(edges), metaedges_tsv=str(meta))


def test_real_hetionet_counts(hetionet):
    g = hetionet
    st = g.stats()
    assert g.num_nodes == 47031
    assert st["input_edges"] == 99676
    # 99,676 rows = 99,523 distinct node pairs + 2 reverse + 151 parallel edges
    assert (g.num_edges, st["reverse_edges"], st["parallel_edges"], st["duplicate_edges"], st["self_loops"]) == (
        99523, 2, 151, 0, 0)
    assert st["isolated_nodes"] == 20457 and st["max_degree"] == 660
    assert len(g.relations) == 16 and "treats" in g.relations and "regulates" in g.relations
    assert st["nodes_per_type"]["Gene"] == 20945 and st["nodes_per_type"]["Disease"] == 137
    assert st["edges_per_relation"]["treats"] == 755
    merged = load_graph([str(HET / "edges-5k.sif.gz"), str(HET / "hetionet-v1.0-nodes.tsv"),
                         str(HET / "metaedges.tsv")])
    assert merged.fingerprint == g.fingerprint


def test_real_hetionet_named_paths(hetionet):
    g = hetionet
    ix = g.index_of
    # Doxorubicin treats uterine cancer: one hop
    dox, uterine = ix("Compound::DB00997"), ix("Disease::DOID:363")
    assert (g.node_names[dox], g.node_names[uterine]) == ("Doxorubicin", "uterine cancer")
    assert shortest_paths(g, dox, uterine) == [[dox, uterine]]
    assert path_steps(g, [dox, uterine]) == [(dox, g.relations.index("treats"), uterine, False)]
    assert path_steps(g, [uterine, dox]) == [(uterine, g.relations.index("treats"), dox, True)]
    aspirin = ix("Compound::DB00945")
    assert g.node_names[aspirin] == "Acetylsalicylic acid"
    # two hops to hypertension, through two genes aspirin binds
    assert [ids(g, p) for p in shortest_paths(g, aspirin, ix("Disease::DOID:10763"))] == [
        ["Compound::DB00945", "Gene::213", "Disease::DOID:10763"],
        ["Compound::DB00945", "Gene::5742", "Disease::DOID:10763"]]
    binds, assoc = g.relations.index("binds"), g.relations.index("associates")
    assert path_steps(g, [aspirin, ix("Gene::213"), ix("Disease::DOID:10763")]) == [
        (aspirin, binds, ix("Gene::213"), False), (ix("Gene::213"), assoc, ix("Disease::DOID:10763"), True)]
    # three hops to lymphatic system cancer
    lymph = ix("Disease::DOID:0060073")
    assert [ids(g, p) for p in shortest_paths(g, aspirin, lymph)] == [
        ["Compound::DB00945", "Disease::DOID:7148", "Compound::DB00563", "Disease::DOID:0060073"],
        ["Compound::DB00945", "Disease::DOID:9074", "Compound::DB00563", "Disease::DOID:0060073"],
        ["Compound::DB00945", "Gene::213", "Compound::DB00563", "Disease::DOID:0060073"]]
    assert shortest_paths(g, aspirin, lymph, max_hops=2) == []
    # leprosy: 86 shortest 3-hop paths, the first 20 in order
    leprosy = ix("Disease::DOID:1024")
    capped = shortest_paths(g, aspirin, leprosy, max_hops=3, max_paths=20)
    assert len(capped) == 20
    assert ids(g, capped[0]) == ["Compound::DB00945", "Disease::DOID:13189", "Anatomy::UBERON:0000043", "Disease::DOID:1024"]
    assert ids(g, capped[19]) == ["Compound::DB00945", "Disease::DOID:6364", "Anatomy::UBERON:0001460", "Disease::DOID:1024"]
    assert len(shortest_paths(g, aspirin, leprosy, max_hops=3, max_paths=1000)) == 86
    # the same paths from networkx on the same edges
    G = nx.Graph()
    src = np.repeat(np.arange(g.num_nodes), np.diff(g.indptr))
    G.add_edges_from(zip(src.tolist(), g.nbr.tolist()))
    for target in (ix("Disease::DOID:10763"), lymph, leprosy):
        assert shortest_paths(g, aspirin, target, max_paths=1000) == sorted(nx.all_shortest_paths(G, aspirin, target))
    # many_to_many gives the same answers
    mm = many_to_many(g, [aspirin, dox], [uterine, lymph, leprosy], max_hops=3, max_paths_per_pair=20)
    assert mm[(aspirin, leprosy)] == capped and mm[(dox, uterine)] == [[dox, uterine]]
    assert len(mm) == 6


def test_real_hetionet_json_subgraph():
    p = HET / "bupropion-CbGpPWpGaD-subgraph.json.gz"
    _need(p)
    g = load_hetionet_json(str(p))
    st = g.stats()
    assert (g.num_nodes, g.num_edges, st["input_edges"]) == (3060, 18474, 18474)
    assert g.relations == ("associates", "binds", "interacts", "participates")
    assert st["edges_per_relation"] == {"associates": 937, "binds": 5634, "interacts": 5124, "participates": 6779}
    assert st["nodes_per_type"] == {"Compound": 730, "Disease": 16, "Gene": 2226, "Pathway": 88}
    assert g.node_names[g.index_of("Compound::DB01156")] == "Bupropion"


def test_real_primekg_plus_sample():
    _need(PRIMEKG_SAMPLE)
    g = load_primekg(str(PRIMEKG_SAMPLE))
    st = g.stats()
    assert st["input_edges"] == 550
    # 17 rows join a node to itself; 17 rows repeat a pair the other way, 7 with another relation
    assert (g.num_nodes, g.num_edges, st["self_loops"], st["reverse_edges"], st["parallel_edges"]) == (448, 509, 17, 17, 7)
    # five GO terms appear with both 'cellular component' and 'cellular_component' style types
    assert st["node_attribute_conflicts"] == 6
    canavan = g.index_of("MONDO_grouped:10079_16781_16207")
    assert (g.node_names[canavan], g.node_types[canavan]) == ("Canavan disease", "disease")
    assert "phenotype present" in g.relations
