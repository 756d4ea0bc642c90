"""Beam wiring of record quality: validation (rules in ``transforms.quality.validate``) and the
merging of near-identical records (``transforms.quality.dedup``).

``ValidateTaskRecords(settings)``: TaskRecord → tagged outputs ``records`` (TaskRecord, valid) and
``rejected`` (RejectedRecord: the reasons and the whole record). Rejected records are kept apart
from dead letters, which are inputs that could not be parsed. Every record leaves by exactly one
of the two outputs: built = valid + rejected.
Counters: ``validate.<task>.valid``, ``validate.<task>.rejected``, ``validate.rejected.<reason>``.
"""
from __future__ import annotations

import apache_beam as beam

from schemas.records import RejectedRecord
from transforms.metrics import inc
from transforms.quality.dedup import content_key, merge_group
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


class _KeepOrHoldFn(beam.DoFn):
    """(content key, record) → the record when its key is unique, else tagged ``repeated``."""

    def process(self, kv, repeated: dict):
        key, record = kv
        if key in repeated:
            yield beam.pvalue.TaggedOutput("repeated", kv)
        else:
            yield record


def _merge(kv):
    """(content key, near-identical records) → one record, and ``merged.<task>`` counts."""
    _, records = kv
    records = list(records)
    merged = merge_group(records)
    inc(f"dedup.{merged.task}.merged", len(records) - 1)
    yield merged
    yield beam.pvalue.TaggedOutput("counts", (f"merged.{merged.task}", len(records) - 1))


class DeduplicateTaskRecords(beam.PTransform):
    """TaskRecord → ``records`` (TaskRecord, near-identical records merged into one, see
    ``transforms.quality.dedup``) and ``counts`` (("merged.<task>", n) pairs).

    Only records whose content key repeats are shuffled whole: the keys are counted first (small
    elements), and the repeated keys reach the records as a side input. Records in = records out +
    merged. Counter ``dedup.<task>.merged``."""

    def expand(self, records):
        keyed = records | "KeyByContent" >> beam.Map(lambda r: (content_key(r), r))
        repeated = (keyed | "KeysOnly" >> beam.Map(lambda kv: (kv[0], 1))
                    | "CountKeys" >> beam.CombinePerKey(sum)
                    | "RepeatedKeys" >> beam.Filter(lambda kv: kv[1] > 1))
        split = keyed | "HoldRepeated" >> beam.ParDo(_KeepOrHoldFn(), beam.pvalue.AsDict(repeated)).with_outputs(
            "repeated", main="unique")
        merged = (split.repeated | "GroupRepeated" >> beam.GroupByKey()
                  | "MergeRepeated" >> beam.FlatMap(_merge).with_outputs("counts", main="records"))
        out = (split.unique, merged.records) | "AllRecords" >> beam.Flatten()
        return {"records": out, "counts": merged.counts}
