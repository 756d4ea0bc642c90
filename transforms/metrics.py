"""Beam metrics helpers: counters named ``<stage>.<outcome>`` in one namespace.

``inc`` also keeps a same-process tally (``live()``) that a local run's progress display reads
while the pipeline runs; the Beam counters stay the exact figures (``result.metrics()``), since a
tally misses work done in other processes (multi_processing, Dataflow) and counts retried bundles.
"""
from __future__ import annotations

import functools
import threading
from collections import defaultdict

from apache_beam.metrics import Metrics

NAMESPACE = "leadsinstruct"
_LIVE: dict[str, int] = defaultdict(int)
_LIVE_LOCK = threading.Lock()


@functools.lru_cache(maxsize=None)
def _counter(name: str):
    """The Beam counter ``name``, made once: it finds the running bundle's metrics container on
    each ``inc``, so one object serves every call (making one per call cost more than the increment)."""
    return Metrics.counter(NAMESPACE, name)


def inc(name: str, n: int = 1) -> None:
    """Increment the counter ``name`` (e.g. ``pubmed.parsed``)."""
    _counter(name).inc(n)
    with _LIVE_LOCK:
        _LIVE[name] += n


def live() -> dict[str, int]:
    """This process's tally of every counter so far (for progress display only)."""
    with _LIVE_LOCK:
        return dict(_LIVE)


def reset_live() -> None:
    with _LIVE_LOCK:
        _LIVE.clear()
