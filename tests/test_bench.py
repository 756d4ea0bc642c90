"""The benchmarks' baselines must do the same work as the build: the plain loop of
``bench/plain_build.py`` writes exactly the Beam build's task records and tables."""
from __future__ import annotations

import glob
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.test_build_pipeline import run_build
from transforms.tasks.common import TASKS

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _rows(root: Path, sub: str) -> list[dict]:
    rows = []
    for path in sorted(glob.glob(f"{root}/{sub}/part-*.parquet")):
        rows += pq.read_table(path).to_pylist()
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))


@pytest.fixture(scope="module")
def plain_build():
    sys.path.insert(0, str(BENCH))
    try:
        from plain_build import plain_build as fn
    finally:
        sys.path.remove(str(BENCH))
    return fn


def test_plain_loop_builds_the_same_records_as_beam(sample_dir, tmp_path, plain_build):
    manifest, _ = run_build(sample_dir, tmp_path / "beam")
    result = plain_build(str(sample_dir), str(tmp_path / "plain"), "2026-01-01")
    assert result["tasks"] == manifest["tasks"] and result["total_records"] == manifest["total_records"] == 220
    for task in TASKS:
        beam_rows = _rows(tmp_path / "beam", f"tasks/task={task}")
        assert beam_rows and _rows(tmp_path / "plain", f"tasks/task={task}") == beam_rows, task
    for table in ("articles", "fulltexts", "trials", "links"):
        assert _rows(tmp_path / "plain", f"tables/{table}") == _rows(tmp_path / "beam", f"tables/{table}"), table
    plain_manifest = json.loads((tmp_path / "plain" / "manifest.json").read_text())
    for key in ("tasks", "tables", "dead_letters", "unresolved", "rejected", "rejected_reasons", "merged",
                "total_records"):
        assert plain_manifest[key] == manifest[key], key


def test_process_tree_memory_is_measured(tmp_path):
    sys.path.insert(0, str(BENCH))
    try:
        from procstat import run_measured
    finally:
        sys.path.remove(str(BENCH))
    code = ("import subprocess, sys; b = bytearray(150 * 2**20); "
            "subprocess.run([sys.executable, '-c', 'import time; c = bytearray(120 * 2**20); time.sleep(1.5)'])")
    stat = run_measured([sys.executable, "-c", code], interval=0.1)
    assert stat["returncode"] == 0
    # parent (150 MB) and child (120 MB) alive together: the tree peak counts both, the largest one
    assert stat["peak_tree_rss_mb"] >= 270 and 150 <= stat["peak_process_rss_mb"] < 270


def test_path_search_benchmark_runs_and_agrees_with_networkx(tmp_path):
    """bench/path_search.py at a small size: the JSON holds what it printed, and our paths equal
    networkx's on every sampled pair of the real Hetionet sample."""
    from tests.test_kg_real import MEDREASON
    if not MEDREASON.is_dir():
        pytest.skip("../shared/corpus/medreason is not present")
    out = tmp_path / "ps.json"
    subprocess.run([sys.executable, str(BENCH / "path_search.py"), "--pairs", "40", "--synthetic_nodes", "1500",
                    "--synthetic_edges", "12000", "--rounds", "0", "--json", str(out), "--work_dir", str(tmp_path)],
                   check=True, capture_output=True, cwd=BENCH.parent)
    result = json.loads(out.read_text())
    assert result["hetionet_load"]["nodes"] == 47031 and result["hetionet_load"]["edges"] == 99523
    assert result["hetionet_search"]["pairs"] == result["hetionet_networkx"]["pairs"] == 40
    assert result["hetionet_networkx"]["mismatches"] == 0
    assert result["synthetic_input"]["nodes"] == 1500 and result["synthetic_search"]["pairs"] == 40
