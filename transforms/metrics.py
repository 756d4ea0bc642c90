"""Beam metrics helpers: counters named ``<stage>.<outcome>`` in one namespace."""
from __future__ import annotations

from apache_beam.metrics import Metrics

NAMESPACE = "leadsinstruct"


def inc(name: str, n: int = 1) -> None:
    """Increment the counter ``name`` (e.g. ``pubmed.parsed``)."""
    Metrics.counter(NAMESPACE, name).inc(n)
