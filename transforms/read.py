"""Read every input file and parse it by content into typed records.

Composite: ``ParseInputFiles(patterns)``: PBegin → tagged PCollections
  articles: Article · deletions: DeletedCitation · fulltexts: FullText · trials: Trial ·
  review_links: ReviewLink · criteria: ReviewCriteria · dead_letters: DeadLetter
Counters: ``read.files``, ``<source>.parsed`` (pubmed, pmc, ctgov, links, criteria),
``pubmed.deleted_citations``, ``<stage>.dead_letter`` per dead-letter stage
(``read.file.dead_letter`` for an unexpected failure while reading a file).

Composite: ``ReadSnapshotTables(snapshot)``: PBegin → an earlier build's tables as typed records
(what an incremental refresh starts from).
"""
from __future__ import annotations

import logging

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from schemas.records import Article, DeadLetter, DeletedCitation, FullText, ReviewCriteria, ReviewLink, Trial
from transforms.formats import parse_source
from transforms.metrics import inc
from transforms.runtime import start_heap_trimmer, tune_gc, use_storage_emulator

TAGS = {Article: ("articles", "pubmed.parsed"), DeletedCitation: ("deletions", "pubmed.deleted_citations"),
        FullText: ("fulltexts", "pmc.parsed"), Trial: ("trials", "ctgov.parsed"),
        ReviewLink: ("review_links", "links.parsed"), ReviewCriteria: ("criteria", "criteria.parsed")}
OUTPUTS = [tag for tag, _ in TAGS.values()] + ["dead_letters"]


class _ParseFileFn(beam.DoFn):
    """FileMetadata → records of that file, each routed to its tag."""

    def setup(self):
        tune_gc()  # once per worker process (see transforms.runtime)
        start_heap_trimmer()
        use_storage_emulator()

    def process(self, metadata):
        path = metadata.path
        name = path.rsplit("/", 1)[-1]
        if name.startswith(".") or name.startswith("_"):
            return
        inc("read.files")
        try:
            with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
                for record in parse_source(f, path):
                    yield self._route(record)
        except (ConnectionError, TimeoutError):
            raise  # transient: let the runner retry the bundle
        except Exception as e:  # noqa: BLE001 - file boundary: one unreadable file must not stop the job
            # Parsers turn every input error they know into dead letters; anything that still
            # escapes (an I/O failure, a parser bug on an input shape never seen) is recorded here
            # with its traceback in the log, after the records the file already yielded.
            logging.exception("unexpected error while reading %s", path)
            yield self._route(DeadLetter(path, "read.file", f"Unexpected{type(e).__name__}", str(e)[:500], "", None))

    @staticmethod
    def _route(record):
        if isinstance(record, DeadLetter):
            inc(f"{record.stage}.dead_letter")
            return beam.pvalue.TaggedOutput("dead_letters", record)
        tag, counter = TAGS[type(record)]
        inc(counter)
        return beam.pvalue.TaggedOutput(tag, record)


class ParseInputFiles(beam.PTransform):
    """Match file patterns (local or gs://) and parse each file by content (see module doc)."""

    def __init__(self, patterns: list[str]):
        super().__init__()
        self._patterns = list(patterns)

    def expand(self, pbegin):
        return (pbegin
                | "ListPatterns" >> beam.Create(self._patterns)
                | "MatchFiles" >> fileio.MatchAll(fileio.EmptyMatchTreatment.ALLOW)
                | "ReshuffleFiles" >> beam.Reshuffle()
                | "ParseByContent" >> beam.ParDo(_ParseFileFn()).with_outputs(*OUTPUTS))


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
