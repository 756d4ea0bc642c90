"""Deterministic generator of the embedded sample corpus (real public formats, synthetic content).

Pure Python (stdlib + lxml); no Beam import. ``write_sample_corpus`` and ``sample_truth`` are
loaded from ``synth.sample`` on first use, so ``python -m synth.sample`` runs cleanly.
"""
__all__ = ["write_sample_corpus", "sample_truth"]


def __getattr__(name: str):
    if name in __all__:
        from synth import sample
        return getattr(sample, name)
    raise AttributeError(f"module 'synth' has no attribute {name!r}")
