"""What every task builder shares: record assembly, ids, splits, paper text and grounding (pure)."""
from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Iterable, Optional

from schemas.records import Article, FullText, Message, TaskRecord
from transforms.textutil import normalize_ws

SYSTEM_PROMPT = ("You are a meticulous assistant for systematic reviews of clinical evidence. "
                 "Answer only from the text you are given and reply in the exact JSON format requested.")
SPLITS = (("train", 80), ("validation", 90), ("test", 100))
TASKS = ("search_query", "screening", "study_characteristics", "arm_design",
         "participant_statistics", "trial_results")


@dataclass(frozen=True)
class BuildContext:
    """Settings shared by all builders of one run."""
    created_at: str  # ISO date of the snapshot
    max_input_chars: int = 0  # 0 = no limit; otherwise paper text is cut at this many characters


def dumps(obj) -> str:
    """Canonical JSON for targets: stable key order as given, no ASCII escaping."""
    return json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))


def split_for(key: str) -> str:
    """train/validation/test (80/10/10) from a hash of ``key`` (a review or trial id), never random."""
    bucket = int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16) % 100
    return next(name for name, upper in SPLITS if bucket < upper)


def record_id(task: str, ids: Iterable[Optional[str]], input_text: str, output: str) -> str:
    """Stable id: hash of the task, its source ids, the input (which measure, group, criteria…)
    and the target."""
    h = hashlib.sha256("\x1f".join([task, *[i or "" for i in ids], input_text, output]).encode("utf-8"))
    return f"{task}:{h.hexdigest()[:24]}"


def make_record(ctx: BuildContext, *, task: str, instruction: str, input_text: str, output: str,
                split_key: str, split: Optional[str] = None, review_id=None, pmid=None, pmcid=None,
                nct_id=None, evidence=None,
                grounding=None, sources=(), source_versions=()) -> TaskRecord:
    """Assemble a ``TaskRecord`` with its chat-form ``messages``. ``split`` is the split assigned to the
    record's entities (``transforms.joins.splits``); without it, the hash of ``split_key``."""
    user = f"{instruction}\n\n{input_text}"
    return TaskRecord(
        id=record_id(task, (review_id, pmid, pmcid, nct_id), input_text, output), task=task, system=SYSTEM_PROMPT,
        instruction=instruction, input=input_text, output=output,
        messages=[Message("system", SYSTEM_PROMPT), Message("user", user), Message("assistant", output)],
        review_id=review_id, pmid=pmid, pmcid=pmcid, nct_id=nct_id, evidence=evidence,
        grounding=grounding, split=split or split_for(split_key), sources=sorted(set(sources)),
        source_versions=sorted(set(source_versions)), created_at=ctx.created_at)


# --------------------------------------------------------------------------- paper text
def _table_text(table) -> str:
    head = " ".join(x for x in (table.label, table.caption) if x)
    rows = "\n".join(" | ".join(cell for cell in row) for row in table.rows)
    return f"{head}\n{rows}".strip()


def paper_text(article: Optional[Article], fulltext: Optional[FullText],
               max_chars: int = 0) -> tuple[Optional[str], Optional[str]]:
    """(text, evidence) for a publication: PMC full text when it has a body, else title + abstract.

    evidence is ``"fulltext"`` or ``"abstract"``; (None, None) when there is no text at all.
    """
    title = (fulltext.title if fulltext and fulltext.title else None) or (article.title if article else None)
    abstract = (article.abstract if article and article.abstract else None) or (
        fulltext.abstract if fulltext else None)
    if fulltext is not None and fulltext.sections:
        parts = [f"Title: {title}" if title else "", f"Abstract: {abstract}" if abstract else "",
                 fulltext.body_text, "\n\n".join(_table_text(t) for t in fulltext.tables)]
        text, evidence = "\n\n".join(p for p in parts if p), "fulltext"
    elif title or abstract:
        text = "\n\n".join(p for p in (f"Title: {title}" if title else "",
                                       f"Abstract: {abstract}" if abstract else "") if p)
        evidence = "abstract"
    else:
        return None, None
    if max_chars and len(text) > max_chars:
        text = text[:max_chars]
    return text, evidence


# --------------------------------------------------------------------------- grounding
_NUMBER = re.compile(r"(?<![\w.])[-−]?\d+(?:[.,]\d+)*(?![\w])")
_TYPE_PREFIX = re.compile(r"^(Drug|Device|Biological|Procedure|Radiation|Behavioral|Genetic|Dietary Supplement|"
                          r"Combination Product|Diagnostic Test|Other):\s*", re.I)


@functools.lru_cache(maxsize=1 << 16)  # a paper's numbers repeat ("1", "95", "0.05"): most tokens are hits
def _num_key(token: str) -> Optional[str]:
    token = token.replace("−", "-").replace(",", "")
    try:
        value = float(token)
    except ValueError:
        return None
    return repr(round(value, 6))


def number_keys(text: str) -> set[str]:
    """Normalised numbers occurring in ``text`` (``1,200`` and ``1200.0`` both → ``1200.0``)."""
    keys = {_num_key(token) for token in _NUMBER.findall(text)}
    keys.discard(None)
    return keys


_WHOLE_NUMBER = re.compile(r"[-−]?\d+(?:[.,]\d+)*")


def _is_number(value: str) -> bool:
    return _WHOLE_NUMBER.fullmatch(value.strip()) is not None


@functools.lru_cache(maxsize=16)
def _text_numbers(text: str) -> frozenset[str]:
    """``number_keys`` of one paper text, remembered for the next few texts: the records of one
    study (arms, baseline measures, outcomes) are built and validated one after another over
    the same text."""
    return frozenset(number_keys(text))


@functools.lru_cache(maxsize=16)
def _text_lowered(text: str) -> str:
    """``text`` with white-space runs made one space (ends stripped) and lower-cased, remembered
    like ``_text_numbers``: a study's records and their validation ground against the same text."""
    return (normalize_ws(text) or "").lower()


class Grounder:
    """Checks which target values literally occur in one paper text."""

    def __init__(self, text: str):
        self._lower = _text_lowered(text)
        self._numbers = _text_numbers(text)

    def found(self, value: str) -> bool:
        value = _TYPE_PREFIX.sub("", value.strip())
        if not value:
            return False
        if _is_number(value):
            return _num_key(value) in self._numbers
        return normalize_ws(value).lower() in self._lower

    def score(self, values: Iterable[Optional[str]]) -> Optional[float]:
        """Share of non-empty values found; ``None`` when there are none."""
        values = [v for v in values if v and v.strip()]
        if not values:
            return None
        return round(sum(self.found(v) for v in values) / len(values), 4)


# ClinicalTrials.gov's own display wording where it is not just the enum in title case.
DISPLAY = {
    "COUNT_OF_PARTICIPANTS": "Count of Participants", "COUNT_OF_UNITS": "Count of Units",
    "GEOMETRIC_LEAST_SQUARES_MEAN": "Geometric Least Squares Mean", "LEAST_SQUARES_MEAN": "Least Squares Mean",
    "STANDARD_DEVIATION": "Standard Deviation", "STANDARD_ERROR": "Standard Error",
    "INTER_QUARTILE_RANGE": "Inter-Quartile Range", "FULL_RANGE": "Full Range",
    "GEOMETRIC_COEFFICIENT": "Geometric Coefficient of Variation",
    "CONFIDENCE_80": "80% Confidence Interval", "CONFIDENCE_90": "90% Confidence Interval",
    "CONFIDENCE_95": "95% Confidence Interval", "CONFIDENCE_975": "97.5% Confidence Interval",
    "CONFIDENCE_99": "99% Confidence Interval", "CONFIDENCE_OTHER": "Other Confidence Interval",
    "NON_RANDOMIZED": "Non-Randomized", "NONE": "None (Open Label)",
    "SINGLE_GROUP": "Single Group Assignment", "PARALLEL": "Parallel Assignment",
    "CROSSOVER": "Crossover Assignment", "FACTORIAL": "Factorial Assignment",
    "SEQUENTIAL": "Sequential Assignment", "ECT": "Educational/Counseling/Training",
    "NA": "Not Applicable",
}


def humanize(enum_value: Optional[str]) -> Optional[str]:
    """Registry enum to ClinicalTrials.gov's display words: ``ACTIVE_COMPARATOR`` → ``Active
    Comparator``, ``PHASE2`` → ``Phase 2``, ``COUNT_OF_PARTICIPANTS`` → ``Count of Participants``.
    Values that are already display text (``"Full Range"``) are returned as they are."""
    if not enum_value:
        return None
    if not re.fullmatch(r"[A-Z0-9_]+", enum_value):
        return enum_value
    if enum_value in DISPLAY:
        return DISPLAY[enum_value]
    m = re.fullmatch(r"(EARLY_)?PHASE(\d)", enum_value)
    if m:
        return ("Early Phase " if m.group(1) else "Phase ") + m.group(2)
    return " ".join(w.capitalize() for w in enum_value.split("_"))


def source_tags(article: Optional[Article], fulltext: Optional[FullText], trial=None) -> tuple[list, list]:
    """(sources, source_versions) for a record: which files and which record versions made it."""
    sources, versions = [], []
    if article is not None:
        sources.append(article.source_file)
        versions.append(f"pubmed:{article.pmid}.v{article.version}@{article.date_revised or ''}")
    if fulltext is not None:
        sources.append(fulltext.source_file)
        versions.append(f"{fulltext.id}")
    if trial is not None:
        sources.append(trial.source_file)
        versions.append(f"ctgov:{trial.nct_id}@{trial.last_update_posted or ''}")
    return sources, versions
