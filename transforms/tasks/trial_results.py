"""Task ``trial_results``: paper text + outcome + group → the group's result (pure).

Ground truth: the registry's ``outcomeMeasuresModule``. One record per (outcome measure, group),
target ``{paramType, unitOfMeasure, timeFrame, unitOfDenom, denomValue, results: [{value, title}]}``.
"""
from __future__ import annotations

from typing import Iterator, Optional

from schemas.records import Measure, StudyBundle, TaskRecord
from transforms.tasks.common import BuildContext, Grounder, dumps, humanize, make_record, paper_text, source_tags

TASK = "trial_results"
INSTRUCTION = (
    "Read the clinical trial publication below and report the result of the OUTCOME for the GROUP "
    "given. Return JSON {\"paramType\": <e.g. Mean, Median, Count of Participants, Number>, "
    "\"unitOfMeasure\": <unit>, \"timeFrame\": <time frame>, \"unitOfDenom\": <what was counted, e.g. "
    "Participants>, \"denomValue\": <number analysed in the group>, \"results\": [{\"value\": <value>, "
    "\"title\": <row or category the value belongs to>}]}.")


def denom_value(measure: Measure, group_id: str) -> tuple[Optional[str], Optional[str]]:
    """(units, value) of the measure's denominator for one group."""
    for denom in measure.denoms:
        for count in denom.counts:
            if count.group_id == group_id:
                return denom.units, count.value
    return None, None


def build_trial_results(bundle: StudyBundle, ctx: BuildContext) -> Iterator[TaskRecord]:
    """Records for every outcome measure × group that has at least one reported value."""
    results = bundle.trial.results
    if results is None or not results.outcome_measures:
        return
    text, evidence = paper_text(bundle.article, bundle.fulltext, ctx.max_input_chars)
    if text is None:
        return
    grounder = Grounder(text)
    sources, versions = source_tags(bundle.article, bundle.fulltext, bundle.trial)
    for measure in results.outcome_measures:
        for group in measure.groups:
            rows = []
            for cls in measure.classes:
                for cat in cls.categories:
                    for m in cat.measurements:
                        if m.group_id == group.id and m.value not in (None, "", "NA"):
                            title = " — ".join(t for t in (cls.title, cat.title) if t) or measure.title
                            rows.append({"value": m.value, "title": title})
            if not rows:
                continue
            units, denom = denom_value(measure, group.id)
            target = {"paramType": humanize(measure.param_type), "unitOfMeasure": measure.unit_of_measure,
                      "timeFrame": measure.time_frame, "unitOfDenom": measure.unit_of_denom or units,
                      "denomValue": denom, "results": rows}
            outcome = "\n".join(x for x in (
                f"Title: {measure.title}", f"Type: {humanize(measure.type)}" if measure.type else "",
                f"Description: {measure.description}" if measure.description else "",
                f"Time frame: {measure.time_frame}" if measure.time_frame else "") if x)
            group_text = f"{group.id}: {group.title or ''}" + (f" ({group.description})" if group.description else "")
            yield make_record(
                ctx, task=TASK, instruction=INSTRUCTION,
                input_text=f"OUTCOME:\n{outcome}\n\nGROUP:\n{group_text}\n\nPUBLICATION:\n{text}",
                output=dumps(target), split_key=f"ctgov:{bundle.trial.nct_id}", split=bundle.split, pmid=bundle.pmid,
                pmcid=bundle.fulltext.pmcid if bundle.fulltext else None, nct_id=bundle.trial.nct_id,
                evidence=evidence, grounding=grounder.score([r["value"] for r in rows] + [denom]),
                sources=sources, source_versions=versions)
