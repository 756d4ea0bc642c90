"""ClinicalTrials.gov parsers on the real corpus (API v2 JSON, classic v1 JSON, legacy XML) and bad input."""
from __future__ import annotations

import gzip
import io
import json
import zipfile

import pytest

from schemas.records import (
    ArmGroup, Category, DeadLetter, Denom, DenomCount, Design, Eligibility, Group, Intervention,
    Measure, MeasureClass, Measurement, Outcome, TrialReference, Trial)
from tests.conftest import open_bytes
from transforms.ctgov.parse import (
    enum_value, iso_date, masking_values, parse_ctgov_json, parse_ctgov_xml, parse_ctgov_zip,
    phase_values, study_type)

V2 = "ctgov_v2"
LEGACY = "ctgov_legacy_xml/aact"


def _json(corpus, rel: str) -> list:
    with open_bytes(corpus / rel) as f:
        return list(parse_ctgov_json(f, rel))


def _xml(corpus, rel: str) -> list:
    with open_bytes(corpus / rel) as f:
        return list(parse_ctgov_xml(f, rel))


def _one(records: list) -> Trial:
    assert len(records) == 1 and isinstance(records[0], Trial), records
    return records[0]


def _m(group_id, value, spread=None, lower=None, upper=None, comment=None) -> Measurement:
    return Measurement(group_id=group_id, value=value, spread=spread, lower_limit=lower,
                       upper_limit=upper, comment=comment)


def _dl(source_file, error_type, message, excerpt, index) -> DeadLetter:
    return DeadLetter(source_file=source_file, stage="ctgov.parse", error_type=error_type,
                      message=message, excerpt=excerpt, record_index=index)


# --------------------------------------------------------------------------- value mapping
@pytest.mark.parametrize("text, expected", [
    ("Completed", "COMPLETED"), ("Active, not recruiting", "ACTIVE_NOT_RECRUITING"),
    ("Unknown status", "UNKNOWN"), ("Interventional", "INTERVENTIONAL"),
    ("Active Comparator", "ACTIVE_COMPARATOR"), ("Drug", "DRUG"), ("Mean", "MEAN"),
    ("Count of Participants", "COUNT_OF_PARTICIPANTS"), ("Number", "NUMBER"),
    ("Anticipated", "ESTIMATED"), ("Both", "ALL"), ("N/A", "NA"), ("Post-Hoc", "POST_HOC"),
    ("ACTIVE_NOT_RECRUITING", "ACTIVE_NOT_RECRUITING"), ("  ", None), (None, None)])
def test_enum_value(text, expected):
    assert enum_value(text) == expected


def test_phases_masking_and_dates():
    assert phase_values(["Phase 2"]) == ["PHASE2"]
    assert phase_values(["Phase 1/Phase 2"]) == ["PHASE1", "PHASE2"]
    assert phase_values(["N/A"]) == ["NA"]
    assert phase_values(["Early Phase 1"]) == ["EARLY_PHASE1"]
    assert phase_values(["PHASE2", "PHASE3"]) == ["PHASE2", "PHASE3"]
    assert phase_values(["Not Applicable"]) == ["NA"]
    assert masking_values("Double (Participant, Investigator)") == (
        "DOUBLE", ["PARTICIPANT", "INVESTIGATOR"])
    assert masking_values("None (Open Label)") == ("NONE", [])
    assert masking_values("Double Blind (Subject, Caregiver, Investigator)") == (
        "DOUBLE", ["PARTICIPANT", "CARE_PROVIDER", "INVESTIGATOR"])
    assert masking_values(None) == (None, [])
    assert iso_date("November 2006") == "2006-11"
    assert iso_date("June 5, 2017") == "2017-06-05"
    assert iso_date("2017-06-05") == "2017-06-05"
    assert iso_date("2006-11") == "2006-11"
    assert iso_date("Spring 2010") is None
    assert iso_date("") is None


# --------------------------------------------------------------------------- API v2: named studies
def test_v2_nct00763412_protocol(corpus):
    rel = f"{V2}/aact/NCT00763412.json"
    t = _one(_json(corpus, rel))
    assert (t.nct_id, t.id, t.aliases, t.org_study_id, t.secondary_ids) == (
        "NCT00763412", "ctgov:NCT00763412", [], "05-1109", ["P60DK020579"])
    assert t.brief_title == ("Pilot and Feasibility Study for the Treatment of Pre-diabetes in "
                             "Patients With Cystic Fibrosis")
    assert t.official_title == t.brief_title
    assert t.acronym is None
    assert t.brief_summary.startswith("The purpose of this study is to provide the necessary data")
    assert t.detailed_description.startswith("As people with Cystic Fibrosis (CF) are living")
    assert "\n" not in t.detailed_description
    assert t.overall_status == "COMPLETED"
    assert t.conditions == ["Cystic Fibrosis Related Diabetes", "Pancreatic Insufficiency"]
    assert len(t.keywords) == 10 and t.keywords[:2] == ["Cystic Fibrosis", "Diabetes"]
    assert t.design == Design(
        study_type="INTERVENTIONAL", phases=["NA"], allocation="RANDOMIZED",
        intervention_model="PARALLEL", primary_purpose="OTHER", masking="QUADRUPLE",
        who_masked=["PARTICIPANT", "CARE_PROVIDER", "INVESTIGATOR", "OUTCOMES_ASSESSOR"])
    assert (t.enrollment, t.enrollment_type) == (31, "ACTUAL")
    assert t.arm_groups == [
        ArmGroup(label="1 Placebo", type="PLACEBO_COMPARATOR",
                 description="1 pill before each meal 3-4 times a day for 2 years. All subjects "
                             "had abnormal glucose tolerance. Subjects were randomized to placebo "
                             "or drug.",
                 intervention_names=["Drug: placebo"]),
        ArmGroup(label="2. repaglinide", type="EXPERIMENTAL",
                 description="repaglinide 0.5 mg before each meal 3-4 times a day for 2 years. All "
                             "subjects had abnormal glucose tolerance.Subjects were randomized to "
                             "placebo or drug.",
                 intervention_names=["Drug: repaglinide"])]
    assert [(i.type, i.name, i.arm_group_labels, i.other_names) for i in t.interventions] == [
        ("DRUG", "placebo", ["1 Placebo"], []),
        ("DRUG", "repaglinide", ["2. repaglinide"], ["Prandin"])]
    assert t.eligibility.criteria.startswith(
        "Inclusion Criteria: * Male or females 12 -24 years old * Diagnosis of Cystic Fibrosis")
    assert (t.eligibility.sex, t.eligibility.minimum_age, t.eligibility.maximum_age,
            t.eligibility.healthy_volunteers) == ("ALL", "12 Years", "24 Years", False)
    assert t.primary_outcomes == [
        Outcome(measure="BMI", description=None, time_frame="2 year/end of study"),
        Outcome(measure="Body Composition", description="Reporting % of Fat and Lean body mass",
                time_frame="2 year/end of study"),
        Outcome(measure="CRP", description=None, time_frame="2 year/end of study")]
    assert [o.measure for o in t.secondary_outcomes] == [
        "Glucose Tolerance", "Inflammatory Markers", "Wt Z Score", "Tanner Stage", "FEV 1",
        "C-Peptide"]
    assert t.lead_sponsor == "Arbelaez, Ana Maria"
    assert t.collaborators == [
        "Washington University School of Medicine", "National Institutes of Health (NIH)",
        "Novo Nordisk A/S",
        "National Institute of Diabetes and Digestive and Kidney Diseases (NIDDK)"]
    assert (t.start_date, t.primary_completion_date, t.completion_date, t.first_posted,
            t.last_update_posted) == ("2006-11", "2013-01", "2013-01", "2008-10-01", "2017-06-05")
    assert t.countries == ["United States"]
    assert t.references == []
    assert (t.source_format, t.source_file, t.source_index) == ("ctgov_v2_json", rel, 0)


def test_v2_nct00763412_baseline(corpus):
    r = _one(_json(corpus, f"{V2}/aact/NCT00763412.json")).results
    assert r.baseline_population == ("Patients attended the Washington University CF Clinics "
                                     "between 2006 and 2008.")
    assert [(g.id, g.title) for g in r.baseline_groups] == [
        ("BG000", "Patients Who Received Placebo"), ("BG001", "Patients Who Received Repaglinide"),
        ("BG002", "Total")]
    assert r.baseline_groups[2].description == "Total of all reporting groups"
    assert r.baseline_denoms == [Denom(units="Participants", counts=[
        DenomCount("BG000", "4"), DenomCount("BG001", "4"), DenomCount("BG002", "8")])]
    assert len(r.baseline_measures) == 16 and len(r.outcome_measures) == 9
    age_cat, age = r.baseline_measures[0], r.baseline_measures[1]
    assert (age_cat.title, age_cat.param_type, age_cat.unit_of_measure) == (
        "Age, Categorical", "COUNT_OF_PARTICIPANTS", "Participants")
    assert [c.title for c in age_cat.classes[0].categories] == [
        "<=18 years", "Between 18 and 65 years", ">=65 years"]
    assert age_cat.classes[0].categories[1].measurements == [
        _m("BG000", "1"), _m("BG001", "1"), _m("BG002", "2")]
    assert age == Measure(
        title="Age, Continuous", description=None, population_description=None,
        param_type="MEDIAN", dispersion_type="FULL_RANGE", unit_of_measure="years",
        unit_of_denom=None, type=None, time_frame=None, groups=[], denoms=[],
        classes=[MeasureClass(title=None, denoms=[], categories=[Category(title=None, measurements=[
            _m("BG000", "16", lower="12", upper="18"), _m("BG001", "15", lower="12", upper="22"),
            _m("BG002", "15.5", lower="12", upper="22")])])])


def test_v2_nct00763412_bmi_outcome(corpus):
    r = _one(_json(corpus, f"{V2}/aact/NCT00763412.json")).results
    [bmi] = [m for m in r.outcome_measures if m.title == "BMI"]
    assert bmi == Measure(
        title="BMI", description=None, population_description=None, param_type="MEAN",
        dispersion_type="Full Range", unit_of_measure="Kg/m^2", unit_of_denom=None,
        type="PRIMARY", time_frame="2 year/end of study",
        groups=[
            Group(id="OG000", title="1 Placebo",
                  description="1 pill before each meal 3-4 times a day for 2 years. placebo: CF "
                              "pancreatic insufficient patients with prediabetes by OGTT will be "
                              "treated with placebo by taking 1 pill before each meal that "
                              "contains more than 20 grams of carbohydrate 3-4 times a day for 2 "
                              "years."),
            Group(id="OG001", title="2. Repaglinide",
                  description="repaglinide 0.5 mg before each meal 3-4 times a day for 2 years. "
                              "repaglinide: CF pancreatic insufficient patients with prediabetes "
                              "by OGTT will be treated with repaglinide 0.5 mg before each meal "
                              "that contains more than 20 grams of carbohydrate 3-4 times a day "
                              "for 2 years.")],
        denoms=[Denom(units="Participants",
                      counts=[DenomCount("OG000", "4"), DenomCount("OG001", "4")])],
        classes=[MeasureClass(title=None, denoms=[], categories=[Category(title=None, measurements=[
            _m("OG000", "19.63", lower="15.56", upper="22.64"),
            _m("OG001", "21.19", lower="20.78", upper="21.8")])])])


def test_v2_references(corpus):
    t = _one(_json(corpus, f"{V2}/aact/NCT02552212.json"))
    assert t.nct_id == "NCT02552212"
    assert [(r.pmid, r.type) for r in t.references] == [
        ("35296532", "RESULT"), ("35733363", "RESULT"), ("34715908", "DERIVED"),
        ("30848558", "DERIVED")]
    assert t.references[2] == TrialReference(
        pmid="34715908", type="DERIVED",
        citation="Maksymowych WP, Kumke T, Auteri SE, Hoepken B, Bauer L, Rudwaleit M. Predictors "
                 "of long-term clinical response in patients with non-radiographic axial "
                 "spondyloarthritis receiving certolizumab pegol. Arthritis Res Ther. 2021 Oct "
                 "29;23(1):274. doi: 10.1186/s13075-021-02650-4.")
    assert (len(t.results.baseline_measures), len(t.results.outcome_measures)) == (4, 31)
    refs = _one(_json(corpus, f"{V2}/aact/NCT03630471.json")).references
    assert [r.pmid for r in refs] == [
        "11102329", "21500888", "6668417", "25031113", "19228398", "27566118", None, None,
        "10245370", "34582460", "32585185", "31533783"]
    assert [r.type for r in refs].count("DERIVED") == 3


def test_v2_studies_page_with_next_page_token(corpus):
    rel = f"{V2}/biomcp/search_phelan_limit5_20260811.json"
    with open_bytes(corpus / rel) as f:
        assert "nextPageToken" in json.load(f)
    records = _json(corpus, rel)
    assert [(r.nct_id, r.source_index) for r in records] == [
        ("NCT02710084", 0), ("NCT05105685", 1), ("NCT01525901", 2), ("NCT03493607", 3),
        ("NCT07119606", 4)]
    t = records[0]
    assert t.brief_title == "Piloting Treatment With Intranasal Oxytocin in Phelan-McDermid Syndrome"
    assert (t.overall_status, t.start_date, t.completion_date, t.enrollment) == (
        "COMPLETED", "2016-04-29", "2020-07-29", 18)
    assert t.design == Design(study_type="INTERVENTIONAL", phases=["PHASE2"], allocation=None,
                              intervention_model=None, primary_purpose=None, masking=None)
    assert t.interventions == [
        Intervention(type=None, name="Oxytocin", description=None),
        Intervention(type=None, name="Saline", description=None)]
    wrapper = _json(corpus, f"{V2}/aact/NCT03281889_studies_wrapper.json")
    assert [(r.nct_id, r.source_index) for r in wrapper] == [("NCT03281889", 0)]


def test_v2_abridged_study(corpus):
    t = _one(_json(corpus, f"{V2}/aact/NCT03453554.json"))
    assert (t.nct_id, t.org_study_id, t.brief_title, t.official_title) == (
        "NCT03453554", "AZ150096", "Evaluating a Digital...", "Evaluating a Digital...")
    assert t.design == Design(study_type=None, phases=[], allocation=None, intervention_model=None,
                              primary_purpose=None, masking=None)
    assert t.eligibility == Eligibility(criteria=None, sex=None, minimum_age=None,
                                        maximum_age=None, healthy_volunteers=None)
    assert (t.results, t.overall_status, t.interventions, t.countries) == (None, None, [], [])


def test_v2_whole_tree_counts(corpus):
    records = []
    for path in sorted((corpus / V2).rglob("*.json")):
        records += _json(corpus, str(path.relative_to(corpus)))
    assert not [r for r in records if isinstance(r, DeadLetter)]
    assert len(records) == 30
    assert len({r.source_file for r in records}) == 17
    assert len({r.nct_id for r in records}) == 24
    assert sum(r.results is not None for r in records) == 4
    assert sum(len(r.references) for r in records) == 21
    assert sum(1 for r in records for ref in r.references if ref.pmid) == 19
    assert sum(len(r.results.outcome_measures) for r in records if r.results) == 82
    assert sum(len(r.results.baseline_measures) for r in records if r.results) == 34


def test_classic_full_studies_response(corpus):
    rel = "ctgov_classic_api_json/aact/NCT04780763.json"
    t = _one(_json(corpus, rel))
    assert (t.nct_id, t.org_study_id, t.secondary_ids, t.acronym) == (
        "NCT04780763", "NU391", ["S64737"], "Tara")
    assert (t.source_format, t.source_file, t.source_index) == ("ctgov_classic_json", rel, 0)
    assert t.overall_status == "NOT_YET_RECRUITING"
    assert t.design == Design(
        study_type="INTERVENTIONAL", phases=["NA"], allocation="RANDOMIZED",
        intervention_model="PARALLEL", primary_purpose="SUPPORTIVE_CARE", masking="QUADRUPLE",
        who_masked=["PARTICIPANT", "CARE_PROVIDER", "INVESTIGATOR", "OUTCOMES_ASSESSOR"])
    assert (t.enrollment, t.enrollment_type) == (168, "ESTIMATED")
    assert [(a.label, a.type, a.intervention_names) for a in t.arm_groups] == [
        ("Arm 1, Test: Fermented milk product containing probiotics L. rhamnosus CNCM I-3690",
         "ACTIVE_COMPARATOR", ["Other: Milk product fermented by lactic bacteria or not fermented"]),
        ("Arm 2, Control: Milk-based non-fermented dairy product", "PLACEBO_COMPARATOR",
         ["Other: Milk product fermented by lactic bacteria or not fermented"])]
    assert [(i.type, i.name, i.description) for i in t.interventions] == [
        ("OTHER", "Milk product fermented by lactic bacteria or not fermented",
         "2 bottles of 100g consumed daily during 28 days")]
    assert (t.eligibility.sex, t.eligibility.minimum_age, t.eligibility.maximum_age,
            t.eligibility.healthy_volunteers) == ("FEMALE", "20 Years", "30 Years", True)
    assert (len(t.primary_outcomes), len(t.secondary_outcomes)) == (1, 4)
    assert (t.start_date, t.primary_completion_date, t.completion_date, t.first_posted,
            t.last_update_posted) == ("2021-03-04", "2021-07-31", "2021-07-31", "2021-03-03",
                                      "2021-03-03")
    assert (t.lead_sponsor, t.countries, t.results) == ("Danone Research", ["Belgium"], None)


def test_classic_study_with_results_section_is_unsupported():
    study = {"ProtocolSection": {"IdentificationModule": {"NCTId": "NCT00000001"}},
             "ResultsSection": {"BaselineCharacteristicsModule": {}}}
    data = json.dumps({"FullStudiesResponse": {"FullStudies": [{"Rank": 1, "Study": study}]}})
    assert list(parse_ctgov_json(io.BytesIO(data.encode()), "c.json")) == [_dl(
        "c.json", "UnsupportedFormat", "classic v1 ResultsSection is not mapped",
        json.dumps(study), 0)]


# --------------------------------------------------------------------------- legacy XML: named records
def test_legacy_nct02465060_arms_and_interventions(corpus):
    t = _one(_xml(corpus, f"{LEGACY}/NCT02465060.xml"))
    assert (t.nct_id, t.overall_status, t.enrollment, t.enrollment_type) == (
        "NCT02465060", "RECRUITING", 6452, "ESTIMATED")
    assert t.design == Design(
        study_type="INTERVENTIONAL", phases=["PHASE2"], allocation="NON_RANDOMIZED",
        intervention_model="PARALLEL", primary_purpose="TREATMENT", masking="NONE", who_masked=[])
    assert (len(t.arm_groups), len(t.interventions)) == (30, 24)
    assert t.arm_groups[0] == ArmGroup(
        label="Subprotocol A (EGFR activating mutation)", type="EXPERIMENTAL",
        description="Patients with EGFR activating mutation receive afatinib orally (PO) once "
                    "daily (QD) on days 1-28. Courses repeat every 28 days in the absence of "
                    "disease progression or unacceptable toxicity.",
        intervention_names=["Drug: Afatinib", "Other: Cytology Specimen Collection Procedure",
                            "Other: Laboratory Biomarker Analysis"])
    [z1d] = [a for a in t.arm_groups if a.label.startswith("Subprotocol Z1D")]
    assert z1d.intervention_names == [
        "Other: Cytology Specimen Collection Procedure", "Other: Laboratory Biomarker Analysis",
        "Biological: Nivolumab"]
    assert t.interventions[0] == Intervention(
        type="DRUG", name="Adavosertib", description="Given PO",
        arm_group_labels=["Subprotocol Z1I (BRCA1 or BRCA2 gene mutation)"],
        other_names=["AZD-1775", "AZD1775", "MK-1775", "MK1775"])
    assert t.interventions[1] == Intervention(
        type="DRUG", name="Afatinib", description="Given PO",
        arm_group_labels=["Subprotocol A (EGFR activating mutation)",
                          "Subprotocol B (HER2 activating mutation)"],
        other_names=["BIBW 2992"])
    assert sorted({i.type for i in t.interventions}) == ["BIOLOGICAL", "DRUG", "OTHER"]
    assert (t.start_date, t.primary_completion_date, t.completion_date, t.first_posted,
            t.last_update_posted) == ("2015-08-12", "2022-06-30", None, "2015-06-08", "2018-05-10")
    assert t.countries == ["Puerto Rico", "United States"]
    assert (t.eligibility.sex, t.eligibility.minimum_age, t.eligibility.maximum_age,
            t.eligibility.healthy_volunteers) == ("ALL", "18 Years", None, False)
    assert t.results is None


def test_legacy_nct01065844_protocol_and_references(corpus):
    t = _one(_xml(corpus, f"{LEGACY}/NCT01065844.xml"))
    assert t.brief_summary.startswith(
        "The purpose of this study is to evaluate the FDA-approved drug nelfinavir (NFV) as an "
        "oncologic agent for adenoid cystic cancers of the head and neck. Specifically,")
    assert t.design == Design(
        study_type="INTERVENTIONAL", phases=["PHASE2"], allocation=None,
        intervention_model="SINGLE_GROUP", primary_purpose="TREATMENT", masking="NONE")
    assert t.arm_groups == [ArmGroup(
        label="Nelfinavir", type="EXPERIMENTAL",
        description="1250 mg Nelfinavir twice daily Monday-Sunday",
        intervention_names=["Drug: Nelfinavir"])]
    assert (t.lead_sponsor, t.collaborators) == (
        "University of Iowa", ["Holden Comprehensive Cancer Center"])
    assert (t.start_date, t.primary_completion_date, t.completion_date, t.first_posted,
            t.last_update_posted) == ("2009-10", "2015-05", "2017-11", "2010-02-09", "2017-12-11")
    assert [(r.pmid, r.type) for r in t.references] == [
        ("19729990", "BACKGROUND"), ("24596143", "RESULT")]
    assert t.references[0].citation == (
        "Gupta AK, Wilke WW, Taylor EN, Bodeker KL, Hoffman HT, Milhem MM, Buatti JM, Robinson RA. "
        "Signaling pathways in adenoid cystic cancers: implications for treatment. Cancer Biol "
        "Ther. 2009 Oct;8(20):1947-51. Epub 2009 Oct 22.")


def test_legacy_nct01065844_results(corpus):
    r = _one(_xml(corpus, f"{LEGACY}/NCT01065844.xml")).results
    group_desc = ("1250 mg Nelfinavir twice daily Monday-Sunday Nelfinavir: 1250 mg Nelfinavir "
                  "twice daily Monday - Sunday")
    assert r.baseline_population is None
    assert r.baseline_groups == [Group(id="B1", title="Nelfinavir", description=group_desc)]
    assert r.baseline_denoms == [Denom(units="Participants", counts=[DenomCount("B1", "15")])]
    assert [m.title for m in r.baseline_measures] == [
        "Age, Customized", "Sex/Gender, Customized", "Region of Enrollment"]
    assert r.baseline_measures[0] == Measure(
        title="Age, Customized", description="Age, in years, of study participants at consent",
        population_description=None, param_type="COUNT_OF_PARTICIPANTS", dispersion_type=None,
        unit_of_measure="Participants", unit_of_denom=None, type=None, time_frame=None,
        groups=[], denoms=[],
        classes=[MeasureClass(title=None, denoms=[], categories=[
            Category(title="<=18 years", measurements=[_m("B1", "0")]),
            Category(title="Between 18 and 65 years", measurements=[_m("B1", "12")]),
            Category(title=">=65 years", measurements=[_m("B1", "3")])])])
    region = r.baseline_measures[2]
    assert (region.param_type, region.unit_of_measure) == ("NUMBER", "participants")
    assert region.classes == [MeasureClass(title="United States", denoms=[], categories=[
        Category(title=None, measurements=[_m("B1", "15")])])]
    progression, quality = r.outcome_measures
    assert (progression.title, progression.type, progression.param_type,
            progression.unit_of_measure, progression.time_frame) == (
        "Tumor Progression", "PRIMARY", "COUNT_OF_PARTICIPANTS", "Participants",
        "Every 1 to 3 months")
    assert progression.population_description == (
        "Those with adverse events necessitating interruption of intervention and removal from "
        "study were not assessed for outcome measures")
    assert progression.groups == [Group(id="O1", title="Nelfinavir", description=group_desc)]
    assert progression.denoms == [Denom(units="Participants", counts=[DenomCount("O1", "11")])]
    assert [(c.title, c.measurements) for c in progression.classes[0].categories] == [
        ("Complete reponse (CR)", [_m("O1", "0")]), ("Partial response (PR)", [_m("O1", "0")]),
        ("Stable disease (SD)", [_m("O1", "7")]), ("Progressive disease (PD)", [_m("O1", "4")])]
    assert quality == Measure(
        title="Quality of Life", description="Quality of life as measured by the EORTC QLQ-C30 survey",
        population_description=None, param_type=None, dispersion_type=None, unit_of_measure=None,
        unit_of_denom=None, type="SECONDARY", time_frame="every 1 to 3 months", groups=[],
        denoms=[], classes=[])


def test_legacy_measurement_comment_and_dispersion(corpus):
    r = _one(_xml(corpus, f"{LEGACY}/NCT01029262.xml")).results
    [os_] = [m for m in r.outcome_measures
             if m.title == "Kaplan Meier Estimate for Overall Survival (OS)"]
    assert os_.classes[0].categories[0].measurements == [
        _m("O1", "3.3", lower="2.2",
           comment="Not estimable as there were not enough deaths at time of data cut-off."),
        _m("O2", "NA", lower="3.1",
           comment="Not estimable as there were not enough deaths at time of data cut-off.")]
    baseline_dispersions = {m.dispersion_type for m in r.baseline_measures}
    assert baseline_dispersions <= {None, "STANDARD_DEVIATION", "INTER_QUARTILE_RANGE",
                                    "FULL_RANGE"}


def test_legacy_alias_record(corpus):
    alias = _one(_xml(corpus, f"{LEGACY}/NCT00980226.xml"))
    same = _one(_xml(corpus, f"{LEGACY}/NCT00081588.xml"))
    assert (alias.nct_id, alias.aliases, alias.org_study_id, alias.secondary_ids) == (
        "NCT00081588", ["NCT00980226"], "CR006724", ["TMC114-C215"])
    assert [(r.pmid, r.type) for r in alias.references] == [("17621237", "RESULT")]
    assert (alias.source_file, same.source_file) == (
        f"{LEGACY}/NCT00980226.xml", f"{LEGACY}/NCT00081588.xml")
    alias.source_file = same.source_file
    assert alias == same


def test_legacy_older_layouts(corpus):
    registry = _one(_xml(corpus, f"{LEGACY}/NCT00513591_redownloaded.xml"))
    assert registry.design == Design(study_type="OBSERVATIONAL", phases=["NA"], allocation=None,
                                     intervention_model=None, primary_purpose=None, masking=None)
    assert (registry.first_posted, registry.last_update_posted, registry.acronym) == (
        "2007-08-06", "2016-06-14", "DAP Registry")
    example = _one(_xml(corpus, f"{LEGACY}/example_study.xml"))
    assert (example.nct_id, example.design.primary_purpose, example.secondary_ids) == (
        "NCT00002475", "TREATMENT", ["CDR0000076913", "NCI-V91-0075"])
    withheld = _one(_xml(corpus, f"{LEGACY}/NCT03182660.xml"))
    assert (withheld.overall_status, withheld.design.study_type, withheld.lead_sponsor,
            withheld.eligibility.criteria) == ("WITHHELD", "NA", "[Redacted]", None)


def test_legacy_whole_tree_counts(corpus):
    records = []
    for path in sorted((corpus / "ctgov_legacy_xml").rglob("*.xml")):
        records += _xml(corpus, str(path.relative_to(corpus)))
    assert not [r for r in records if isinstance(r, DeadLetter)]
    assert len(records) == 47
    assert len({r.nct_id for r in records}) == 44
    assert sum(r.results is not None for r in records) == 16
    refs = [ref for r in records for ref in r.references if ref.pmid]
    assert sum(ref.type == "BACKGROUND" for ref in refs) == 16
    assert sum(ref.type == "RESULT" for ref in refs) == 18
    assert sum(bool(r.aliases) for r in records) == 2
    assert sum(len(r.results.outcome_measures) for r in records if r.results) == 227
    assert sum(len(r.results.baseline_measures) for r in records if r.results) == 110
    assert sum(len(r.arm_groups) for r in records) == 122
    assert sum(len(r.interventions) for r in records) == 123


def test_legacy_several_studies_under_a_wrapper(corpus):
    bodies = []
    for name in ("NCT03182660.xml", "NCT01065844.xml"):
        raw = (corpus / LEGACY / name).read_bytes()
        bodies.append(raw[raw.index(b"<clinical_study"):])
    data = b"<?xml version='1.0'?>\n<search_results>" + b"".join(bodies) + b"</search_results>"
    records = list(parse_ctgov_xml(io.BytesIO(data), "w.xml"))
    assert [(r.nct_id, r.source_index, r.source_file) for r in records] == [
        ("NCT03182660", 0, "w.xml"), ("NCT01065844", 1, "w.xml")]
    assert records[1].results.outcome_measures[0].title == "Tumor Progression"


# --------------------------------------------------------------------------- NDJSON and zip
def _study_line(corpus, rel: str) -> bytes:
    return json.dumps(json.loads((corpus / rel).read_bytes())).encode()


def test_ndjson_with_a_bad_line(corpus):
    data = b"\n".join([
        _study_line(corpus, f"{V2}/aact/NCT00973089.json"),
        b'{"protocolSection": {"identificationModule": ',
        b"",
        _study_line(corpus, f"{V2}/aact/NCT00763412.json"),
    ]) + b"\n"
    records = list(parse_ctgov_json(io.BytesIO(data), "s.ndjson"))
    assert len(records) == 3
    assert (records[0].nct_id, records[0].source_index) == ("NCT00973089", 0)
    assert records[1] == _dl("s.ndjson", "JSONDecodeError",
                             "Expecting value: line 1 column 46 (char 45)",
                             '{"protocolSection": {"identificationModule": ', 1)
    assert (records[2].nct_id, records[2].source_index) == ("NCT00763412", 2)
    assert records[2].results.outcome_measures[0].title == "BMI"


def test_ndjson_first_line_bad(corpus):
    data = b"not json\n" + _study_line(corpus, f"{V2}/aact/NCT00973089.json") + b"\n"
    records = list(parse_ctgov_json(io.BytesIO(data), "s.ndjson"))
    assert records[0] == _dl("s.ndjson", "JSONDecodeError",
                             "Expecting value: line 1 column 1 (char 0)", "not json", 0)
    assert (records[1].nct_id, records[1].source_index, len(records)) == ("NCT00973089", 1, 2)


def test_zip_of_study_json(corpus):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ctg-studies/", b"")
        zf.writestr("ctg-studies/NCT00763412.json",
                    (corpus / V2 / "aact/NCT00763412.json").read_bytes())
        zf.writestr("ctg-studies/README.txt", b"not a study")
        zf.writestr("ctg-studies/sub/NCT00973089.json",
                    (corpus / V2 / "aact/NCT00973089.json").read_bytes())
        zf.writestr("NCT00000000.json", b'{"protocolSection": {"identificationModule": {}}}')
        zf.writestr("legacy/NCT01065844.xml", (corpus / LEGACY / "NCT01065844.xml").read_bytes())
    buf.seek(0)
    records = list(parse_ctgov_zip(buf, "bulk.zip"))
    assert [(type(r).__name__, getattr(r, "nct_id", None), r.source_file) for r in records] == [
        ("Trial", "NCT00763412", "bulk.zip!ctg-studies/NCT00763412.json"),
        ("Trial", "NCT00973089", "bulk.zip!ctg-studies/sub/NCT00973089.json"),
        ("DeadLetter", None, "bulk.zip!NCT00000000.json"),
        ("Trial", "NCT01065844", "bulk.zip!legacy/NCT01065844.xml")]
    assert records[2] == _dl("bulk.zip!NCT00000000.json", "MissingField",
                             "no valid NCT id (nctId=None)",
                             '{"protocolSection": {"identificationModule": {}}}', 0)
    assert records[0].results.outcome_measures[0].title == "BMI"
    assert records[3].source_format == "ctgov_legacy_xml"


def test_zip_that_is_not_a_zip():
    assert list(parse_ctgov_zip(io.BytesIO(b"PK\x03\x04 broken"), "b.zip")) == [
        _dl("b.zip", "BadZipFile", "File is not a zip file", "PK\x03\x04 broken", None)]


# --------------------------------------------------------------------------- bad JSON input
def test_json_malformed():
    data = b'{"protocolSection": {]'
    assert list(parse_ctgov_json(io.BytesIO(data), "m.json")) == [_dl(
        "m.json", "JSONDecodeError",
        "Expecting property name enclosed in double quotes: line 1 column 22 (char 21)",
        '{"protocolSection": {]', 0)]


def test_json_truncated_study(corpus):
    data = (corpus / V2 / "aact/NCT00763412.json").read_bytes()[:400]
    [dead] = list(parse_ctgov_json(io.BytesIO(data), "t.json"))
    assert (dead.error_type, dead.record_index, dead.stage) == ("JSONDecodeError", 0, "ctgov.parse")
    assert dead.message == "Unterminated string starting at: line 19 column 17 (char 359)"
    assert dead.excerpt == data.decode()[359 - 150:]
    assert dead.excerpt.endswith('"briefTitle": "Pilot and Feasibility Study for the Trea')


def test_json_truncated_page_keeps_complete_studies(corpus):
    page = (corpus / V2 / "biomcp/search_phelan_limit5_20260811.json").read_bytes()
    cut = page.index(b'"NCT03493607"') + 6  # inside the 4th study
    records = list(parse_ctgov_json(io.BytesIO(page[:cut]), "p.json"))
    assert [(getattr(r, "nct_id", None), r.source_index if isinstance(r, Trial) else r.record_index)
            for r in records] == [("NCT02710084", 0), ("NCT05105685", 1), ("NCT01525901", 2),
                                  (None, 3)]
    assert records[3] == _dl(
        "p.json", "JSONDecodeError",
        "Unterminated string starting at: line 168 column 20 (char 5671)",
        page[:cut].decode()[5671 - 150:], 3)
    assert records[3].excerpt.endswith('"nctId": "NCT03')


def test_json_study_without_nct_id_among_good_ones():
    good = {"protocolSection": {"identificationModule": {"nctId": "nct01234567",
                                                         "briefTitle": "Good"}}}
    bad = {"protocolSection": {"identificationModule": {"briefTitle": "No id"}}}
    data = json.dumps({"studies": [good, bad, good], "nextPageToken": "abc"}).encode()
    records = list(parse_ctgov_json(io.BytesIO(data), "l.json"))
    assert [(r.nct_id, r.brief_title, r.source_index) for r in (records[0], records[2])] == [
        ("NCT01234567", "Good", 0), ("NCT01234567", "Good", 2)]
    assert records[1] == _dl("l.json", "MissingField", "no valid NCT id (nctId=None)",
                             json.dumps(bad), 1)


def test_json_list_and_unsupported_documents():
    data = b'[{"protocolSection": {"identificationModule": {"nctId": "NCT00000102"}}}, "x"]'
    records = list(parse_ctgov_json(io.BytesIO(data), "a.json"))
    assert (records[0].nct_id, records[0].source_index) == ("NCT00000102", 0)
    assert records[1] == _dl("a.json", "UnsupportedFormat", "study is a JSON str, not an object",
                             "x", 1)
    assert list(parse_ctgov_json(io.BytesIO(b'{\n "error": "rate limited"\n}'), "e.json")) == [
        _dl("e.json", "UnsupportedFormat",
            "no protocolSection: not a ClinicalTrials.gov study object",
            '{"error": "rate limited"}', 0)]
    assert list(parse_ctgov_json(io.BytesIO(b"  \n"), "z.json")) == [
        _dl("z.json", "EmptyInput", "no JSON content", "  \n", None)]


def test_json_wrong_value_type_is_a_dead_letter():
    study = {"protocolSection": {"identificationModule": {"nctId": "NCT00000102"},
                                 "designModule": ["not", "an", "object"]}}
    [dead] = list(parse_ctgov_json(io.BytesIO(json.dumps(study).encode()), "w.json"))
    assert (dead.error_type, dead.message, dead.record_index) == (
        "AttributeError", "'list' object has no attribute 'get'", 0)


# --------------------------------------------------------------------------- bad XML input
def test_xml_truncated(corpus):
    raw = (corpus / LEGACY / "NCT01065844.xml").read_bytes()
    [dead] = list(parse_ctgov_xml(io.BytesIO(raw[:3000]), "t.xml"))
    assert (dead.source_file, dead.stage, dead.error_type, dead.record_index) == (
        "t.xml", "ctgov.parse", "XMLSyntaxError", 0)
    assert dead.message.startswith("Premature end of data")
    assert dead.excerpt == raw[2700:3000].decode()


def test_xml_wrapper_truncated_after_first_study(corpus):
    first = (corpus / LEGACY / "NCT03182660.xml").read_bytes()
    second = (corpus / LEGACY / "NCT01065844.xml").read_bytes()
    data = (b"<studies>" + first[first.index(b"<clinical_study"):]
            + second[second.index(b"<clinical_study"):][:5000])
    records = list(parse_ctgov_xml(io.BytesIO(data), "w.xml"))
    assert len(records) == 2
    assert (records[0].nct_id, records[0].source_index) == ("NCT03182660", 0)
    assert (records[1].error_type, records[1].record_index) == ("XMLSyntaxError", 1)


def test_xml_truncated_gzip_stream(corpus):
    first = (corpus / LEGACY / "NCT03182660.xml").read_bytes()
    second = (corpus / LEGACY / "NCT02465060.xml").read_bytes()
    data = (b"<studies>" + first[first.index(b"<clinical_study"):]
            + second[second.index(b"<clinical_study"):] + b"</studies>")
    packed = gzip.compress(data)
    with gzip.GzipFile(fileobj=io.BytesIO(packed[:-100])) as f:
        records = list(parse_ctgov_xml(f, "t.xml.gz"))
    assert len(records) == 2
    assert (records[0].nct_id, records[0].source_index) == ("NCT03182660", 0)
    assert (records[1].error_type, records[1].message, records[1].record_index) == (
        "EOFError", "Compressed file ended before the end-of-stream marker was reached", 1)


def test_xml_entity_declaration_is_refused():
    data = (b'<?xml version="1.0"?>\n<!DOCTYPE clinical_study [<!ENTITY x "boom">]>\n'
            b"<clinical_study><id_info><nct_id>NCT00000102</nct_id></id_info>"
            b"<brief_title>&x;</brief_title></clinical_study>")
    assert list(parse_ctgov_xml(io.BytesIO(data), "e.xml")) == [_dl(
        "e.xml", "UnsafeXmlError",
        "DOCTYPE declares entities; refusing to parse (no entity expansion)",
        data.decode()[-300:], 0)]


def test_xml_study_without_nct_id():
    missing = b"<clinical_study><id_info><org_study_id>X1</org_study_id></id_info></clinical_study>"
    good = (b"<clinical_study><id_info><nct_id>nct00000102</nct_id></id_info>"
            b"<brief_title> A  title </brief_title><phase>Phase 1/Phase 2</phase>"
            b"<overall_status>Completed</overall_status></clinical_study>")
    records = list(parse_ctgov_xml(io.BytesIO(b"<r>" + missing + good + b"</r>"), "m.xml"))
    assert records[0] == _dl("m.xml", "MissingField", "no valid NCT id (nct_id=None)",
                             missing.decode(), 0)
    assert (records[1].nct_id, records[1].brief_title, records[1].design.phases,
            records[1].overall_status, records[1].source_index, len(records)) == (
        "NCT00000102", "A title", ["PHASE1", "PHASE2"], "COMPLETED", 1, 2)


def test_ndjson_truncated_gzip_stream(corpus):
    lines = [_study_line(corpus, f"{V2}/aact/NCT00973089.json")] * 40
    packed = gzip.compress(b"\n".join(lines) + b"\n")
    with gzip.GzipFile(fileobj=io.BytesIO(packed[:-100])) as f:
        records = list(parse_ctgov_json(f, "s.ndjson.gz"))
    assert len(records) == 39
    assert [(r.nct_id, r.source_index) for r in records[:38]] == [
        ("NCT00973089", i) for i in range(38)]
    assert (records[38].error_type, records[38].message, records[38].record_index) == (
        "EOFError", "Compressed file ended before the end-of-stream marker was reached", 38)


# --------------------------------------------------------------------------- legacy XML: older eras
OLD_ERA_STUDY = b"""<?xml version="1.0" encoding="UTF-8"?>
<clinical_study rank="1">
  <id_info><org_study_id>OLD-01</org_study_id><nct_id>NCT00000105</nct_id></id_info>
  <brief_title>An older record</brief_title>
  <overall_status>Completed</overall_status>
  <phase>Phase 0</phase>
  <study_type>Observational [Patient Registry]</study_type>
  <study_design>Allocation: Randomized, Control: Placebo Control, Endpoint Classification: Efficacy Study, Intervention Model: Parallel Assignment, Masking: Double Blind (Subject, Investigator), Primary Purpose: Treatment</study_design>
  <enrollment type="Anticipated">40</enrollment>
  <location_countries><country>France</country></location_countries>
  <removed_countries><country>Spain</country></removed_countries>
  <clinical_results>
    <baseline>
      <group_list><group group_id="B1"><title>Drug A</title></group></group_list>
      <measure_list>
        <measure>
          <title>Gender</title>
          <units>participants</units>
          <param>Number</param>
          <category_list>
            <category><sub_title>Female</sub_title>
              <measurement_list><measurement group_id="B1" value="12"/></measurement_list>
            </category>
            <category><sub_title>Male</sub_title>
              <measurement_list><measurement group_id="B1" value="8"/></measurement_list>
            </category>
          </category_list>
        </measure>
      </measure_list>
    </baseline>
    <outcome_list>
      <outcome>
        <type>Primary</type>
        <title>Pain score</title>
        <time_frame>6 weeks</time_frame>
        <safety_issue>No</safety_issue>
        <group_list><group group_id="O1"><title>Drug A</title></group></group_list>
        <measure_list>
          <measure>
            <title>Number of Participants Analyzed</title>
            <units>participants</units>
            <category_list><category><measurement_list>
              <measurement group_id="O1" value="19"/>
            </measurement_list></category></category_list>
          </measure>
          <measure>
            <title>Pain score</title>
            <units>units on a scale</units>
            <param>Mean</param>
            <dispersion>Standard Deviation</dispersion>
            <category_list><category><measurement_list>
              <measurement group_id="O1" value="3.1" spread="1.2"/>
            </measurement_list></category></category_list>
          </measure>
        </measure_list>
      </outcome>
    </outcome_list>
  </clinical_results>
</clinical_study>
"""


def test_legacy_xml_pre_2017_record_shapes():
    t = _one(list(parse_ctgov_xml(io.BytesIO(OLD_ERA_STUDY), "old.xml")))
    # "Phase 0" became "Early Phase 1"; the bracketed registry qualifier is not a study type;
    # "Control:" is a key of the old comma-separated study_design text.
    assert t.design == Design(
        study_type="OBSERVATIONAL", phases=["EARLY_PHASE1"], allocation="RANDOMIZED",
        intervention_model="PARALLEL", primary_purpose="TREATMENT", masking="DOUBLE",
        who_masked=["PARTICIPANT", "INVESTIGATOR"])
    assert (t.enrollment, t.enrollment_type, t.countries) == (40, "ESTIMATED", ["France"])
    assert t.results.baseline_measures == [Measure(
        title="Gender", description=None, population_description=None, param_type="NUMBER",
        dispersion_type=None, unit_of_measure="participants", unit_of_denom=None, type=None,
        time_frame=None, groups=[], denoms=[], classes=[MeasureClass(
            title=None, denoms=[], categories=[
                Category(title="Female", measurements=[_m("B1", "12")]),
                Category(title="Male", measurements=[_m("B1", "8")])])])]
    assert t.results.outcome_measures == [Measure(
        title="Pain score", description=None, population_description=None, param_type="MEAN",
        dispersion_type="Standard Deviation", unit_of_measure="units on a scale",
        unit_of_denom=None, type="PRIMARY", time_frame="6 weeks",
        groups=[Group(id="O1", title="Drug A", description=None)],
        denoms=[Denom(units="participants", counts=[DenomCount(group_id="O1", value="19")])],
        classes=[MeasureClass(title=None, denoms=[], categories=[
            Category(title=None, measurements=[_m("O1", "3.1", spread="1.2")])])])]


def test_study_type_and_phase_values():
    assert phase_values(["Phase 0"]) == ["EARLY_PHASE1"]
    assert phase_values(["EARLY_PHASE1", "PHASE1"]) == ["EARLY_PHASE1", "PHASE1"]
    assert study_type("Observational [Patient Registry]") == "OBSERVATIONAL"
    assert study_type("Expanded Access") == "EXPANDED_ACCESS"
    assert study_type("OBSERVATIONAL") == "OBSERVATIONAL"
    assert study_type(None) is None
