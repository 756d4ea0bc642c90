"""Validation of every task record (pure: no Beam import).

``check_record(record, settings)`` returns the reasons a ``TaskRecord`` is rejected (empty: valid).
Each rule is checked from the record alone, so a rejected record can be re-checked by hand:

| reason | rule |
|---|---|
| ``id.mismatch`` | ``id`` is the hash of task, source ids, input and output (``record_id``) |
| ``messages.mismatch`` | ``messages`` are system prompt, instruction + input, output |
| ``split.unknown`` | ``split`` is train, validation or test |
| ``sources.missing`` | the record names at least one source file |
| ``output.not_json`` | ``output`` parses as JSON |
| ``output.format`` | the JSON has the task's LEADS shape (keys, types, allowed values) |
| ``criteria.mismatch`` | screening: the criteria answered are those the input states, each once |
| ``screening.inconsistent`` | screening: ``include`` agrees with the answers (no NO when included, not all YES when excluded) |
| ``field.unknown`` | study_characteristics: every name is one of the FIELDS asked for in the input |
| ``group.unknown`` | participant_statistics: every ``groupId`` is one of the GROUPS in the input |
| ``value.not_a_number`` | a registry value that must be numeric (results, baseline values, denominators, enrollment) does not parse |
| ``unit.missing`` | trial_results without ``unitOfMeasure``; participant_statistics whose measure states no unit |
| ``grounding.out_of_range`` | ``grounding`` is None or within [0, 1] |
| ``grounding.mismatch`` | extraction tasks: ``grounding`` equals the share of target values found in the paper text, recomputed (DESIGN §2) |
| ``grounding.below_threshold`` | extraction tasks: ``grounding`` is below ``min_grounding`` (a score of None counts as 0) |

Thresholds live in ``ValidationSettings``; scores are never removed from records.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Optional

from schemas.records import TaskRecord
from transforms.tasks.arm_design import TASK as ARM_DESIGN
from transforms.tasks.common import SPLITS, SYSTEM_PROMPT, Grounder, record_id
from transforms.tasks.participant_statistics import TASK as PARTICIPANT_STATISTICS
from transforms.tasks.screening import CRITERIA
from transforms.tasks.screening import TASK as SCREENING
from transforms.tasks.search_query import TASK as SEARCH_QUERY
from transforms.tasks.study_characteristics import FIELDS
from transforms.tasks.study_characteristics import TASK as STUDY_CHARACTERISTICS
from transforms.tasks.trial_results import TASK as TRIAL_RESULTS

EXTRACTION_TASKS = (STUDY_CHARACTERISTICS, ARM_DESIGN, PARTICIPANT_STATISTICS, TRIAL_RESULTS)
ELIGIBILITY = ("YES", "PARTIAL", "NO", "UNCERTAIN")
ARM_TYPES = ("Experimental", "Active Comparator", "Placebo Comparator", "Sham Comparator", "No Intervention",
             "Other")
CRITERION_NAMES = tuple(name for name, _ in CRITERIA) + ("Objectives",)
FIELD_NAMES = tuple(name for name, _ in FIELDS)
_NUMBER = re.compile(r"[-−]?(\d+(,\d{3})*|\d*)(\.\d+)?([eE][-+]?\d+)?")


@dataclass(frozen=True)
class ValidationSettings:
    """Thresholds of validation (``--min_grounding``)."""
    min_grounding: float = 0.0  # extraction records scoring below are rejected; 0 keeps every score


def is_number(value) -> bool:
    """A registry number: ``12``, ``-3.5``, ``1,200``, ``2.1e-3`` (strings or JSON numbers)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return math.isfinite(value)
    return isinstance(value, str) and any(c.isdigit() for c in value) and bool(_NUMBER.fullmatch(value.strip()))


def _str(value) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _opt_str(value) -> bool:
    return value is None or isinstance(value, str)


def _str_list(value) -> bool:
    return isinstance(value, list) and all(_str(v) for v in value)


def section(text: str, name: str, next_name: Optional[str] = None) -> Optional[str]:
    """The ``NAME:`` block of a record input, up to the ``NEXT:`` block (or the end); None if absent.
    Blocks are separated by a blank line, but a block's own text may hold blank lines too."""
    head = f"{name}:\n"
    if text.startswith(head):
        start = len(head)
    else:
        i = text.find(f"\n\n{head}")
        if i < 0:
            return None
        start = i + 2 + len(head)
    end = text.find(f"\n\n{next_name}:\n", start) if next_name else -1
    return text[start:] if end < 0 else text[start:end]


def paper(text: str) -> Optional[str]:
    """The paper text of an extraction record's input (everything after ``PUBLICATION:``)."""
    return section(text, "PUBLICATION")


# --------------------------------------------------------------------------- per task
def _search_query(rec, out, reasons):
    if not (isinstance(out, dict) and set(out) == {"query", "conditions", "interventions"}
            and _str(out["query"]) and _str_list(out["conditions"]) and _str_list(out["interventions"])):
        reasons.append("output.format")


def _screening(rec, out, reasons):
    if not (isinstance(out, dict) and set(out) == {"criteria", "include"} and isinstance(out["include"], bool)
            and isinstance(out["criteria"], list)
            and all(isinstance(c, dict) and set(c) == {"criterion", "eligibility"} and c["eligibility"] in ELIGIBILITY
                    and c["criterion"] in CRITERION_NAMES for c in out["criteria"])):
        reasons.append("output.format")
        return
    named = [c["criterion"] for c in out["criteria"]]
    stated = section(rec.input, "CRITERIA", "STUDY") or ""
    asked = [n for n in CRITERION_NAMES[:-1] if re.search(rf"(?m)^{re.escape(n)}: ", stated)]
    if not asked and re.search(r"(?m)^Objectives: ", stated):
        asked = ["Objectives"]  # a review stating only its objectives is screened against them
    if not named or len(set(named)) != len(named) or sorted(named) != sorted(asked):
        reasons.append("criteria.mismatch")
    answers = [c["eligibility"] for c in out["criteria"]]
    if (out["include"] and "NO" in answers) or (not out["include"] and answers and all(a == "YES" for a in answers)):
        reasons.append("screening.inconsistent")


def _study_characteristics(rec, out, reasons):
    if not (isinstance(out, list) and out and all(
            isinstance(i, dict) and set(i) == {"name", "value"} and _str(i["name"])
            and (_str(i["value"]) or (_str_list(i["value"]) and i["value"])) for i in out)):
        reasons.append("output.format")
        return
    asked = {line[2:].split(":", 1)[0] for line in (section(rec.input, "FIELDS", "PUBLICATION") or "").split("\n")
             if line.startswith("- ")}
    names = [i["name"] for i in out]
    if len(set(names)) != len(names) or not set(names) <= asked or not set(names) <= set(FIELD_NAMES):
        reasons.append("field.unknown")
    if any(i["name"] == "Enrollment" and not is_number(i["value"]) for i in out):
        reasons.append("value.not_a_number")


def _arm_design(rec, out, reasons):
    if not (isinstance(out, list) and out and all(
            isinstance(a, dict) and set(a) == {"label", "type", "description", "interventionNames"}
            and _str(a["label"]) and (a["type"] is None or a["type"] in ARM_TYPES) and _opt_str(a["description"])
            and _str_list(a["interventionNames"]) for a in out)):
        reasons.append("output.format")


def _participant_statistics(rec, out, reasons):
    if not (isinstance(out, dict) and set(out) == {"results"} and isinstance(out["results"], list) and out["results"]
            and all(isinstance(r, dict) and set(r) == {"groupId", "value", "note"} and _str(r["groupId"])
                    and _str(r["value"]) and _opt_str(r["note"]) for r in out["results"])):
        reasons.append("output.format")
        return
    groups = {line[2:].split(":", 1)[0] for line in (section(rec.input, "GROUPS", "PUBLICATION") or "").split("\n")
              if line.startswith("- ")}
    if any(r["groupId"] not in groups for r in out["results"]):
        reasons.append("group.unknown")
    if any(not is_number(r["value"]) for r in out["results"]):
        reasons.append("value.not_a_number")
    if not re.search(r"(?m)^Unit: \S", section(rec.input, "MEASURE", "GROUPS") or ""):
        reasons.append("unit.missing")


def _trial_results(rec, out, reasons):
    keys = {"paramType", "unitOfMeasure", "timeFrame", "unitOfDenom", "denomValue", "results"}
    if not (isinstance(out, dict) and set(out) == keys and isinstance(out["results"], list) and out["results"]
            and all(isinstance(r, dict) and set(r) == {"value", "title"} and _str(r["value"]) and _opt_str(r["title"])
                    for r in out["results"])
            and all(_opt_str(out[k]) for k in ("paramType", "unitOfMeasure", "timeFrame", "unitOfDenom"))
            and (out["denomValue"] is None or isinstance(out["denomValue"], str))):
        reasons.append("output.format")
        return
    if any(not is_number(r["value"]) for r in out["results"]) or (
            out["denomValue"] is not None and not is_number(out["denomValue"])):
        reasons.append("value.not_a_number")
    if not _str(out["unitOfMeasure"]):
        reasons.append("unit.missing")


FORMAT_CHECKS = {SEARCH_QUERY: _search_query, SCREENING: _screening, STUDY_CHARACTERISTICS: _study_characteristics,
                 ARM_DESIGN: _arm_design, PARTICIPANT_STATISTICS: _participant_statistics,
                 TRIAL_RESULTS: _trial_results}


def grounding_values(task: str, out) -> list:
    """The target values whose presence in the paper text makes the grounding score (DESIGN §2):
    registry field values, arm labels and intervention names, reported values and denominators."""
    if task == STUDY_CHARACTERISTICS:
        return [v for i in out for v in (i["value"] if isinstance(i["value"], list) else [i["value"]])]
    if task == ARM_DESIGN:
        return [a["label"] for a in out] + [n for a in out for n in a["interventionNames"]]
    if task == PARTICIPANT_STATISTICS:
        return [r["value"] for r in out["results"]]
    if task == TRIAL_RESULTS:
        return [r["value"] for r in out["results"]] + [out["denomValue"]]
    return []


# --------------------------------------------------------------------------- the record
def check_record(rec: TaskRecord, settings: ValidationSettings = ValidationSettings()) -> list[str]:
    """Reasons to reject ``rec`` (see the module doc), in rule order; ``[]`` for a valid record."""
    reasons: list[str] = []
    if rec.id != record_id(rec.task, (rec.review_id, rec.pmid, rec.pmcid, rec.nct_id), rec.input, rec.output):
        reasons.append("id.mismatch")
    expected = [("system", SYSTEM_PROMPT), ("user", f"{rec.instruction}\n\n{rec.input}"), ("assistant", rec.output)]
    if [(m.role, m.content) for m in rec.messages] != expected or rec.system != SYSTEM_PROMPT:
        reasons.append("messages.mismatch")
    if rec.split not in {name for name, _ in SPLITS}:
        reasons.append("split.unknown")
    if not rec.sources:
        reasons.append("sources.missing")
    try:
        out = json.loads(rec.output)
    except (TypeError, ValueError):
        return reasons + ["output.not_json"]
    n_format = len(reasons)
    FORMAT_CHECKS[rec.task](rec, out, reasons)
    well_formed = "output.format" not in reasons[n_format:]
    g = rec.grounding
    if g is not None and not (isinstance(g, (int, float)) and 0.0 <= g <= 1.0):
        reasons.append("grounding.out_of_range")
    elif rec.task in EXTRACTION_TASKS:
        text = paper(rec.input)
        if well_formed and text is not None and Grounder(text).score(grounding_values(rec.task, out)) != g:
            reasons.append("grounding.mismatch")
        if (g or 0.0) < settings.min_grounding:
            reasons.append("grounding.below_threshold")
    return reasons
