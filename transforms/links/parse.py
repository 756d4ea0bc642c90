"""Review → study link tables and review criteria (pure; no Beam import).

Formats:
- CLEF-TAR qrels: ``TOPIC 0 PMID REL`` per line; a ``content`` qrels file lists final inclusions,
  an abstract-level one lists studies that passed title/abstract screening.
- SYNERGY ``*_ids.csv``: ``doi,pmid,openalex_id,label_included[,method]`` with URL-form ids.
- A plain table ``review_id, pmid, label`` (tab- or comma-separated, with header).
- CLEF-TAR protocol XML (``<root><Objectives>…<TypesofStudies>…``) and topic files
  (``Topic: CD… / Title: … / Objective: …``) → ``ReviewCriteria``.
- SYNERGY ``datasets.toml`` (each review's stated eligibility criteria) → ``ReviewCriteria``.
- A review's own PubMed record (structured abstract) → ``ReviewCriteria``.
- E-utilities ELink ``eLinkResult`` with ``pubmed_pubmed_refs`` link sets: a review's reference
  list as NCBI links it → ``ReviewLink`` label ``reference`` (other link names are not links here).
"""
from __future__ import annotations

import csv
import io
import re
import tomllib
from typing import IO, Iterator, Optional

from lxml import etree

from schemas.records import Article, DeadLetter, ReviewCriteria, ReviewLink
from transforms.textutil import UnsafeXmlError, excerpt, normalize_ws, safe_fromstring

STAGE = "links.parse"
_PMID_RE = re.compile(r"(?:pubmed(?:\.ncbi\.nlm\.nih\.gov)?/|^)(\d{1,9})/?$")
_COCHRANE_RE = re.compile(r"^CD\d{6}$")
LABELS = ("included", "screened_in", "excluded", "reference")
_LABEL_ALIASES = {
    "1": "included", "include": "included", "included": "included", "yes": "included", "true": "included",
    "0": "excluded", "exclude": "excluded", "excluded": "excluded", "no": "excluded", "false": "excluded",
    "screened_in": "screened_in", "abstract_included": "screened_in",
    "reference": "reference", "candidate": "reference",
}


def review_id_for(raw: str) -> str:
    """Namespace a review id: ``CD009069`` → ``cochrane:CD009069``, ``12345`` → ``pubmed:12345``."""
    raw = raw.strip()
    if ":" in raw:
        return raw
    if _COCHRANE_RE.match(raw):
        return f"cochrane:{raw}"
    if raw.isdigit():
        return f"pubmed:{raw}"
    return f"review:{raw}"


def pmid_from(value: Optional[str]) -> Optional[str]:
    """A PMID from ``123``, ``pubmed:123`` or ``https://pubmed.ncbi.nlm.nih.gov/123``; else ``None``."""
    if not value:
        return None
    value = value.strip()
    if value.lower().startswith("pubmed:"):
        value = value[7:]
    m = _PMID_RE.search(value)
    return m.group(1).lstrip("0") or None if m else None


def _text_lines(fileobj: IO[bytes]) -> Iterator[str]:
    yield from io.TextIOWrapper(fileobj, encoding="utf-8-sig", errors="replace", newline="")


def parse_qrels(fileobj: IO[bytes], source_file: str) -> Iterator[ReviewLink | DeadLetter]:
    """CLEF-TAR qrels → ``ReviewLink`` per line (``DeadLetter`` for a malformed line).

    A file whose name says ``content`` holds final inclusions (label ``included``); otherwise the
    qrels are abstract-level (label ``screened_in``). Relevance 0 → ``excluded``.
    """
    content_level = "content" in source_file.rsplit("/", 1)[-1].lower()
    source = "clef_qrels_content" if content_level else "clef_qrels_abstract"
    for i, line in enumerate(_text_lines(fileobj)):
        if not line.strip():
            continue
        parts = line.split()
        pmid = pmid_from(parts[2]) if len(parts) == 4 else None
        if pmid is None or not parts[3].lstrip("-").isdigit():
            yield DeadLetter(source_file, STAGE, "MalformedLine",
                             "expected 'TOPIC 0 PMID RELEVANCE'", excerpt(line), i)
            continue
        relevant = int(parts[3]) > 0
        label = ("included" if content_level else "screened_in") if relevant else "excluded"
        yield ReviewLink(review_id_for(parts[0]), pmid, label, source, source_file)


def _csv_rows(fileobj: IO[bytes]) -> tuple[list[str], Iterator[list[str]]]:
    lines = _text_lines(fileobj)
    first = next(lines, "")
    delimiter = "\t" if "\t" in first else ","
    header = [h.strip().lower() for h in next(csv.reader([first], delimiter=delimiter), [])]
    return header, csv.reader(lines, delimiter=delimiter)


def parse_synergy_csv(fileobj: IO[bytes], source_file: str) -> Iterator[ReviewLink | DeadLetter]:
    """SYNERGY ``<Review>_ids.csv`` → ``ReviewLink`` (review id ``synergy:<Review>``).

    Rows without a PMID (DOI/OpenAlex only) become ``DeadLetter(error_type="MissingField")``.
    """
    name = source_file.rsplit("/", 1)[-1]
    review = "synergy:" + re.sub(r"(_ids)?\.csv(\.gz)?$", "", name)
    header, rows = _csv_rows(fileobj)
    if "pmid" not in header or "label_included" not in header:
        yield DeadLetter(source_file, STAGE, "UnknownFormat",
                         "SYNERGY csv needs 'pmid' and 'label_included' columns", excerpt(",".join(header)), 0)
        return
    ip, il = header.index("pmid"), header.index("label_included")
    for i, row in enumerate(rows, start=1):
        if not row:
            continue
        pmid = pmid_from(row[ip]) if len(row) > ip else None
        label = _LABEL_ALIASES.get(row[il].strip().lower()) if len(row) > il else None
        if pmid is None or label is None:
            what = "PMID" if pmid is None else "label_included"
            yield DeadLetter(source_file, STAGE, "MissingField", f"row has no usable {what}",
                             excerpt(",".join(row)), i)
            continue
        yield ReviewLink(review, pmid, label, "synergy", source_file)


def parse_link_table(fileobj: IO[bytes], source_file: str) -> Iterator[ReviewLink | DeadLetter]:
    """A ``review_id, pmid, label`` table (TSV or CSV with header) → ``ReviewLink``."""
    header, rows = _csv_rows(fileobj)
    try:
        ir, ip, il = header.index("review_id"), header.index("pmid"), header.index("label")
    except ValueError:
        yield DeadLetter(source_file, STAGE, "UnknownFormat",
                         "link table needs 'review_id', 'pmid' and 'label' columns",
                         excerpt("\t".join(header)), 0)
        return
    for i, row in enumerate(rows, start=1):
        if not row or not any(c.strip() for c in row):
            continue
        cells = row + [""] * (max(ir, ip, il) + 1 - len(row))
        pmid = pmid_from(cells[ip])
        label = _LABEL_ALIASES.get(cells[il].strip().lower())
        if not cells[ir].strip() or pmid is None or label is None:
            yield DeadLetter(source_file, STAGE, "MissingField",
                             "row needs a review_id, a numeric pmid and a known label "
                             f"({', '.join(LABELS)})", excerpt("\t".join(row)), i)
            continue
        yield ReviewLink(review_id_for(cells[ir]), pmid, label, "link_table", source_file)


def parse_elink_refs(fileobj: IO[bytes], source_file: str) -> Iterator[ReviewLink | DeadLetter]:
    """An ELink response → one ``reference`` link per (review PMID, cited PMID) of
    ``pubmed_pubmed_refs`` link sets; a review is named by its PMID (``pubmed:<pmid>``)."""
    data = fileobj.read()
    try:
        root = safe_fromstring(data)
    except (etree.XMLSyntaxError, UnsafeXmlError) as e:
        yield DeadLetter(source_file, STAGE, type(e).__name__, str(e)[:500], excerpt(data[:300]), None)
        return
    err = root.findtext("ERROR")
    if root.tag != "eLinkResult" or err:
        yield DeadLetter(source_file, STAGE, "ELinkError", (err or f"root <{root.tag}>").strip()[:500],
                         excerpt(data[:300]), None)
        return
    for i, ls in enumerate(root.iterfind("LinkSet")):
        sources = [x.text.strip() for x in ls.iterfind("IdList/Id") if x.text and x.text.strip().isdigit()]
        if len(sources) != 1:
            yield DeadLetter(source_file, STAGE, "AmbiguousLinkSet",
                             f"a LinkSet needs exactly one source PMID, found {len(sources)} "
                             "(request ELink with one id= per PMID)", excerpt(etree.tostring(ls)[:300]), i)
            continue
        seen = set()
        for db in ls.iterfind("LinkSetDb"):
            if (db.findtext("LinkName") or "").strip() != "pubmed_pubmed_refs":
                continue
            for x in db.iterfind("Link/Id"):
                pmid = (x.text or "").strip()
                if pmid.isdigit() and pmid not in seen and pmid != sources[0]:
                    seen.add(pmid)
                    yield ReviewLink(f"pubmed:{sources[0]}", pmid, "reference", "elink_refs", source_file)


# --------------------------------------------------------------------------- criteria
_PROTOCOL_FIELDS = {
    "objectives": "objectives", "typesofstudies": "study_types", "typesofparticipants": "population",
    "typesofinterventions": "intervention", "typesofoutcomemeasures": "outcome",
}
_COMPARISON_HEADING = re.compile(r"\bComparisons?\b:?\s+(?=[A-Z])")  # "... Comparison Administration of ..."
_COMPARISON_SENTENCE = re.compile(r"\b(compar\w*|control group|placebo)\b", re.I)


def _review_id_from_name(source_file: str) -> str:
    stem = source_file.rsplit("/", 1)[-1].split(".", 1)[0]
    return review_id_for(stem)


def parse_clef_protocol(fileobj: IO[bytes], source_file: str) -> Iterator[ReviewCriteria | DeadLetter]:
    """CLEF-TAR protocol XML → one ``ReviewCriteria`` (review id from the file name ``CDnnnnnn``).

    ``TypesofInterventions`` text of the form ``Intervention … Comparison …`` is split into the
    intervention and comparison parts.
    """
    data = fileobj.read()
    try:
        root = safe_fromstring(data)
    except (etree.XMLSyntaxError, UnsafeXmlError) as e:
        yield DeadLetter(source_file, STAGE, type(e).__name__, str(e), excerpt(data), 0)
        return
    values: dict[str, Optional[str]] = {}
    for child in root:
        if not isinstance(child.tag, str):
            continue
        key = _PROTOCOL_FIELDS.get(etree.QName(child).localname.lower())
        if key:
            values[key] = normalize_ws("".join(child.itertext()))
    interv, comparison = split_comparison(values.get("intervention"))
    if not any(values.values()):
        yield DeadLetter(source_file, STAGE, "MissingField", "protocol has no criteria sections",
                         excerpt(data), 0)
        return
    yield ReviewCriteria(
        review_id=_review_id_from_name(source_file), title=None,
        objectives=_strip_language_banner(values.get("objectives")),
        population=values.get("population"), intervention=interv,
        comparison=comparison, outcome=values.get("outcome"), study_types=values.get("study_types"),
        source="clef_protocol", source_file=source_file)


_LANGUAGES = ("English", "Español", "Français", "Deutsch", "Português", "Hrvatski", "Bahasa Malaysia",
              "Bahasa Indonesia", "Русский", "فارسی", "ภาษาไทย", "简体中文", "繁體中文", "日本語", "한국어",
              "Polski", "Tiếng Việt", "Italiano", "Nederlands", "Čeština", "Magyar", "Română", "Türkçe")
_BANNER = re.compile(r"^available in(?: (?:" + "|".join(map(re.escape, _LANGUAGES)) + r"))+\s*")


def split_comparison(text: Optional[str]) -> tuple[Optional[str], Optional[str]]:
    """(intervention, comparison) from a protocol's TypesofInterventions text.

    Cochrane protocols either use headings ("Intervention … Comparison …") or sentences ("The
    intervention was …. The comparison was …"); sentences that name the comparator go to comparison.
    """
    if not text:
        return None, None
    parts = _COMPARISON_HEADING.split(text, maxsplit=1)
    if len(parts) == 2:
        interv = re.sub(r"^Interventions?\b:?\s*", "", parts[0].strip())
        return normalize_ws(interv), normalize_ws(parts[1])
    interv, comp = [], []
    for sentence in _SENTENCE_SPLIT.split(text):
        (comp if _COMPARISON_SENTENCE.search(sentence) and interv else interv).append(sentence.strip())
    return normalize_ws(" ".join(interv)), normalize_ws(" ".join(comp))


def _strip_language_banner(text: Optional[str]) -> Optional[str]:
    """Cochrane pages scraped into CLEF-TAR start with "available in English Español ..."."""
    if text:
        text = _BANNER.sub("", text)
    return text or None


def parse_clef_topic(fileobj: IO[bytes], source_file: str) -> Iterator[ReviewCriteria | DeadLetter]:
    """CLEF-TAR topic file (``Topic:``, ``Title:``, ``Objective:``, optional ``Query:``) → criteria."""
    text = fileobj.read().decode("utf-8", errors="replace")
    fields: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        m = re.match(r"^(Topic|Title|Objective|Query|Pids|Type):\s*(.*)$", line.strip())
        if m:
            current = m.group(1).lower()
            fields.setdefault(current, []).append(m.group(2))
        elif current:
            fields[current].append(line)
    topic = normalize_ws(" ".join(fields.get("topic", [])))
    if not topic:
        yield DeadLetter(source_file, STAGE, "MissingField", "topic file has no 'Topic:' line",
                         excerpt(text), 0)
        return
    yield ReviewCriteria(
        review_id=review_id_for(topic), title=normalize_ws(" ".join(fields.get("title", []))),
        objectives=_strip_language_banner(normalize_ws(" ".join(fields.get("objective", [])))),
        population=None, intervention=None, comparison=None, outcome=None, study_types=None,
        source="clef_topic", source_file=source_file)


_SECTION_ROLES = (
    ("objectives", re.compile(r"^(OBJECTIVES?|AIMS?|PURPOSE|BACKGROUND AND OBJECTIVES?)$")),
    ("selection", re.compile(r"^(SELECTION CRITERIA|ELIGIBILITY CRITERIA|STUDY SELECTION|INCLUSION CRITERIA|"
                             r"STUDY ELIGIBILITY CRITERIA.*|ELIGIBILITY)$")),
)
_PICO_CUES = (
    ("study_types", re.compile(r"\b(randomi[sz]ed|RCTs?|trials?|cohort|study design|studies)\b", re.I)),
    ("population", re.compile(r"\b(participants?|patients?|people|adults?|children|women|men|population|"
                              r"individuals|persons)\b", re.I)),
    ("comparison", re.compile(r"\b(compar\w*|placebo|control|usual care|versus|vs\.?)\b", re.I)),
    ("intervention", re.compile(r"\b(interventions?|treatment|therapy|received|administ\w*)\b", re.I)),
    ("outcome", re.compile(r"\b(outcomes?|endpoints?|measured|mortality|incidence)\b", re.I)),
)
_SENTENCE_SPLIT = re.compile(r"(?<=[.;])\s+(?=[A-Z])")
_PICO_LABELS = re.compile(
    r"(?:^|(?<=[\s.;]))(?P<label>Populations?|Participants|Patients|Interventions?|Comparators?|Comparisons?|"
    r"Controls?|Outcomes?(?: measures)?|Study designs?|Types? of studies)\s*:", re.I | re.M)
_LABEL_FIELD = (("popul", "population"), ("partic", "population"), ("patient", "population"),
                ("interv", "intervention"), ("compar", "comparison"), ("control", "comparison"),
                ("outcome", "outcome"), ("study design", "study_types"), ("type", "study_types"))
_EXCLUSION_HEADING = re.compile(r"\bExclusion criteria\b:?", re.I)
PICO_FIELDS = ("population", "intervention", "comparison", "outcome", "study_types")


def pico_from_text(text: str) -> dict[str, Optional[str]]:
    """Map free eligibility text to PICO fields (+ ``exclusion``).

    Labelled text ("Population: …", "Comparator: …", "Study Design: …") is used as labelled; an
    "Exclusion criteria" part goes to ``exclusion``; otherwise each sentence goes to the first
    PICO element whose cue words it contains (study design, population, comparison,
    intervention, outcome, in that order).
    """
    out: dict[str, list[str]] = {k: [] for k in (*PICO_FIELDS, "exclusion")}
    parts = _EXCLUSION_HEADING.split(text, maxsplit=1)
    inclusion = parts[0]
    if len(parts) == 2:
        out["exclusion"].append(parts[1])
    labels = list(_PICO_LABELS.finditer(inclusion))
    if labels:
        for m, nxt in zip(labels, labels[1:] + [None]):
            label = m.group("label").lower()
            name = next(f for prefix, f in _LABEL_FIELD if label.startswith(prefix))
            out[name].append(inclusion[m.end():nxt.start() if nxt else len(inclusion)])
    else:
        for sentence in _SENTENCE_SPLIT.split(normalize_ws(inclusion) or ""):
            for key, cue in _PICO_CUES:
                if cue.search(sentence):
                    out[key].append(sentence.strip())
                    break
    return {k: normalize_ws(" ".join(v)) for k, v in out.items()}


def criteria_from_article(article: Article) -> Optional[ReviewCriteria]:
    """Criteria of a review from its own PubMed record: OBJECTIVES and SELECTION CRITERIA sections
    (mapped to PICO by ``pico_from_text``). ``None`` when the abstract has neither section."""
    objectives, selection = [], []
    for sec in article.abstract_sections:
        label = (sec.label or "").strip().upper()
        for role, pattern in _SECTION_ROLES:
            if pattern.match(label):
                (objectives if role == "objectives" else selection).append(sec.text)
    if not objectives and not selection:
        return None
    pico = pico_from_text(" ".join(selection))
    return ReviewCriteria(
        review_id=f"pubmed:{article.pmid}", title=article.title, objectives=" ".join(objectives) or None,
        source="review_abstract", source_file=article.source_file, **pico)


def parse_synergy_metadata(fileobj: IO[bytes], source_file: str) -> Iterator[ReviewCriteria | DeadLetter]:
    """SYNERGY ``datasets.toml`` → ``ReviewCriteria`` (``synergy:<key>``) for every dataset that
    states its eligibility criteria; a dataset without them is no record (nothing to screen with)."""
    data = fileobj.read()
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        yield DeadLetter(source_file, STAGE, type(e).__name__, str(e), excerpt(data), None)
        return
    for i, dataset in enumerate(doc.get("datasets", [])):
        key = dataset.get("key")
        text = (dataset.get("publication") or {}).get("eligibility_criteria")
        if not key:
            yield DeadLetter(source_file, STAGE, "MissingField", "dataset has no key", excerpt(str(dataset)), i)
            continue
        if not text:
            continue
        pico = pico_from_text(text)
        yield ReviewCriteria(review_id=f"synergy:{key}", title=None, objectives=None,
                             source="synergy_metadata", source_file=source_file, **pico)


def merge_criteria(items: list[ReviewCriteria]) -> Optional[ReviewCriteria]:
    """One ``ReviewCriteria`` per review: protocol fields first, then topic, then the abstract."""
    if not items:
        return None
    rank = {"clef_protocol": 0, "synergy_metadata": 0, "clef_topic": 1, "review_abstract": 2}
    items = sorted(items, key=lambda c: (rank.get(c.source, 9), c.source_file))
    merged = {}
    for name in ("title", "objectives", "population", "intervention", "comparison", "outcome", "study_types",
                 "exclusion"):
        merged[name] = next((getattr(c, name) for c in items if getattr(c, name)), None)
    return ReviewCriteria(review_id=items[0].review_id, source="+".join(sorted({c.source for c in items})),
                          source_file=";".join(sorted({c.source_file for c in items})), **merged)
