"""What Beam costs: the build on the local runner against a plain Python loop over the same functions.

    python bench/beam_overhead.py [--scale 0.1] [--rounds 2] [--work_dir /tmp/leadsinstruct-bench]

On one synthetic raw zone (``leadsinstruct synth --scale S``, shared with ``build_scale.py``) it
runs, side by side and alternating, for ``rounds`` rounds:

- ``plain``: ``bench/plain_build.py``, one process, no Beam (the same parse, join and task
  functions; writes the same Parquet outputs);
- ``beam_1``: the build on the FnApiRunner in in_memory mode, everything in one process
  (``--parse_processes 0``);
- ``beam_parse2``: the build as it runs by default: in_memory, with 2 worker processes parsing the
  input files beside the runner (``--parse_processes 2``);
- ``beam_2``: the build with ``--direct_num_workers 2 --direct_running_mode multi_processing``.

Every variant runs in a child process measured for wall, CPU and peak RSS of its process tree.
The record counts per task must agree between variants (the benchmark stops otherwise). Reported:
best wall per variant and the ratio of each Beam variant to the plain loop (> 1: slower).
Results: ``bench/results/beam_overhead.json``. Target (issue): the build with 2 workers
(``beam_parse2`` or ``beam_2``) no slower than ``plain``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from build_scale import ensure_raw  # noqa: E402
from procstat import python_env, run_measured  # noqa: E402

RESULTS = os.path.join(HERE, "results", "beam_overhead.json")


def variants(raw: str, work_dir: str) -> dict[str, tuple[list[str], str]]:
    py = sys.executable
    common = ["--snapshot_date", "2026-01-01"]
    out = {name: os.path.join(work_dir, f"overhead-{name}") for name in ("plain", "beam_1", "beam_parse2", "beam_2")}
    beam = [py, "-m", "pipelines.build", "--input_root", raw, *common, "--progress_interval", "0"]
    return {
        "plain": ([py, os.path.join(HERE, "plain_build.py"), raw, out["plain"], *common], out["plain"]),
        "beam_1": (beam + ["--output", out["beam_1"], "--parse_processes", "0"], out["beam_1"]),
        "beam_parse2": (beam + ["--output", out["beam_parse2"], "--parse_processes", "2"], out["beam_parse2"]),
        "beam_2": (beam + ["--output", out["beam_2"], "--direct_num_workers", "2",
                           "--direct_running_mode", "multi_processing"], out["beam_2"]),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work_dir", default="/tmp/leadsinstruct-bench")
    args = parser.parse_args(argv)
    os.makedirs(args.work_dir, exist_ok=True)
    raw = ensure_raw(args.work_dir, args.scale, args.seed, 2)["path"]
    runs: dict[str, list] = {}
    tasks: dict[str, dict] = {}
    for r in range(args.rounds):
        for name, (cmd, out) in variants(raw, args.work_dir).items():
            log_path = os.path.join(args.work_dir, f"overhead-{name}.log")
            with open(log_path, "w") as log:
                stat = run_measured(cmd, env=python_env(), stdout=log, stderr=log)
            if stat["returncode"]:
                raise SystemExit(f"{name} failed; see {log_path}")
            with open(os.path.join(out, "manifest.json")) as f:
                tasks[name] = json.load(f)["tasks"]
            runs.setdefault(name, []).append(stat)
            print(f"round {r + 1} {name:<11} wall {stat['wall_s']:>7.1f} s  cpu {stat['cpu_s']:>7.1f} s  "
                  f"peak RSS {stat['peak_tree_rss_mb']:>6.0f} MB", flush=True)
    if len({json.dumps(t, sort_keys=True) for t in tasks.values()}) != 1:
        raise SystemExit(f"variants built different records: {tasks}")
    best = {name: min(s["wall_s"] for s in stats) for name, stats in runs.items()}
    ratios = {name: round(best[name] / best["plain"], 3) for name in best if name != "plain"}
    for name, ratio in ratios.items():
        print(f"{name} / plain = {ratio}  (best wall {best[name]:.1f} s vs {best['plain']:.1f} s)")
    result = {"benchmark": "beam_overhead", "when": time.strftime("%Y-%m-%dT%H:%M:%S"), "scale": args.scale,
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
              "records": sum(next(iter(tasks.values())).values()), "tasks": next(iter(tasks.values())),
              "runs": runs, "best_wall_s": best, "ratio_to_plain": ratios}
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
