"""End-to-end build at several scales: wall time, records/s, CPU time and peak memory.

    python bench/build_scale.py [--scales 0.01,0.1,1.0] [--work_dir /tmp/leadsinstruct-bench]
                                [--mode in_memory|multi_processing] [--workers 2] [--parse_processes N]
                                [--results FILE]

For each scale it writes the synthetic raw zone once (``leadsinstruct synth --scale S``, kept in
``WORK_DIR/raw-<S>`` and reused while its ``synth_summary.json`` says the same scale and seed),
then runs the build (``python -m pipelines.build``; ``--mode``: the FnApiRunner's default in_memory
mode, or ``multi_processing`` with ``--workers`` processes; ``--parse_processes`` is passed on, and
its default lets the build start one parsing process per CPU in in_memory mode) in a child process, sampling the resident
memory of the whole process tree (runner and worker processes). Figures per scale: generation
time, build wall and CPU seconds, peak tree and single-process RSS, records per task (from the
manifest), records/s, and microseconds of wall per record. The cost-per-record ratio of each scale
against the previous one is printed and stored. Results: ``bench/results/build_scale.json``.

Targets (issue): scale 1.0 in at most 20 minutes on 2 cores, peak RSS at most 6 GB, cost per
record at 1.0 within 1.3x of that at 0.1.
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

from procstat import python_env, run_measured  # noqa: E402

RESULTS = os.path.join(HERE, "results", "build_scale.json")


def ensure_raw(work_dir: str, scale: float, seed: int, workers: int) -> dict:
    raw = os.path.join(work_dir, f"raw-{scale:g}")
    summary_path = os.path.join(raw, "synth_summary.json")
    if os.path.exists(summary_path):
        with open(summary_path) as f:
            summary = json.load(f)
        if summary.get("scale") == scale and summary.get("seed") == seed:
            return {"path": raw, "summary": summary, "generated": False}
    import shutil
    shutil.rmtree(raw, ignore_errors=True)
    stat = run_measured([sys.executable, "-m", "synth.scale", raw, "--scale", str(scale), "--seed", str(seed),
                         "--workers", str(workers)], env=python_env(), stdout=open(os.devnull, "w"))
    if stat["returncode"]:
        raise SystemExit(f"synth failed at scale {scale}")
    with open(summary_path) as f:
        summary = json.load(f)
    summary["generation"] = stat
    with open(summary_path, "w") as f:
        json.dump(summary, f, indent=2)
    return {"path": raw, "summary": summary, "generated": True}


def build_args(raw: str, out: str, workers: int, mode: str, parse_processes: int = -1) -> list[str]:
    args = [sys.executable, "-m", "pipelines.build", "--input_root", raw, "--output", out,
            "--snapshot_date", "2026-01-01", "--progress_interval", "30", "--parse_processes", str(parse_processes)]
    if mode == "multi_processing":
        args += ["--direct_num_workers", str(workers), "--direct_running_mode", "multi_processing"]
    return args


def measure(scale: float, work_dir: str, seed: int, workers: int, mode: str, parse_processes: int = -1) -> dict:
    raw = ensure_raw(work_dir, scale, seed, workers)
    out = os.path.join(work_dir, f"out-{scale:g}")
    log_path = os.path.join(work_dir, f"build-{scale:g}.log")
    with open(log_path, "w") as log:
        stat = run_measured(build_args(raw["path"], out, workers, mode, parse_processes), env=python_env(), stdout=log, stderr=log)
    if stat["returncode"]:
        raise SystemExit(f"build failed at scale {scale}; see {log_path}")
    with open(os.path.join(out, "manifest.json")) as f:
        manifest = json.load(f)
    records = manifest["total_records"]
    s = raw["summary"]
    return {
        "scale": scale, "mode": mode, "workers": workers, "parse_processes": parse_processes,
        "input": {k: s.get(k) for k in ("reviews", "publications", "pubmed_records", "trials", "fulltexts",
                                         "link_rows", "total_bytes")},
        "generation_wall_s": (s.get("generation") or {}).get("wall_s", s.get("seconds")),
        "build": stat,
        "records": records, "tasks": manifest["tasks"], "dead_letters": manifest["dead_letters_total"],
        "records_per_s": round(records / stat["wall_s"], 1),
        "wall_us_per_record": round(1e6 * stat["wall_s"] / records, 1),
        "cpu_us_per_record": round(1e6 * stat["cpu_s"] / records, 1),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scales", default="0.01,0.1,1.0")
    parser.add_argument("--work_dir", default="/tmp/leadsinstruct-bench")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--mode", choices=("multi_processing", "in_memory"), default="in_memory")
    parser.add_argument("--parse_processes", type=int, default=-1,
                        help="the build's --parse_processes (-1: its default, one per CPU in in_memory mode)")
    parser.add_argument("--results", default=RESULTS, help="where to write the JSON result")
    args = parser.parse_args(argv)
    os.makedirs(args.work_dir, exist_ok=True)
    runs = []
    for scale in (float(x) for x in args.scales.split(",")):
        r = measure(scale, args.work_dir, args.seed, args.workers, args.mode, args.parse_processes)
        if runs:
            r["cost_ratio_vs_previous"] = round(r["wall_us_per_record"] / runs[-1]["wall_us_per_record"], 3)
        runs.append(r)
        b = r["build"]
        print(f"scale {scale:<5g} records {r['records']:>8,}  wall {b['wall_s']:>8.1f} s  cpu {b['cpu_s']:>8.1f} s  "
              f"{r['records_per_s']:>8.1f} rec/s  {r['wall_us_per_record']:>7.1f} us/rec  "
              f"peak RSS tree {b['peak_tree_rss_mb']:>7.0f} MB (largest process {b['peak_process_rss_mb']:.0f} MB)"
              + (f"  cost ratio vs previous {r['cost_ratio_vs_previous']}" if "cost_ratio_vs_previous" in r else ""),
              flush=True)
    result = {"benchmark": "build_scale", "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "platform": platform.platform()}, "runs": runs}
    os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
    with open(args.results, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
