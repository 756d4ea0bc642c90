"""Near-identical task records (pure: no Beam import).

Two records of one task are near-identical when their input and output are the same text after
Unicode NFKC normalisation, case folding and whitespace collapsing: the same question with the same
answer. They arise when one paper is indexed twice (a duplicate PMID with the same abstract and the
same trial), or when a review lists one study under two records. Such a group becomes one record:
the one with the smallest id, whose ``sources`` and ``source_versions`` take the union of the
group's, so nothing loses its provenance.

(The other duplicates are merged where they first meet: a PMID in several MEDLINE files keeps its
latest version, ``pubmed.superseded``; a full text in several packages, ``pmc.superseded``; a trial
under an alias joins its current NCT id, ``join.trial_alias_links``; a study reached by several links
or link sources becomes one review→study link, ``join.review_links_merged``, and one
publication→trial link, ``join.study_trial_links_merged``.)
"""
from __future__ import annotations

import dataclasses
import hashlib
import re
import unicodedata

from schemas.records import TaskRecord

_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed: what "near-identical" compares."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def content_key(record: TaskRecord) -> str:
    """The key of a record's near-identical group: task + normalised input + normalised output."""
    h = hashlib.sha256("\x1f".join([record.task, normalise(record.input), normalise(record.output)])
                       .encode("utf-8"))
    return f"{record.task}:{h.hexdigest()}"


def merge_group(records: list[TaskRecord]) -> TaskRecord:
    """One record for a group of near-identical records (see module doc)."""
    keep = min(records, key=lambda r: r.id)
    return dataclasses.replace(
        keep, sources=sorted({s for r in records for s in r.sources}),
        source_versions=sorted({v for r in records for v in r.source_versions}))
