"""Task ``search_query``: review PICO → boolean query ``(conditions) AND (interventions)`` (pure).

Ground truth: the conditions and interventions of the review's included studies (their
registry records, else their major MeSH headings). ``grounding`` on these records is the
recall of the query over the included studies: the share of them the query matches.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Iterator, Optional

from schemas.records import ReviewBundle, ReviewCriteria, StudySummary, TaskRecord
from transforms.tasks.common import BuildContext, dumps, make_record

TASK = "search_query"
MAX_TERMS = 6
INSTRUCTION = (
    "Write a PubMed boolean search query that finds the studies eligible for the systematic review "
    "described below. Combine synonyms of the condition with OR, synonyms of the intervention with "
    "OR, and join the two groups with AND. Return JSON {\"query\": <query>, \"conditions\": [<terms>], "
    "\"interventions\": [<terms>]}.")
_GENERIC = {"placebo", "placebos", "control", "usual care", "standard of care", "no intervention",
            "healthy", "healthy volunteers", "sham"}
INCLUDED_LABELS = ("included", "screened_in")  # studies a good search must retrieve


def criteria_text(c: ReviewCriteria) -> str:
    """The review's question as the model sees it (used by screening too)."""
    parts = [("Title", c.title), ("Objectives", c.objectives), ("Population", c.population),
             ("Intervention", c.intervention), ("Comparison", c.comparison), ("Outcomes", c.outcome),
             ("Types of studies", c.study_types), ("Exclusion criteria", c.exclusion)]
    return "\n".join(f"{k}: {v}" for k, v in parts if v)


def _top_terms(counter: Counter, display: dict) -> list[str]:
    ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    return [display[k] for k, _ in ranked[:MAX_TERMS]]


def _add(counter: Counter, display: dict, term: Optional[str]) -> None:
    if not term:
        return
    key = re.sub(r"\s+", " ", term).strip().lower()
    if key and key not in _GENERIC:
        counter[key] += 1
        display.setdefault(key, re.sub(r"\s+", " ", term).strip())


def query_terms(studies: list[StudySummary]) -> tuple[list[str], list[str]]:
    """(condition terms, intervention terms), most frequent first, at most ``MAX_TERMS`` each."""
    cond, interv, display = Counter(), Counter(), {}
    for s in studies:
        for t in s.trials:
            for c in t.conditions:
                _add(cond, display, c)
            for i in t.interventions:
                _add(interv, display, i)
    if not cond:
        for s in studies:
            for m in s.major_mesh:
                _add(cond, display, m)
    return _top_terms(cond, display), _top_terms(interv, display)


def _quote(term: str) -> str:
    term = term.replace('"', "")
    return f'"{term}"' if re.search(r"[\s()\-/,]", term) else term


def boolean_query(conditions: list[str], interventions: list[str]) -> str:
    groups = [g for g in (conditions, interventions) if g]
    return " AND ".join("(" + " OR ".join(_quote(t) for t in g) + ")" for g in groups)


def _blob(s: StudySummary, kind: str) -> str:
    extra = [x for t in s.trials for x in (t.conditions if kind == "c" else t.interventions + t.keywords)]
    return " ".join([s.title or "", s.abstract or "", *s.mesh, *s.keywords, *extra]).lower()


def query_recall(conditions: list[str], interventions: list[str], studies: list[StudySummary]) -> Optional[float]:
    """Share of ``studies`` whose text matches every term group of the query (any term of a group)."""
    if not studies:
        return None
    hit = 0
    for s in studies:
        ok = (not conditions or any(t.lower() in _blob(s, "c") for t in conditions)) and \
             (not interventions or any(t.lower() in _blob(s, "i") for t in interventions))
        hit += ok
    return round(hit / len(studies), 4)


def build_search_query(bundle: ReviewBundle, ctx: BuildContext) -> Iterator[TaskRecord]:
    """One record per review with criteria and at least one included study with known text."""
    if bundle.criteria is None:
        return
    included = [rs.study for rs in bundle.studies if rs.label in INCLUDED_LABELS and rs.study is not None]
    if not included:
        return
    conditions, interventions = query_terms(included)
    if not conditions and not interventions:
        return
    target = {"query": boolean_query(conditions, interventions), "conditions": conditions,
              "interventions": interventions}
    sources = sorted({f for rs in bundle.studies if rs.label in INCLUDED_LABELS for f in rs.link_files})
    sources += [bundle.criteria.source_file]
    yield make_record(
        ctx, task=TASK, instruction=INSTRUCTION, input_text=criteria_text(bundle.criteria),
        output=dumps(target), split_key=bundle.review_id, review_id=bundle.review_id,
        grounding=query_recall(conditions, interventions, included), sources=sources,
        source_versions=sorted(s.version for s in included if s.version))
