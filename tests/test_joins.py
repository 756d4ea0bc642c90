"""Join logic: pure rules, then the Beam composites on hand-made records (exact elements, counters)."""
from __future__ import annotations

import dataclasses

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from schemas.records import DeletedCitation, FullText, ReviewLink, Section, TrialReference
from tests.test_tasks import make_article, make_trial
from transforms.joins import link as L
from transforms.joins.transforms import (JoinReviewStudies, JoinStudyTrials, SelectLatestArticles,
                                         SelectLatestTrials)


def make_fulltext(pmid, pmcid, sections=(), nct_ids=(), references=(), abstract=None):
    return FullText(pmcid=pmcid, pmid=pmid, doi=None, title="Full text", abstract=abstract,
                    sections=list(sections), tables=[], references=list(references), nct_ids=list(nct_ids),
                    license=None, license_url=None, article_type="research-article", journal=None, pub_year=2020,
                    source_file=f"pmc/{pmcid}.nxml", source_index=0)


def counters(result) -> dict:
    """Committed counters by name, summed over the steps that report them."""
    out: dict = {}
    for c in result.metrics().query(MetricsFilter())["counters"]:
        out[c.key.metric.name] = out.get(c.key.metric.name, 0) + c.committed
    return out


def test_latest_article_and_deletions():
    a1 = make_article("1", title="old", source_file="pubmed/base_0001.xml")
    a2 = dataclasses.replace(a1, title="new", date_revised="2022-01-01", source_file="pubmed/upd_0002.xml")
    assert L.latest_article([a2, a1]) == (a2, 1, 0)
    gone = DeletedCitation("1", "pubmed/upd_0003.xml")
    assert L.latest_article([a1, gone]) == (None, 0, 1)
    assert L.latest_article([gone]) == (None, 0, 0)
    # re-added after the deletion
    a3 = dataclasses.replace(a1, source_file="pubmed/upd_0004.xml")
    assert L.latest_article([a1, gone, a3]) == (a3, 0, 1)


def test_registration_nct_ids_ignore_trials_cited_in_passing():
    ft = make_fulltext("1", "PMC1", abstract="Trial registration: NCT00000001.", nct_ids=[
        "NCT00000001", "NCT00000002", "NCT00000003"], sections=[
        Section("Methods", "The trial was registered at ClinicalTrials.gov (NCT00000002).", 1),
        Section("Discussion", "The MATCH trial (ClinicalTrials.gov identifier: NCT00000003) differs.", 1)])
    assert L.registration_nct_ids(ft) == ["NCT00000001", "NCT00000002"]


def test_trial_links_from_registry_keep_result_and_derived_only():
    t = dataclasses.replace(make_trial(), references=[
        TrialReference("11", "RESULT", None), TrialReference("12", "BACKGROUND", None),
        TrialReference("13", "DERIVED", None), TrialReference(None, "RESULT", "no pmid")])
    assert [(x.pmid, x.source) for x in L.trial_links_from_trial(t)] == [
        ("11", "registry_reference"), ("13", "registry_reference")]


def test_merge_labels_and_reference_resolution():
    links = [ReviewLink("r", "1", "reference", "medline_references", "a"),
             ReviewLink("r", "1", "excluded", "synergy", "b")]
    assert L.merge_review_links(links) == ("excluded", ["medline_references", "synergy"], ["a", "b"])
    summary = L.study_summary("1", make_article("1"), None)
    assert L.resolve_reference_label("reference", summary) == "included"
    not_trial = L.study_summary("2", make_article("2", publication_types=["Review"]), None)
    assert L.resolve_reference_label("reference", not_trial) is None


def test_select_latest_articles_and_trials():
    a1 = make_article("1", title="old", source_file="pubmed/base_0001.xml")
    a2 = dataclasses.replace(a1, title="new", date_revised="2022-01-01", source_file="pubmed/upd_0002.xml")
    b = make_article("2")
    t_old = make_trial("NCT09000001")
    t_new = dataclasses.replace(t_old, last_update_posted="2020-01-01", brief_title="newer")
    t_alias = dataclasses.replace(make_trial("NCT09000009"), aliases=["NCT09000001"], last_update_posted="2021-01-01",
                                  brief_title="current id")
    p = TestPipeline(runner="FnApiRunner")
    arts = (p | "A" >> beam.Create([a1, a2, b]), p | "D" >> beam.Create([DeletedCitation("2", "pubmed/upd_0002.xml")]))
    latest = arts | SelectLatestArticles()
    assert_that(latest | "T" >> beam.Map(lambda a: (a.pmid, a.title)), equal_to([("1", "new")]), label="articles")
    trials = p | "Tr" >> beam.Create([t_old, t_new, t_alias]) | SelectLatestTrials()
    assert_that(trials.trials | "Tt" >> beam.Map(lambda t: (t.nct_id, t.brief_title)),
                equal_to([("NCT09000009", "current id")]), label="trials")
    assert_that(trials.aliases, equal_to([("NCT09000001", "NCT09000009")]), label="aliases")
    result = p.run()
    c = counters(result)
    assert (c["pubmed.superseded"], c["pubmed.deleted"], c["ctgov.superseded"], c["ctgov.aliases"]) == (1, 1, 2, 1)


def test_join_study_trials_and_reviews_end_to_end():
    review = make_article("900", title="Metformin for prediabetes: a systematic review",
                          publication_types=["Systematic Review"])
    review = dataclasses.replace(review, reference_pmids=["10", "11", "12", "13"])
    study = make_article("10", nct_ids=["NCT09000001"])                      # databank link
    study_ft = make_fulltext(None, "PMC10")                                   # pmid via pmcid
    study = dataclasses.replace(study, pmcid="PMC10")
    background = make_article("11", publication_types=["Review"])            # cited, not a trial
    registry_only = make_article("12")                                       # linked by registry reference
    trial = make_trial("NCT09000001")
    trial2 = dataclasses.replace(make_trial("NCT09000002"), references=[TrialReference("12", "RESULT", None),
                                                                        TrialReference("99", "RESULT", None)])
    missing_trial = make_article("14", nct_ids=["NCT09000404"])
    table_link = ReviewLink("pubmed:900", "14", "excluded", "link_table", "links/t.tsv")
    p = TestPipeline(runner="FnApiRunner")
    articles = p | "Arts" >> beam.Create([review, study, background, registry_only, missing_trial])
    fulltexts = p | "Fts" >> beam.Create([study_ft])
    trials = p | "Trials" >> beam.Create([trial, trial2])
    aliases = p | "Aliases" >> beam.Create([])
    s = (articles, fulltexts, trials, aliases) | JoinStudyTrials()
    assert_that(s["bundles"] | "B" >> beam.Map(lambda b: (b.pmid, b.trial.nct_id, b.fulltext is not None,
                                                           tuple(b.link_sources))),
                equal_to([("10", "NCT09000001", True, ("databank",)),
                          ("12", "NCT09000002", False, ("registry_reference",))]), label="bundles")
    assert_that(s["unresolved"] | "U" >> beam.Map(lambda u: (u.kind, u.key, u.pmid)),
                equal_to([("study_text", "99", "99"), ("trial", "NCT09000404", "14")]), label="unresolved")
    links = (s["review_links"], p | "TL" >> beam.Create([table_link])) | beam.Flatten()
    r = (links, s["summaries"], s["briefs"], s["criteria"]) | JoinReviewStudies()
    assert_that(r["bundles"] | "RB" >> beam.Map(lambda b: (b.review_id, b.criteria is None,
                                                           [(x.pmid, x.label) for x in b.studies])),
                equal_to([("pubmed:900", True, [("10", "included"), ("12", "included"), ("14", "excluded")])]),
                label="reviews")
    assert_that(r["unresolved"] | "RU" >> beam.Map(lambda u: (u.kind, u.key, u.review_id)),
                equal_to([("study_text", "13", "pubmed:900")]), label="review_unresolved")
    c = counters(p.run())
    assert c["join.reference_not_trial"] == 1
    assert c["join.review_study_links"] == 3
    assert c["join.unresolved_trial"] == 1 and c["join.unresolved_study_text"] == 2


def test_add_topic_near_negatives():
    from schemas.records import ReviewBundle, ReviewStudy, TrialBrief
    from transforms.joins.transforms import AddTopicNearNegatives

    def study(pmid, cond, interv):
        s = L.study_summary(pmid, make_article(pmid), None, [TrialBrief(f"NCT{int(pmid):08d}", [cond], interv, [])])
        return s

    def bundle(rid, studies):
        return ReviewBundle(rid, None, [ReviewStudy(rid, s.pmid, "included", ["link_table"], ["t"], s)
                                        for s in studies])
    metformin = bundle("r1", [study("1", "Prediabetes", ["Metformin", "Placebo"])])
    lifestyle = bundle("r2", [study("2", "Prediabetes", ["Lifestyle"]), study("3", "Prediabetes", ["Metformin"])])
    other = bundle("r3", [study("4", "Asthma", ["Budesonide"])])
    p = TestPipeline(runner="FnApiRunner")
    out = p | beam.Create([metformin, lifestyle, other]) | AddTopicNearNegatives(limit=3)
    assert_that(out | beam.Map(lambda b: (b.review_id, [(s.pmid, s.label) for s in b.studies])),
                equal_to([("r1", [("1", "included"), ("2", "topic_near")]),
                          ("r2", [("2", "included"), ("3", "included")]),
                          ("r3", [("4", "included")])]))
    assert counters(p.run())["join.topic_near_negatives"] == 1


def test_tested_interventions_leave_out_comparator_only_ones():
    from schemas.records import ArmGroup, Intervention
    t = dataclasses.replace(make_trial(), interventions=[
        Intervention("DRUG", "Metformin", None, ["Metformin"]), Intervention("DRUG", "Placebo", None, ["Placebo"]),
        Intervention("BEHAVIORAL", "Advice", None, ["Metformin", "Placebo"])])
    assert L.tested_interventions(t) == ["Metformin", "Advice"]
    assert L.trial_brief(t).interventions == ["Metformin", "Advice"]
    only_comparators = dataclasses.replace(t, arm_groups=[ArmGroup("Metformin", "ACTIVE_COMPARATOR", None, []),
                                                          ArmGroup("Placebo", "PLACEBO_COMPARATOR", None, [])])
    assert L.tested_interventions(only_comparators) == ["Metformin", "Placebo", "Advice"]


def test_readded_copy_after_deletion_survives_even_if_older():
    a = dataclasses.replace(make_article("7"), date_revised="2024-06-01", source_file="pubmed/n0001.xml")
    b = dataclasses.replace(make_article("7"), date_revised="2024-01-01", source_file="pubmed/n1400.xml")
    assert L.latest_article([a, DeletedCitation("7", "pubmed/n1300.xml"), b]) == (b, 0, 1)


def test_alias_copy_never_replaces_the_current_id():
    current = dataclasses.replace(make_trial("NCT09000009"), aliases=["NCT09000001"], source_file="ctgov/a.json")
    old = dataclasses.replace(make_trial("NCT09000001"), source_file="ctgov/z.json")
    best, superseded = L.latest_trial([current, old], "NCT09000009")
    assert (best.nct_id, best.aliases, best.source_file, superseded) == (
        "NCT09000009", ["NCT09000001"], "ctgov/a.json", 1)
    only_old, _ = L.latest_trial([old], "NCT09000009")
    assert (only_old.nct_id, only_old.aliases) == ("NCT09000009", ["NCT09000001"])


def test_registration_under_a_trial_registration_heading():
    ft = make_fulltext("1", "PMC1", nct_ids=["NCT01234567"],
                       sections=[Section("Trial registration", "ClinicalTrials.gov NCT01234567.", 1)])
    assert L.registration_nct_ids(ft) == ["NCT01234567"]


def test_topic_near_scan_is_bounded_and_order_free(monkeypatch):
    from schemas.records import TrialBrief
    from transforms.joins import transforms as J

    def study(pmid, interv):
        return L.study_summary(pmid, make_article(pmid), None,
                               [TrialBrief(f"NCT{int(pmid):08d}", ["Prediabetes"], [interv], [])])
    # 500 studies of the review's own intervention (never negatives) and 5 of another one
    pool = [study(str(i), "Metformin") for i in range(1, 501)] + [study(str(i), "Lifestyle") for i in range(501, 506)]
    profile = ("r1", {"prediabetes"}, {"metformin"}, {"1"})
    checks = []
    real = L.is_topic_near_negative
    monkeypatch.setattr(J.L, "is_topic_near_negative", lambda prof, s: checks.append(s.pmid) or real(prof, s))
    fn = J._NearByConditionFn(per_key=3)
    found = list(fn.process((("prediabetes", "train"), {"reviews": [profile], "studies": pool})))
    assert len(checks) <= J.NEAR_SCAN_LIMIT == 200
    assert all(review == "r1" and s.pmid in {str(i) for i in range(501, 506)} for review, s in found)
    checks.clear()
    again = list(fn.process((("prediabetes", "train"), {"reviews": [profile], "studies": list(reversed(pool))})))
    assert [s.pmid for _, s in again] == [s.pmid for _, s in found]  # the input order does not matter
    # a pool small enough to scan whole yields the limit when enough candidates qualify
    small = [study(str(i), "Lifestyle") for i in range(600, 610)]
    assert len(list(fn.process((("prediabetes", "train"), {"reviews": [profile], "studies": small})))) == 3
