"""ClinicalTrials.gov records for the sample: API v2 study JSON and legacy ``clinical_study`` XML."""
from __future__ import annotations

import datetime
import textwrap
from typing import Optional

from lxml import etree

from synth import text
from synth.entities import REGISTRY_ALSO_REFERENCES, BaselineMeasure, OutcomeResult, TrialEntity
from synth.vocab import MONTH_NAMES

INDENT = "\t"
AGE_GROUPS = (("CHILD", 0, 17), ("ADULT", 18, 64), ("OLDER_ADULT", 65, 200))
LEGACY_ARM_TYPE = {"EXPERIMENTAL": "Experimental", "PLACEBO_COMPARATOR": "Placebo Comparator",
                   "ACTIVE_COMPARATOR": "Active Comparator", "NO_INTERVENTION": "No Intervention"}
LEGACY_INTERVENTION_TYPE = {"DRUG": "Drug", "BEHAVIORAL": "Behavioral",
                            "DIETARY_SUPPLEMENT": "Dietary Supplement", "OTHER": "Other"}
LEGACY_PHASE = {"PHASE3": "Phase 3", "PHASE4": "Phase 4", "NA": "N/A"}
LEGACY_MASKING = {"QUADRUPLE": "Quadruple", "TRIPLE": "Triple", "DOUBLE": "Double", "SINGLE": "Single",
                  "NONE": "None (Open Label)"}
LEGACY_WHO = {"PARTICIPANT": "Participant", "CARE_PROVIDER": "Care Provider", "INVESTIGATOR": "Investigator",
              "OUTCOMES_ASSESSOR": "Outcomes Assessor"}
LEGACY_PARAM = {"MEAN": "Mean", "COUNT_OF_PARTICIPANTS": "Count of Participants"}
LEGACY_DISPERSION = {"STANDARD_DEVIATION": "Standard Deviation"}


# --------------------------------------------------------------------------- shared content
def references(world, trial: TrialEntity) -> list[tuple[str, str, str]]:
    """(pmid, type, citation) of the registry's references module."""
    spec = trial.spec
    refs = []
    if spec.index % 3 == 0:
        background = world.layout.topic_articles(spec.topic, "background")[0].pmid
        refs.append((background, "BACKGROUND", text.citation(world.article(background))))
    reports = spec.link_mode == "registry" or (
        spec.included and spec.link_mode == "databank" and spec.position in REGISTRY_ALSO_REFERENCES)
    if reports:
        refs.append((spec.pmid, "RESULT", text.citation(world.article(spec.pmid))))
    return refs


def eligibility_text(trial: TrialEntity) -> str:
    topic = trial.topic
    lo, hi = trial.age_range
    inclusion = [f"{text.sentence_case(trial.population)} aged {lo} to {hi} years", *topic.inclusion]
    return ("Inclusion Criteria:\n\n" + "\n".join(f"* {c}" for c in inclusion)
            + "\n\nExclusion Criteria:\n\n" + "\n".join(f"* {c}" for c in topic.exclusion))


def brief_summary(trial: TrialEntity) -> str:
    exp = text.experimental_phrase(trial)
    comp = text.phrase(trial.comparator.label)
    return (f"The purpose of this study is to find out {trial.topic.aim.format(experimental=exp, comparator=comp)} "
            f"in {trial.population}.")


def detailed_description(trial: TrialEntity) -> str:
    arms = text.join([f"{a.label} ({a.template.regimen})" for a in trial.arms], "or")
    return (f"Participants are randomly assigned to {arms} and followed for {trial.months} months. "
            f"Visits take place every three months at {text.NUMBER_WORDS[len(trial.sites)]} "
            f"{'site' if len(trial.sites) == 1 else 'sites'}.")


def _std_ages(lo: int, hi: int) -> list[str]:
    return [name for name, a, b in AGE_GROUPS if lo <= b and hi >= a]


def _ym(d: datetime.date) -> str:
    return f"{d.year}-{d.month:02d}"


# --------------------------------------------------------------------------- API v2 JSON
def _v2_protocol(world, trial: TrialEntity) -> dict:
    spec = trial.spec
    ident = {"nctId": spec.nct}
    if spec.alias:
        ident["nctIdAliases"] = [spec.alias]
    ident["orgStudyIdInfo"] = {"id": trial.org_study_id}
    ident["secondaryIdInfos"] = [{"id": trial.grant_id, "type": "OTHER_GRANT", "domain": trial.funder}]
    ident["organization"] = {"fullName": trial.sponsor, "class": "OTHER"}
    ident["briefTitle"] = trial.brief_title
    ident["officialTitle"] = trial.official_title
    if trial.acronym:
        ident["acronym"] = trial.acronym
    status = {
        "statusVerifiedDate": _ym(trial.last_update_posted),
        "overallStatus": "COMPLETED",
        "expandedAccessInfo": {"hasExpandedAccess": False},
        "startDateStruct": {"date": _ym(trial.start), "type": "ACTUAL"},
        "primaryCompletionDateStruct": {"date": trial.primary_completion.isoformat(), "type": "ACTUAL"},
        "completionDateStruct": {"date": trial.completion.isoformat(), "type": "ACTUAL"},
        "studyFirstSubmitDate": trial.first_submitted.isoformat(),
        "studyFirstSubmitQcDate": trial.first_submitted.isoformat(),
        "studyFirstPostDateStruct": {"date": trial.first_posted.isoformat(), "type": "ESTIMATED"},
    }
    if trial.results_posted:
        status["resultsFirstSubmitDate"] = trial.results_submitted.isoformat()
        status["resultsFirstSubmitQcDate"] = trial.results_submitted.isoformat()
        status["resultsFirstPostDateStruct"] = {"date": trial.results_posted.isoformat(), "type": "ACTUAL"}
    status["lastUpdateSubmitDate"] = trial.last_update_posted.isoformat()
    status["lastUpdatePostDateStruct"] = {"date": trial.last_update_posted.isoformat(), "type": "ACTUAL"}
    arms = trial.arms
    protocol = {
        "identificationModule": ident,
        "statusModule": status,
        "sponsorCollaboratorsModule": {
            "responsibleParty": {"type": "SPONSOR"},
            "leadSponsor": {"name": trial.sponsor, "class": "OTHER"},
            "collaborators": [{"name": trial.funder, "class": "OTHER"}],
        },
        "oversightModule": {"oversightHasDmc": trial.blinded,
                            "isFdaRegulatedDrug": False, "isFdaRegulatedDevice": False},
        "descriptionModule": {"briefSummary": brief_summary(trial),
                              "detailedDescription": detailed_description(trial)},
        "conditionsModule": {"conditions": list(trial.topic.conditions[:2]),
                             "keywords": list(trial.topic.keywords[:3])},
        "designModule": {
            "studyType": "INTERVENTIONAL",
            "phases": list(trial.phases),
            "designInfo": {
                "allocation": "RANDOMIZED",
                "interventionModel": "PARALLEL",
                "primaryPurpose": trial.topic.primary_purpose,
                "maskingInfo": ({"masking": trial.masking, "whoMasked": list(trial.who_masked)}
                                if trial.who_masked else {"masking": trial.masking}),
            },
            "enrollmentInfo": {"count": trial.enrollment, "type": "ACTUAL"},
        },
        "armsInterventionsModule": {
            "armGroups": [{
                "label": a.label, "type": a.template.arm_type, "description": text.sentence_case(a.template.regimen) + ".",
                "interventionNames": [f"{_v2_type_title(a.template.intervention_type)}: {a.template.intervention_name}"],
            } for a in arms],
            "interventions": [_v2_intervention(a, arms) for a in _distinct_interventions(arms)],
        },
        "outcomesModule": {
            "primaryOutcomes": [{"measure": trial.primary.title, "description": trial.primary.description,
                                 "timeFrame": trial.primary.time_frame}],
            "secondaryOutcomes": [{"measure": trial.secondary.title, "description": trial.secondary.description,
                                   "timeFrame": trial.secondary.time_frame}],
        },
        "eligibilityModule": {
            "eligibilityCriteria": eligibility_text(trial),
            "healthyVolunteers": False,
            "sex": "ALL",
            "minimumAge": f"{trial.age_range[0]} Years",
            "maximumAge": f"{trial.age_range[1]} Years",
            "stdAges": _std_ages(*trial.age_range),
        },
        "contactsLocationsModule": {
            "overallOfficials": [{"name": trial.official.full, "affiliation": trial.sponsor,
                                  "role": "PRINCIPAL_INVESTIGATOR"}],
            "locations": [{"facility": s.facility, "city": s.city, "country": s.country} for s in trial.sites],
        },
    }
    refs = references(world, trial)
    if refs:
        protocol["referencesModule"] = {
            "references": [{"pmid": pmid, "type": kind, "citation": cit} for pmid, kind, cit in refs]}
    protocol["ipdSharingStatementModule"] = {"ipdSharing": "NO"}
    return protocol


def _v2_type_title(kind: str) -> str:
    return {"DRUG": "Drug", "BEHAVIORAL": "Behavioral", "DIETARY_SUPPLEMENT": "Dietary Supplement",
            "OTHER": "Other"}[kind]


def _distinct_interventions(arms) -> list:
    seen: dict[str, object] = {}
    for a in arms:
        seen.setdefault(a.template.intervention_name, a)
    return list(seen.values())


def _v2_intervention(arm, arms) -> dict:
    tpl = arm.template
    item = {"type": tpl.intervention_type, "name": tpl.intervention_name,
            "description": text.sentence_case(tpl.regimen) + ".",
            "armGroupLabels": [a.label for a in arms if a.template.intervention_name == tpl.intervention_name]}
    if tpl.other_names:
        item["otherNames"] = list(tpl.other_names)
    return item


def _groups(trial: TrialEntity, prefix: str, total: bool = False) -> list[dict]:
    groups = [{"id": f"{prefix}{a.group}", "title": a.label, "description": text.sentence_case(a.template.regimen) + "."}
              for a in trial.arms]
    if total:
        groups.append({"id": f"{prefix}{len(trial.arms):03d}", "title": "Total",
                       "description": "Total of all reporting groups"})
    return groups


def _measurement(group_id: str, stat) -> dict:
    m = {"groupId": group_id, "value": stat.value}
    if stat.spread is not None:
        m["spread"] = stat.spread
    return m


def _v2_baseline_measure(m: BaselineMeasure, ids: list[str]) -> dict:
    out = {"title": m.title, "paramType": m.param_type}
    if m.dispersion_type:
        out["dispersionType"] = m.dispersion_type
    out["unitOfMeasure"] = m.unit
    categories = []
    for title, stats in m.categories:
        cat = {"title": title} if title else {}
        cat["measurements"] = [_measurement(g, s) for g, s in zip(ids, stats)]
        categories.append(cat)
    out["classes"] = [{"categories": categories}]
    return out


def _v2_outcome(trial: TrialEntity, o: OutcomeResult) -> dict:
    groups = _groups(trial, "OG")
    out = {"type": o.type, "title": o.title, "description": o.description,
           "populationDescription": "All randomised participants with an assessment at the final visit.",
           "reportingStatus": "POSTED", "paramType": o.param_type}
    if o.dispersion_type:
        out["dispersionType"] = o.dispersion_type
    out["unitOfMeasure"] = o.unit
    out["timeFrame"] = o.time_frame
    out["groups"] = groups
    out["denoms"] = [{"units": "Participants",
                      "counts": [{"groupId": g["id"], "value": str(a.analysed)} for g, a in zip(groups, trial.arms)]}]
    out["classes"] = [{"categories": [{"measurements": [
        _measurement(g["id"], s) for g, s in zip(groups, o.values)]}]}]
    return out


def _v2_results(trial: TrialEntity) -> dict:
    flow_groups = _groups(trial, "FG")
    milestones = [("STARTED", [a.randomised for a in trial.arms]),
                  ("COMPLETED", [a.analysed for a in trial.arms]),
                  ("NOT COMPLETED", [a.randomised - a.analysed for a in trial.arms])]
    base_groups = _groups(trial, "BG", total=True)
    ids = [g["id"] for g in base_groups]
    denoms = [str(a.randomised) for a in trial.arms] + [str(trial.enrollment)]
    return {
        "participantFlowModule": {
            "groups": flow_groups,
            "periods": [{"title": "Overall Study", "milestones": [
                {"type": kind, "achievements": [{"groupId": g["id"], "numSubjects": str(n)}
                                                for g, n in zip(flow_groups, counts)]}
                for kind, counts in milestones]}],
        },
        "baselineCharacteristicsModule": {
            "populationDescription": "All randomised participants.",
            "groups": base_groups,
            "denoms": [{"units": "Participants",
                        "counts": [{"groupId": g, "value": v} for g, v in zip(ids, denoms)]}],
            "measures": [_v2_baseline_measure(m, ids) for m in trial.baseline],
        },
        "outcomeMeasuresModule": {"outcomeMeasures": [_v2_outcome(trial, trial.primary),
                                                      _v2_outcome(trial, trial.secondary)]},
        "adverseEventsModule": {
            "frequencyThreshold": "5",
            "timeFrame": f"{trial.months} months",
            "eventGroups": [{"id": f"EG{a.group}", "title": a.label,
                             "description": text.sentence_case(a.template.regimen) + ".",
                             "seriousNumAffected": a.serious_events, "seriousNumAtRisk": a.randomised}
                            for a in trial.arms],
        },
    }


def v2_study(world, trial: TrialEntity) -> dict:
    """TrialEntity → one API v2 study object (insertion order is the output order)."""
    study = {"protocolSection": _v2_protocol(world, trial)}
    if trial.spec.has_results:
        study["resultsSection"] = _v2_results(trial)
    study["derivedSection"] = {
        "miscInfoModule": {"versionHolder": (trial.last_update_posted + datetime.timedelta(days=3)).isoformat()},
        "conditionBrowseModule": {"meshes": [{"id": f"D{ui[1:]:0>9}", "term": name}
                                             for name, ui, major, _ in trial.topic.mesh if major][:1]},
    }
    study["hasResults"] = trial.spec.has_results
    return study


# --------------------------------------------------------------------------- legacy XML
def _long_date(d: datetime.date) -> str:
    return f"{MONTH_NAMES[d.month - 1]} {d.day}, {d.year}"


def _month_date(d: datetime.date) -> str:
    return f"{MONTH_NAMES[d.month - 1]} {d.year}"


def _sub(parent, tag: str, content: Optional[str] = None, /, **attrib: str) -> etree._Element:
    """A child element with optional text; keyword arguments become attributes."""
    el = etree.SubElement(parent, tag, attrib)
    if content is not None:
        el.text = content
    return el


def _textblock(parent, tag: str, body: str, depth: int) -> None:
    """``<tag><textblock>`` with the text wrapped at 76 columns, indented one level below it."""
    pad = INDENT * (depth + 2)
    lines = []
    for para in body.split("\n"):
        lines.extend(textwrap.wrap(para, 76, break_on_hyphens=False) or [""])
    block = _sub(_sub(parent, tag), "textblock")
    block.text = "\n" + "\n".join((pad + line).rstrip() for line in lines) + "\n" + INDENT * (depth + 1)


def _legacy_measure(parent, m: BaselineMeasure, ids: list[str]) -> None:
    measure = _sub(parent, "measure")
    _sub(measure, "title", m.title)
    _sub(measure, "units", m.unit)
    _sub(measure, "param", LEGACY_PARAM[m.param_type])
    if m.dispersion_type:
        _sub(measure, "dispersion", LEGACY_DISPERSION[m.dispersion_type])
    cats = _sub(_sub(_sub(measure, "class_list"), "class"), "category_list")
    for title, stats in m.categories:
        cat = _sub(cats, "category")
        if title:
            _sub(cat, "title", title)
        lst = _sub(cat, "measurement_list")
        for g, s in zip(ids, stats):
            attrib = {"group_id": g, "value": s.value}
            if s.spread is not None:
                attrib["spread"] = s.spread
            etree.SubElement(lst, "measurement", attrib)


def _legacy_groups(parent, trial: TrialEntity, prefix: str, total: bool = False) -> list[str]:
    group_list = _sub(parent, "group_list")
    ids = []
    for i, a in enumerate(trial.arms, start=1):
        g = _sub(group_list, "group", group_id=f"{prefix}{i}")
        _sub(g, "title", a.label)
        _sub(g, "description", text.sentence_case(a.template.regimen) + ".")
        ids.append(f"{prefix}{i}")
    if total:
        g = _sub(group_list, "group", group_id=f"{prefix}{len(trial.arms) + 1}")
        _sub(g, "title", "Total")
        _sub(g, "description", "Total of all reporting groups")
        ids.append(f"{prefix}{len(trial.arms) + 1}")
    return ids


def _analyzed(parent, ids: list[str], counts: list[int], scope: str) -> None:
    analyzed = _sub(_sub(parent, "analyzed_list"), "analyzed")
    _sub(analyzed, "units", "Participants")
    _sub(analyzed, "scope", scope)
    lst = _sub(analyzed, "count_list")
    for g, n in zip(ids, counts):
        etree.SubElement(lst, "count", {"group_id": g, "value": str(n)})


def _legacy_results(root, trial: TrialEntity) -> None:
    results = _sub(root, "clinical_results")
    flow = _sub(results, "participant_flow")
    flow_ids = _legacy_groups(flow, trial, "P")
    period = _sub(_sub(flow, "period_list"), "period")
    _sub(period, "title", "Overall Study")
    milestones = _sub(period, "milestone_list")
    for title, counts in (("STARTED", [a.randomised for a in trial.arms]),
                          ("COMPLETED", [a.analysed for a in trial.arms]),
                          ("NOT COMPLETED", [a.randomised - a.analysed for a in trial.arms])):
        milestone = _sub(milestones, "milestone")
        _sub(milestone, "title", title)
        lst = _sub(milestone, "participants_list")
        for g, n in zip(flow_ids, counts):
            _sub(lst, "participants", group_id=g, count=str(n))
    baseline = _sub(results, "baseline")
    _sub(baseline, "population", "All randomised participants.")
    ids = _legacy_groups(baseline, trial, "B", total=True)
    _analyzed(baseline, ids, [a.randomised for a in trial.arms] + [trial.enrollment], "Overall")
    measures = _sub(baseline, "measure_list")
    for m in trial.baseline:
        _legacy_measure(measures, m, ids)
    outcomes = _sub(results, "outcome_list")
    for o in (trial.primary, trial.secondary):
        outcome = _sub(outcomes, "outcome")
        _sub(outcome, "type", o.type.title())
        _sub(outcome, "title", o.title)
        _sub(outcome, "description", o.description)
        _sub(outcome, "time_frame", o.time_frame)
        _sub(outcome, "population", "All randomised participants with an assessment at the final visit.")
        oids = _legacy_groups(outcome, trial, "O")
        measure = _sub(outcome, "measure")
        _sub(measure, "title", o.title)
        _sub(measure, "description", o.description)
        _sub(measure, "units", o.unit)
        _sub(measure, "param", LEGACY_PARAM[o.param_type])
        if o.dispersion_type:
            _sub(measure, "dispersion", o.dispersion_type)
        _analyzed(measure, oids, [a.analysed for a in trial.arms], "Measure")
        cats = _sub(_sub(_sub(measure, "class_list"), "class"), "category_list")
        lst = _sub(_sub(cats, "category"), "measurement_list")
        for g, s in zip(oids, o.values):
            attrib = {"group_id": g, "value": s.value}
            if s.spread is not None:
                attrib["spread"] = s.spread
            etree.SubElement(lst, "measurement", attrib)


def legacy_study(world, trial: TrialEntity) -> bytes:
    """TrialEntity → a legacy ``clinical_study`` XML document (public.xsd layout)."""
    spec = trial.spec
    root = etree.Element("clinical_study")
    header = _sub(root, "required_header")
    _sub(header, "download_date", f"ClinicalTrials.gov processed this data on {_long_date(trial.last_update_posted + datetime.timedelta(days=9))}")
    _sub(header, "link_text", "Link to the current ClinicalTrials.gov record.")
    _sub(header, "url", f"https://clinicaltrials.gov/show/{spec.nct}")
    ids = _sub(root, "id_info")
    _sub(ids, "org_study_id", trial.org_study_id)
    _sub(ids, "secondary_id", trial.grant_id)
    _sub(ids, "nct_id", spec.nct)
    if spec.alias:
        _sub(ids, "nct_alias", spec.alias)
    _sub(root, "brief_title", trial.brief_title)
    if trial.acronym:
        _sub(root, "acronym", trial.acronym)
    _sub(root, "official_title", trial.official_title)
    sponsors = _sub(root, "sponsors")
    lead = _sub(sponsors, "lead_sponsor")
    _sub(lead, "agency", trial.sponsor)
    _sub(lead, "agency_class", "Other")
    collab = _sub(sponsors, "collaborator")
    _sub(collab, "agency", trial.funder)
    _sub(collab, "agency_class", "Other")
    _sub(root, "source", trial.sponsor)
    _sub(_sub(root, "oversight_info"), "has_dmc", "Yes" if trial.blinded else "No")
    _textblock(root, "brief_summary", brief_summary(trial), 1)
    _textblock(root, "detailed_description", detailed_description(trial), 1)
    _sub(root, "overall_status", "Completed")
    _sub(root, "start_date", _month_date(trial.start), type="Actual")
    _sub(root, "completion_date", _long_date(trial.completion), type="Actual")
    _sub(root, "primary_completion_date", _long_date(trial.primary_completion), type="Actual")
    _sub(root, "phase", "/".join(LEGACY_PHASE[p] for p in trial.phases))
    _sub(root, "study_type", "Interventional")
    _sub(root, "has_expanded_access", "No")
    design = _sub(root, "study_design_info")
    _sub(design, "allocation", "Randomized")
    _sub(design, "intervention_model", "Parallel Assignment")
    _sub(design, "intervention_model_description",
         f"{text.sentence_case(text.NUMBER_WORDS[len(trial.arms)])} parallel groups followed for {trial.months} months.")
    _sub(design, "primary_purpose", trial.topic.primary_purpose.title())
    masking = LEGACY_MASKING[trial.masking]
    if trial.who_masked:
        masking += " (" + ", ".join(LEGACY_WHO[w] for w in trial.who_masked) + ")"
    _sub(design, "masking", masking)
    for tag, o in (("primary_outcome", trial.primary), ("secondary_outcome", trial.secondary)):
        el = _sub(root, tag)
        _sub(el, "measure", o.title)
        _sub(el, "time_frame", o.time_frame)
        _sub(el, "description", o.description)
    _sub(root, "number_of_arms", str(len(trial.arms)))
    _sub(root, "enrollment", str(trial.enrollment), type="Actual")
    for condition in trial.topic.conditions[:2]:
        _sub(root, "condition", condition)
    for a in trial.arms:
        arm = _sub(root, "arm_group")
        _sub(arm, "arm_group_label", a.label)
        _sub(arm, "arm_group_type", LEGACY_ARM_TYPE[a.template.arm_type])
        _sub(arm, "description", text.sentence_case(a.template.regimen) + ".")
    for a in _distinct_interventions(trial.arms):
        tpl = a.template
        item = _sub(root, "intervention")
        _sub(item, "intervention_type", LEGACY_INTERVENTION_TYPE[tpl.intervention_type])
        _sub(item, "intervention_name", tpl.intervention_name)
        _sub(item, "description", text.sentence_case(tpl.regimen) + ".")
        for other in trial.arms:
            if other.template.intervention_name == tpl.intervention_name:
                _sub(item, "arm_group_label", other.label)
        for name in tpl.other_names:
            _sub(item, "other_name", name)
    elig = _sub(root, "eligibility")
    _textblock(elig, "criteria", eligibility_text(trial), 2)
    _sub(elig, "gender", "All")
    _sub(elig, "minimum_age", f"{trial.age_range[0]} Years")
    _sub(elig, "maximum_age", f"{trial.age_range[1]} Years")
    _sub(elig, "healthy_volunteers", "No")
    official = _sub(root, "overall_official")
    _sub(official, "last_name", trial.official.full)
    _sub(official, "role", "Principal Investigator")
    _sub(official, "affiliation", trial.sponsor)
    for s in trial.sites:
        facility = _sub(_sub(root, "location"), "facility")
        _sub(facility, "name", s.facility)
        address = _sub(facility, "address")
        _sub(address, "city", s.city)
        _sub(address, "country", s.country)
    countries = _sub(root, "location_countries")
    for c in trial.countries:
        _sub(countries, "country", c)
    for pmid, kind, cit in references(world, trial):
        ref = _sub(root, "results_reference" if kind == "RESULT" else "reference")
        _sub(ref, "citation", cit)
        _sub(ref, "PMID", pmid)
    _sub(root, "verification_date", _month_date(trial.last_update_posted))
    _sub(root, "study_first_submitted", _long_date(trial.first_submitted))
    _sub(root, "study_first_submitted_qc", _long_date(trial.first_submitted))
    _sub(root, "study_first_posted", _long_date(trial.first_posted), type="Estimate")
    if trial.results_posted:
        _sub(root, "results_first_submitted", _long_date(trial.results_submitted))
        _sub(root, "results_first_submitted_qc", _long_date(trial.results_submitted))
        _sub(root, "results_first_posted", _long_date(trial.results_posted), type="Actual")
    _sub(root, "last_update_submitted", _long_date(trial.last_update_posted))
    _sub(root, "last_update_submitted_qc", _long_date(trial.last_update_posted))
    _sub(root, "last_update_posted", _long_date(trial.last_update_posted), type="Actual")
    _sub(_sub(root, "responsible_party"), "responsible_party_type", "Sponsor")
    for kw in trial.topic.keywords[:3]:
        _sub(root, "keyword", kw)
    browse = _sub(root, "condition_browse")
    for name, _, major, _ in trial.topic.mesh:
        if major:
            _sub(browse, "mesh_term", name)
            break
    if spec.has_results:
        _legacy_results(root, trial)
    etree.indent(root, space=INDENT)
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n"
