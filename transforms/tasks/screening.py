"""Task ``screening``: review criteria + candidate title/abstract → per-criterion eligibility (pure).

Labels come from the link source: an ``included`` study named by a link table (CLEF-TAR content
qrels, SYNERGY, a review→study table) meets every criterion (YES) and is included; a trial report
known only from the review's reference list is included with criteria UNCERTAIN (reference lists
also cite excluded studies); a ``screened_in`` study passed title/abstract screening (include, criteria UNCERTAIN);
an ``excluded`` candidate is a hard negative (exclude; the study-design criterion is NO when the
review asks for randomised trials and the candidate is no trial report, other criteria
UNCERTAIN); a ``topic_near`` candidate (a trial of the same condition with none of the
review's interventions, included by another review) is excluded with Intervention NO.
Non-trial references of a review are not candidates. A candidate whose publication is in another
split than the review (``ReviewStudy.split``, see ``transforms.joins.splits``) gives no record.
"""
from __future__ import annotations

import re
from typing import Iterator

from schemas.records import RejectedRecord, ReviewBundle, ReviewCriteria, ReviewStudy, TaskRecord
from transforms.tasks.common import BuildContext, dumps, make_record, split_for
from transforms.tasks.search_query import criteria_text

TASK = "screening"
INSTRUCTION = (
    "Decide whether the study below is eligible for the systematic review described by the CRITERIA, "
    "judging from its title and abstract. For each criterion answer YES, PARTIAL, NO or UNCERTAIN. "
    "Return JSON {\"criteria\": [{\"criterion\": <name>, \"eligibility\": <answer>}], \"include\": "
    "<true or false>}.")
CRITERIA = (("Population", "population"), ("Intervention", "intervention"), ("Comparison", "comparison"),
            ("Outcomes", "outcome"), ("Types of studies", "study_types"), ("Exclusion criteria", "exclusion"))
_RCT = re.compile(r"randomi[sz]ed|\bRCTs?\b", re.I)
REFERENCE_SOURCES = {"medline_references", "pmc_references", "elink_refs"}


def criteria_names(c: ReviewCriteria) -> list[tuple[str, str]]:
    """(name, attribute) of the criteria the review states; objectives alone count as one."""
    names = [(n, a) for n, a in CRITERIA if getattr(c, a)]
    return names or ([("Objectives", "objectives")] if c.objectives else [])


def eligibility(rs: ReviewStudy, c: ReviewCriteria) -> dict | None:
    """The target for one candidate, or ``None`` when its label gives no screening decision."""
    names = criteria_names(c)
    if rs.label == "included":
        confirmed = bool(set(rs.link_sources) - REFERENCE_SOURCES)
        answers, include = {n: "YES" if confirmed else "UNCERTAIN" for n, _ in names}, True
    elif rs.label == "screened_in":
        answers, include = {n: "UNCERTAIN" for n, _ in names}, True
    elif rs.label == "excluded":
        answers, include = {n: "UNCERTAIN" for n, _ in names}, False
        if c.study_types and _RCT.search(c.study_types) and not rs.study.is_trial_report:
            answers["Types of studies"] = "NO"
    elif rs.label == "topic_near":
        answers, include = {n: "UNCERTAIN" for n, _ in names}, False
        if "Intervention" in answers:
            answers["Intervention"] = "NO"
    else:
        return None
    return {"criteria": [{"criterion": n, "eligibility": answers[n]} for n, _ in names], "include": include}


def build_screening(bundle: ReviewBundle, ctx: BuildContext) -> Iterator[TaskRecord]:
    """One record per candidate study with a title or abstract, for reviews with criteria."""
    c = bundle.criteria
    if c is None or not criteria_names(c):
        return
    question = criteria_text(c)
    split = split_for(bundle.review_id)
    for rs in bundle.studies:
        s = rs.study
        if s is None or not (s.title or s.abstract):
            continue
        target = eligibility(rs, c)
        if target is None:
            continue
        study_text = "\n".join(x for x in (f"Title: {s.title}" if s.title else "",
                                           f"Abstract: {s.abstract}" if s.abstract else "") if x)
        record = make_record(
            ctx, task=TASK, instruction=INSTRUCTION,
            input_text=f"CRITERIA:\n{question}\n\nSTUDY:\n{study_text}", output=dumps(target),
            split_key=bundle.review_id, review_id=bundle.review_id, pmid=s.pmid, pmcid=s.pmcid,
            nct_id=s.trials[0].nct_id if len(s.trials) == 1 else None, evidence="abstract",
            sources=[*rs.link_files, *s.source_files, c.source_file],
            source_versions=[s.version] if s.version else [])
        if rs.split is not None and rs.split != split:
            # the publication is in another split (it went with another review or its trial): kept
            # out of the task shards, so that no publication or trial is in two splits
            yield RejectedRecord(["split.leak"], record)
        else:
            yield record
