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
import unicodedata

from schemas.records import TaskRecord


def normalise(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed: what "near-identical" compares."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())  # split(): the whitespace of \s


def content_key(record: TaskRecord) -> str:
    """The key of a record's near-identical group: task + normalised input + normalised output."""
    h = hashlib.sha256("\x1f".join([record.task, normalise(record.input), normalise(record.output)])
                       .encode("utf-8"))
    return f"{record.task}:{h.hexdigest()}"


def merged_provenance(members) -> tuple[str, list[str], list[str]]:
    """(id, sources, source_versions) of each member of a near-identical group → the id the group
    keeps (the smallest) and the union of sources and of source versions."""
    members = list(members)
    return (min(m[0] for m in members), sorted({s for m in members for s in m[1]}),
            sorted({v for m in members for v in m[2]}))


def merge_group(records: list[TaskRecord]) -> TaskRecord:
    """One record for a group of near-identical records (see module doc)."""
    keep_id, sources, versions = merged_provenance((r.id, r.sources, r.source_versions) for r in records)
    keep = next(r for r in records if r.id == keep_id)
    return dataclasses.replace(keep, sources=sources, source_versions=versions)
