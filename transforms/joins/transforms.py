"""Keyed joins: latest records, study → trial and review → study (Beam wiring of ``joins.link``).

Composites:
- ``SelectLatestArticles``: (Article, DeletedCitation) → Article, one per PMID, deletions applied.
  Counters ``pubmed.superseded`` (older copies), ``pubmed.deleted`` (copies a DeleteCitation removed).
- ``SelectLatestFullTexts``: FullText → FullText, one per article. Counter ``pmc.superseded``.
- ``DropDeletedFullTexts``: (FullText, DeletedCitation, Article) → FullText, without the full texts
  of citations PubMed deleted (and did not re-add). Counter ``pmc.deleted_citation``.
- ``SelectLatestTrials``: Trial → Trial, one per NCT id (aliases folded in) and the alias map
  ``(alias, nct_id)``; a trial whose latest record is WITHDRAWN is dropped.
  Counters ``ctgov.superseded``, ``ctgov.aliases``, ``ctgov.withdrawn``.
- ``AssignSplits``: review links, study → trial link rows → the split of every publication and
  trial (``transforms.joins.splits``). Counters ``split.trials``, ``split.publications``.
- ``JoinStudyTrials``: articles, full texts, trials (and the input review links) → ``StudyBundle``
  per (pmid, nct) with its split, plus ``StudySummary`` per PMID, reference links and criteria of
  reviews, link rows, unresolved links, publication splits.
  Counters ``join.study_trial_links``, ``join.fulltext_without_pmid``, ``join.unresolved_study_text``,
  ``join.unresolved_trial``, ``join.other_fulltexts_same_pmid``, ``join.trial_alias_links`` (links naming an
  alias, joined to the current NCT id), ``join.study_trial_links_merged`` (extra links to the same trial),
  ``split.study_bundles_dropped``.
- ``JoinReviewStudies``: review links, study summaries, criteria, publication splits → ``ReviewBundle``.
  Counters ``join.review_study_links``, ``join.reference_not_trial``, ``join.unresolved_study_text``,
  ``join.reviews``, ``join.reviews_without_criteria``, ``join.review_links_merged`` (extra links or link
  sources naming the same review → study pair), ``split.screening_candidates_dropped``.
"""
from __future__ import annotations

import dataclasses
import typing

import apache_beam as beam
from apache_beam.pvalue import AsDict, TaggedOutput

from schemas.records import Link, ReviewBundle, ReviewStudy, StudyBundle, UnresolvedLink
from transforms.joins import link as L
from transforms.joins.splits import publication_split, trial_split
from transforms.links.parse import criteria_from_article, merge_criteria
from transforms.metrics import inc
from transforms.shuffle import PackedCoGroupByKey, PackedGroupByKey
from transforms.tasks.common import split_for


def _latest_article(kv):
    """(pmid, [Article|DeletedCitation]) → Article (or nothing when deleted)."""
    _, items = kv
    article, superseded, deleted = L.latest_article(items)
    if superseded:
        inc("pubmed.superseded", superseded)
    if deleted:
        inc("pubmed.deleted", deleted)
    if article is not None:
        yield article


class SelectLatestArticles(beam.PTransform):
    """(articles: Article, deletions: DeletedCitation) → Article, the latest per PMID."""

    def expand(self, pcolls):
        articles, deletions = pcolls
        keyed = ((articles | "KeyArticles" >> beam.Map(lambda a: (a.pmid, a)),
                  deletions | "KeyDeletions" >> beam.Map(lambda d: (d.pmid, d)))
                 | "MergeArticleStreams" >> beam.Flatten())
        return keyed | "GroupByPmid" >> PackedGroupByKey() | "KeepLatest" >> beam.FlatMap(_latest_article)


def _latest_trial(kv):
    nct_id, trials = kv
    trial, superseded = L.latest_trial(trials, nct_id)
    if superseded:
        inc("ctgov.superseded", superseded)
    if trial.overall_status == "WITHDRAWN":
        inc("ctgov.withdrawn")  # withdrawn before enrolling anyone: no study data to learn from
        yield TaggedOutput("withdrawn", trial)
    else:
        yield trial
    for alias in trial.aliases:
        inc("ctgov.aliases")
        yield TaggedOutput("aliases", (alias, trial.nct_id))


class SelectLatestTrials(beam.PTransform):
    """Trial → (trials: Trial latest per NCT id, aliases: (alias, nct_id), withdrawn: the latest
    records that are WITHDRAWN, kept apart so that a later build can still fold their aliases).

    A record filed under an alias id is folded into its current id before choosing the latest.
    """

    def expand(self, trials):
        aliases = (trials | "AliasPairs" >> beam.FlatMap(lambda t: [(a, t.nct_id) for a in t.aliases])
                   | "DistinctAliases" >> beam.Distinct())
        return (trials
                | "KeyTrials" >> beam.Map(lambda t, amap: (amap.get(t.nct_id, t.nct_id), t), AsDict(aliases))
                | "GroupByNct" >> PackedGroupByKey()
                | "KeepLatestTrial" >> beam.FlatMap(_latest_trial).with_outputs("aliases", "withdrawn",
                                                                                main="trials"))


def _fulltext_key(f):
    return f.pmcid or (f"pmid:{f.pmid}" if f.pmid else f"doi:{(f.doi or '').lower()}")


def _latest_fulltext(kv):
    _, items = kv
    fulltext, superseded = L.latest_fulltext(items)
    if superseded:
        inc("pmc.superseded", superseded)
    yield fulltext


class SelectLatestFullTexts(beam.PTransform):
    """FullText → FullText, one per article (PMCID, else PMID, else DOI): the fullest copy."""

    def expand(self, fulltexts):
        return (fulltexts | "KeyFullTexts" >> beam.Map(lambda f: (_fulltext_key(f), f))
                | "GroupByArticle" >> PackedGroupByKey() | "KeepFullest" >> beam.FlatMap(_latest_fulltext))


def _keep_unless_deleted(kv):
    _, groups = kv
    fulltexts = list(groups["fulltext"])
    if list(groups["deleted"]) and not list(groups["article"]):
        inc("pmc.deleted_citation", len(fulltexts))
        for f in fulltexts:
            yield TaggedOutput("withheld", f)
        return
    yield from fulltexts


class DropDeletedFullTexts(beam.PTransform):
    """(fulltexts: FullText, deletions: DeletedCitation, articles: Article latest) → tagged
    fulltexts: FullText and withheld: the full texts of deleted citations (kept for a re-add).

    A ``<DeleteCitation>`` withdraws a PMID: its full text must not bring the study back under it.
    A PMID re-added after its deletion has a live article again and keeps its full text.
    """

    def expand(self, pcolls):
        fulltexts, deletions, articles = pcolls
        with_pmid = fulltexts | "WithPmid" >> beam.Filter(lambda f: f.pmid is not None)
        without = fulltexts | "WithoutPmid" >> beam.Filter(lambda f: f.pmid is None)
        kept = ({"fulltext": with_pmid | "KeyByPmid" >> beam.Map(lambda f: (f.pmid, f)),
                 "deleted": deletions | "KeyDeletions" >> beam.Map(lambda d: (d.pmid, True)),
                 "article": articles | "KeyArticles" >> beam.Map(lambda a: (a.pmid, True))}
                | "GroupByPmid" >> PackedCoGroupByKey()
                | "KeepLive" >> beam.FlatMap(_keep_unless_deleted).with_outputs("withheld", main="fulltexts"))
        return {"fulltexts": (kept.fulltexts, without) | "WithFullTextsWithoutPmid" >> beam.Flatten(),
                "withheld": kept.withheld}


class _JoinByPmidFn(beam.DoFn):
    """(pmid, {article, fulltext, registry}) → publications by NCT id, summaries, review links, ..."""

    def __init__(self, review_types):
        self._review_types = tuple(review_types)

    def process(self, kv, alias_map):
        pmid, groups = kv
        articles, fulltexts, registry = list(groups["article"]), list(groups["fulltext"]), list(groups["registry"])
        article = articles[0] if articles else None
        fulltext = None
        if fulltexts:  # already one per article; several distinct articles may claim one PMID
            fulltext, others = L.latest_fulltext(fulltexts)
            if others:
                inc("join.other_fulltexts_same_pmid", others)
        links = list(registry)
        if article is not None:
            links += L.trial_links_from_article(article)
        if fulltext is not None:
            links += L.trial_links_from_fulltext(fulltext, pmid)
        by_nct: dict[str, list] = {}
        for ln in links:
            nct = alias_map.get(ln.nct_id, ln.nct_id)
            if nct != ln.nct_id:
                inc("join.trial_alias_links")  # a link naming an alias joins the current NCT id
            by_nct.setdefault(nct, []).append(ln)
        for nct, group in sorted(by_nct.items()):
            if len(group) > 1:
                inc("join.study_trial_links_merged", len(group) - 1)  # one trial reached by several links
            sources = sorted({g.source for g in group})
            files = sorted({g.source_file for g in group})
            yield TaggedOutput("link_rows", Link("study_trial", None, pmid, nct, None, sources, files))
            if article is None and fulltext is None:
                inc("join.unresolved_study_text")
                yield TaggedOutput("unresolved", UnresolvedLink("study_text", pmid, None, pmid, ",".join(sources),
                                                                files[0]))
                continue
            inc("join.study_trial_links")
            yield TaggedOutput("by_nct", (nct, (pmid, article, fulltext, sources)))
        if article is None and fulltext is None:
            return
        yield TaggedOutput("summaries", (pmid, L.study_summary(pmid, article, fulltext)))
        if article is not None and L.is_review(article, self._review_types):
            for ln in L.review_links_from_references(article, fulltext):
                yield TaggedOutput("review_links", ln)
            criteria = criteria_from_article(article)
            if criteria is not None:
                yield TaggedOutput("criteria", criteria)


def _key_fulltexts(kv):
    """(pmcid, {fulltext, pmid}) → (pmid, FullText) for full texts that lack a PMID of their own."""
    pmcid, groups = kv
    pmids = sorted(set(groups["pmid"]))
    for ft in groups["fulltext"]:
        if pmids:
            yield pmids[0], ft
        else:
            inc("join.fulltext_without_pmid")


def _join_by_nct(kv):
    """(nct, {trial, pubs[, split, pub_split]}) → StudyBundle per publication (+ TrialBrief by PMID),
    or unresolved. With splits, a publication whose split is not the trial's gives no bundle."""
    nct, groups = kv
    trials = list(groups["trial"])
    splits = list(groups.get("split", ()))
    split = splits[0] if splits else None
    pub_splits = dict(groups.get("pub_split", ()))
    for pmid, article, fulltext, sources in groups["pubs"]:
        if not trials:
            inc("join.unresolved_trial")
            yield TaggedOutput("unresolved", UnresolvedLink("trial", nct, None, pmid, ",".join(sources),
                                                            (article or fulltext).source_file))
            continue
        yield TaggedOutput("briefs", (pmid, L.trial_brief(trials[0])))
        if split is not None and pub_splits.get(pmid, split) != split:
            inc("split.study_bundles_dropped")  # the publication went with another of its trials
            continue
        yield StudyBundle(pmid, article, fulltext, trials[0], sources, split)


# --------------------------------------------------------------------------- splits
def _split_votes_by_pmid(kv):
    """(pmid, {reviews, trials}) → (nct, (pmid, reviews)) per trial of the publication, or its split."""
    pmid, groups = kv
    reviews = sorted(set(groups["reviews"]))
    ncts = sorted(set(groups["trials"]))
    if not ncts:
        inc("split.publications")
        yield TaggedOutput("pub_splits", (pmid, publication_split(pmid, (), reviews)))
    for nct in ncts:
        yield nct, (pmid, reviews)


def _split_of_trial(kv):
    """(nct, [(pmid, reviews)]) → the trial's split, and (pmid, (nct, split)) per publication."""
    nct, items = kv
    items = list(items)
    split = trial_split(nct, (r for _, reviews in items for r in reviews))
    inc("split.trials")
    yield TaggedOutput("trial_splits", (nct, split))
    for pmid in sorted({pmid for pmid, _ in items}):
        yield pmid, (nct, split)


def _split_of_publication(kv):
    """(pmid, [(nct, split)]) → (pmid, split), and (nct, (pmid, split)) per trial of the publication."""
    pmid, pairs = kv
    pairs = sorted(set(pairs))
    split = publication_split(pmid, pairs)
    inc("split.publications")
    yield pmid, split
    for nct, _ in pairs:
        yield TaggedOutput("pub_trial_splits", (nct, (pmid, split)))


class AssignSplits(beam.PTransform):
    """(review_links: ReviewLink, link_rows: Link) → dict of pub_splits ((pmid, split)), trial_splits
    ((nct, split)), pub_trial_splits ((nct, (pmid, split))): one split per publication and trial,
    by the precedence of ``transforms.joins.splits``. Three shuffles of ids only, keyed by PMID,
    NCT id and PMID again."""

    def expand(self, pcolls):
        review_links, link_rows = pcolls
        by_pmid = ({"reviews": review_links | "ReviewVotes" >> beam.Map(lambda ln: (ln.pmid, ln.review_id)),
                    "trials": (link_rows | "StudyTrialRows" >> beam.Filter(lambda r: r.kind == "study_trial")
                               | "TrialsByPmid" >> beam.Map(lambda r: (r.pmid, r.nct_id)))}
                   | "GroupVotesByPmid" >> beam.CoGroupByKey()
                   | "VotesToTrials" >> beam.FlatMap(_split_votes_by_pmid).with_output_types(typing.Any)
                   .with_outputs("pub_splits", main="by_nct"))
        trials = (by_pmid.by_nct | "GroupVotesByNct" >> beam.GroupByKey()
                  | "SplitOfTrial" >> beam.FlatMap(_split_of_trial).with_output_types(typing.Any)
                  .with_outputs("trial_splits", main="by_pmid"))
        pubs = (trials.by_pmid | "GroupTrialSplitsByPmid" >> beam.GroupByKey()
                | "SplitOfPublication" >> beam.FlatMap(_split_of_publication).with_output_types(typing.Any)
                .with_outputs("pub_trial_splits", main="pub_splits"))
        return {"pub_splits": (by_pmid.pub_splits, pubs.pub_splits) | "AllPublicationSplits" >> beam.Flatten(),
                "trial_splits": trials.trial_splits, "pub_trial_splits": pubs.pub_trial_splits}


class JoinStudyTrials(beam.PTransform):
    """(articles, fulltexts, trials, aliases[, input_review_links]) → tagged: bundles (StudyBundle),
    summaries ((pmid, StudySummary) without trials), briefs ((pmid, TrialBrief)), review_links
    (ReviewLink from review reference lists), criteria (ReviewCriteria from review abstracts),
    link_rows (Link), unresolved (UnresolvedLink), pub_splits ((pmid, split)).

    Given the link tables' review links, splits are assigned (``AssignSplits``, over those and the
    reference-list links) and each bundle carries its split; without them, bundles carry none and
    pub_splits is empty."""

    def __init__(self, review_types=L.REVIEW_PUBLICATION_TYPES):
        super().__init__()
        self._review_types = review_types

    def expand(self, pcolls):
        articles, fulltexts, trials, aliases, *input_links = pcolls
        with_pmid = fulltexts | "FullTextsWithPmid" >> beam.Filter(lambda f: f.pmid is not None)
        without = (fulltexts | "FullTextsWithoutPmid" >> beam.Filter(lambda f: f.pmid is None and f.pmcid)
                   | "KeyByPmcid" >> beam.Map(lambda f: (f.pmcid, f)))
        pmcid_to_pmid = (articles | "ArticlesWithPmcid" >> beam.Filter(lambda a: a.pmcid)
                         | "PmcidToPmid" >> beam.Map(lambda a: (a.pmcid, a.pmid)))
        resolved = ({"fulltext": without, "pmid": pmcid_to_pmid} | "JoinPmcidToPmid" >> beam.CoGroupByKey()
                    | "KeyResolvedFullTexts" >> beam.FlatMap(_key_fulltexts))
        ft_by_pmid = ((with_pmid | "KeyFullTexts" >> beam.Map(lambda f: (f.pmid, f)), resolved)
                      | "AllFullTextsByPmid" >> beam.Flatten())
        registry = (trials | "RegistryReferences" >> beam.FlatMap(L.trial_links_from_trial)
                    | "KeyRegistryLinks" >> beam.Map(lambda ln: (ln.pmid, ln)))
        by_pmid = ({"article": articles | "KeyArticlesByPmid" >> beam.Map(lambda a: (a.pmid, a)),
                    "fulltext": ft_by_pmid, "registry": registry}
                   | "JoinByPmid" >> PackedCoGroupByKey()
                   | "LinkStudiesToTrials" >> beam.ParDo(_JoinByPmidFn(self._review_types), AsDict(aliases))
                   .with_outputs("by_nct", "summaries", "review_links", "criteria", "link_rows", "unresolved"))
        nct_inputs = {"trial": trials | "KeyTrialsByNct" >> beam.Map(lambda t: (t.nct_id, t)),
                      "pubs": by_pmid.by_nct}
        if input_links:
            all_links = (input_links[0], by_pmid.review_links) | "LinksForSplits" >> beam.Flatten()
            splits = (all_links, by_pmid.link_rows) | "AssignSplits" >> AssignSplits()
            nct_inputs.update(split=splits["trial_splits"], pub_split=splits["pub_trial_splits"])
            pub_splits = splits["pub_splits"]
        else:
            pub_splits = articles.pipeline | "NoSplits" >> beam.Create([])
        by_nct = (nct_inputs
                  | "JoinByNct" >> PackedCoGroupByKey()
                  | "BuildStudyBundles" >> beam.FlatMap(_join_by_nct).with_outputs("briefs", "unresolved",
                                                                                   main="bundles"))
        unresolved = (by_pmid.unresolved, by_nct.unresolved) | "MergeUnresolved" >> beam.Flatten()
        return {"bundles": by_nct.bundles, "summaries": by_pmid.summaries, "briefs": by_nct.briefs,
                "review_links": by_pmid.review_links, "criteria": by_pmid.criteria,
                "link_rows": by_pmid.link_rows, "unresolved": unresolved, "pub_splits": pub_splits}


def _review_studies(kv):
    """(pmid, {summary, briefs, links}) → (review_id, ReviewStudy) per review linking this PMID."""
    pmid, groups = kv
    splits = list(groups.get("split", ()))
    split = splits[0] if splits else None
    summaries = list(groups["summary"])
    summary = summaries[0] if summaries else None
    if summary is not None:
        trials = sorted(groups["briefs"], key=lambda b: b.nct_id)
        summary = dataclasses.replace(summary, trials=trials,
                                      is_trial_report=summary.is_trial_report or bool(trials))
    by_review: dict[str, list] = {}
    for ln in groups["links"]:
        by_review.setdefault(ln.review_id, []).append(ln)
    for review_id, links in sorted(by_review.items()):
        if len(links) > 1:
            inc("join.review_links_merged", len(links) - 1)  # one study reached by several links or sources
        label, sources, files = L.merge_review_links(links)
        if summary is None:
            inc("join.unresolved_study_text")
            yield TaggedOutput("unresolved", UnresolvedLink("study_text", pmid, review_id, pmid,
                                                            ",".join(sources), files[0]))
            yield TaggedOutput("link_rows", Link("review_study", review_id, pmid, None, label, sources, files))
            continue
        resolved = L.resolve_reference_label(label, summary)
        if resolved is None:
            inc("join.reference_not_trial")
            continue
        inc("join.review_study_links")
        if split is not None and split != split_for(review_id):
            inc("split.screening_candidates_dropped")  # kept in the bundle (search_query) but not screened
        yield TaggedOutput("link_rows", Link("review_study", review_id, pmid, None, resolved, sources, files))
        yield review_id, ReviewStudy(review_id, pmid, resolved, sources, files, summary, split)


def _review_bundle(kv):
    review_id, groups = kv
    criteria = merge_criteria(list(groups["criteria"]))
    studies = sorted(groups["studies"], key=lambda s: s.pmid)
    inc("join.reviews")
    if criteria is None:
        inc("join.reviews_without_criteria")
    yield ReviewBundle(review_id, criteria, studies)


class JoinReviewStudies(beam.PTransform):
    """(review_links, summaries, briefs, criteria[, pub_splits]) → tagged: bundles (ReviewBundle),
    link_rows (Link), unresolved (UnresolvedLink). Each ReviewStudy carries its publication's split."""

    def expand(self, pcolls):
        review_links, summaries, briefs, criteria, *pub_splits = pcolls
        inputs = {"summary": summaries, "briefs": briefs,
                  "links": review_links | "KeyLinksByPmid" >> beam.Map(lambda ln: (ln.pmid, ln))}
        if pub_splits:
            inputs["split"] = pub_splits[0]
        studies = (inputs
                   | "JoinLinksWithStudies" >> PackedCoGroupByKey()
                   | "ResolveReviewStudies" >> beam.FlatMap(_review_studies).with_outputs(
                       "unresolved", "link_rows", main="studies"))
        bundles = ({"studies": studies.studies,
                    "criteria": criteria | "KeyCriteria" >> beam.Map(lambda c: (c.review_id, c))}
                   | "JoinByReview" >> PackedCoGroupByKey()
                   | "BuildReviewBundles" >> beam.FlatMap(_review_bundle))
        return {"bundles": bundles, "link_rows": studies.link_rows, "unresolved": studies.unresolved}


def _profile(bundle: ReviewBundle):
    conditions, interventions, pmids = L.review_profile(bundle.studies)
    split = split_for(bundle.review_id)
    for cond in sorted(conditions):
        yield (cond, split), (bundle.review_id, conditions, interventions, pmids)


def _pool(bundle: ReviewBundle):
    for rs in bundle.studies:
        if rs.label == "included" and rs.study is not None and rs.study.trials:
            split = rs.split or split_for(rs.review_id)
            for cond in sorted(L.study_terms(rs.study)[0]):
                yield (cond, split), rs.study


NEAR_SCAN_LIMIT = 200  # candidates examined per review and condition


class _NearByConditionFn(beam.DoFn):
    """((condition, split), {reviews, studies}) → (review_id, StudySummary) topic-near negatives.

    Reviews and pool studies meet by condition within one split, so a negative is always a
    publication of the review's own split.

    The condition's pool is put in one pseudo-random order; each review scans it from its own
    pseudo-random start and takes the first ``per_key`` candidates that qualify, examining at
    most ``NEAR_SCAN_LIMIT``. Cost per review is bounded, however many reviews share a condition.
    """

    def __init__(self, per_key: int):
        self._per_key = per_key

    def process(self, kv):
        (condition, _), groups = kv
        pool = sorted({s.pmid: s for s in groups["studies"]}.values(),
                      key=lambda s: L.stable_rank(condition, s.pmid))
        n = len(pool)
        if not n:
            return
        for review_id, conditions, interventions, pmids in groups["reviews"]:
            start = int(L.stable_rank(review_id, condition)[:12], 16) % n
            found = 0
            for k in range(min(n, NEAR_SCAN_LIMIT)):
                s = pool[(start + k) % n]
                if L.is_topic_near_negative((conditions, interventions, pmids), s):
                    yield review_id, s
                    found += 1
                    if found >= self._per_key:
                        break


def _with_negatives(kv, limit: int):
    review_id, groups = kv
    for bundle in groups["bundle"]:
        unique = {s.pmid: s for s in groups["near"]}
        chosen = sorted(unique.values(), key=lambda s: L.stable_rank(review_id, s.pmid))[:limit]
        if chosen:
            inc("join.topic_near_negatives", len(chosen))
        extra = [ReviewStudy(review_id, s.pmid, "topic_near", ["topic_near"], s.source_files[:1], s,
                             split_for(review_id)) for s in chosen]
        yield dataclasses.replace(bundle, studies=bundle.studies + extra)


class AddTopicNearNegatives(beam.PTransform):
    """ReviewBundle → ReviewBundle with up to ``limit`` topic-near hard negatives added: trials
    included by other reviews that share a condition with this review's included trials but none
    of their interventions (label ``topic_near``). Counter ``join.topic_near_negatives``."""

    def __init__(self, limit: int = 3):
        super().__init__()
        self._limit = limit

    def expand(self, bundles):
        if self._limit <= 0:
            return bundles
        near = ({"reviews": bundles | "ReviewProfiles" >> beam.FlatMap(_profile),
                 "studies": bundles | "IncludedTrialPool" >> beam.FlatMap(_pool)}
                | "GroupByCondition" >> PackedCoGroupByKey()
                | "FindTopicNear" >> beam.ParDo(_NearByConditionFn(self._limit)))
        return ({"bundle": bundles | "KeyBundles" >> beam.Map(lambda b: (b.review_id, b)), "near": near}
                | "JoinNegatives" >> PackedCoGroupByKey()
                | "AddNegatives" >> beam.FlatMap(_with_negatives, self._limit))
