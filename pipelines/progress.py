"""Live progress of a local build (records parsed and built per stage, elapsed time and rate) and
of the KG reasoning job (QA pairs read and reasoned).

``BuildProgress(stream, interval)`` is a context manager around ``pipeline.run()``: every
``interval`` seconds it prints one line from the same-process counter tally
(``transforms.metrics.live``), and a last line when the run ends. With runners whose work
happens in other processes (multi_processing, Dataflow) the tally stays empty and it prints
nothing but the last line; Dataflow shows its own progress in the console.
"""
from __future__ import annotations

import sys
import threading
import time
from typing import Optional, TextIO

from transforms.metrics import live, reset_live

PARSED = (("files", "read.files"), ("pubmed", "pubmed.parsed"), ("pmc", "pmc.parsed"),
          ("ctgov", "ctgov.parsed"), ("links", "links.parsed"))


def progress_line(counts: dict, elapsed: float) -> str:
    parts = [f"{label} {counts.get(key, 0):,}" for label, key in PARSED if counts.get(key)]
    parsed = sum(counts.get(k, 0) for _, k in PARSED[1:])
    built = sum(v for k, v in counts.items() if k.startswith("tasks.") and k.endswith(".built"))
    dead = sum(v for k, v in counts.items() if k.endswith(".dead_letter"))
    rate = f" ({parsed / elapsed:,.0f}/s)" if elapsed > 0 and parsed else ""
    line = f"[build {elapsed:6.1f}s] read: {' · '.join(parts) or 'starting'}{rate}"
    line += f" | records built: {built:,}" + (f" ({built / elapsed:,.0f}/s)" if elapsed > 0 and built else "")
    if dead:
        line += f" | dead letters: {dead:,}"
    return line


def kg_progress_line(counts: dict, elapsed: float) -> str:
    """The KG reasoning job's line: QA pairs read, records kept and rejected, and the rate."""
    read, kept, rejected = counts.get("qa.parsed", 0), counts.get("kg_reasoning.kept", 0), counts.get(
        "kg_reasoning.rejected", 0)
    dead = sum(v for k, v in counts.items() if k.endswith(".dead_letter"))
    done = kept + rejected
    rate = f" ({done / elapsed:,.1f}/s)" if elapsed > 0 and done else ""
    line = (f"[kg_reasoning {elapsed:6.1f}s] QA read: {read:,} | reasoned: {done:,}{rate}, kept {kept:,}, "
            f"rejected {rejected:,}")
    return line + (f" | dead letters: {dead:,}" if dead else "")


class BuildProgress:
    """``line``: (counter tally, elapsed seconds) → the line to print (default: the build's)."""

    def __init__(self, stream: Optional[TextIO] = None, interval: float = 10.0, line=progress_line):
        self._line = line
        self._stream = stream if stream is not None else sys.stderr
        self._interval = interval
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._t0 = 0.0

    def __enter__(self):
        reset_live()
        self._t0 = time.time()
        if self._interval > 0:
            self._thread = threading.Thread(target=self._loop, name="build-progress", daemon=True)
            self._thread.start()
        return self

    def _loop(self):
        while not self._stop.wait(self._interval):
            self._emit()

    def _emit(self):
        self._stream.write(self._line(live(), time.time() - self._t0) + "\n")
        self._stream.flush()

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._interval > 0:
            self._emit()
        return False
