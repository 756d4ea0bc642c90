"""Shared test fixtures: the real public corpus in ../shared/corpus (present in CI)."""
from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_CORPUS = REPO.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus() -> Path:
    """Path of ``../shared/corpus``; tests that need it are skipped when it is absent."""
    if not SHARED_CORPUS.is_dir():
        pytest.skip("../shared/corpus is not present")
    return SHARED_CORPUS


def open_bytes(path: Path) -> io.BufferedIOBase:
    """Open a corpus file as a binary stream, decompressing ``.gz`` like the pipeline does."""
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return open(path, "rb")


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory) -> Path:
    """The embedded sample corpus, generated once per test session."""
    from synth.sample import write_sample_corpus
    d = tmp_path_factory.mktemp("sample")
    write_sample_corpus(str(d))
    return d


@pytest.fixture(scope="session")
def gcs():
    """A Cloud Storage emulator on 127.0.0.1 for the session (see tests/gcs_emulator.py), set up
    as the project's entry points do before a pipeline is constructed (``use_storage_emulator``)."""
    from tests.gcs_emulator import GcsEmulator
    from transforms.runtime import use_storage_emulator
    emulator = GcsEmulator()
    assert use_storage_emulator()
    yield emulator
    emulator.close()
