"""Progress of a fetch: per stage, how many requests are planned and done, and records so far."""
from __future__ import annotations

import sys
import threading
import time
from typing import Optional, TextIO


class Progress:
    """Thread-safe counters, printed as one line every ``interval`` seconds while a fetch runs.

    Stages are shown in the order first seen: ``pubmed.search 4/10 pages · 1,930 records``.
    A stage whose total is not known yet (CT.gov pages before the last one) shows ``?``.
    """

    def __init__(self, stream: Optional[TextIO] = None, interval: float = 2.0, stats=None, ctgov_stats=None):
        self._stream = stream
        self._interval = interval
        self._lock = threading.Lock()
        self._stages: dict[str, dict] = {}
        self._stats = stats
        self._ctgov_stats = ctgov_stats
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._t0 = time.time()

    def plan(self, stage: str, total: Optional[int], unit: str = "requests",
             records_total: Optional[int] = None) -> None:
        with self._lock:
            s = self._stages.setdefault(stage, {"done": 0, "skipped": 0, "records": 0, "failed": 0,
                                                "total": None, "unit": unit})
            s["total"], s["unit"] = total, unit
            if records_total is not None:
                s["records_total"] = records_total

    def add(self, stage: str, done: int = 0, records: int = 0, skipped: int = 0, failed: int = 0) -> None:
        with self._lock:
            s = self._stages.setdefault(stage, {"done": 0, "skipped": 0, "records": 0, "failed": 0,
                                                "total": None, "unit": "requests"})
            s["done"] += done
            s["records"] += records
            s["skipped"] += skipped
            s["failed"] += failed

    def snapshot(self) -> dict:
        with self._lock:
            return {k: dict(v) for k, v in self._stages.items()}

    def line(self) -> str:
        parts = []
        for name, s in self.snapshot().items():
            if s["total"] == 0 and not (s["done"] or s["skipped"] or s["failed"]):
                continue  # nothing to do there
            total = "?" if s["total"] is None else f"{s['total']:,}"
            p = f"{name} {s['done'] + s['skipped'] + s['failed']:,}/{total} {s['unit']}"
            if s["records"] or s.get("records_total"):
                p += f", {s['records']:,}"
                p += f"/{s['records_total']:,} records" if s.get("records_total") is not None else " records"
            if s["skipped"]:
                p += f" ({s['skipped']:,} already there)"
            if s["failed"]:
                p += f" [{s['failed']:,} failed]"
            parts.append(p)
        for label, stats in (("E-utilities", self._stats), ("CT.gov", self._ctgov_stats)):
            if stats is not None:
                st = stats.snapshot()
                if st["requests"]:
                    parts.append(f"{label} {st['requests']:,} requests, {st['retries']:,} retries")
        return f"[fetch {time.time() - self._t0:6.1f}s] " + " · ".join(parts)

    def start(self) -> None:
        if self._stream is None or self._thread is not None or self._interval <= 0:
            return
        self._thread = threading.Thread(target=self._loop, name="fetch-progress", daemon=True)
        self._thread.start()

    def _loop(self):
        while not self._stop.wait(self._interval):
            self._stream.write(self.line() + "\n")
            self._stream.flush()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._stream is not None:
            self._stream.write(self.line() + "\n")
            self._stream.flush()


def default_stream() -> TextIO:
    return sys.stderr
