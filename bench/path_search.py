"""Knowledge-graph loading and bounded shortest-path search: our CSR search against networkx.

    python bench/path_search.py [--json FILE] [--pairs 1000] [--seed 0] [--max_hops 3] [--max_paths 20]
                                [--synthetic_nodes 47000] [--synthetic_edges 2250000]
                                [--work_dir /tmp/leadsinstruct-bench] [--corpus DIR] [--no_networkx]

Measured, in this process:

1. loading the real Hetionet sample (``hetionet-v1.0-nodes.tsv`` + ``edges-5k.sif.gz`` +
   ``metaedges.tsv`` from ``--corpus``): wall seconds, resident-memory growth and peak, the CSR
   arrays' size and the pickled size;
2. ``shortest_paths`` (``--max_hops``, ``--max_paths``) on ``--pairs`` seeded random pairs of it
   ("connected-ish": the end of a random walk of 1 to 4 steps from a random non-isolated node):
   pairs/s, p50/p95/max latency per pair, how many pairs have a path, by distance;
3. the same on a seeded synthetic graph of ``--synthetic_nodes`` nodes and ``--synthetic_edges``
   KG edges (Chung-Lu random graph with power-law weights, 24 relations), written as a triples
   TSV in ``--work_dir`` and loaded with ``load_triples_tsv`` (load time and memory reported);
4. ``networkx.all_shortest_paths`` on the small graph's pairs (sorted, capped at ``--max_paths``,
   paths longer than ``--max_hops`` dropped), side by side with (2): pairs/s, latency and the
   ratio; every pair's result must equal ours (the benchmark stops otherwise).

It also measures the frontier-expansion threshold (``PY_EXPAND_MAX_VOLUME``: frontiers with at
most that many incident edges are grown in plain Python, larger ones with numpy gathers) on
both graphs, alternating settings over ``--rounds`` rounds.

Results: ``bench/results/path_search.json`` (or ``--json FILE``).
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import random
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)

from transforms.kg import graph as kg  # noqa: E402

RESULTS = os.path.join(HERE, "results", "path_search.json")
DEFAULT_CORPUS = os.path.join(os.path.dirname(REPO), "shared", "corpus", "medreason")
THRESHOLDS = (0, 64, 256, 1024, 1 << 40)


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    """Reset the process's peak RSS (VmHWM) so the next peak is measured from now; Linux only."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def measure_load(load) -> tuple[kg.KnowledgeGraph, dict]:
    """Call ``load()`` (returns a KnowledgeGraph) and measure wall time and memory (MB)."""
    exact_peak = _reset_peak()
    rss0 = _status_kb("VmRSS")
    t0 = time.perf_counter()
    g = load()
    wall = time.perf_counter() - t0
    rss1, hwm = _status_kb("VmRSS"), _status_kb("VmHWM")
    st = g.stats()
    return g, {
        "wall_s": round(wall, 3), "nodes": g.num_nodes, "edges": g.num_edges, "input_edges": st["input_edges"],
        "relations": len(g.relations), "max_degree": st["max_degree"], "mean_degree": st["mean_degree"],
        "rss_growth_mb": round((rss1 - rss0) / 1024, 1),
        "peak_rss_growth_mb": round((hwm - rss0) / 1024, 1) if exact_peak else None,
        "csr_mb": round(st["memory_bytes"] / 2 ** 20, 2),
        "pickled_mb": round(len(pickle.dumps(g, protocol=pickle.HIGHEST_PROTOCOL)) / 2 ** 20, 2),
        "fingerprint": g.fingerprint,
    }


def sample_pairs(g: kg.KnowledgeGraph, n: int, seed: int) -> list[tuple[int, int]]:
    """``n`` (src, dst) node-index pairs: a random non-isolated node and the end of a random walk
    of 1 to 4 steps from it (skipped when it returns to the start)."""
    rng = random.Random(seed)
    nonisolated = np.flatnonzero(np.diff(g.indptr)).tolist()
    pairs = []
    while len(pairs) < n:
        s = v = rng.choice(nonisolated)
        for _ in range(rng.randint(1, 4)):
            nb = g.neighbors(v)
            v = int(nb[rng.randrange(len(nb))])
        if v != s:
            pairs.append((s, v))
    return pairs


def _latency(lat: list[float], wall: float, n: int) -> dict:
    a = np.asarray(lat) * 1e3
    return {"pairs": n, "wall_s": round(wall, 3), "pairs_per_s": round(n / wall, 1),
            "p50_ms": round(float(np.percentile(a, 50)), 3), "p95_ms": round(float(np.percentile(a, 95)), 3),
            "max_ms": round(float(a.max()), 3), "mean_ms": round(float(a.mean()), 3)}


def run_ours(g: kg.KnowledgeGraph, pairs, max_hops: int, max_paths: int) -> tuple[dict, list]:
    lat, results = [], []
    t0 = time.perf_counter()
    for s, t in pairs:
        t1 = time.perf_counter()
        results.append(kg.shortest_paths(g, s, t, max_hops, max_paths))
        lat.append(time.perf_counter() - t1)
    out = _latency(lat, time.perf_counter() - t0, len(pairs))
    by_hops: dict[str, int] = {}
    for paths in results:
        key = str(len(paths[0]) - 1) if paths else "none"
        by_hops[key] = by_hops.get(key, 0) + 1
    out["pairs_by_distance"] = dict(sorted(by_hops.items()))
    out["paths"] = sum(len(p) for p in results)
    out["pairs_capped"] = sum(len(p) == max_paths for p in results)
    return out, results


def run_networkx(g: kg.KnowledgeGraph, pairs, max_hops: int, max_paths: int, ours: list) -> dict:
    import networkx as nx
    t0 = time.perf_counter()
    G = nx.Graph()
    G.add_nodes_from(range(g.num_nodes))
    src = np.repeat(np.arange(g.num_nodes), np.diff(g.indptr))
    upper = src < g.nbr
    G.add_edges_from(zip(src[upper].tolist(), g.nbr[upper].tolist()))
    build_s = time.perf_counter() - t0
    lat, mismatches = [], 0
    t0 = time.perf_counter()
    for (s, t), mine in zip(pairs, ours):
        t1 = time.perf_counter()
        try:
            paths = sorted(nx.all_shortest_paths(G, s, t))
        except nx.NetworkXNoPath:
            paths = []
        paths = [p for p in paths if len(p) - 1 <= max_hops][:max_paths]
        lat.append(time.perf_counter() - t1)
        mismatches += paths != mine
    out = _latency(lat, time.perf_counter() - t0, len(pairs))
    out["graph_build_s"] = round(build_s, 3)
    out["networkx"] = nx.__version__
    out["mismatches"] = mismatches
    if mismatches:
        raise SystemExit(f"networkx disagrees with shortest_paths on {mismatches} pairs")
    return out


def write_synthetic(path: str, nodes: int, edges: int, seed: int) -> dict:
    """A Chung-Lu random graph as a triples TSV (str path): both endpoints of every edge drawn
    with probability proportional to (rank + 10) ** -0.8 (a power-law degree distribution), the
    relation uniformly among 24 names."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    w = (np.arange(nodes) + 10.0) ** -0.8
    w /= w.sum()
    ranks = rng.permutation(nodes)  # which node id gets which weight
    heads = ranks[rng.choice(nodes, size=edges, p=w)]
    tails = ranks[rng.choice(nodes, size=edges, p=w)]
    rels = rng.integers(0, 24, size=edges)
    names = np.array([f"N{i:06d}" for i in range(nodes)], dtype=object)
    rel_names = np.array([f"relation_{i:02d}" for i in range(24)], dtype=object)
    with open(path, "w") as f:
        f.write("head\trelation\ttail\n")
        step = 250_000
        for k in range(0, edges, step):
            sl = slice(k, k + step)
            f.write("".join(h + "\t" + r + "\t" + t + "\n"
                            for h, r, t in zip(names[heads[sl]], rel_names[rels[sl]], names[tails[sl]])))
    return {"nodes": nodes, "edges": edges, "seed": seed, "bytes": os.path.getsize(path),
            "generation_s": round(time.perf_counter() - t0, 2)}


def threshold_sweep(g: kg.KnowledgeGraph, pairs, max_hops: int, max_paths: int, rounds: int) -> dict:
    """Best pairs/s per PY_EXPAND_MAX_VOLUME setting, settings alternating within each round."""
    saved = kg.PY_EXPAND_MAX_VOLUME
    best: dict[str, float] = {}
    try:
        for _ in range(rounds):
            for thr in THRESHOLDS:
                kg.PY_EXPAND_MAX_VOLUME = thr
                t0 = time.perf_counter()
                for s, t in pairs:
                    kg.shortest_paths(g, s, t, max_hops, max_paths)
                rate = len(pairs) / (time.perf_counter() - t0)
                key = "python_always" if thr >= 1 << 40 else ("numpy_always" if thr == 0 else f"python_up_to_{thr}")
                best[key] = round(max(best.get(key, 0.0), rate), 1)
    finally:
        kg.PY_EXPAND_MAX_VOLUME = saved
    return best


def _row(label: str, r: dict) -> str:
    return (f"{label:<34} {r['pairs_per_s']:>10,.0f} {r['p50_ms']:>9.3f} {r['p95_ms']:>9.3f} {r['max_ms']:>9.2f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", default=RESULTS, help="where to write the JSON result")
    parser.add_argument("--corpus", default=DEFAULT_CORPUS, help="the medreason corpus directory")
    parser.add_argument("--work_dir", default="/tmp/leadsinstruct-bench")
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max_hops", type=int, default=3)
    parser.add_argument("--max_paths", type=int, default=20)
    parser.add_argument("--synthetic_nodes", type=int, default=47_000)
    parser.add_argument("--synthetic_edges", type=int, default=2_250_000)
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the expansion-threshold sweep (0: skip)")
    parser.add_argument("--no_networkx", action="store_true")
    args = parser.parse_args(argv)
    het = os.path.join(args.corpus, "hetionet")
    files = [os.path.join(het, f) for f in ("hetionet-v1.0-nodes.tsv", "edges-5k.sif.gz", "metaedges.tsv")]
    for f in files:
        if not os.path.exists(f):
            raise SystemExit(f"missing {f} (set --corpus)")
    result: dict = {"benchmark": "path_search", "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
                    "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                "numpy": np.__version__},
                    "max_hops": args.max_hops, "max_paths": args.max_paths, "seed": args.seed,
                    "expand_threshold": kg.PY_EXPAND_MAX_VOLUME}

    small, result["hetionet_load"] = measure_load(lambda: kg.load_hetionet(*files[:2], metaedges_tsv=files[2]))
    pairs = sample_pairs(small, args.pairs, args.seed)
    result["hetionet_search"], ours = run_ours(small, pairs, args.max_hops, args.max_paths)
    if not args.no_networkx:
        result["hetionet_networkx"] = run_networkx(small, pairs, args.max_hops, args.max_paths, ours)
        result["networkx_time_ratio"] = round(result["hetionet_networkx"]["wall_s"]
                                              / result["hetionet_search"]["wall_s"], 1)

    os.makedirs(args.work_dir, exist_ok=True)
    synth_path = os.path.join(args.work_dir, f"kg-synthetic-{args.synthetic_nodes}-{args.synthetic_edges}"
                                             f"-{args.seed}.tsv")
    result["synthetic_input"] = write_synthetic(synth_path, args.synthetic_nodes, args.synthetic_edges, args.seed)
    big, result["synthetic_load"] = measure_load(lambda: kg.load_triples_tsv(synth_path))
    big_pairs = sample_pairs(big, args.pairs, args.seed)
    result["synthetic_search"], _ = run_ours(big, big_pairs, args.max_hops, args.max_paths)
    many_src = sorted({s for s, _ in big_pairs[:10]})
    many_dst = sorted({t for _, t in big_pairs[:10]})
    t0 = time.perf_counter()
    mm = kg.many_to_many(big, many_src, many_dst, args.max_hops, args.max_paths)
    mm_wall = time.perf_counter() - t0
    t0 = time.perf_counter()
    single = {(s, t): kg.shortest_paths(big, s, t, args.max_hops, args.max_paths) for s in many_src for t in many_dst}
    single_wall = time.perf_counter() - t0
    if single != mm:
        raise SystemExit("many_to_many differs from shortest_paths pair by pair")
    result["synthetic_many_to_many"] = {"sources": len(many_src), "targets": len(many_dst), "pairs": len(mm),
                                        "wall_s": round(mm_wall, 3), "pairwise_wall_s": round(single_wall, 3),
                                        "speedup": round(single_wall / mm_wall, 2)}
    if args.rounds:
        result["expand_threshold_pairs_per_s"] = {
            "hetionet": threshold_sweep(small, pairs, args.max_hops, args.max_paths, args.rounds),
            "synthetic": threshold_sweep(big, big_pairs, args.max_hops, args.max_paths, args.rounds)}

    print(f"{'graph':<34} {'nodes':>10} {'edges':>10} {'load s':>8} {'RSS +MB':>8} {'peak +MB':>8} {'CSR MB':>7}")
    for label, key in (("hetionet sample (nodes + 5k)", "hetionet_load"), ("synthetic", "synthetic_load")):
        r = result[key]
        peak = r["peak_rss_growth_mb"]
        print(f"{label:<34} {r['nodes']:>10,} {r['edges']:>10,} {r['wall_s']:>8.2f} {r['rss_growth_mb']:>8.1f} "
              f"{peak if peak is not None else float('nan'):>8.1f} {r['csr_mb']:>7.1f}")
    print()
    print(f"{'search (max_hops %d, max_paths %d)' % (args.max_hops, args.max_paths):<34} "
          f"{'pairs/s':>10} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9}")
    print(_row("ours, hetionet sample", result["hetionet_search"]))
    if "hetionet_networkx" in result:
        print(_row("networkx, hetionet sample", result["hetionet_networkx"]))
    print(_row("ours, synthetic", result["synthetic_search"]))
    if "networkx_time_ratio" in result:
        print(f"networkx / ours (wall, same pairs): {result['networkx_time_ratio']}x")
    print(f"pairs by distance: hetionet {result['hetionet_search']['pairs_by_distance']}, "
          f"synthetic {result['synthetic_search']['pairs_by_distance']}")
    m = result["synthetic_many_to_many"]
    print(f"many_to_many {m['sources']}x{m['targets']} on synthetic: {m['wall_s']} s vs {m['pairwise_wall_s']} s pair by pair")
    if "expand_threshold_pairs_per_s" in result:
        print(f"expansion threshold (pairs/s): {result['expand_threshold_pairs_per_s']}")
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
