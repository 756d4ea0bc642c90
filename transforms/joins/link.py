"""Join logic as pure functions: latest versions, study→trial and review→study links, summaries.

No Beam import; ``transforms.joins.transforms`` wires these into keyed joins.
"""
from __future__ import annotations

import dataclasses
import hashlib
import re
from typing import Iterable, Optional

from schemas.records import (Article, DeletedCitation, FullText, ReviewLink, StudySummary, Trial, TrialBrief,
                             TrialLink)
from transforms.textutil import NCT_RE

REVIEW_PUBLICATION_TYPES = ("Systematic Review", "Meta-Analysis")
TRIAL_PUBLICATION_TYPES = re.compile(
    r"^(Randomized Controlled Trial|Clinical Trial(, Phase [IV]+)?|Controlled Clinical Trial|"
    r"Pragmatic Clinical Trial|Equivalence Trial|Clinical Trial Protocol|Adaptive Clinical Trial)$")
_REVIEW_TITLE = re.compile(r"\b(systematic review|meta-analy[sz]is)\b", re.I)
LABEL_RANK = {"included": 0, "screened_in": 1, "excluded": 2, "reference": 3}
REGISTRY_LINK_TYPES = ("RESULT", "DERIVED")


def _article_order(a: Article):
    return (a.date_revised or "", a.version, a.source_file, a.source_index)


def latest_article(items: Iterable[Article | DeletedCitation]) -> tuple[Optional[Article], int, int]:
    """(latest article or None, superseded copies, copies removed by a deletion) for one PMID.

    A ``DeleteCitation`` removes every copy from files that sort up to the deletion's file (update
    files are numbered after baseline files); a copy from a later file re-adds the PMID. Of the
    remaining copies the latest has the newest DateRevised, then the highest PMID version, then the
    file that sorts last.
    """
    articles = [x for x in items if isinstance(x, Article)]
    deletions = [x for x in items if isinstance(x, DeletedCitation)]
    live = articles
    if deletions:
        last_delete = max(d.source_file for d in deletions)
        live = [a for a in articles if a.source_file > last_delete]
    removed = len(articles) - len(live)
    if not live:
        return None, 0, removed
    return max(live, key=_article_order), len(live) - 1, removed


def latest_trial(trials: Iterable[Trial], nct_id: Optional[str] = None) -> tuple[Trial, int]:
    """(latest registry record, number superseded) of one trial.

    ``nct_id`` is the trial's current id: a copy filed under it beats a copy filed under an
    older alias; then the newest last-update date wins, API v2 over legacy XML. The result
    carries the current id and every alias seen in the group.
    """
    trials = list(trials)
    key = nct_id or max(t.nct_id for t in trials)
    best = max(trials, key=lambda t: (t.nct_id == key, t.last_update_posted or "",
                                      t.source_format == "ctgov_v2_json", t.source_file, t.source_index))
    aliases = sorted({a for t in trials for a in t.aliases} | {t.nct_id for t in trials} - {key})
    if best.nct_id != key or best.aliases != aliases:
        best = dataclasses.replace(best, nct_id=key, aliases=aliases)
    return best, len(trials) - 1


def latest_fulltext(items: Iterable[FullText]) -> tuple[FullText, int]:
    """(the fullest copy of one article, number of other copies)."""
    items = list(items)
    best = max(items, key=lambda f: (len(f.sections), len(f.references), f.source_file, f.source_index))
    return best, len(items) - 1


def is_review(article: Article, review_types: Iterable[str] = REVIEW_PUBLICATION_TYPES) -> bool:
    """A systematic review or meta-analysis, by publication type or title."""
    return any(pt in review_types for pt in article.publication_types) or bool(
        article.title and _REVIEW_TITLE.search(article.title))


def is_trial_report(article: Optional[Article]) -> bool:
    """A trial report: a trial publication type, or a registered trial named in the record."""
    if article is None:
        return False
    return any(TRIAL_PUBLICATION_TYPES.match(pt) for pt in article.publication_types) or bool(
        article.nct_ids or article.text_nct_ids)


def trial_links_from_article(article: Article) -> list[TrialLink]:
    """DataBank accessions and NCT ids named in the title/abstract."""
    links = [TrialLink(article.pmid, nct, "databank", article.source_file) for nct in article.nct_ids]
    links += [TrialLink(article.pmid, nct, "abstract_mention", article.source_file)
              for nct in article.text_nct_ids if nct not in article.nct_ids]
    return links


_REGISTRATION_CUE = re.compile(r"regist|trial number|trial identifier", re.I)


def registration_nct_ids(fulltext: FullText) -> list[str]:
    """NCT ids a full text gives as its own registration: in the abstract, or in the body within
    150 characters after a registration cue ("registered", "registry", "trial number"). NCT ids
    cited in passing (other trials, references) do not count."""
    found = set()
    for m in NCT_RE.finditer(fulltext.abstract or ""):
        found.add("NCT" + m.group(1))
    for section in fulltext.sections:
        heading_cue = bool(section.heading and _REGISTRATION_CUE.search(section.heading))
        for m in NCT_RE.finditer(section.text):
            if heading_cue or _REGISTRATION_CUE.search(section.text[max(0, m.start() - 150):m.start()]):
                found.add("NCT" + m.group(1))
    return sorted(found & set(fulltext.nct_ids)) if fulltext.nct_ids else sorted(found)


def trial_links_from_fulltext(fulltext: FullText, pmid: str) -> list[TrialLink]:
    """The registration NCT ids of a full text, for the PMID it belongs to."""
    return [TrialLink(pmid, nct, "fulltext_registration", fulltext.source_file)
            for nct in registration_nct_ids(fulltext)]


def trial_links_from_trial(trial: Trial) -> list[TrialLink]:
    """Registry references of type RESULT or DERIVED: publications that report this trial."""
    seen, links = set(), []
    for ref in trial.references:
        if ref.pmid and (ref.type or "").upper() in REGISTRY_LINK_TYPES and ref.pmid not in seen:
            seen.add(ref.pmid)
            links.append(TrialLink(ref.pmid, trial.nct_id, "registry_reference", trial.source_file))
    return links


def review_links_from_references(review: Article, fulltext: Optional[FullText]) -> list[ReviewLink]:
    """The review's cited PMIDs (MEDLINE ReferenceList, then PMC ref-list) as ``reference`` links."""
    rid, links, seen = f"pubmed:{review.pmid}", [], set()
    for pmid in review.reference_pmids:
        if pmid not in seen and pmid != review.pmid:
            seen.add(pmid)
            links.append(ReviewLink(rid, pmid, "reference", "medline_references", review.source_file))
    if fulltext is not None:
        for ref in fulltext.references:
            if ref.pmid and ref.pmid != review.pmid:
                links.append(ReviewLink(rid, ref.pmid, "reference", "pmc_references", fulltext.source_file))
    return links


def merge_review_links(links: Iterable[ReviewLink]) -> tuple[str, list[str], list[str]]:
    """(label, sources, files) of one (review, pmid): the strongest label wins."""
    links = list(links)
    label = min((l.label for l in links), key=lambda x: LABEL_RANK.get(x, 9))
    return label, sorted({l.source for l in links}), sorted({l.source_file for l in links})


def resolve_reference_label(label: str, study: Optional[StudySummary]) -> Optional[str]:
    """A cited reference becomes an ``included`` candidate when it is a trial report; else None."""
    if label != "reference":
        return label
    return "included" if study is not None and study.is_trial_report else None


def study_summary(pmid: str, article: Optional[Article], fulltext: Optional[FullText],
                  trials: Iterable[TrialBrief] = ()) -> StudySummary:
    """What review-level tasks need of one study."""
    trials = sorted(trials, key=lambda t: t.nct_id)
    return StudySummary(
        pmid=pmid, pmcid=(fulltext.pmcid if fulltext else None) or (article.pmcid if article else None),
        title=(article.title if article else None) or (fulltext.title if fulltext else None),
        abstract=(article.abstract if article else None) or (fulltext.abstract if fulltext else None),
        publication_types=list(article.publication_types) if article else [],
        mesh=[m.descriptor for m in article.mesh] if article else [],
        major_mesh=[m.descriptor for m in article.mesh if m.major or any(q.major for q in m.qualifiers)]
        if article else [],
        keywords=list(article.keywords) if article else [],
        is_trial_report=is_trial_report(article) or bool(trials),
        trials=trials,
        source_files=[x.source_file for x in (article, fulltext) if x is not None],
        version=f"pubmed:{article.pmid}.v{article.version}@{article.date_revised or ''}" if article else None)


COMPARATOR_ARM_TYPES = ("ACTIVE_COMPARATOR", "PLACEBO_COMPARATOR", "SHAM_COMPARATOR", "NO_INTERVENTION")


def tested_interventions(trial: Trial) -> list[str]:
    """Names of the interventions a trial tests: those given in at least one arm that is not a
    comparator arm (all of them when the registry does not say)."""
    comparator_arms = {a.label for a in trial.arm_groups if a.type in COMPARATOR_ARM_TYPES}
    tested = [i.name for i in trial.interventions
              if not i.arm_group_labels or set(i.arm_group_labels) - comparator_arms]
    return tested or [i.name for i in trial.interventions]


def trial_brief(trial: Trial) -> TrialBrief:
    """What a review needs of a trial: its conditions and the interventions it tests."""
    return TrialBrief(trial.nct_id, list(trial.conditions), tested_interventions(trial), list(trial.keywords))


# --------------------------------------------------------------------------- topic-near negatives
_NOT_AN_INTERVENTION = {"placebo", "placebos", "control", "usual care", "standard of care", "sham",
                        "no intervention", "standard care"}


def _norm(term: str) -> str:
    return re.sub(r"\s+", " ", term).strip().lower()


def review_profile(studies) -> tuple[set, set, set]:
    """(conditions, interventions, pmids) of a review's included studies (from their trials)."""
    conditions, interventions, pmids = set(), set(), set()
    for rs in studies:
        pmids.add(rs.pmid)
        if rs.label != "included" or rs.study is None:
            continue
        for t in rs.study.trials:
            conditions.update(_norm(c) for c in t.conditions)
            interventions.update(_norm(i) for i in t.interventions if _norm(i) not in _NOT_AN_INTERVENTION)
    return conditions, interventions, pmids


def study_terms(study: StudySummary) -> tuple[set, set]:
    """(conditions, interventions) of a study's trials, normalised, comparators left out."""
    conditions = {_norm(c) for t in study.trials for c in t.conditions}
    interventions = {_norm(i) for t in study.trials for i in t.interventions} - _NOT_AN_INTERVENTION
    return conditions, interventions


def is_topic_near_negative(profile: tuple[set, set, set], study: StudySummary) -> bool:
    """Same condition as the review's included trials, none of their interventions, not linked to it."""
    conditions, interventions, pmids = profile
    if study.pmid in pmids or not interventions:
        return False
    s_cond, s_int = study_terms(study)
    return bool(s_cond & conditions) and bool(s_int) and not (s_int & interventions)


def stable_rank(*parts: str) -> str:
    """A deterministic pseudo-random order key (no ``random``)."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
