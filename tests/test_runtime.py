"""Process settings of the build's workers: the heap trimmer (``transforms.runtime``)."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from transforms import runtime

REPO = Path(__file__).resolve().parents[1]
GLIBC = runtime._malloc_trim() is not None


def run_child(code: str, **env) -> str:
    import os
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO), **env}, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_trim_interval_reads_the_variable(monkeypatch):
    monkeypatch.delenv(runtime.TRIM_INTERVAL_ENV, raising=False)
    assert runtime.trim_interval() == runtime.DEFAULT_TRIM_INTERVAL == 5.0
    for raw, expected in (("2.5", 2.5), ("0", 0.0), (" 10 ", 10.0), ("-3", 0.0), ("", 5.0)):
        monkeypatch.setenv(runtime.TRIM_INTERVAL_ENV, raw)
        assert runtime.trim_interval() == expected
    monkeypatch.setenv(runtime.TRIM_INTERVAL_ENV, "often")
    with pytest.raises(ValueError, match="LEADSINSTRUCT_TRIM_INTERVAL='often': expected seconds"):
        runtime.trim_interval()


@pytest.mark.skipif(not GLIBC, reason="malloc_trim is glibc's")
def test_one_trimmer_thread_per_process_and_none_when_turned_off():
    code = """
        import threading
        from transforms.runtime import start_heap_trimmer, TRIM_THREAD_NAME
        names = lambda: sorted(t.name for t in threading.enumerate() if t.name == TRIM_THREAD_NAME)
        print(start_heap_trimmer(), start_heap_trimmer(), start_heap_trimmer(0.5), len(names()))
    """
    assert run_child(code) == "True True True 1"
    assert run_child(code.replace("start_heap_trimmer(), start_heap_trimmer(), start_heap_trimmer(0.5)",
                                  "start_heap_trimmer(), start_heap_trimmer(0), False"),
                     LEADSINSTRUCT_TRIM_INTERVAL="0") == "False False False 0"


@pytest.mark.skipif(not GLIBC, reason="malloc_trim is glibc's")
def test_trimming_hands_freed_heap_pages_back():
    """200 MB of 4 kB strings, all but every 64th freed: the freed pages stay resident (the live
    strings pin the heap) until the heap is trimmed."""
    code = """
        from transforms.runtime import trim_heap
        def rss_mb():
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * 4096 / 1e6
        blocks = [bytes([i % 251]) * 4000 for i in range(50_000)]
        kept = blocks[::64]
        del blocks
        before = rss_mb()
        released = trim_heap()
        after = rss_mb()
        print(released, round(before - after), len(kept))
    """
    released, dropped, kept = run_child(code).split()
    assert released == "True" and kept == "782"
    assert int(dropped) > 150, dropped
