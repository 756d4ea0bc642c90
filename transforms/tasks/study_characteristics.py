"""Task ``study_characteristics``: paper text + field definitions → ``[{name, value}]`` (pure).

Ground truth: the linked ClinicalTrials.gov record (design, phase, allocation, masking,
enrollment, conditions, interventions, sponsor, dates, countries, primary outcome).
"""
from __future__ import annotations

from typing import Iterator, Optional

from schemas.records import StudyBundle, TaskRecord, Trial
from transforms.tasks.common import (BuildContext, Grounder, dumps, humanize, make_record, paper_text,
                                     source_tags)

TASK = "study_characteristics"
INSTRUCTION = (
    "Read the clinical trial publication below and extract the study characteristics listed under "
    "FIELDS. Return a JSON list of objects {\"name\": <field name>, \"value\": <value>} with one object "
    "per field, in the order given; use a list of strings for fields that can hold several values.")

FIELDS: tuple[tuple[str, str], ...] = (
    ("Study type", "Whether the study is interventional or observational."),
    ("Phase", "The trial phase(s), e.g. Phase 2."),
    ("Allocation", "How participants were allocated to arms: Randomized or Non-Randomized."),
    ("Intervention model", "The assignment model, e.g. Parallel Assignment, Crossover Assignment, Single Group Assignment."),
    ("Masking", "Masking: None (Open Label), Single, Double, Triple or Quadruple."),
    ("Primary purpose", "The main purpose, e.g. Treatment, Prevention, Supportive Care."),
    ("Enrollment", "The number of participants enrolled."),
    ("Conditions", "The condition(s) studied."),
    ("Interventions", "The intervention(s) given, by name."),
    ("Sponsor", "The lead sponsor of the trial."),
    ("Start date", "When the study started (YYYY-MM or YYYY-MM-DD)."),
    ("Completion date", "When the study was completed (YYYY-MM or YYYY-MM-DD)."),
    ("Countries", "The countries where participants were enrolled."),
    ("Primary outcome", "The primary outcome measure(s)."),
)


def characteristics(trial: Trial) -> list[dict]:
    """The target list: every field of ``FIELDS`` the registry record has a value for."""
    d = trial.design
    values: dict[str, Optional[object]] = {
        "Study type": humanize(d.study_type),
        "Phase": [humanize(p) for p in d.phases if p and p != "NA"] or None,
        "Allocation": humanize(d.allocation) if d.allocation and d.allocation != "NA" else None,
        "Intervention model": humanize(d.intervention_model),
        "Masking": humanize(d.masking),
        "Primary purpose": humanize(d.primary_purpose),
        "Enrollment": str(trial.enrollment) if trial.enrollment is not None else None,
        "Conditions": list(trial.conditions) or None,
        "Interventions": [i.name for i in trial.interventions] or None,
        "Sponsor": trial.lead_sponsor,
        "Start date": trial.start_date,
        "Completion date": trial.completion_date,
        "Countries": list(trial.countries) or None,
        "Primary outcome": [o.measure for o in trial.primary_outcomes] or None,
    }
    return [{"name": name, "value": values[name]} for name, _ in FIELDS if values[name]]


def _leaves(items: list[dict]) -> list[str]:
    out = []
    for item in items:
        v = item["value"]
        out.extend(v if isinstance(v, list) else [v])
    return out


def build_study_characteristics(bundle: StudyBundle, ctx: BuildContext) -> Iterator[TaskRecord]:
    """One record per (publication, trial) pair with a paper text and at least 3 known fields."""
    text, evidence = paper_text(bundle.article, bundle.fulltext, ctx.max_input_chars)
    target = characteristics(bundle.trial)
    if text is None or len(target) < 3:
        return
    wanted = {item["name"] for item in target}
    field_lines = "\n".join(f"- {name}: {desc}" for name, desc in FIELDS if name in wanted)
    sources, versions = source_tags(bundle.article, bundle.fulltext, bundle.trial)
    yield make_record(
        ctx, task=TASK, instruction=INSTRUCTION, input_text=f"FIELDS:\n{field_lines}\n\nPUBLICATION:\n{text}",
        output=dumps(target), split_key=f"ctgov:{bundle.trial.nct_id}", split=bundle.split, pmid=bundle.pmid,
        pmcid=bundle.fulltext.pmcid if bundle.fulltext else None, nct_id=bundle.trial.nct_id,
        evidence=evidence, grounding=Grounder(text).score(_leaves(target)), sources=sources,
        source_versions=versions)
