"""Task ``participant_statistics``: paper text + one baseline measure → per-group values (pure).

Ground truth: the registry's ``baselineCharacteristicsModule``. One record per baseline measure
row (measure × class × category), target ``{"results": [{"groupId", "value", "note"}]}``.
"""
from __future__ import annotations

from typing import Iterator, Optional

from schemas.records import Measure, Measurement, StudyBundle, TaskRecord
from transforms.tasks.common import BuildContext, Grounder, dumps, humanize, make_record, paper_text, source_tags

TASK = "participant_statistics"
INSTRUCTION = (
    "Read the clinical trial publication below and report the baseline statistic described under "
    "MEASURE for each participant group listed under GROUPS. Return JSON {\"results\": [{\"groupId\": "
    "<group id>, \"value\": <the reported value as a string>, \"note\": <dispersion or range as "
    "reported, or null>}]} with one entry per group that reports the value.")


def measurement_note(m: Measurement, dispersion: Optional[str]) -> Optional[str]:
    """Spread or limits of a measurement as text: ``"Standard Deviation 8.1"``, ``"15.56 to 22.64"``."""
    if m.spread:
        return f"{humanize(dispersion) or 'Spread'} {m.spread}" if dispersion else m.spread
    if m.lower_limit or m.upper_limit:
        return f"{m.lower_limit or 'NA'} to {m.upper_limit or 'NA'}"
    return m.comment


def measure_rows(measure: Measure) -> Iterator[tuple[str, list[Measurement]]]:
    """(row title, measurements) for each class × category of a measure."""
    for cls in measure.classes:
        for cat in cls.categories:
            title = " — ".join(t for t in (measure.title, cls.title, cat.title) if t)
            yield title, cat.measurements


def build_participant_statistics(bundle: StudyBundle, ctx: BuildContext) -> Iterator[TaskRecord]:
    """Records for every baseline measure row with at least one reported value."""
    results = bundle.trial.results
    if results is None or not results.baseline_measures:
        return
    text, evidence = paper_text(bundle.article, bundle.fulltext, ctx.max_input_chars)
    if text is None:
        return
    groups = results.baseline_groups
    group_lines = "\n".join(f"- {g.id}: {g.title or ''}" + (f" ({g.description})" if g.description else "")
                            for g in groups)
    grounder = Grounder(text)
    sources, versions = source_tags(bundle.article, bundle.fulltext, bundle.trial)
    for measure in results.baseline_measures:
        for title, measurements in measure_rows(measure):
            entries = [{"groupId": m.group_id, "value": m.value,
                        "note": measurement_note(m, measure.dispersion_type)}
                       for m in measurements if m.value not in (None, "", "NA")]
            if not entries:
                continue
            spec = "\n".join(x for x in (
                f"Measure: {title}", f"Parameter: {humanize(measure.param_type)}" if measure.param_type else "",
                f"Dispersion: {humanize(measure.dispersion_type)}" if measure.dispersion_type else "",
                f"Unit: {measure.unit_of_measure}" if measure.unit_of_measure else "") if x)
            yield make_record(
                ctx, task=TASK, instruction=INSTRUCTION,
                input_text=f"MEASURE:\n{spec}\n\nGROUPS:\n{group_lines}\n\nPUBLICATION:\n{text}",
                output=dumps({"results": entries}), split_key=f"ctgov:{bundle.trial.nct_id}", split=bundle.split,
                pmid=bundle.pmid,
                pmcid=bundle.fulltext.pmcid if bundle.fulltext else None, nct_id=bundle.trial.nct_id,
                evidence=evidence, grounding=grounder.score([e["value"] for e in entries]),
                sources=sources, source_versions=versions)
