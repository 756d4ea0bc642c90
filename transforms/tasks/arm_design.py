"""Task ``arm_design``: paper text → ``[{label, type, description, interventionNames}]`` (pure).

Ground truth: the registry's ``armsInterventionsModule.armGroups``. Grounding counts arm labels
and intervention names (descriptions are paraphrased in papers, so they are not counted).
"""
from __future__ import annotations

from typing import Iterator

from schemas.records import StudyBundle, TaskRecord
from transforms.tasks.common import BuildContext, Grounder, dumps, humanize, make_record, paper_text, source_tags

TASK = "arm_design"
INSTRUCTION = (
    "Read the clinical trial publication below and describe the design of each study arm. Return a "
    "JSON list with one object per arm: {\"label\": <arm name>, \"type\": <Experimental, Active "
    "Comparator, Placebo Comparator, Sham Comparator, No Intervention or Other>, \"description\": "
    "<what the arm received>, \"interventionNames\": [<\"Type: name\" of each intervention>]}.")


def build_arm_design(bundle: StudyBundle, ctx: BuildContext) -> Iterator[TaskRecord]:
    """One record per (publication, trial) pair whose registry record lists arm groups."""
    arms = bundle.trial.arm_groups
    text, evidence = paper_text(bundle.article, bundle.fulltext, ctx.max_input_chars)
    if not arms or text is None:
        return
    target = [{"label": a.label, "type": humanize(a.type), "description": a.description,
               "interventionNames": list(a.intervention_names)} for a in arms]
    values = [a.label for a in arms] + [n for a in arms for n in a.intervention_names]
    sources, versions = source_tags(bundle.article, bundle.fulltext, bundle.trial)
    yield make_record(
        ctx, task=TASK, instruction=INSTRUCTION, input_text=f"PUBLICATION:\n{text}", output=dumps(target),
        split_key=f"ctgov:{bundle.trial.nct_id}", split=bundle.split, pmid=bundle.pmid,
        pmcid=bundle.fulltext.pmcid if bundle.fulltext else None, nct_id=bundle.trial.nct_id,
        evidence=evidence, grounding=Grounder(text).score(values), sources=sources, source_versions=versions)
