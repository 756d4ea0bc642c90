"""Beam wiring of the six task builders: one composite per task, named after what it builds.

Review-level tasks take ``ReviewBundle``s, extraction tasks take ``StudyBundle``s; each emits
``TaskRecord``s (a ``RejectedRecord`` a builder yields goes to the ``rejected`` output). Counters:
``tasks.<task>.built``, ``tasks.<task>.inputs`` and ``tasks.<task>.rejected``.

``BuildTaskRecords`` runs all six and validates each task's records (``ValidateTaskRecords``) in
the stage that built them, before the six are merged into one PCollection. The local runner holds
a merged PCollection whole until its consumer runs; validating after the merge would hold every
record twice more at once (``docs/performance.md``, "Where memory goes").
"""
from __future__ import annotations

import apache_beam as beam

from schemas.records import RejectedRecord
from transforms.metrics import inc
from transforms.quality.transforms import ValidateTaskRecords
from transforms.quality.validate import ValidationSettings
from transforms.tasks.arm_design import build_arm_design
from transforms.tasks.common import BuildContext
from transforms.tasks.participant_statistics import build_participant_statistics
from transforms.tasks.screening import build_screening
from transforms.tasks.search_query import build_search_query
from transforms.tasks.study_characteristics import build_study_characteristics
from transforms.tasks.trial_results import build_trial_results


class _BuildFn(beam.DoFn):
    def __init__(self, task: str, builder, ctx: BuildContext):
        self._task, self._builder, self._ctx = task, builder, ctx

    def process(self, bundle):
        inc(f"tasks.{self._task}.inputs")
        n, ids = 0, set()
        for record in self._builder(bundle, self._ctx):
            if not isinstance(record, RejectedRecord) and record.id in ids:
                # the same record twice from one bundle (e.g. a registry entry listing one measure
                # twice); ids name the bundle's review/study, so this keeps every id unique
                record = RejectedRecord(reasons=["id.duplicate"], record=record)
            if isinstance(record, RejectedRecord):  # built, but kept out of the shards (e.g. split.leak)
                inc(f"tasks.{self._task}.rejected")
                yield beam.pvalue.TaggedOutput("rejected", record)
                continue
            ids.add(record.id)
            n += 1
            yield record
        if n:
            inc(f"tasks.{self._task}.built", n)


class _BuildRecords(beam.PTransform):
    TASK = ""
    BUILDER = None

    def __init__(self, ctx: BuildContext):
        super().__init__()
        self._ctx = ctx

    def expand(self, bundles):
        fn = _BuildFn(self.TASK, type(self).BUILDER, self._ctx)
        return bundles | f"Build_{self.TASK}" >> beam.ParDo(fn).with_outputs("rejected", main="records")


class BuildSearchQueryRecords(_BuildRecords):
    """ReviewBundle → TaskRecord (task ``search_query``)."""
    TASK, BUILDER = "search_query", staticmethod(build_search_query)


class BuildScreeningRecords(_BuildRecords):
    """ReviewBundle → TaskRecord (task ``screening``)."""
    TASK, BUILDER = "screening", staticmethod(build_screening)


class BuildStudyCharacteristicsRecords(_BuildRecords):
    """StudyBundle → TaskRecord (task ``study_characteristics``)."""
    TASK, BUILDER = "study_characteristics", staticmethod(build_study_characteristics)


class BuildArmDesignRecords(_BuildRecords):
    """StudyBundle → TaskRecord (task ``arm_design``)."""
    TASK, BUILDER = "arm_design", staticmethod(build_arm_design)


class BuildParticipantStatisticsRecords(_BuildRecords):
    """StudyBundle → TaskRecord (task ``participant_statistics``)."""
    TASK, BUILDER = "participant_statistics", staticmethod(build_participant_statistics)


class BuildTrialResultsRecords(_BuildRecords):
    """StudyBundle → TaskRecord (task ``trial_results``)."""
    TASK, BUILDER = "trial_results", staticmethod(build_trial_results)


REVIEW_TASKS = (BuildSearchQueryRecords, BuildScreeningRecords)
STUDY_TASKS = (BuildStudyCharacteristicsRecords, BuildArmDesignRecords, BuildParticipantStatisticsRecords,
               BuildTrialResultsRecords)


class BuildTaskRecords(beam.PTransform):
    """(review bundles, study bundles) → dict of one PCollection per task (``"search_query"`` …, the
    valid TaskRecords of that task) and ``rejected`` (RejectedRecord: kept out of the shards by a
    builder, e.g. ``split.leak``, or by validation under ``settings``, with the reasons). Built =
    records + rejected. The tasks stay apart: merged into one PCollection, the local runner would
    hold them whole once more (``DeduplicateTaskRecords`` merges them where they are written)."""

    def __init__(self, ctx: BuildContext, settings: ValidationSettings = ValidationSettings()):
        super().__init__()
        self._ctx, self._settings = ctx, settings

    def expand(self, pcolls):
        reviews, studies = pcolls
        out, rejected = {}, []
        for cls in REVIEW_TASKS + STUDY_TASKS:
            built = (reviews if cls in REVIEW_TASKS else studies) | cls.__name__ >> cls(self._ctx)
            checked = built.records | f"Validate_{cls.TASK}" >> ValidateTaskRecords(self._settings)
            out[cls.TASK] = checked.records
            rejected += [built.rejected, checked.rejected]
        out["rejected"] = rejected | "MergeRejected" >> beam.Flatten()
        return out
