"""Read every input file and parse it by content into typed records.

Composite: ``ParseInputFiles(patterns, processes=0)``: PBegin → tagged PCollections
  articles: Article · deletions: DeletedCitation · fulltexts: FullText · trials: Trial ·
  review_links: ReviewLink · criteria: ReviewCriteria · dead_letters: DeadLetter
With ``processes`` > 0, files of ``POOL_MIN_BYTES`` or more are parsed in that many worker
processes (``transforms.parse_pool``): the local runner's one process then only routes records.
Counters: ``read.files``, ``<source>.parsed`` (pubmed, pmc, ctgov, links, criteria),
``pubmed.deleted_citations``, ``<stage>.dead_letter`` per dead-letter stage
(``read.file.dead_letter`` for an unexpected failure while reading a file).

Composite: ``ReadSnapshotTables(snapshot)``: PBegin → an earlier build's tables as typed records
(what an incremental refresh starts from).
"""
from __future__ import annotations

import logging
from typing import Iterator

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

from schemas.records import Article, DeadLetter, DeletedCitation, FullText, ReviewCriteria, ReviewLink, Trial
from transforms.formats import parse_source
from transforms.metrics import inc
from transforms.parse_pool import ParsePool
from transforms.runtime import start_heap_trimmer, tune_gc, use_storage_emulator

TAGS = {Article: ("articles", "pubmed.parsed"), DeletedCitation: ("deletions", "pubmed.deleted_citations"),
        FullText: ("fulltexts", "pmc.parsed"), Trial: ("trials", "ctgov.parsed"),
        ReviewLink: ("review_links", "links.parsed"), ReviewCriteria: ("criteria", "criteria.parsed")}
OUTPUTS = [tag for tag, _ in TAGS.values()] + ["dead_letters"]
POOL_MIN_BYTES = 4 << 20  # smaller files are parsed in the runner's process (a worker takes ~1 s to start)


def parse_file(path: str) -> Iterator:
    """One input file (local or gs://) → its records, parsed by content (``transforms.formats``).

    An unexpected failure while reading (an I/O error, a parser bug on an input shape never seen)
    ends the file with a ``read.file`` dead letter after the records it already gave, and its
    traceback goes to the log; ``ConnectionError`` and ``TimeoutError`` are raised (transient: the
    runner retries the bundle). Runs in the runner's process or in a ``ParsePool`` worker.
    """
    try:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            yield from parse_source(f, path)
    except (ConnectionError, TimeoutError):
        raise
    except Exception as e:  # noqa: BLE001 - file boundary: one unreadable file must not stop the job
        logging.exception("unexpected error while reading %s", path)
        yield DeadLetter(path, "read.file", f"Unexpected{type(e).__name__}", str(e)[:500], "", None)


class _ParseFileFn(beam.DoFn):
    """FileMetadata → records of that file, each routed to its tag.

    With ``processes`` > 0, a ``ParsePool`` of that many worker processes is started at the
    bundle's first file of at least ``min_bytes`` and parses that file and every later one; it is
    stopped at the bundle's end. Records are emitted as they arrive (those still coming when the
    bundle's last file has been handed over, from ``finish_bundle``). Until the pool starts, files
    are parsed in this process (a bundle of small files never starts one).
    """

    def __init__(self, processes: int = 0, min_bytes: int = POOL_MIN_BYTES):
        self._processes = processes
        self._min_bytes = min_bytes
        self._pool = None

    def setup(self):
        tune_gc()  # once per worker process (see transforms.runtime)
        start_heap_trimmer()
        use_storage_emulator()

    def start_bundle(self):
        self.teardown()  # a pool left by a failed bundle

    def process(self, metadata):
        path = metadata.path
        name = path.rsplit("/", 1)[-1]
        if name.startswith(".") or name.startswith("_"):
            return
        inc("read.files")
        if self._pool is None and self._processes > 0 and (metadata.size_in_bytes or 0) >= self._min_bytes:
            self._pool = ParsePool(self._processes, parse_file)
        if self._pool is not None:  # once started, it takes every file: the queue is drained in between
            self._pool.submit(path)
            for record in self._pool.ready():
                yield self._route(record)
            return
        for record in parse_file(path):
            yield self._route(record)

    def finish_bundle(self):
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            for record in pool.drain():
                yield self._route(record, windowed=True)
        finally:
            pool.close()

    def teardown(self):
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    @staticmethod
    def _route(record, windowed: bool = False):
        if windowed:  # finish_bundle emits windowed values (the file elements were in the global window)
            value = WindowedValue(record, MIN_TIMESTAMP, (GlobalWindow(),))
        else:
            value = record
        if isinstance(record, DeadLetter):
            inc(f"{record.stage}.dead_letter")
            return beam.pvalue.TaggedOutput("dead_letters", value)
        tag, counter = TAGS[type(record)]
        inc(counter)
        return beam.pvalue.TaggedOutput(tag, value)


class ParseInputFiles(beam.PTransform):
    """Match file patterns (local or gs://) and parse each file by content (see module doc)."""

    def __init__(self, patterns: list[str], processes: int = 0, min_bytes: int = POOL_MIN_BYTES):
        super().__init__()
        self._patterns = list(patterns)
        self._processes = processes
        self._min_bytes = min_bytes

    def expand(self, pbegin):
        return (pbegin
                | "ListPatterns" >> beam.Create(self._patterns)
                | "MatchFiles" >> fileio.MatchAll(fileio.EmptyMatchTreatment.ALLOW)
                | "ReshuffleFiles" >> beam.Reshuffle()
                | "ParseByContent" >> beam.ParDo(_ParseFileFn(self._processes, self._min_bytes)).with_outputs(*OUTPUTS))


SNAPSHOT_TABLES = {"articles": Article, "fulltexts": FullText, "trials": Trial, "review_links": ReviewLink,
                   "criteria": ReviewCriteria, "deletions": DeletedCitation,
                   "withheld_fulltexts": FullText, "withheld_trials": Trial}


class _ReadTableFn(beam.DoFn):
    """(table name, FileMetadata of a Parquet part) → records of that table, tagged by name."""

    def setup(self):
        use_storage_emulator()

    def process(self, item):
        import pyarrow.parquet as pq

        from schemas.arrow import from_row
        name, metadata = item
        cls = SNAPSHOT_TABLES[name]
        with FileSystems.open(metadata.path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            pf = pq.ParquetFile(f)
            for batch in pf.iter_batches(batch_size=1000):
                for row in batch.to_pylist():
                    inc(f"snapshot.{name}")
                    yield beam.pvalue.TaggedOutput(name, from_row(cls, row))


class ReadSnapshotTables(beam.PTransform):
    """An earlier build's ``tables/`` → tagged PCollections articles: Article, fulltexts: FullText,
    trials: Trial, review_links: ReviewLink, criteria: ReviewCriteria, deletions: DeletedCitation,
    withheld_fulltexts: FullText (of deleted citations), withheld_trials: Trial (withdrawn); empty
    when a table is absent.
    Counters ``snapshot.<table>``."""

    def __init__(self, snapshot: str):
        super().__init__()
        self._root = snapshot.rstrip("/")

    def expand(self, pbegin):
        patterns = [(name, f"{self._root}/tables/{name}/*.parquet") for name in SNAPSHOT_TABLES]
        return (pbegin
                | "ListTables" >> beam.Create(patterns)
                | "MatchTableParts" >> beam.FlatMap(
                    lambda np: [(np[0], m) for m in FileSystems.match([np[1]])[0].metadata_list])
                | "ReshuffleParts" >> beam.Reshuffle()
                | "ReadParts" >> beam.ParDo(_ReadTableFn()).with_outputs(*SNAPSHOT_TABLES))
