"""The six task builders and grounding, on hand-made joined entities with exact targets."""
from __future__ import annotations

import dataclasses
import json

from schemas.records import (Article, ArmGroup, Category, Denom, DenomCount, Design, Eligibility, FullText, Group,
                             Intervention, Measure, MeasureClass, Measurement, Outcome, ReviewBundle,
                             ReviewCriteria, ReviewStudy, Results, Section, StudyBundle, StudySummary, Table, Trial,
                             TrialBrief)
from transforms.tasks.arm_design import build_arm_design
from transforms.tasks.common import BuildContext, Grounder, humanize, paper_text, split_for
from transforms.tasks.participant_statistics import build_participant_statistics
from transforms.tasks.screening import build_screening
from transforms.tasks.search_query import boolean_query, build_search_query
from transforms.tasks.study_characteristics import build_study_characteristics
from transforms.tasks.trial_results import build_trial_results

CTX = BuildContext(created_at="2026-11-25")


def make_article(pmid, title="Metformin in adults with prediabetes: a randomised trial", abstract=None,
                 abstract_sections=(), publication_types=("Randomized Controlled Trial",), nct_ids=(),
                 mesh=(), source_file="pubmed/a.xml"):
    return Article(
        pmid=pmid, version=1, title=title, abstract=abstract, abstract_sections=list(abstract_sections),
        journal="J", journal_iso="J", pub_date="2020", pub_year=2020, authors=[], mesh=list(mesh), keywords=[],
        chemicals=[], publication_types=list(publication_types), languages=["eng"], databanks=[],
        nct_ids=list(nct_ids), text_nct_ids=[], article_ids=[], doi=None, pmcid=None, reference_pmids=[],
        is_book=False, date_revised="2021-01-01", source_file=source_file, source_index=0)


def make_trial(nct="NCT09000001", results=True):
    groups = [Group("BG000", "Metformin", None), Group("BG001", "Placebo", None)]
    baseline = [Measure(
        title="Age, Continuous", description=None, population_description=None, param_type="MEAN",
        dispersion_type="STANDARD_DEVIATION", unit_of_measure="years", unit_of_denom=None, type=None,
        time_frame=None, groups=[], denoms=[],
        classes=[MeasureClass(None, [], [Category(None, [
            Measurement("BG000", "54.2", "8.1", None, None, None),
            Measurement("BG001", "55.0", "7.9", None, None, None)])])])]
    outcome = Measure(
        title="Change in HbA1c", description="Change from baseline", population_description=None,
        param_type="MEAN", dispersion_type="STANDARD_DEVIATION", unit_of_measure="percent", unit_of_denom=None,
        type="PRIMARY", time_frame="12 months",
        groups=[Group("OG000", "Metformin", "850 mg twice daily"), Group("OG001", "Placebo", None)],
        denoms=[Denom("Participants", [DenomCount("OG000", "107"), DenomCount("OG001", "105")])],
        classes=[MeasureClass(None, [], [Category(None, [
            Measurement("OG000", "-0.4", "0.3", None, None, None),
            Measurement("OG001", "0.1", "0.2", None, None, None)])])])
    return Trial(
        nct_id=nct, aliases=[], org_study_id=None, secondary_ids=[], brief_title="Metformin for prediabetes",
        official_title=None, acronym=None, brief_summary=None, detailed_description=None,
        overall_status="COMPLETED", conditions=["Prediabetes"], keywords=[],
        interventions=[Intervention("DRUG", "Metformin", None, ["Metformin"]),
                       Intervention("DRUG", "Placebo", None, ["Placebo"])],
        design=Design("INTERVENTIONAL", ["PHASE3"], "RANDOMIZED", "PARALLEL", "PREVENTION", "DOUBLE", []),
        enrollment=214, enrollment_type="ACTUAL",
        arm_groups=[ArmGroup("Metformin", "EXPERIMENTAL", "850 mg twice daily", ["Drug: Metformin"]),
                    ArmGroup("Placebo", "PLACEBO_COMPARATOR", "Matching placebo", ["Drug: Placebo"])],
        eligibility=Eligibility(None, "ALL", "30 Years", None, False),
        primary_outcomes=[Outcome("Change in HbA1c", None, "12 months")], secondary_outcomes=[],
        lead_sponsor="Sample University", collaborators=[], start_date="2015-01", primary_completion_date=None,
        completion_date="2017-06", first_posted=None, last_update_posted="2018-01-01", countries=["Norway"],
        references=[], results=Results(None, groups, [], baseline, [outcome]) if results else None,
        source_format="ctgov_v2_json", source_file="ctgov/t.json", source_index=0)


PAPER = ("We randomised 214 adults with prediabetes in Norway to Metformin or Placebo (phase 3, double-blind). "
         "Mean age was 54.2 (SD 8.1) and 55.0 (SD 7.9) years. HbA1c changed by -0.4 with metformin "
         "(n=107) and 0.1 with placebo (n=105) at 12 months.")


def study_bundle(fulltext=None, results=True):
    article = make_article("90000010", abstract=PAPER)
    return StudyBundle("90000010", article, fulltext, make_trial(results=results), ["databank"])


def test_study_characteristics_target_and_grounding():
    (r,) = list(build_study_characteristics(study_bundle(), CTX))
    assert json.loads(r.output) == [
        {"name": "Study type", "value": "Interventional"}, {"name": "Phase", "value": ["Phase 3"]},
        {"name": "Allocation", "value": "Randomized"}, {"name": "Intervention model", "value": "Parallel Assignment"},
        {"name": "Masking", "value": "Double"}, {"name": "Primary purpose", "value": "Prevention"},
        {"name": "Enrollment", "value": "214"}, {"name": "Conditions", "value": ["Prediabetes"]},
        {"name": "Interventions", "value": ["Metformin", "Placebo"]}, {"name": "Sponsor", "value": "Sample University"},
        {"name": "Start date", "value": "2015-01"}, {"name": "Completion date", "value": "2017-06"},
        {"name": "Countries", "value": ["Norway"]}, {"name": "Primary outcome", "value": ["Change in HbA1c"]}]
    # 15 values; found: Phase 3, Double (double-blind), 214, Prediabetes, Metformin, Placebo, Norway.
    # Not found: Interventional, Randomized (text says randomised), Parallel Assignment, Prevention, sponsor,
    # dates, outcome.
    assert r.grounding == round(7 / 15, 4)
    assert (r.task, r.pmid, r.nct_id, r.evidence, r.split) == (
        "study_characteristics", "90000010", "NCT09000001", "abstract", split_for("ctgov:NCT09000001"))
    assert [m.role for m in r.messages] == ["system", "user", "assistant"]
    assert r.messages[2].content == r.output and r.messages[1].content.startswith(r.instruction)
    assert r.sources == ["ctgov/t.json", "pubmed/a.xml"]
    assert r.source_versions == ["ctgov:NCT09000001@2018-01-01", "pubmed:90000010.v1@2021-01-01"]


def test_arm_design_target():
    (r,) = list(build_arm_design(study_bundle(), CTX))
    assert json.loads(r.output) == [
        {"label": "Metformin", "type": "Experimental", "description": "850 mg twice daily",
         "interventionNames": ["Drug: Metformin"]},
        {"label": "Placebo", "type": "Placebo Comparator", "description": "Matching placebo",
         "interventionNames": ["Drug: Placebo"]}]
    assert r.grounding == 1.0


def test_participant_statistics_one_record_per_row():
    (r,) = list(build_participant_statistics(study_bundle(), CTX))
    assert json.loads(r.output) == {"results": [
        {"groupId": "BG000", "value": "54.2", "note": "Standard Deviation 8.1"},
        {"groupId": "BG001", "value": "55.0", "note": "Standard Deviation 7.9"}]}
    assert "Measure: Age, Continuous\nParameter: Mean\nDispersion: Standard Deviation\nUnit: years" in r.input
    assert "- BG000: Metformin\n- BG001: Placebo" in r.input
    assert r.grounding == 1.0


def test_trial_results_one_record_per_group():
    records = list(build_trial_results(study_bundle(), CTX))
    assert [json.loads(r.output) for r in records] == [
        {"paramType": "Mean", "unitOfMeasure": "percent", "timeFrame": "12 months", "unitOfDenom": "Participants",
         "denomValue": "107", "results": [{"value": "-0.4", "title": "Change in HbA1c"}]},
        {"paramType": "Mean", "unitOfMeasure": "percent", "timeFrame": "12 months", "unitOfDenom": "Participants",
         "denomValue": "105", "results": [{"value": "0.1", "title": "Change in HbA1c"}]}]
    assert [r.grounding for r in records] == [1.0, 1.0]
    assert "GROUP:\nOG000: Metformin (850 mg twice daily)" in records[0].input
    assert len({r.id for r in records}) == 2


def test_no_results_no_result_records_and_fulltext_evidence():
    ft = FullText(pmcid="PMC9900001", pmid="90000010", doi=None, title="T", abstract="A",
                  sections=[Section("Methods", "We enrolled 214 people.", 1)],
                  tables=[Table("Table 1", "Baseline", [["", "Metformin"], ["Age", "54.2"]])], references=[],
                  nct_ids=[], license=None, license_url=None, article_type="research-article", journal=None,
                  pub_year=2020, source_file="pmc/a.nxml", source_index=0)
    b = study_bundle(fulltext=ft, results=False)
    assert list(build_trial_results(b, CTX)) == [] and list(build_participant_statistics(b, CTX)) == []
    text, evidence = paper_text(b.article, ft)
    assert evidence == "fulltext"
    assert text == (f"Title: T\n\nAbstract: {PAPER}\n\nMethods\nWe enrolled 214 people.\n\n"
                    "Table 1 Baseline\n | Metformin\nAge | 54.2")
    (r,) = list(build_arm_design(b, CTX))
    assert r.pmcid == "PMC9900001" and r.evidence == "fulltext"


def review_bundle(labels=("included", "excluded")):
    criteria = ReviewCriteria("pubmed:900", "Metformin for prediabetes", "To assess metformin.",
                              "Adults with prediabetes.", "Metformin.", "Placebo.", "Incidence of diabetes.",
                              "Randomised controlled trials.", "review_abstract", "pubmed/r.xml")
    studies = []
    for i, label in enumerate(labels):
        trial_report = label != "excluded"
        s = StudySummary(pmid=str(100 + i), pmcid=None, title=f"Study {i} of metformin in prediabetes",
                         abstract="Adults with prediabetes received metformin.",
                         publication_types=["Randomized Controlled Trial"] if trial_report else ["Journal Article"],
                         mesh=["Prediabetic State", "Metformin"], major_mesh=["Prediabetic State"], keywords=[],
                         is_trial_report=trial_report,
                         trials=[TrialBrief(f"NCT0900000{i}", ["Prediabetes", "Prediabetic State"],
                                            ["Metformin", "Placebo"], [])] if trial_report else [],
                         source_files=["pubmed/a.xml"], version=f"pubmed:{100 + i}.v1@")
        studies.append(ReviewStudy("pubmed:900", s.pmid, label, ["link_table"], ["links/t.tsv"], s))
    return ReviewBundle("pubmed:900", criteria, studies)


def test_screening_positive_and_hard_negative():
    pos, neg = list(build_screening(review_bundle(), CTX))
    assert json.loads(pos.output) == {"criteria": [
        {"criterion": n, "eligibility": "YES"} for n in
        ("Population", "Intervention", "Comparison", "Outcomes", "Types of studies")], "include": True}
    assert json.loads(neg.output) == {"criteria": [
        {"criterion": "Population", "eligibility": "UNCERTAIN"},
        {"criterion": "Intervention", "eligibility": "UNCERTAIN"},
        {"criterion": "Comparison", "eligibility": "UNCERTAIN"},
        {"criterion": "Outcomes", "eligibility": "UNCERTAIN"},
        {"criterion": "Types of studies", "eligibility": "NO"}], "include": False}
    assert pos.input.startswith("CRITERIA:\nTitle: Metformin for prediabetes\nObjectives: To assess metformin.")
    assert "STUDY:\nTitle: Study 0 of metformin in prediabetes" in pos.input
    assert (pos.review_id, pos.pmid, pos.nct_id, pos.split) == ("pubmed:900", "100", "NCT09000000",
                                                                split_for("pubmed:900"))
    assert pos.split == neg.split


def test_search_query_terms_and_recall():
    (r,) = list(build_search_query(review_bundle(("included", "included", "excluded")), CTX))
    assert json.loads(r.output) == {
        "query": '(Prediabetes OR "Prediabetic State") AND (Metformin)',
        "conditions": ["Prediabetes", "Prediabetic State"], "interventions": ["Metformin"]}
    assert r.grounding == 1.0 and r.review_id == "pubmed:900" and r.pmid is None
    assert boolean_query(["a b"], []) == '("a b")'


def test_no_criteria_no_review_records():
    b = review_bundle()
    b.criteria = None
    assert list(build_screening(b, CTX)) == [] and list(build_search_query(b, CTX)) == []


def test_grounder_numbers_and_names():
    g = Grounder("Enrolled 1,200 patients; mean 19.60 kg. Drug: Placebo given. Metformin arm.")
    assert g.found("1200") and g.found("19.6") and g.found("Drug: Metformin") and not g.found("19.62")
    assert not g.found("120") and g.score(["1200", "x y z", None, ""]) == 0.5 and g.score([]) is None


def test_humanize_and_split():
    assert humanize("PHASE2") == "Phase 2" and humanize("EARLY_PHASE1") == "Early Phase 1"
    assert humanize("ACTIVE_COMPARATOR") == "Active Comparator" and humanize(None) is None
    assert humanize("COUNT_OF_PARTICIPANTS") == "Count of Participants"
    assert humanize("CONFIDENCE_95") == "95% Confidence Interval" and humanize("NON_RANDOMIZED") == "Non-Randomized"
    assert humanize("Full Range") == "Full Range"  # outcome dispersion is display text in API v2
    assert {split_for(f"k{i}") for i in range(50)} == {"train", "validation", "test"}
    assert split_for("pubmed:1") == split_for("pubmed:1")


def test_topic_near_candidate_is_excluded_with_intervention_no():
    b = review_bundle(("included",))
    near = dataclasses.replace(b.studies[0].study, pmid="555", trials=[
        TrialBrief("NCT09000555", ["Prediabetes"], ["Lifestyle programme"], [])])
    b.studies.append(ReviewStudy("pubmed:900", "555", "topic_near", ["topic_near"], ["pubmed/a.xml"], near))
    _, neg = list(build_screening(b, CTX))
    assert json.loads(neg.output)["include"] is False
    assert [c["eligibility"] for c in json.loads(neg.output)["criteria"]] == [
        "UNCERTAIN", "NO", "UNCERTAIN", "UNCERTAIN", "UNCERTAIN"]


def test_ids_differ_for_records_that_differ_only_in_what_they_ask():
    trial = make_trial()
    zero = [Measurement("BG000", "0", None, None, None, None), Measurement("BG001", "0", None, None, None, None)]
    race = Measure(title="Race", description=None, population_description=None, param_type="COUNT_OF_PARTICIPANTS",
                   dispersion_type=None, unit_of_measure="Participants", unit_of_denom=None, type=None,
                   time_frame=None, groups=[], denoms=[],
                   classes=[MeasureClass(None, [], [Category("American Indian", zero),
                                                    Category("Pacific Islander", zero)])])
    trial.results.baseline_measures = [race]
    b = StudyBundle("90000010", make_article("90000010", abstract=PAPER), None, trial, ["databank"])
    records = list(build_participant_statistics(b, CTX))
    assert [r.output for r in records][0] == records[1].output
    assert len({r.id for r in records}) == 2


def test_trial_results_titles_keep_class_and_category():
    trial = make_trial()
    m = trial.results.outcome_measures[0]
    m.classes = [MeasureClass("Week 4", [], [Category("Yes", [Measurement("OG000", "10", None, None, None, None)])]),
                 MeasureClass("Week 12", [], [Category("Yes", [Measurement("OG000", "15", None, None, None, None)])])]
    b = StudyBundle("90000010", make_article("90000010", abstract=PAPER), None, trial, ["databank"])
    (r,) = list(build_trial_results(b, CTX))
    assert json.loads(r.output)["results"] == [{"value": "10", "title": "Week 4 — Yes"},
                                                {"value": "15", "title": "Week 12 — Yes"}]


def test_reference_only_inclusion_is_uncertain_per_criterion():
    b = review_bundle(("included",))
    b.studies[0] = dataclasses.replace(b.studies[0], link_sources=["medline_references"])
    (r,) = list(build_screening(b, CTX))
    assert json.loads(r.output) == {"criteria": [
        {"criterion": n, "eligibility": "UNCERTAIN"} for n in
        ("Population", "Intervention", "Comparison", "Outcomes", "Types of studies")], "include": True}
    b.studies[0] = dataclasses.replace(b.studies[0], link_sources=["medline_references", "link_table"])
    (r,) = list(build_screening(b, CTX))
    assert {c["eligibility"] for c in json.loads(r.output)["criteria"]} == {"YES"}
