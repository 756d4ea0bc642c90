"""``transforms.parse_pool.ParsePool``: files parsed in worker processes give exactly the records
of an in-process parse, in file order, in batches; a dead worker or a transient error stops the
read with an error instead of losing records."""
from __future__ import annotations

import gzip
import os

import pytest

from synth.sample import write_sample_corpus
from transforms.parse_pool import BATCH, ParsePool, WorkerDied
from transforms.read import parse_file


def numbers(path: str):
    """Test parse function (module level: workers import it): ``.../n<count>`` → 0 … count-1;
    ``die`` ends the worker process; ``reset`` raises ConnectionError after one number."""
    name = os.path.basename(path)
    if name == "die":
        os._exit(3)
    if name == "reset":
        yield 0
        raise ConnectionError("connection reset by peer")
    yield from range(int(name[1:]))


def _files(root) -> list[str]:
    write_sample_corpus(str(root / "sample"))
    files = sorted(str(p) for p in (root / "sample").rglob("*") if p.is_file())
    cut = root / "cut.xml.gz"
    data = gzip.decompress(open(next(f for f in files if f.endswith(".xml.gz") and "/pubmed/" in f), "rb").read())
    cut.write_bytes(gzip.compress(data[: len(data) // 2], mtime=0))
    return files + [str(cut)]


def test_pool_records_equal_in_process_parse(tmp_path):
    files = _files(tmp_path)
    expected = {f: list(parse_file(f)) for f in files}
    pool = ParsePool(2, parse_file)
    try:
        got: dict[str, list] = {}
        for f in files:
            pool.submit(f)
        for record in pool.drain():
            got.setdefault(record.source_file, []).append(record)
        assert pool.pending == 0
    finally:
        pool.close()
    # every record of every file, in the file's own order, equal field by field
    by_source: dict[str, list] = {}
    for records in expected.values():
        for r in records:
            by_source.setdefault(r.source_file, []).append(r)
    assert got == by_source
    assert pool.records_received == sum(map(len, expected.values())) == 141  # the sample: 141 records
    cut = expected[str(tmp_path / "cut.xml.gz")]
    assert type(cut[-1]).__name__ == "DeadLetter" and cut[-1].error_type == "XMLSyntaxError"


@pytest.fixture
def pool():
    """A one-worker pool running ``numbers``, closed after the test."""
    numbers_pool = ParsePool(1, numbers)
    yield numbers_pool
    numbers_pool.close()


def test_records_come_in_batches_and_in_file_order(tmp_path, pool):
    pool.submit(str(tmp_path / f"n{2 * BATCH + 5}"))
    pool.submit(str(tmp_path / "n3"))
    got = list(pool.drain())
    assert got == list(range(2 * BATCH + 5)) + [0, 1, 2]
    assert pool.records_received == 2 * BATCH + 8
    with pytest.raises(ValueError, match="already being parsed"):
        pool.submit(str(tmp_path / "n1"))
        pool.submit(str(tmp_path / "n1"))


def test_a_dead_worker_stops_the_read_naming_the_file(tmp_path, pool):
    pool.submit(str(tmp_path / "die"))
    with pytest.raises(WorkerDied, match=r"exited with code 3 while these files were unfinished: .*/die$"):
        list(pool.drain())


def test_a_transient_error_is_raised_again_for_a_retry(tmp_path, pool):
    pool.submit(str(tmp_path / "reset"))
    got = []
    with pytest.raises(ConnectionError, match=r"/reset: ConnectionError: connection reset by peer"):
        for x in pool.drain():
            got.append(x)
    assert got == [] and pool.pending == 0  # the batch before the error is not sent: the file is retried whole


def test_close_stops_the_workers_and_a_pool_needs_one():
    pool = ParsePool(2, numbers)
    procs = list(pool._procs)
    pool.close()
    assert [p.exitcode for p in procs] == [0, 0]
    with pytest.raises(ValueError, match="at least 1 process"):
        ParsePool(0, numbers)
