"""Run a command and measure it: wall time, CPU time and peak memory of its whole process tree.

Linux only (reads ``/proc``). The peak is sampled every ``interval`` seconds as the sum of the
resident sets of the command and all its descendants (the local runner's worker processes
included), and as the largest single process.
"""
from __future__ import annotations

import os
import resource
import subprocess
import threading
import time


def _children(pid: int) -> list[int]:
    """Child processes of every thread of ``pid`` (the runner starts workers from threads)."""
    out = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kb(pid: int) -> tuple[int, int]:
    """(sum, largest) of the resident sets of ``pid`` and all its descendants, in KiB."""
    total, largest, stack = 0, 0, [pid]
    while stack:
        p = stack.pop()
        rss = _rss_kb(p)
        total += rss
        largest = max(largest, rss)
        stack.extend(_children(p))
    return total, largest


def run_measured(cmd: list[str], interval: float = 0.5, env: dict | None = None, cwd: str | None = None,
                 stdout=None, stderr=None) -> dict:
    """Run ``cmd`` to completion; returns returncode, wall_s, cpu_s (user + system of the tree),
    peak_tree_rss_mb and peak_process_rss_mb."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=stdout, stderr=stderr)
    peak = [0, 0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            total, largest = tree_rss_kb(proc.pid)
            peak[0], peak[1] = max(peak[0], total), max(peak[1], largest)
            done.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    rc = proc.wait()
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"returncode": rc, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "peak_tree_rss_mb": round(peak[0] / 1024, 1),
            "peak_process_rss_mb": round(peak[1] / 1024, 1)}


def python_env() -> dict:
    """The environment for child Python processes, with the repository on ``PYTHONPATH``."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = repo + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env
