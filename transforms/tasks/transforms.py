"""Beam wiring of the six task builders: one composite per task, named after what it builds.

Review-level tasks take ``ReviewBundle``s, extraction tasks take ``StudyBundle``s; each emits
``TaskRecord``s (a ``RejectedRecord`` a builder yields goes to the ``rejected`` output). Counters:
``tasks.<task>.built``, ``tasks.<task>.inputs`` and ``tasks.<task>.rejected``.
"""
from __future__ import annotations

import apache_beam as beam

from schemas.records import RejectedRecord
from transforms.metrics import inc
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
        n = 0
        for record in self._builder(bundle, self._ctx):
            if isinstance(record, RejectedRecord):  # built, but kept out of the shards (e.g. split.leak)
                inc(f"tasks.{self._task}.rejected")
                yield beam.pvalue.TaggedOutput("rejected", record)
                continue
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
    """(review bundles, study bundles) → dict of ``records`` (TaskRecord of all six tasks) and
    ``rejected`` (RejectedRecord a builder kept out of the shards, with its reason)."""

    def __init__(self, ctx: BuildContext):
        super().__init__()
        self._ctx = ctx

    def expand(self, pcolls):
        reviews, studies = pcolls
        parts = [reviews | cls.__name__ >> cls(self._ctx) for cls in REVIEW_TASKS]
        parts += [studies | cls.__name__ >> cls(self._ctx) for cls in STUDY_TASKS]
        return {"records": [p.records for p in parts] | "MergeTaskRecords" >> beam.Flatten(),
                "rejected": [p.rejected for p in parts] | "MergeRejected" >> beam.Flatten()}
