"""ClinicalTrials.gov parsers: API v2 JSON, classic v1 JSON, zips of study JSON and legacy XML.

Every parser takes an open binary file object plus ``source_file`` (provenance) and yields
``schemas.records.Trial`` records and ``schemas.records.DeadLetter`` records, in file order.
Enumerations use the API v2 spelling whatever the source ("Phase 1/Phase 2" → ``["PHASE1", "PHASE2"]``),
dates are ISO prefixes (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``).

Pure module: no Beam import.
"""
from __future__ import annotations

import gzip
import io
import json
import re
import tempfile
import zipfile
import zlib
from typing import IO, Any, Iterable, Iterator, Optional

from lxml import etree

from schemas.records import (
    ArmGroup, Category, DeadLetter, Denom, DenomCount, Design, Eligibility, Group, Intervention,
    Measure, MeasureClass, Measurement, Outcome, Results, Trial, TrialReference)
from transforms.textutil import (
    UnsafeXmlError, clear_element, element_text, excerpt, normalize_nct, normalize_ws,
    safe_iterparse)

STAGE = "ctgov.parse"
FORMAT_V2 = "ctgov_v2_json"
FORMAT_CLASSIC = "ctgov_classic_json"
FORMAT_LEGACY = "ctgov_legacy_xml"

SPOOL_BYTES = 64 * 1024 * 1024

_STREAM_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)
_XML_ERRORS = (etree.XMLSyntaxError, UnsafeXmlError) + _STREAM_ERRORS
_JSON_ERRORS = (json.JSONDecodeError, UnicodeDecodeError) + _STREAM_ERRORS
# A JSON value of an unexpected type surfaces as one of these while mapping.
_MAPPING_ERRORS = (KeyError, TypeError, ValueError, AttributeError)


# --------------------------------------------------------------------------- small value helpers
_ENUM_SEP_RE = re.compile(r"[^A-Z0-9]+")
_ENUM_ALIASES = {
    "N_A": "NA",
    "NOT_APPLICABLE": "NA",
    "UNKNOWN_STATUS": "UNKNOWN",
    "ANTICIPATED": "ESTIMATED",
    "ESTIMATE": "ESTIMATED",
    "BOTH": "ALL",
    "EDUCATIONAL_COUNSELING_TRAINING": "ECT",
    "SUBJECT": "PARTICIPANT",
    "CAREGIVER": "CARE_PROVIDER",
    "OPEN_LABEL": "NONE",
}
_DISPERSION_ALIASES = {
    "95_CONFIDENCE_INTERVAL": "CONFIDENCE_95",
    "90_CONFIDENCE_INTERVAL": "CONFIDENCE_90",
    "80_CONFIDENCE_INTERVAL": "CONFIDENCE_80",
    "97_5_CONFIDENCE_INTERVAL": "CONFIDENCE_975",
    "99_CONFIDENCE_INTERVAL": "CONFIDENCE_99",
    "OTHER_CONFIDENCE_INTERVAL_LEVEL": "CONFIDENCE_OTHER",
    "GEOMETRIC_COEFFICIENT_OF_VARIATION": "GEOMETRIC_COEFFICIENT",
    "NOT_APPLICABLE": "NA",
}
_PHASE_RE = re.compile(r"(early[\s_]*)?phase[\s_]*(\d)", re.IGNORECASE)
# Qualifier of a legacy study type: "Observational [Patient Registry]" is an OBSERVATIONAL study.
_STUDY_TYPE_QUALIFIER_RE = re.compile(r"\s*\[[^\]]*\]\s*$")
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_ISO_DATE_RE = re.compile(r"^\d{4}(?:-\d{2}(?:-\d{2})?)?$")
_TEXT_DATE_RE = re.compile(r"^([A-Za-z]+)\.?\s+(?:(\d{1,2}),?\s+)?(\d{4})$")
_MASKING_RE = re.compile(r"^([^(]*)(?:\((.*)\))?")
_DESIGN_KEYS_RE = re.compile(
    r",\s*(?=(?:Allocation|Control|Endpoint Classification|Intervention Model|Masking|"
    r"Primary Purpose|Observational Model|Time Perspective)\s*:)")


def enum_value(text: Any) -> Optional[str]:
    """Display text or v2 enum (str) → v2 enum spelling (str): ``"Active, not recruiting"`` →
    ``"ACTIVE_NOT_RECRUITING"``, ``"N/A"`` → ``"NA"``; ``None`` when blank."""
    text = normalize_ws(text) if isinstance(text, str) else None
    if text is None:
        return None
    value = _ENUM_SEP_RE.sub("_", text.upper()).strip("_")
    return _ENUM_ALIASES.get(value, value) or None


def phase_values(values: Iterable[Any]) -> list[str]:
    """Phase texts (``"Phase 1/Phase 2"``, ``"N/A"``, ``"PHASE2"``, ...) → v2 phases (list of str).

    The pre-2017 legacy ``"Phase 0"`` is v2's ``EARLY_PHASE1``.
    """
    phases: list[str] = []
    for value in values:
        if not isinstance(value, str):
            continue
        found = [("EARLY_PHASE1" if m.group(2) == "0" else
                  ("EARLY_" if m.group(1) else "") + "PHASE" + m.group(2))
                 for m in _PHASE_RE.finditer(value)]
        if not found:
            found = [p for p in (enum_value(value),) if p]
        phases.extend(p for p in found if p not in phases)
    return phases


def study_type(text: Any) -> Optional[str]:
    """Study type (str) → v2 enum, a bracketed qualifier dropped: ``"Observational [Patient
    Registry]"`` → ``"OBSERVATIONAL"``."""
    if not isinstance(text, str):
        return None
    return enum_value(_STUDY_TYPE_QUALIFIER_RE.sub("", text))


def intervention_model(text: Any) -> Optional[str]:
    """``"Parallel Assignment"`` / ``"PARALLEL"`` (str) → ``"PARALLEL"``."""
    value = enum_value(text)
    if value and value.endswith("_ASSIGNMENT"):
        value = value[:-len("_ASSIGNMENT")]
    return value


def masking_values(text: Any) -> tuple[Optional[str], list[str]]:
    """Legacy masking text (str) → (v2 masking, who masked): ``"Double (Participant, Investigator)"`` →
    ``("DOUBLE", ["PARTICIPANT", "INVESTIGATOR"])``; ``"None (Open Label)"`` → ``("NONE", [])``."""
    text = normalize_ws(text) if isinstance(text, str) else None
    if text is None:
        return None, []
    m = _MASKING_RE.match(text)
    masking = enum_value(m.group(1))
    if masking and masking.endswith("_BLIND"):
        masking = masking[:-len("_BLIND")]
    if masking in (None, "NONE") or not m.group(2):
        return masking, []
    return masking, [w for w in (enum_value(p) for p in m.group(2).split(",")) if w]


def dispersion_enum(text: Any) -> Optional[str]:
    """Baseline dispersion text (str) → v2 enum: ``"Standard Deviation"`` → ``"STANDARD_DEVIATION"``."""
    value = enum_value(text)
    return _DISPERSION_ALIASES.get(value, value) if value else None


def iso_date(text: Any) -> Optional[str]:
    """``"November 2006"`` → ``"2006-11"``, ``"June 5, 2017"`` → ``"2017-06-05"``; ISO stays ISO.

    Text that is not a date (str) gives ``None``.
    """
    text = normalize_ws(text) if isinstance(text, str) else None
    if text is None:
        return None
    if _ISO_DATE_RE.match(text):
        return text
    m = _TEXT_DATE_RE.match(text)
    if not m:
        return None
    month = _MONTHS.get(m.group(1)[:3].lower())
    if month is None:
        return None
    if m.group(2):
        return f"{m.group(3)}-{month:02d}-{int(m.group(2)):02d}"
    return f"{m.group(3)}-{month:02d}"


def type_title(type_enum: Optional[str]) -> Optional[str]:
    """v2 intervention type (str) → the title case used in v2 intervention names:
    ``"DIETARY_SUPPLEMENT"`` → ``"Dietary Supplement"``."""
    return type_enum.replace("_", " ").title() if type_enum else None


def _bool(value: Any) -> Optional[bool]:
    """JSON bool or ``Yes``/``No``/``Accepts Healthy Volunteers`` text → bool; ``None`` otherwise."""
    if isinstance(value, bool):
        return value
    if not isinstance(value, str):
        return None
    value = value.strip().lower()
    if value in ("yes", "true", "accepts healthy volunteers"):
        return True
    if value in ("no", "false"):
        return False
    return None


def _int(value: Any) -> Optional[int]:
    """JSON number or numeric text → int; ``None`` otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _age(value: Any) -> Optional[str]:
    """``"18 Years"`` (str) stays; ``"N/A"`` and blanks → ``None``."""
    value = _str(value)
    return None if value is None or value.upper() in ("N/A", "NA") else value


def _str(value: Any) -> Optional[str]:
    """A JSON scalar → white-space-normalised str; ``None`` for missing/blank/non-scalars."""
    if isinstance(value, str):
        return normalize_ws(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _strs(values: Any) -> list[str]:
    """A JSON list of scalars → list of normalised non-blank str."""
    if not isinstance(values, list):
        return []
    return [s for s in (_str(v) for v in values) if s]


def _unique(values: Iterable[Optional[str]]) -> list[str]:
    """Non-blank values, first occurrence order."""
    seen: dict[str, None] = {}
    for v in values:
        if v:
            seen.setdefault(v, None)
    return list(seen)


def _dicts(values: Any) -> list[dict]:
    """The dict items of a JSON list (anything else → [])."""
    return [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []


def _dead(source_file: str, error_type: str, message: str, raw: Any,
          index: Optional[int]) -> DeadLetter:
    """A ``DeadLetter`` of this stage; ``raw`` is bytes/str/JSON value of the failing input."""
    if not isinstance(raw, (bytes, bytearray, str)):
        try:
            raw = json.dumps(raw, ensure_ascii=False)
        except (TypeError, ValueError):
            raw = repr(raw)
    return DeadLetter(source_file=source_file, stage=STAGE, error_type=error_type,
                      message=message, excerpt=excerpt(raw), record_index=index)


# --------------------------------------------------------------------------- API v2 JSON → Trial
def _v2_identification(ident: dict) -> dict:
    """identificationModule (dict) → Trial id/title fields (dict)."""
    return dict(
        aliases=_unique(normalize_nct(a) for a in _strs(ident.get("nctIdAliases"))),
        org_study_id=_str((ident.get("orgStudyIdInfo") or {}).get("id")),
        secondary_ids=_unique(_str(s.get("id")) for s in _dicts(ident.get("secondaryIdInfos"))),
        brief_title=_str(ident.get("briefTitle")),
        official_title=_str(ident.get("officialTitle")),
        acronym=_str(ident.get("acronym")),
    )


def _v2_dates(status: dict) -> dict:
    """statusModule (dict) → status and ISO date fields (dict)."""
    def date(key: str) -> Optional[str]:
        return iso_date((status.get(key) or {}).get("date"))

    return dict(
        overall_status=enum_value(status.get("overallStatus")),
        start_date=date("startDateStruct"),
        primary_completion_date=date("primaryCompletionDateStruct"),
        completion_date=date("completionDateStruct"),
        first_posted=date("studyFirstPostDateStruct"),
        last_update_posted=date("lastUpdatePostDateStruct"),
    )


def _v2_design(design: dict) -> Design:
    """designModule (dict) → ``Design``."""
    info = design.get("designInfo") or {}
    masking_info = info.get("maskingInfo") or {}
    masking = enum_value(masking_info.get("masking"))
    if masking and masking.endswith("_BLIND"):
        masking = masking[:-len("_BLIND")]
    return Design(
        study_type=study_type(design.get("studyType")),
        phases=phase_values(design.get("phases") or []),
        allocation=enum_value(info.get("allocation")),
        intervention_model=intervention_model(info.get("interventionModel")),
        primary_purpose=enum_value(info.get("primaryPurpose")),
        masking=masking,
        who_masked=_unique(enum_value(w) for w in _strs(masking_info.get("whoMasked"))),
    )


def _v2_enrollment(design: dict) -> tuple[Optional[int], Optional[str]]:
    """designModule (dict) → (enrollment count, ACTUAL/ESTIMATED)."""
    info = design.get("enrollmentInfo") or {}
    return _int(info.get("count")), enum_value(info.get("type"))


def _v2_interventions(arms: dict) -> list[Intervention]:
    """armsInterventionsModule (dict) → ``Intervention`` list (entries without a name are skipped)."""
    out = []
    for item in _dicts(arms.get("interventions")):
        name = _str(item.get("name"))
        if name:
            out.append(Intervention(
                type=enum_value(item.get("type")), name=name,
                description=_str(item.get("description")),
                arm_group_labels=_strs(item.get("armGroupLabels")),
                other_names=_strs(item.get("otherNames"))))
    return out


def _v2_arm_groups(arms: dict) -> list[ArmGroup]:
    """armsInterventionsModule (dict) → ``ArmGroup`` list; ``interventionNames`` kept as given."""
    out = []
    for item in _dicts(arms.get("armGroups")):
        label = _str(item.get("label"))
        if label:
            out.append(ArmGroup(
                label=label, type=enum_value(item.get("type")),
                description=_str(item.get("description")),
                intervention_names=_strs(item.get("interventionNames"))))
    return out


def _v2_eligibility(elig: dict) -> Eligibility:
    """eligibilityModule (dict) → ``Eligibility``."""
    return Eligibility(
        criteria=_str(elig.get("eligibilityCriteria")),
        sex=enum_value(elig.get("sex")),
        minimum_age=_age(elig.get("minimumAge")),
        maximum_age=_age(elig.get("maximumAge")),
        healthy_volunteers=_bool(elig.get("healthyVolunteers")))


def _v2_outcomes(items: Any) -> list[Outcome]:
    """primaryOutcomes/secondaryOutcomes (list of dict) → ``Outcome`` list."""
    out = []
    for item in _dicts(items):
        measure = _str(item.get("measure"))
        if measure:
            out.append(Outcome(measure=measure, description=_str(item.get("description")),
                               time_frame=_str(item.get("timeFrame"))))
    return out


def _v2_sponsors(sponsors: dict) -> tuple[Optional[str], list[str]]:
    """sponsorCollaboratorsModule (dict) → (lead sponsor name, collaborator names)."""
    lead = _str((sponsors.get("leadSponsor") or {}).get("name"))
    return lead, _unique(_str(c.get("name")) for c in _dicts(sponsors.get("collaborators")))


def _v2_countries(contacts: dict) -> list[str]:
    """contactsLocationsModule (dict) → location countries, unique, in order."""
    return _unique(_str(loc.get("country")) for loc in _dicts(contacts.get("locations")))


def _v2_references(refs: dict) -> list[TrialReference]:
    """referencesModule (dict) → ``TrialReference`` list."""
    return [TrialReference(pmid=_str(r.get("pmid")), type=enum_value(r.get("type")),
                           citation=_str(r.get("citation")))
            for r in _dicts(refs.get("references"))]


def _v2_groups(items: Any) -> list[Group]:
    """Result groups (list of dict) → ``Group`` list, ids as given (``BG000``, ``OG000``)."""
    return [Group(id=gid, title=_str(g.get("title")), description=_str(g.get("description")))
            for g in _dicts(items) if (gid := _str(g.get("id")))]


def _v2_denoms(items: Any) -> list[Denom]:
    """Result denoms (list of dict) → ``Denom`` list."""
    return [Denom(units=_str(d.get("units")),
                  counts=[DenomCount(group_id=gid, value=_str(c.get("value")))
                          for c in _dicts(d.get("counts")) if (gid := _str(c.get("groupId")))])
            for d in _dicts(items)]


def _v2_measurements(items: Any) -> list[Measurement]:
    """Measurements (list of dict) → ``Measurement`` list."""
    return [Measurement(group_id=gid, value=_str(m.get("value")), spread=_str(m.get("spread")),
                        lower_limit=_str(m.get("lowerLimit")),
                        upper_limit=_str(m.get("upperLimit")), comment=_str(m.get("comment")))
            for m in _dicts(items) if (gid := _str(m.get("groupId")))]


def _v2_classes(items: Any) -> list[MeasureClass]:
    """Measure classes (list of dict) → ``MeasureClass`` list with categories and measurements."""
    return [MeasureClass(
        title=_str(c.get("title")), denoms=_v2_denoms(c.get("denoms")),
        categories=[Category(title=_str(cat.get("title")),
                             measurements=_v2_measurements(cat.get("measurements")))
                    for cat in _dicts(c.get("categories"))])
        for c in _dicts(items)]


def _v2_measure(m: dict, outcome: bool) -> Optional[Measure]:
    """A baseline measure or outcome measure (dict) → ``Measure``; ``None`` without a title.

    v2 values are kept as given (outcome ``dispersionType`` is display text in v2, e.g. "Full Range").
    """
    title = _str(m.get("title"))
    if not title:
        return None
    return Measure(
        title=title, description=_str(m.get("description")),
        population_description=_str(m.get("populationDescription")),
        param_type=_str(m.get("paramType")), dispersion_type=_str(m.get("dispersionType")),
        unit_of_measure=_str(m.get("unitOfMeasure")),
        unit_of_denom=_str(m.get("denomUnitsSelected")),
        type=_str(m.get("type")) if outcome else None,
        time_frame=_str(m.get("timeFrame")) if outcome else None,
        groups=_v2_groups(m.get("groups")), denoms=_v2_denoms(m.get("denoms")),
        classes=_v2_classes(m.get("classes")))


def _v2_results(section: Any) -> Optional[Results]:
    """resultsSection (dict) → ``Results``; ``None`` when the study has no results section."""
    if not isinstance(section, dict):
        return None
    baseline = section.get("baselineCharacteristicsModule") or {}
    outcomes = section.get("outcomeMeasuresModule") or {}
    return Results(
        baseline_population=_str(baseline.get("populationDescription")),
        baseline_groups=_v2_groups(baseline.get("groups")),
        baseline_denoms=_v2_denoms(baseline.get("denoms")),
        baseline_measures=[x for x in (_v2_measure(m, False) for m in _dicts(baseline.get("measures")))
                           if x],
        outcome_measures=[x for x in (_v2_measure(m, True)
                                      for m in _dicts(outcomes.get("outcomeMeasures"))) if x])


def _v2_trial(study: dict, nct_id: str, source_format: str, source_file: str,
              index: int) -> Trial:
    """A v2-shaped study object (dict with ``protocolSection``) → ``Trial``."""
    protocol = study.get("protocolSection") or {}
    design = protocol.get("designModule") or {}
    arms = protocol.get("armsInterventionsModule") or {}
    outcomes = protocol.get("outcomesModule") or {}
    description = protocol.get("descriptionModule") or {}
    conditions = protocol.get("conditionsModule") or {}
    enrollment, enrollment_type = _v2_enrollment(design)
    lead_sponsor, collaborators = _v2_sponsors(protocol.get("sponsorCollaboratorsModule") or {})
    return Trial(
        nct_id=nct_id,
        **_v2_identification(protocol.get("identificationModule") or {}),
        brief_summary=_str(description.get("briefSummary")),
        detailed_description=_str(description.get("detailedDescription")),
        conditions=_strs(conditions.get("conditions")),
        keywords=_strs(conditions.get("keywords")),
        interventions=_v2_interventions(arms),
        design=_v2_design(design),
        enrollment=enrollment, enrollment_type=enrollment_type,
        arm_groups=_v2_arm_groups(arms),
        eligibility=_v2_eligibility(protocol.get("eligibilityModule") or {}),
        primary_outcomes=_v2_outcomes(outcomes.get("primaryOutcomes")),
        secondary_outcomes=_v2_outcomes(outcomes.get("secondaryOutcomes")),
        lead_sponsor=lead_sponsor, collaborators=collaborators,
        **_v2_dates(protocol.get("statusModule") or {}),
        countries=_v2_countries(protocol.get("contactsLocationsModule") or {}),
        references=_v2_references(protocol.get("referencesModule") or {}),
        results=_v2_results(study.get("resultsSection")),
        source_format=source_format, source_file=source_file, source_index=index)


# --------------------------------------------------------------------------- classic v1 JSON → v2 shape
def _cl_list(obj: dict, list_key: str, item_key: str) -> list:
    """Classic ``{"XList": {"X": [...]}}`` → the list (anything else → [])."""
    items = (obj.get(list_key) or {}).get(item_key)
    return items if isinstance(items, list) else []


def _cl_date(obj: dict, struct: str, key: str) -> dict:
    """Classic ``{"StartDateStruct": {"StartDate": ...}}`` → v2 ``{"date": ...}``."""
    return {"date": (obj.get(struct) or {}).get(key)}


def _cl_outcomes(module: dict, kind: str) -> list[dict]:
    """Classic ``PrimaryOutcomeList`` (kind ``"Primary"``/``"Secondary"``) → v2 outcome dicts."""
    return [{"measure": o.get(f"{kind}OutcomeMeasure"),
             "description": o.get(f"{kind}OutcomeDescription"),
             "timeFrame": o.get(f"{kind}OutcomeTimeFrame")}
            for o in _dicts(_cl_list(module, f"{kind}OutcomeList", f"{kind}Outcome"))]


def _classic_protocol(p: dict) -> dict:
    """Classic v1 ``ProtocolSection`` (PascalCase dict) → v2 ``protocolSection`` (dict)."""
    ident = p.get("IdentificationModule") or {}
    status = p.get("StatusModule") or {}
    sponsors = p.get("SponsorCollaboratorsModule") or {}
    desc = p.get("DescriptionModule") or {}
    cond = p.get("ConditionsModule") or {}
    design = p.get("DesignModule") or {}
    info = design.get("DesignInfo") or {}
    masking = info.get("DesignMaskingInfo") or {}
    enroll = design.get("EnrollmentInfo") or {}
    arms = p.get("ArmsInterventionsModule") or {}
    outcomes = p.get("OutcomesModule") or {}
    elig = p.get("EligibilityModule") or {}
    contacts = p.get("ContactsLocationsModule") or {}
    refs = p.get("ReferencesModule") or {}
    return {
        "identificationModule": {
            "nctId": ident.get("NCTId"),
            "nctIdAliases": _cl_list(ident, "NCTIdAliasList", "NCTIdAlias"),
            "orgStudyIdInfo": {"id": (ident.get("OrgStudyIdInfo") or {}).get("OrgStudyId")},
            "secondaryIdInfos": [{"id": s.get("SecondaryId")} for s in _dicts(
                _cl_list(ident, "SecondaryIdInfoList", "SecondaryIdInfo"))],
            "briefTitle": ident.get("BriefTitle"), "officialTitle": ident.get("OfficialTitle"),
            "acronym": ident.get("Acronym")},
        "statusModule": {
            "overallStatus": status.get("OverallStatus"),
            "startDateStruct": _cl_date(status, "StartDateStruct", "StartDate"),
            "primaryCompletionDateStruct": _cl_date(
                status, "PrimaryCompletionDateStruct", "PrimaryCompletionDate"),
            "completionDateStruct": _cl_date(status, "CompletionDateStruct", "CompletionDate"),
            "studyFirstPostDateStruct": _cl_date(
                status, "StudyFirstPostDateStruct", "StudyFirstPostDate"),
            "lastUpdatePostDateStruct": _cl_date(
                status, "LastUpdatePostDateStruct", "LastUpdatePostDate")},
        "sponsorCollaboratorsModule": {
            "leadSponsor": {"name": (sponsors.get("LeadSponsor") or {}).get("LeadSponsorName")},
            "collaborators": [{"name": c.get("CollaboratorName")} for c in _dicts(
                _cl_list(sponsors, "CollaboratorList", "Collaborator"))]},
        "descriptionModule": {"briefSummary": desc.get("BriefSummary"),
                              "detailedDescription": desc.get("DetailedDescription")},
        "conditionsModule": {"conditions": _cl_list(cond, "ConditionList", "Condition"),
                             "keywords": _cl_list(cond, "KeywordList", "Keyword")},
        "designModule": {
            "studyType": design.get("StudyType"),
            "phases": _cl_list(design, "PhaseList", "Phase"),
            "designInfo": {
                "allocation": info.get("DesignAllocation"),
                "interventionModel": info.get("DesignInterventionModel"),
                "primaryPurpose": info.get("DesignPrimaryPurpose"),
                "maskingInfo": {"masking": masking.get("DesignMasking"),
                                "whoMasked": _cl_list(masking, "DesignWhoMaskedList",
                                                      "DesignWhoMasked")}},
            "enrollmentInfo": {"count": enroll.get("EnrollmentCount"),
                               "type": enroll.get("EnrollmentType")}},
        "armsInterventionsModule": {
            "armGroups": [{"label": a.get("ArmGroupLabel"), "type": a.get("ArmGroupType"),
                           "description": a.get("ArmGroupDescription"),
                           "interventionNames": _cl_list(a, "ArmGroupInterventionList",
                                                         "ArmGroupInterventionName")}
                          for a in _dicts(_cl_list(arms, "ArmGroupList", "ArmGroup"))],
            "interventions": [{"type": i.get("InterventionType"), "name": i.get("InterventionName"),
                               "description": i.get("InterventionDescription"),
                               "armGroupLabels": _cl_list(i, "InterventionArmGroupLabelList",
                                                          "InterventionArmGroupLabel"),
                               "otherNames": _cl_list(i, "InterventionOtherNameList",
                                                      "InterventionOtherName")}
                              for i in _dicts(_cl_list(arms, "InterventionList", "Intervention"))]},
        "outcomesModule": {"primaryOutcomes": _cl_outcomes(outcomes, "Primary"),
                           "secondaryOutcomes": _cl_outcomes(outcomes, "Secondary")},
        "eligibilityModule": {
            "eligibilityCriteria": elig.get("EligibilityCriteria"), "sex": elig.get("Gender"),
            "minimumAge": elig.get("MinimumAge"), "maximumAge": elig.get("MaximumAge"),
            "healthyVolunteers": elig.get("HealthyVolunteers")},
        "contactsLocationsModule": {"locations": [
            {"country": loc.get("LocationCountry")}
            for loc in _dicts(_cl_list(contacts, "LocationList", "Location"))]},
        "referencesModule": {"references": [
            {"pmid": r.get("ReferencePMID"), "type": r.get("ReferenceType"),
             "citation": r.get("ReferenceCitation")}
            for r in _dicts(_cl_list(refs, "ReferenceList", "Reference"))]},
    }


# --------------------------------------------------------------------------- JSON documents → records
def _study_record(study: Any, source_file: str, index: int) -> Trial | DeadLetter:
    """One study object (v2 ``{"protocolSection"}``, classic ``{"ProtocolSection"}`` or classic
    ``{"Study": ...}``) → ``Trial``, or ``DeadLetter`` (UnsupportedFormat, MissingField, ...)."""
    if isinstance(study, dict) and isinstance(study.get("Study"), dict):
        study = study["Study"]
    if not isinstance(study, dict):
        return _dead(source_file, "UnsupportedFormat",
                     f"study is a JSON {type(study).__name__}, not an object", study, index)
    try:
        if isinstance(study.get("protocolSection"), dict):
            source_format = FORMAT_V2
        elif isinstance(study.get("ProtocolSection"), dict):
            if study.get("ResultsSection"):
                return _dead(source_file, "UnsupportedFormat",
                             "classic v1 ResultsSection is not mapped", study, index)
            study = {"protocolSection": _classic_protocol(study["ProtocolSection"])}
            source_format = FORMAT_CLASSIC
        else:
            return _dead(source_file, "UnsupportedFormat",
                         "no protocolSection: not a ClinicalTrials.gov study object", study, index)
        raw_id = (study["protocolSection"].get("identificationModule") or {}).get("nctId")
        nct_id = normalize_nct(raw_id) if isinstance(raw_id, str) else None
        if nct_id is None:
            return _dead(source_file, "MissingField",
                         f"no valid NCT id (nctId={raw_id!r})", study, index)
        return _v2_trial(study, nct_id, source_format, source_file, index)
    except _MAPPING_ERRORS as exc:
        return _dead(source_file, type(exc).__name__, str(exc), study, index)


def _document_studies(doc: Any) -> list:
    """A parsed JSON document → its study objects: a list, a ``/studies`` page, a classic
    ``FullStudiesResponse``, or a single study (returned as a one-item list)."""
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        if isinstance(doc.get("studies"), list):
            return doc["studies"]
        if isinstance(doc.get("FullStudiesResponse"), dict):
            full = doc["FullStudiesResponse"].get("FullStudies")
            return full if isinstance(full, list) else []
    return [doc]


_PAGE_HEAD_RE = re.compile(r'\s*\{\s*"studies"\s*:\s*\[|\s*\[')
_ARRAY_SEP_RE = re.compile(r"\s*,?\s*")


def _salvage_array(text: str) -> Iterator[Any]:
    """The complete leading items of a broken JSON list or ``{"studies": [...`` page (decoded str).

    Raises ``json.JSONDecodeError`` at the first item that cannot be decoded.
    """
    m = _PAGE_HEAD_RE.match(text)
    if not m:
        raise json.JSONDecodeError("not a JSON list or /studies page", text, 0)
    decoder = json.JSONDecoder()
    pos = m.end()
    while True:
        pos = _ARRAY_SEP_RE.match(text, pos).end()
        if text.startswith("]", pos):
            raise json.JSONDecodeError("list ends but the document does not parse", text, pos)
        item, pos = decoder.raw_decode(text, pos)
        yield item


def _whole_document(data: bytes, source_file: str) -> Iterator[Trial | DeadLetter]:
    """A whole-file JSON document (bytes) → records; a broken list/page yields its complete
    leading studies, then one ``DeadLetter`` for the rest."""
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        error = exc
    else:
        for index, study in enumerate(_document_studies(doc)):
            yield _study_record(study, source_file, index)
        return
    index = 0
    raw: Any = data
    if isinstance(error, json.JSONDecodeError):
        raw = error.doc[max(0, error.pos - 150):error.pos + 150]
        try:
            for study in _salvage_array(error.doc):
                yield _study_record(study, source_file, index)
                index += 1
        except json.JSONDecodeError:
            pass
    yield _dead(source_file, type(error).__name__, str(error), raw, index)


def _parses(line: bytes) -> bool:
    """Whether ``line`` (bytes) is a complete JSON object or list by itself."""
    stripped = line.strip()
    if not stripped.startswith((b"{", b"[")):
        return False
    try:
        json.loads(stripped)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return True


def _ndjson(lines: Iterable[bytes], source_file: str) -> Iterator[Trial | DeadLetter]:
    """NDJSON lines (bytes) → records; a bad line → one ``DeadLetter`` and parsing goes on;
    a stream that breaks → one ``DeadLetter`` for the rest."""
    index = 0
    line = b""
    try:
        for line in lines:
            line = line.rstrip(b"\r\n")
            if not line.strip():
                continue
            try:
                studies = _document_studies(json.loads(line))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                yield _dead(source_file, type(exc).__name__, str(exc), line, index)
                index += 1
                continue
            for study in studies:
                yield _study_record(study, source_file, index)
                index += 1
    except _STREAM_ERRORS as exc:
        yield _dead(source_file, type(exc).__name__, str(exc), line, index)


def parse_ctgov_json(fileobj: IO[bytes], source_file: str) -> Iterator[Trial | DeadLetter]:
    """ClinicalTrials.gov JSON (binary file object) → ``Trial`` / ``DeadLetter`` records.

    Accepts an API v2 study object, a v2 ``/studies`` page, a JSON list of studies, NDJSON (one
    study or page per line, streamed) and the classic v1 ``FullStudiesResponse``; the kind is
    detected from the content. ``source_index`` counts studies within the file.
    """
    stream = fileobj if hasattr(fileobj, "readline") else io.BufferedReader(fileobj)
    head: list[bytes] = []
    try:
        content: list[bytes] = []
        first_parses = False
        for line in stream:
            head.append(line)
            if not line.strip():
                continue
            content.append(line)
            if len(content) == 2:
                break
            first_parses = _parses(line)
            if first_parses or line.strip() in (b"{", b"["):
                break
        if first_parses or (len(content) == 2 and _parses(content[1])):
            yield from _ndjson(_chain_lines(head, stream), source_file)
            return
        data = b"".join(head) + stream.read()
    except _STREAM_ERRORS as exc:
        yield _dead(source_file, type(exc).__name__, str(exc), b"".join(head), 0)
        return
    if not data.strip():
        yield _dead(source_file, "EmptyInput", "no JSON content", data, None)
        return
    yield from _whole_document(data, source_file)


def _chain_lines(head: list[bytes], stream: IO[bytes]) -> Iterator[bytes]:
    """The already-read ``head`` lines, then the rest of ``stream`` line by line."""
    yield from head
    yield from stream


# --------------------------------------------------------------------------- zip of study JSON
def parse_ctgov_zip(fileobj: IO[bytes], source_file: str) -> Iterator[Trial | DeadLetter]:
    """A zip (binary file object) of study ``.json`` files (CT.gov bulk export, any folders) → records.

    Each member is parsed by ``parse_ctgov_json`` (``.xml`` members by ``parse_ctgov_xml``) with
    ``source_file=f"{source_file}!{member}"``; other members are ignored.
    """
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        try:
            while chunk := fileobj.read(1 << 20):
                spool.write(chunk)
            spool.seek(0)
            archive = zipfile.ZipFile(spool)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            spool.seek(0)
            yield _dead(source_file, type(exc).__name__, str(exc), spool.read(1200), None)
            return
        with archive:
            for info in archive.infolist():
                name = info.filename
                lower = name.lower()
                if info.is_dir() or not lower.endswith((".json", ".xml")):
                    continue
                member_file = f"{source_file}!{name}"
                try:
                    data = archive.read(info)
                except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError,
                        RuntimeError) as exc:
                    yield _dead(member_file, type(exc).__name__, str(exc), name, None)
                    continue
                parse = parse_ctgov_xml if lower.endswith(".xml") else parse_ctgov_json
                yield from parse(io.BytesIO(data), member_file)


# --------------------------------------------------------------------------- legacy XML → Trial
def _children(el) -> dict[str, list]:
    """Direct child elements of ``el`` grouped by tag (dict tag → list of elements)."""
    index: dict[str, list] = {}
    for child in el:
        if isinstance(child.tag, str):
            index.setdefault(child.tag, []).append(child)
    return index


def _first(kids: dict[str, list], tag: str):
    """The first child element with ``tag`` from a ``_children`` index, or ``None``."""
    found = kids.get(tag)
    return found[0] if found else None


def _text(el, tag: str) -> Optional[str]:
    """Normalised text of the direct child ``tag`` of ``el`` (element or None)."""
    return element_text(el.find(tag)) if el is not None else None


def _texts(els: Optional[list]) -> list[str]:
    """Normalised non-blank texts of elements."""
    return [t for t in (element_text(e) for e in els or ()) if t]


def _lx_design_fields(kids: dict[str, list]) -> dict[str, Optional[str]]:
    """``study_design_info`` children, or the older ``study_design`` text
    (``"Allocation: Randomized, Masking: ..."``) → dict of snake_case key → text."""
    info = _first(kids, "study_design_info")
    if info is not None:
        return {child.tag: element_text(child) for child in info if isinstance(child.tag, str)}
    text = element_text(_first(kids, "study_design"))
    fields: dict[str, Optional[str]] = {}
    for part in _DESIGN_KEYS_RE.split(text or ""):
        key, sep, value = part.partition(":")
        if sep:
            fields[key.strip().lower().replace(" ", "_")] = normalize_ws(value)
    return fields


def _lx_design(kids: dict[str, list]) -> Design:
    """``clinical_study`` children → ``Design`` (v2 enum spelling)."""
    fields = _lx_design_fields(kids)
    masking, who_masked = masking_values(fields.get("masking"))
    return Design(
        study_type=study_type(element_text(_first(kids, "study_type"))),
        phases=phase_values(_texts(kids.get("phase"))),
        allocation=enum_value(fields.get("allocation")),
        intervention_model=intervention_model(fields.get("intervention_model")),
        primary_purpose=enum_value(fields.get("primary_purpose")),
        masking=masking, who_masked=who_masked)


def _lx_interventions(kids: dict[str, list]) -> list[Intervention]:
    """``intervention`` elements → ``Intervention`` list (without a name: skipped)."""
    out = []
    for el in kids.get("intervention", ()):
        sub = _children(el)
        name = element_text(_first(sub, "intervention_name"))
        if name:
            out.append(Intervention(
                type=enum_value(element_text(_first(sub, "intervention_type"))), name=name,
                description=element_text(_first(sub, "description")),
                arm_group_labels=_texts(sub.get("arm_group_label")),
                other_names=_texts(sub.get("other_name"))))
    return out


def _lx_arm_groups(kids: dict[str, list], interventions: list[Intervention]) -> list[ArmGroup]:
    """``arm_group`` elements → ``ArmGroup`` list; intervention names derived as v2 spells them
    (``"Drug: Placebo"``) from the interventions that list the arm's label."""
    out = []
    for el in kids.get("arm_group", ()):
        label = _text(el, "arm_group_label")
        if not label:
            continue
        names = [f"{type_title(i.type)}: {i.name}" if i.type else i.name
                 for i in interventions if label in i.arm_group_labels]
        out.append(ArmGroup(label=label, type=enum_value(_text(el, "arm_group_type")),
                            description=_text(el, "description"), intervention_names=names))
    return out


def _lx_eligibility(el) -> Eligibility:
    """``eligibility`` element (or None) → ``Eligibility``."""
    if el is None:
        return Eligibility(criteria=None, sex=None, minimum_age=None, maximum_age=None,
                           healthy_volunteers=None)
    return Eligibility(
        criteria=_text(el, "criteria"), sex=enum_value(_text(el, "gender")),
        minimum_age=_age(_text(el, "minimum_age")), maximum_age=_age(_text(el, "maximum_age")),
        healthy_volunteers=_bool(_text(el, "healthy_volunteers")))


def _lx_outcomes(els: Optional[list]) -> list[Outcome]:
    """``primary_outcome``/``secondary_outcome`` elements → ``Outcome`` list."""
    out = []
    for el in els or ():
        measure = _text(el, "measure")
        if measure:
            out.append(Outcome(measure=measure, description=_text(el, "description"),
                               time_frame=_text(el, "time_frame")))
    return out


def _lx_countries(kids: dict[str, list]) -> list[str]:
    """``location_countries/country``, else the facility address countries; unique, in order."""
    listed = _first(kids, "location_countries")
    if listed is not None:
        return _unique(_texts(listed.findall("country")))
    return _unique(_text(loc.find("facility/address"), "country")
                   for loc in kids.get("location", ()))


def _lx_references(study) -> list[TrialReference]:
    """``reference`` (BACKGROUND) and ``results_reference`` (RESULT) elements, in document order."""
    out = []
    for el in study:
        if el.tag == "reference" or el.tag == "results_reference":
            out.append(TrialReference(pmid=_text(el, "PMID"),
                                      type="BACKGROUND" if el.tag == "reference" else "RESULT",
                                      citation=_text(el, "citation")))
    return out


def _lx_dated(kids: dict[str, list], *tags: str) -> Optional[str]:
    """ISO date of the first present element among ``tags``."""
    for tag in tags:
        el = _first(kids, tag)
        if el is not None:
            return iso_date(element_text(el))
    return None


def _lx_groups(el) -> list[Group]:
    """A ``group_list`` element (or None) → ``Group`` list, ids as given (``B1``, ``O1``)."""
    if el is None:
        return []
    return [Group(id=gid, title=_text(g, "title"), description=_text(g, "description"))
            for g in el.iterchildren("group") if (gid := normalize_ws(g.get("group_id")))]


def _lx_denoms(el) -> list[Denom]:
    """An ``analyzed_list`` element (or None) → ``Denom`` list (units from ``<units>``)."""
    if el is None:
        return []
    out = []
    for analyzed in el.iterchildren("analyzed"):
        counts = analyzed.find("count_list")
        out.append(Denom(units=_text(analyzed, "units"), counts=[
            DenomCount(group_id=gid, value=normalize_ws(c.get("value")))
            for c in (counts.iterchildren("count") if counts is not None else ())
            if (gid := normalize_ws(c.get("group_id")))]))
    return out


def _lx_measurements(el) -> list[Measurement]:
    """A ``measurement_list`` element (or None) → ``Measurement`` list; text content → comment."""
    if el is None:
        return []
    return [Measurement(group_id=gid, value=normalize_ws(m.get("value")),
                        spread=normalize_ws(m.get("spread")),
                        lower_limit=normalize_ws(m.get("lower_limit")),
                        upper_limit=normalize_ws(m.get("upper_limit")), comment=element_text(m))
            for m in el.iterchildren("measurement") if (gid := normalize_ws(m.get("group_id")))]


def _lx_categories(el) -> list[Category]:
    """A ``category_list`` element (or None) → ``Category`` list; the title is ``<title>``, or
    ``<sub_title>`` in results posted before the 2016 class structure."""
    if el is None:
        return []
    return [Category(title=_text(cat, "title") or _text(cat, "sub_title"),
                     measurements=_lx_measurements(cat.find("measurement_list")))
            for cat in el.iterchildren("category")]


def _lx_classes(sub: dict[str, list]) -> list[MeasureClass]:
    """``measure`` children (``_children`` index) → ``MeasureClass`` list from its ``class_list``;
    a measure of the pre-2016 structure (``category_list`` directly in the measure) → one
    untitled class."""
    class_list = _first(sub, "class_list")
    if class_list is None:
        categories = _first(sub, "category_list")
        if categories is None:
            return []
        return [MeasureClass(title=None, denoms=[], categories=_lx_categories(categories))]
    return [MeasureClass(title=_text(cls, "title"), denoms=_lx_denoms(cls.find("analyzed_list")),
                         categories=_lx_categories(cls.find("category_list")))
            for cls in class_list.iterchildren("class")]


def _lx_count_denom(measure) -> Denom:
    """A pre-2016 participant-count ``measure`` element ("Number of Participants Analyzed") →
    ``Denom`` (its units, one count per measurement of its first category)."""
    counts = measure.find("category_list/category/measurement_list")
    return Denom(units=_text(measure, "units"), counts=[
        DenomCount(group_id=gid, value=normalize_ws(m.get("value")))
        for m in (counts.iterchildren("measurement") if counts is not None else ())
        if (gid := normalize_ws(m.get("group_id")))])


def _lx_baseline_measure(el) -> Optional[Measure]:
    """A baseline ``measure`` element → ``Measure`` (param and dispersion as v2 enums)."""
    sub = _children(el)
    title = element_text(_first(sub, "title"))
    if not title:
        return None
    return Measure(
        title=title, description=element_text(_first(sub, "description")),
        population_description=element_text(_first(sub, "population")),
        param_type=enum_value(element_text(_first(sub, "param"))),
        dispersion_type=dispersion_enum(element_text(_first(sub, "dispersion"))),
        unit_of_measure=element_text(_first(sub, "units")),
        unit_of_denom=element_text(_first(sub, "units_analyzed")),
        type=None, time_frame=None, groups=[],
        denoms=_lx_denoms(_first(sub, "analyzed_list")),
        classes=_lx_classes(sub))


def _lx_outcome_measure(el) -> Optional[Measure]:
    """An ``outcome`` element → ``Measure``; the outcome's own fields fill what its ``measure``
    lacks (an outcome without posted data has no groups, denoms or classes).

    Results posted before the 2016 structure hold a ``measure_list``: its last ``measure`` is the
    outcome measure and the ones before it (participant counts) become its denoms.

    The outcome dispersion is kept as given ("Standard Deviation"), as v2 outcome measures have it.
    """
    out = _children(el)
    measure = _first(out, "measure")
    counted: list[Denom] = []
    measure_list = _first(out, "measure_list")
    if measure is None and measure_list is not None:
        listed = list(measure_list.iterchildren("measure"))
        if listed:
            measure = listed[-1]
            counted = [_lx_count_denom(m) for m in listed[:-1]]
    sub = _children(measure) if measure is not None else {}

    def pick(tag: str) -> Optional[str]:
        return element_text(_first(sub, tag)) or element_text(_first(out, tag))

    title = pick("title")
    if not title:
        return None
    return Measure(
        title=title, description=pick("description"), population_description=pick("population"),
        param_type=enum_value(element_text(_first(sub, "param"))),
        dispersion_type=element_text(_first(sub, "dispersion")),
        unit_of_measure=element_text(_first(sub, "units")),
        unit_of_denom=element_text(_first(sub, "units_analyzed")),
        type=enum_value(element_text(_first(out, "type"))),
        time_frame=element_text(_first(out, "time_frame")),
        groups=_lx_groups(_first(out, "group_list")),
        denoms=_lx_denoms(_first(sub, "analyzed_list")) or counted,
        classes=_lx_classes(sub))


def _lx_results(el) -> Optional[Results]:
    """A ``clinical_results`` element (or None) → ``Results`` (``None`` when absent)."""
    if el is None:
        return None
    baseline = el.find("baseline")
    b = _children(baseline) if baseline is not None else {}
    measure_list = _first(b, "measure_list")
    outcome_list = el.find("outcome_list")
    return Results(
        baseline_population=element_text(_first(b, "population")),
        baseline_groups=_lx_groups(_first(b, "group_list")),
        baseline_denoms=_lx_denoms(_first(b, "analyzed_list")),
        baseline_measures=[m for m in (_lx_baseline_measure(x) for x in (
            measure_list.iterchildren("measure") if measure_list is not None else ())) if m],
        outcome_measures=[m for m in (_lx_outcome_measure(x) for x in (
            outcome_list.iterchildren("outcome") if outcome_list is not None else ())) if m])


def _lx_trial(study, source_file: str, index: int) -> Trial | DeadLetter:
    """A ``clinical_study`` element → ``Trial``, or ``DeadLetter`` (MissingField) without an NCT id."""
    kids = _children(study)
    id_info = _first(kids, "id_info")
    ids = _children(id_info) if id_info is not None else {}
    raw_id = element_text(_first(ids, "nct_id"))
    nct_id = normalize_nct(raw_id)
    if nct_id is None:
        return _dead(source_file, "MissingField", f"no valid NCT id (nct_id={raw_id!r})",
                     etree.tostring(study)[:2000], index)
    sponsors = _first(kids, "sponsors")
    enrollment = _first(kids, "enrollment")
    interventions = _lx_interventions(kids)
    return Trial(
        nct_id=nct_id,
        aliases=_unique(normalize_nct(a) for a in _texts(ids.get("nct_alias"))),
        org_study_id=element_text(_first(ids, "org_study_id")),
        secondary_ids=_unique(_texts(ids.get("secondary_id"))),
        brief_title=element_text(_first(kids, "brief_title")),
        official_title=element_text(_first(kids, "official_title")),
        acronym=element_text(_first(kids, "acronym")),
        brief_summary=element_text(_first(kids, "brief_summary")),
        detailed_description=element_text(_first(kids, "detailed_description")),
        overall_status=enum_value(element_text(_first(kids, "overall_status"))),
        conditions=_texts(kids.get("condition")),
        keywords=_texts(kids.get("keyword")),
        interventions=interventions,
        design=_lx_design(kids),
        enrollment=_int(element_text(enrollment)) if enrollment is not None else None,
        enrollment_type=enum_value(enrollment.get("type")) if enrollment is not None else None,
        arm_groups=_lx_arm_groups(kids, interventions),
        eligibility=_lx_eligibility(_first(kids, "eligibility")),
        primary_outcomes=_lx_outcomes(kids.get("primary_outcome")),
        secondary_outcomes=_lx_outcomes(kids.get("secondary_outcome")),
        lead_sponsor=_text(sponsors.find("lead_sponsor"), "agency") if sponsors is not None else None,
        collaborators=_unique(_text(c, "agency") for c in (
            sponsors.iterchildren("collaborator") if sponsors is not None else ())),
        start_date=_lx_dated(kids, "start_date"),
        primary_completion_date=_lx_dated(kids, "primary_completion_date"),
        completion_date=_lx_dated(kids, "completion_date"),
        first_posted=_lx_dated(kids, "study_first_posted", "firstreceived_date"),
        last_update_posted=_lx_dated(kids, "last_update_posted", "lastchanged_date"),
        countries=_lx_countries(kids),
        references=_lx_references(study),
        results=_lx_results(_first(kids, "clinical_results")),
        source_format=FORMAT_LEGACY, source_file=source_file, source_index=index)


class _TailRecorder(io.RawIOBase):
    """A read-only pass-through of a binary stream that keeps the last bytes read (``tail``),
    for the excerpt of a dead letter when the stream breaks."""

    def __init__(self, raw: IO[bytes], keep: int = 300):
        self._raw = raw
        self._keep = keep
        self.tail = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self._raw.read(len(b))
        if not data:
            return 0
        b[:len(data)] = data
        self.tail = (self.tail + data[-self._keep:])[-self._keep:]
        return len(data)


def parse_ctgov_xml(fileobj: IO[bytes], source_file: str) -> Iterator[Trial | DeadLetter]:
    """Legacy ClinicalTrials.gov XML (binary file object) → ``Trial`` / ``DeadLetter`` records.

    Streams every ``clinical_study`` element (a bare record or many under any wrapper). A file that
    breaks (malformed/truncated XML, entity declarations) yields the studies before the break and
    then one ``DeadLetter`` whose ``record_index`` is the index of the study that failed.
    """
    index = 0
    recorder = _TailRecorder(fileobj)
    try:
        for _, study in safe_iterparse(io.BufferedReader(recorder), ("clinical_study",)):
            try:
                yield _lx_trial(study, source_file, index)
            except (ValueError, TypeError, KeyError) as exc:
                yield _dead(source_file, type(exc).__name__, str(exc),
                            etree.tostring(study)[:2000], index)
            index += 1
            clear_element(study)
    except _XML_ERRORS as exc:
        yield _dead(source_file, type(exc).__name__, str(exc), recorder.tail, index)
