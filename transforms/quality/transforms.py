"""Beam wiring of record quality: validation (rules in ``transforms.quality.validate``) and the
merging of near-identical records (``transforms.quality.dedup``).

``ValidateTaskRecords(settings)``: TaskRecord → tagged outputs ``records`` (TaskRecord, valid) and
``rejected`` (RejectedRecord: the reasons and the whole record). Rejected records are kept apart
from dead letters, which are inputs that could not be parsed. Every record leaves by exactly one
of the two outputs: built = valid + rejected.
Counters: ``validate.<task>.valid``, ``validate.<task>.rejected``, ``validate.rejected.<reason>``.
"""
from __future__ import annotations

import dataclasses

import apache_beam as beam

from schemas.packing import pack, unpack
from schemas.records import RejectedRecord
from transforms.metrics import inc
from transforms.quality.dedup import content_key, merged_provenance
from transforms.quality.validate import ValidationSettings, check_record


class _ValidateFn(beam.DoFn):
    def __init__(self, settings: ValidationSettings):
        self._settings = settings

    def process(self, record):
        reasons = check_record(record, self._settings)
        if not reasons:
            inc(f"validate.{record.task}.valid")
            yield record
            return
        inc(f"validate.{record.task}.rejected")
        for reason in reasons:
            inc(f"validate.rejected.{reason}")
        yield beam.pvalue.TaggedOutput("rejected", RejectedRecord(reasons=reasons, record=record))


class ValidateTaskRecords(beam.PTransform):
    """TaskRecord → ``records`` (valid TaskRecord) and ``rejected`` (RejectedRecord); see module doc."""

    def __init__(self, settings: ValidationSettings = ValidationSettings()):
        super().__init__()
        self._settings = settings

    def expand(self, records):
        return records | "CheckRecords" >> beam.ParDo(_ValidateFn(self._settings)).with_outputs(
            "rejected", main="records")


def _fingerprint(record):
    """TaskRecord → (content key, packed (id, sources, source_versions)): what merging needs."""
    return content_key(record), pack((record.id, record.sources, record.source_versions))


def _merge(kv):
    """(content key, fingerprints) → (content key, (kept id, sources, source_versions)) for a key
    that repeats, and ``merged.<task>`` counts; nothing for a unique key."""
    key, packed = kv
    if len(packed) < 2:
        return
    members = [unpack(p) for p in packed]
    keep_id, sources, versions = merged_provenance(members)
    task = key.split(":", 1)[0]
    inc(f"dedup.{task}.merged", len(members) - 1)
    yield key, (keep_id, sources, versions)
    yield beam.pvalue.TaggedOutput("counts", (f"merged.{task}", len(members) - 1))


class _KeepOrMergeFn(beam.DoFn):
    """TaskRecord → the record when its content key is unique; for a repeated key, the member whose
    id the group keeps, with the group's sources, and nothing for the other members. No key is
    computed when nothing repeats."""

    def process(self, record, merged: dict):
        if not merged:
            yield record
            return
        group = merged.get(content_key(record))
        if group is None:
            yield record
            return
        keep_id, sources, versions = group
        if record.id == keep_id:
            yield dataclasses.replace(record, sources=sources, source_versions=versions)


class DeduplicateTaskRecords(beam.PTransform):
    """TaskRecord (one PCollection, or a tuple of them, e.g. one per task) → ``records`` (TaskRecord,
    near-identical records merged into one, see ``transforms.quality.dedup``) and ``counts``
    (("merged.<task>", n) pairs).

    Records are never shuffled or keyed whole. Each input gives a small fingerprint per record (content
    key, id, sources) in the stage that made it; the fingerprints are grouped by key, and the groups
    of a repeated key become (kept id, merged sources), a side input of the one pass over the
    records that drops the other members. On the local runner that pass is the stage that writes
    the shards, so the records are held once (``docs/performance.md``, "Where memory goes").
    Record ids are unique (they name the review/study and the content; ``BuildTaskRecords`` rejects
    a repeat within one bundle as ``id.duplicate``), so a group keeps exactly one member.
    Records in = records out + merged. Counter ``dedup.<task>.merged``."""

    def expand(self, parts):
        parts = list(parts) if isinstance(parts, tuple) else [parts]
        fingerprints = [part | f"Fingerprint_{i}" >> beam.Map(_fingerprint) for i, part in enumerate(parts)]
        merged = (fingerprints | "AllFingerprints" >> beam.Flatten()
                  | "GroupByContent" >> beam.GroupByKey()
                  | "MergeRepeated" >> beam.FlatMap(_merge).with_outputs("counts", main="groups"))
        out = (parts | "AllRecords" >> beam.Flatten()
               | "KeepOrMerge" >> beam.ParDo(_KeepOrMergeFn(), beam.pvalue.AsDict(merged.groups)))
        return {"records": out, "counts": merged.counts}
