"""The data card of a build output: statistics, the card's markdown, a terminal table and plots.

Pure module (no Beam, no file access): ``pipelines/stats.py`` reads the output's files and feeds
them in; everything here works on pyarrow record batches, dicts and bytes.

- ``CardData``: what the card is made of. ``add_records(data, batch)`` accumulates a record batch
  of task shards (``RECORD_COLUMNS``); ``add_articles``, ``add_fulltexts`` and ``add_links`` add
  what the corpus tables say about the records' papers (publication year, licence) and links.
- ``summary_rows`` / ``render_summary``: the per-task terminal table.
- ``render_card``: ``README.md`` in the Hugging Face dataset-card form (YAML front matter with one
  config per task, then prose and tables).
- ``render_plots``: ``{name: PNG bytes}`` drawn with matplotlib's Agg renderer, byte-identical
  for identical data; each PNG's ``Description`` text chunk holds the plotted numbers as JSON.

``FIELD_DESCRIPTIONS`` describes every ``TaskRecord`` field, ``TASK_SUMMARIES`` every task.
"""
from __future__ import annotations

import dataclasses
import io
import json
import re
import statistics
import typing
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

import pyarrow.compute as pc
import yaml

from schemas.arrow import arrow_schema, optional_inner
from schemas.records import TaskRecord
from transforms.tasks.common import SPLITS, TASKS

RECORD_COLUMNS = ("task", "split", "evidence", "grounding", "pmid", "pmcid", "review_id", "nct_id", "input")
ARTICLE_COLUMNS = ("pmid", "pub_year", "doi")
FULLTEXT_COLUMNS = ("pmcid", "license", "license_url")
LINK_COLUMNS = ("kind", "label", "sources")
SPLIT_NAMES = tuple(name for name, _ in SPLITS)
EXTRACTION_TASKS = ("study_characteristics", "arm_design", "participant_statistics", "trial_results")
EVIDENCE_KINDS = ("fulltext", "abstract", "none")
# The ids whose records the split assignment keeps in one split (transforms/joins/splits.py), with how
# the card names them: reviews, publications, their full texts, trials.
SPLIT_ENTITIES = (("review_id", "reviews", "`review_id`"), ("pmid", "publications", "`pmid`"),
                  ("pmcid", "full texts", "`pmcid`"), ("nct_id", "trials", "`nct_id`"))
# The synthetic generator (synth/) gives every article a DOI under this prefix, which Crossref
# reserves for examples: no real article has one.
SYNTHETIC_DOI_PREFIX = "10.5555/"

FIELD_DESCRIPTIONS = {
    "id": "Stable record id: `<task>:` + a hash of the task, the source ids, the input and the target. "
          "The same record gets the same id in every build.",
    "task": "One of the six task names (also the `task=<task>` folder of the shard).",
    "system": "System prompt shared by all records.",
    "instruction": "What the task asks, in words (the LEADS prompt of the task).",
    "input": "The material to work on: review criteria, a candidate's title/abstract, or the paper text "
             "(PMC full text with tables, or title + abstract) plus the field, measure or outcome asked for.",
    "output": "The target: a JSON string in the LEADS output format of the task.",
    "messages": "The same record in chat form: system, user (`instruction` + blank line + `input`), "
                "assistant (`output`).",
    "review_id": "The systematic review (`pubmed:<pmid>`, `cochrane:<id>`, `synergy:<name>`); "
                 "review tasks only.",
    "pmid": "PubMed id of the paper the record is about (the candidate study or the trial report).",
    "pmcid": "PMC id of that paper's full text, when the corpus has one.",
    "nct_id": "ClinicalTrials.gov id of the registry record that gives the target (extraction tasks) "
              "or that the candidate study reports (screening).",
    "evidence": "`fulltext` when the paper text is the PMC full text, `abstract` when it is title + abstract; "
                "empty for `search_query`.",
    "grounding": "Share of the target's values (numbers, names) that occur literally in the paper text "
                 "(extraction tasks); recall of the query over the included studies (`search_query`); "
                 "empty for `screening`.",
    "split": "`train`, `validation` or `test` (80/10/10 by hashes of ids), assigned so that no review, trial "
             "or publication is in two splits, over all tasks (see *Splits*).",
    "sources": "The input files the record was built from.",
    "source_versions": "The versions of the source records used (`pubmed:<pmid>.v<version>@<date revised>`, "
                       "`pmc:<pmcid>`, `ctgov:<nct>@<last update posted>`).",
    "created_at": "Snapshot date of the build (ISO date).",
}

TASK_SUMMARIES = {
    "search_query": "Write a PubMed boolean query for a review question (PICO). Target: `query`, "
                    "`conditions`, `interventions`, from the registry records of the review's included "
                    "studies (else their major MeSH terms).",
    "screening": "Judge a candidate study's title and abstract against a review's criteria. Target: "
                 "per-criterion eligibility (`YES`/`PARTIAL`/`NO`/`UNCERTAIN`) and `include`, from the "
                 "review's link labels (included, screened in, excluded) and from trials of the same "
                 "condition that test other interventions.",
    "study_characteristics": "Extract study characteristics (design, phase, allocation, masking, "
                             "enrollment, conditions, interventions, sponsor, dates, …) from a trial "
                             "publication. Target: the linked registry record.",
    "arm_design": "Describe every arm of a trial (label, type, description, interventions). Target: the "
                  "registry's arm groups.",
    "participant_statistics": "Report one baseline measure for every group. Target: the registry's "
                              "baseline characteristics.",
    "trial_results": "Report the result of one outcome for one group. Target: the registry's outcome "
                     "measures.",
}

SOURCE_TERMS = (
    ("PubMed/MEDLINE citations (titles, abstracts, MeSH)",
     "[NLM Terms and Conditions](https://www.nlm.nih.gov/databases/download/terms_and_conditions.html). "
     "Citation data are provided by NLM; abstracts may be protected by the copyright of their publishers."),
    ("PMC full texts (the Open Access subset)",
     "Each article carries its own licence (CC BY, CC BY-NC, CC0, …; see the table below and the "
     "[PMC Open Access subset](https://pmc.ncbi.nlm.nih.gov/tools/openftlist/)). **The licence of a record "
     "whose `evidence` is `fulltext` is the licence of that article** (`pmcid`); non-commercial licences "
     "restrict what the record may be used for."),
    ("ClinicalTrials.gov registry records (the targets of the extraction tasks)",
     "[ClinicalTrials.gov Terms and Conditions](https://clinicaltrials.gov/about-site/terms-conditions): "
     "records are submitted by sponsors and investigators and published by NLM, and are generally in the "
     "public domain. Acknowledge ClinicalTrials.gov as the source and say when the records were retrieved "
     "(`source_versions` gives each registry record's last update date)."),
    ("Review → study links (CLEF TAR qrels, SYNERGY, link tables, reference lists)",
     "The terms of each link collection apply to the screening labels derived from it."),
)

PLOTS = {  # name: (alt text, figure size in inches at DPI)
    "records_per_task": ("Records per task", (8.0, 4.0)),
    "input_length": ("Input length per task (characters)", (12.0, 6.5)),
    "grounding": ("Grounding of the extraction tasks", (10.0, 6.5)),
    "evidence": ("Evidence per task: full text or abstract", (9.0, 4.5)),
    "years": ("Publication year of the records' papers", (10.0, 4.5)),
}
DPI = 100
BAR_COLOR = "#4c72b0"
EVIDENCE_COLORS = {"fulltext": "#4c72b0", "abstract": "#dd8452", "none": "#bbbbbb"}
TASK_COLORS = dict(zip(TASKS, ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860")))


# --------------------------------------------------------------------------- statistics
@dataclass
class TaskStats:
    """What the card says about the records of one task."""
    records: int = 0
    splits: Counter = field(default_factory=Counter)
    evidence: Counter = field(default_factory=Counter)  # fulltext | abstract | none
    grounding: array = field(default_factory=lambda: array("d"))
    input_chars: array = field(default_factory=lambda: array("q"))
    papers: Counter = field(default_factory=Counter)  # pmid of the record's paper → records
    no_paper: int = 0  # records without a PubMed paper (e.g. a review known only by a Cochrane id)
    fulltext_pmcids: Counter = field(default_factory=Counter)  # pmcid → records with full-text evidence


@dataclass
class CardData:
    manifest: dict
    tasks: dict = field(default_factory=lambda: {t: TaskStats() for t in TASKS})
    shard_files: Counter = field(default_factory=Counter)  # task folder → Parquet files
    paper_splits: dict = field(default_factory=dict)  # pmid → splits of its records, over all tasks
    # review_id | pmid | pmcid | nct_id → {id: splits of the records that name it}, over all tasks
    entity_splits: dict = field(default_factory=lambda: {k: {} for k, _, _ in SPLIT_ENTITIES})
    years: dict = field(default_factory=dict)  # pmid → publication year (papers of records only)
    articles: Optional[int] = None  # rows of tables/articles; None when the table is absent
    synthetic_articles: int = 0
    licences: dict = field(default_factory=dict)  # pmcid → licence name (full texts of records only)
    links: Optional[Counter] = None  # (kind, label or "") → links; None when tables/links is absent
    link_sources: Counter = field(default_factory=Counter)  # (kind, source) → links
    screening_answers: Counter = field(default_factory=Counter)  # criterion answer → count
    screening_include: Counter = field(default_factory=Counter)  # include → records


def paper_pmid(pmid: Optional[str], review_id: Optional[str]) -> Optional[str]:
    """The PubMed paper a record is about: its study, else its review when that is a PubMed record."""
    if pmid:
        return pmid
    if review_id and review_id.startswith("pubmed:"):
        return review_id.split(":", 1)[1]
    return None


def add_records(data: CardData, batch) -> None:
    """Accumulate a pyarrow record batch of task records (at least ``RECORD_COLUMNS``)."""
    chars = pc.utf8_length(batch.column("input")).to_pylist()
    cols = [batch.column(c).to_pylist() for c in ("task", "split", "evidence", "grounding", "pmid",
                                                  "pmcid", "review_id", "nct_id")]
    for n, (task, split, evidence, grounding, pmid, pmcid, review_id, nct_id) in zip(chars, zip(*cols)):
        s = data.tasks.get(task)
        if s is None:
            s = data.tasks[task] = TaskStats()
        s.records += 1
        s.splits[split] += 1
        s.evidence[evidence or "none"] += 1
        if grounding is not None:
            s.grounding.append(grounding)
        s.input_chars.append(n)
        paper = paper_pmid(pmid, review_id)
        if paper is None:
            s.no_paper += 1
        else:
            s.papers[paper] += 1
            data.paper_splits.setdefault(paper, set()).add(split)
        if evidence == "fulltext" and pmcid:
            s.fulltext_pmcids[pmcid] += 1
        for kind, value in (("review_id", review_id), ("pmid", pmid), ("pmcid", pmcid), ("nct_id", nct_id)):
            if value:
                data.entity_splits[kind].setdefault(value, set()).add(split)


def add_screening_targets(data: CardData, batch) -> None:
    """Accumulate the ``output`` column of a batch of screening records: answers and include."""
    for output in batch.column("output").to_pylist():
        target = json.loads(output)
        data.screening_include[bool(target.get("include"))] += 1
        for c in target.get("criteria", ()):
            data.screening_answers[c.get("eligibility")] += 1


def _answers(data: CardData) -> str:
    return ", ".join(f"{a} {data.screening_answers[a]}" for a in ("YES", "PARTIAL", "NO", "UNCERTAIN"))


def add_articles(data: CardData, batch) -> None:
    """Accumulate a batch of ``tables/articles`` (``ARTICLE_COLUMNS``): years of the records'
    papers, and how many articles the synthetic generator made."""
    data.articles = (data.articles or 0) + batch.num_rows
    for pmid, year, doi in zip(*(batch.column(c).to_pylist() for c in ARTICLE_COLUMNS)):
        if year is not None and pmid in data.paper_splits:
            data.years[pmid] = year
        if doi and doi.startswith(SYNTHETIC_DOI_PREFIX):
            data.synthetic_articles += 1


def add_fulltexts(data: CardData, batch) -> None:
    """Accumulate a batch of ``tables/fulltexts`` (``FULLTEXT_COLUMNS``): licences of the full texts
    that records use."""
    wanted = set()
    for s in data.tasks.values():
        wanted.update(s.fulltext_pmcids)
    for pmcid, text, url in zip(*(batch.column(c).to_pylist() for c in FULLTEXT_COLUMNS)):
        if pmcid in wanted:
            data.licences[pmcid] = licence_name(url, text)


def add_links(data: CardData, batch) -> None:
    """Accumulate a batch of ``tables/links`` (``LINK_COLUMNS``): links by kind and label, and by source."""
    if data.links is None:
        data.links = Counter()
    for kind, label, sources in zip(*(batch.column(c).to_pylist() for c in LINK_COLUMNS)):
        data.links[(kind, label or "")] += 1
        for source in sources or ():
            data.link_sources[(kind, source)] += 1


_CC_URL = re.compile(r"creativecommons\.org/licenses/([a-z-]+)/(\d+(?:\.\d+)?)(?:/([a-z]{2,3}))?", re.I)
_CC_ZERO = re.compile(r"creativecommons\.org/publicdomain/zero/(\d+(?:\.\d+)?)", re.I)
_CC_TEXT = re.compile(r"\bCC[ -]?(BY(?:-(?:NC|ND|SA))*)(?:[ -](\d\.\d))?\b")


def licence_name(url: Optional[str], text: Optional[str]) -> str:
    """A short licence name from a JATS licence: ``CC BY 4.0``, ``CC BY-NC-ND 3.0 IGO``, ``CC0 1.0``;
    ``other`` for a licence statement that names none of these, ``not stated`` for none."""
    for s in (url or "", text or ""):
        m = _CC_URL.search(s)
        if m:
            return " ".join(x for x in ("CC", m.group(1).upper(), m.group(2), (m.group(3) or "").upper()) if x)
        m = _CC_ZERO.search(s)
        if m:
            return f"CC0 {m.group(1)}"
    m = _CC_TEXT.search(text or "")
    if m:
        return " ".join(x for x in ("CC", m.group(1), m.group(2)) if x)
    return "other" if (url or text) else "not stated"


def year_counts(data: CardData) -> tuple[dict, dict]:
    """({year: {task: records}}, {task: records without a known year}), years ascending."""
    per: dict = {}
    unknown: dict = {}
    for task, s in data.tasks.items():
        unknown[task] = s.no_paper
        for pmid, n in s.papers.items():
            year = data.years.get(pmid)
            if year is None:
                unknown[task] += n
            else:
                per.setdefault(year, Counter())[task] += n
    return {y: dict(per[y]) for y in sorted(per)}, unknown


def licence_counts(data: CardData) -> list[tuple[str, int, int]]:
    """[(licence, full texts, records)] of the records with full-text evidence, most records first."""
    texts, records = Counter(), Counter()
    for s in data.tasks.values():
        for pmcid, n in s.fulltext_pmcids.items():
            records[data.licences.get(pmcid, "not in tables/fulltexts")] += n
    for pmcid in {p for s in data.tasks.values() for p in s.fulltext_pmcids}:
        texts[data.licences.get(pmcid, "not in tables/fulltexts")] += 1
    return sorted(((name, texts[name], n) for name, n in records.items()), key=lambda x: (-x[2], x[0]))


def fulltext_share(s: TaskStats) -> Optional[float]:
    """Full-text records over the records that have an evidence kind; None when none has."""
    with_evidence = s.evidence["fulltext"] + s.evidence["abstract"]
    return s.evidence["fulltext"] / with_evidence if with_evidence else None


def mean_grounding(s: TaskStats) -> Optional[float]:
    return sum(s.grounding) / len(s.grounding) if s.grounding else None


def summary_rows(data: CardData) -> list[dict]:
    """Per task: records, records per split, full-text share, mean grounding."""
    return [{"task": task, "records": s.records, **{sp: s.splits[sp] for sp in SPLIT_NAMES},
             "fulltext_share": fulltext_share(s), "grounding_mean": mean_grounding(s)}
            for task, s in data.tasks.items()]


def pct(x: Optional[float]) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def num(x: Optional[float], digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def render_summary(data: CardData) -> str:
    """The per-task table printed by ``leadsinstruct stats``."""
    head = f"{'task':<24}{'records':>9}{'train':>8}{'validation':>12}{'test':>7}{'fulltext':>10}{'grounding':>11}"
    lines = [head, "-" * len(head)]
    for r in summary_rows(data):
        lines.append(f"{r['task']:<24}{r['records']:>9}{r['train']:>8}{r['validation']:>12}{r['test']:>7}"
                     f"{pct(r['fulltext_share']):>10}{num(r['grounding_mean']):>11}")
    total = TaskStats()
    for s in data.tasks.values():
        total.records += s.records
        total.splits.update(s.splits)
        total.evidence.update(s.evidence)
    lines += ["-" * len(head),
              f"{'total':<24}{total.records:>9}{total.splits['train']:>8}{total.splits['validation']:>12}"
              f"{total.splits['test']:>7}{pct(fulltext_share(total)):>10}{'':>11}"]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def manifest_mismatches(data: CardData) -> list[str]:
    """Tasks whose record count in the shards differs from manifest.json."""
    counted = data.manifest.get("tasks", {})
    return [f"{t}: {s.records} in the shards, {counted.get(t, 0)} in manifest.json"
            for t, s in data.tasks.items() if s.records != counted.get(t, 0)]


def size_category(n: int) -> str:
    """The Hugging Face ``size_categories`` bucket of ``n`` records."""
    bounds = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
              (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B"))
    return next((name for bound, name in bounds if n < bound), "n>1B")


# --------------------------------------------------------------------------- the card
def front_matter(data: CardData) -> dict:
    total = sum(s.records for s in data.tasks.values())
    tags = ["medical", "biomedical", "clinical-trials", "systematic-review", "evidence-synthesis",
            "information-extraction", "instruction-tuning"]
    if data.synthetic_articles:
        tags.append("synthetic")
    return {
        "pretty_name": "LEADS-style instruction data for systematic reviews",
        "language": ["en"],
        "license": "other",
        "license_name": "source-terms-and-article-licences",
        "task_categories": ["text-generation", "text-classification"],
        "tags": tags,
        "size_categories": [size_category(total)],
        "configs": [{"config_name": t, "data_files": f"tasks/task={t}/*.parquet"}
                    for t in data.tasks if data.shard_files[t]],
    }


def field_type(name: str) -> str:
    """The Parquet type of a ``TaskRecord`` field, ``, nullable`` for an optional one."""
    hints = typing.get_type_hints(TaskRecord)
    arrow = re.sub(r"\b(element|item): ", "", str(arrow_schema(TaskRecord).field(name).type))
    return arrow + (", nullable" if optional_inner(hints[name]) is not None else "")


def markdown_table(header: list[str], rows: list[list], align: str = "") -> list[str]:
    """Markdown table lines; ``align``: one letter per column, l or r (default: first column
    left, the others right)."""
    align = align or "l" + "r" * (len(header) - 1)
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def _image(name: str) -> str:
    return f"![{PLOTS[name][0]}](card/{name}.png)"


def _plural(n: int, word: str, plural: str = "") -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


def render_card(data: CardData, plots: bool = True) -> str:
    """``README.md`` of the output: YAML front matter, then the card (see the module doc)."""
    front = yaml.safe_dump(front_matter(data), sort_keys=False, allow_unicode=True, width=1000).rstrip()
    lines = ["---", front, "---", ""]
    for section in (_intro, _tasks_section, _loading_section, _splits_section, _evidence_section,
                    _grounding_section, _length_section, _years_section, _sources_section, _quality_section,
                    _fields_section, _licences_section, _limitations_section):
        lines += section(data, plots)
    return "\n".join(lines)


def _intro(data: CardData, plots: bool) -> list[str]:
    m, tasks = data.manifest, data.tasks
    L = ["# LEADS-style instruction data for systematic reviews", "",
         f"Snapshot **{m.get('options', {}).get('snapshot_date', 'unknown')}** · schema "
         f"{m.get('schema_version', '?')} · **{sum(s.records for s in tasks.values())}** records in "
         f"{sum(1 for s in tasks.values() if s.records)} tasks.", "",
         "Six instruction tasks for systematic-review work, built from PubMed/MEDLINE citations, PMC full "
         "texts and ClinicalTrials.gov registry records that are joined by review → study and study → "
         "trial links. Each record is a chat-form instruction with a JSON target and names the files and "
         "record versions it came from (`sources`, `source_versions`); `manifest.json` has the counts, "
         "options and inputs of the build, `stats.json` per-task statistics.", ""]
    if data.synthetic_articles:
        L += [f"> **Synthetic data.** {data.synthetic_articles} of the {data.articles} articles in this output "
              f"carry DOIs under the example prefix `{SYNTHETIC_DOI_PREFIX.rstrip('/')}` that the project's "
              "corpus generator uses: the papers, reviews and registry records are generated, not real. "
              "Use this output to try the format and the tools, not to train or evaluate models.", ""]
    mismatches = manifest_mismatches(data)
    if mismatches:
        L += ["> **The shards and manifest.json disagree** (an incomplete or modified output): "
              + "; ".join(mismatches) + ".", ""]
    return L


def _tasks_section(data: CardData, plots: bool) -> list[str]:
    rows = [[f"`{r['task']}`", r["records"], r["train"], r["validation"], r["test"], pct(r["fulltext_share"]),
             num(r["grounding_mean"])] for r in summary_rows(data)]
    splits = Counter()
    for s in data.tasks.values():
        splits.update(s.splits)
    rows.append(["**total**", sum(s.records for s in data.tasks.values()), *(splits[sp] for sp in SPLIT_NAMES),
                 "", ""])
    L = ["## Tasks", ""]
    L += markdown_table(["task", "records", "train", "validation", "test", "full text", "mean grounding"], rows)
    L += ["", "*full text*: share of the records with an evidence kind whose paper text is the PMC full "
          "text; *mean grounding*: over the records that have one (see *Grounding*).", ""]
    L += [f"- **`{t}`**: {TASK_SUMMARIES.get(t, '')}" for t in data.tasks]
    if data.screening_include:
        L += ["", f"`screening` targets: **{data.screening_include[True]}** include, "
              f"**{data.screening_include[False]}** exclude; criterion answers: {_answers(data)}."]
    return L + [""] + ([_image("records_per_task"), ""] if plots else [])


def _loading_section(data: CardData, plots: bool) -> list[str]:
    return ["## Loading", "",
            "One Parquet dataset per task, one schema for all: `tasks/task=<task>/part-*.parquet`. The split "
            "is a column, so every config loads as a single Hugging Face split; filter on `split`:", "",
            "```python", "from datasets import load_dataset",
            f"ds = load_dataset(\"parquet\", data_files=\"tasks/task={TASKS[-1]}/*.parquet\")[\"train\"]",
            f"# or, from a Hub repository holding this folder: load_dataset(\"<owner>/<name>\", \"{TASKS[-1]}\")",
            "test = ds.filter(lambda r: r[\"split\"] == \"test\")", "```", "",
            "Or with DuckDB: `SELECT * FROM 'tasks/task=*/*.parquet' WHERE split = 'train'`. Fine-tune on "
            "`messages`, or use `instruction`, `input` and `output` separately.", ""]


def split_crossings(data: CardData) -> dict[str, tuple[int, int]]:
    """{kind: (ids in more than one split, ids)} for ``SPLIT_ENTITIES`` and ``papers`` (the paper a
    record is about: its publication, else its review when that is a PubMed record)."""
    out = {kind: (sum(1 for v in ids.values() if len(v) > 1), len(ids)) for kind, ids in data.entity_splits.items()}
    out["papers"] = (sum(1 for v in data.paper_splits.values() if len(v) > 1), len(data.paper_splits))
    return out


def _splits_section(data: CardData, plots: bool) -> list[str]:
    m = data.manifest
    L = ["## Splits", "",
         "`split` is `train`, `validation` or `test` (80/10/10 by hashes of ids, never a random draw), assigned "
         "so that no review, trial or publication is in two splits: a review's split is the hash of its id; a "
         "trial takes the majority split of the reviews that link its publications (else the hash of its NCT "
         "id); a publication takes the split of its trial (else the majority of the reviews that link it, else "
         "the hash of its PMID), and its full text goes with it. A record takes the split of its review, "
         "publication and trial, over all six tasks; a screening candidate whose publication is in another "
         "split than the review is not built (reason `split.leak`).", ""]
    splits = Counter()
    for s in data.tasks.values():
        splits.update(s.splits)
    text = "Records per split: " + ", ".join(f"{sp} {splits[sp]}" for sp in SPLIT_NAMES) + "."
    empty = [sp for sp in SPLIT_NAMES if not splits[sp]]
    if empty:
        text += (" **No record is in " + " or ".join(f"`{sp}`" for sp in empty) + "** in this output: a small "
                 "output can leave a split empty (`leadsinstruct export` writes no file for it).")
    L += [text, ""]
    crossings = split_crossings(data)
    checked = ", ".join(f"{crossings[kind][0]} of the {crossings[kind][1]} {name} ({col})"
                        for kind, name, col in SPLIT_ENTITIES)
    shared, papers = crossings["papers"]
    crossed = any(n for n, _ in crossings.values())
    if crossed:
        text = ("**Some reviews, trials or publications have records in more than one split** (an output built "
                "before splits were assigned this way, or a modified one). ")
    else:
        text = "**No review, trial or publication is in two splits** in this output. "
    text += (f"Checked on the records, ids with records in more than one split: {checked}; **{shared}** of the "
             f"{papers} papers behind the records (a record's publication, else its review when that is a PubMed "
             "record) have records in more than one split.")
    if crossed:
        text += " Hold out by `pmid` or `nct_id` as well if a model must never have seen a test paper."
    L += [text, ""]
    leaks = m.get("rejected_reasons", {}).get("split.leak", 0)
    if leaks:
        L += [f"**{_plural(leaks, 'record was', 'records were')} left out** because the review and the "
              "publication are in different splits (reason `split.leak`, in `rejected/`; see *Rejected and "
              "merged records*).", ""]
    return L


def _evidence_section(data: CardData, plots: bool) -> list[str]:
    L = ["## Evidence: full text or abstract", "",
         "Extraction and screening records work on *paper text*: the PMC full text (sections and tables) "
         "when the corpus has one, otherwise title and abstract. Many targets (baseline tables, outcome "
         "values) are only in the full text.", ""]
    L += markdown_table(["task", *EVIDENCE_KINDS, "total"],
                [[f"`{t}`", *(s.evidence[k] for k in EVIDENCE_KINDS), s.records] for t, s in data.tasks.items()])
    return L + [""] + ([_image("evidence"), ""] if plots else [])


def _grounding_section(data: CardData, plots: bool) -> list[str]:
    L = ["## Grounding", "",
         "`grounding` is the share of a target's values (numbers, names) that occur literally in the paper "
         "text: 1.0 means every value can be found, so the record is answerable from its input. Filter on it "
         "(e.g. `grounding >= 0.5`) to train on answerable records. For `search_query` it is the recall of "
         "the target query over the review's included studies.", ""]
    rows = []
    for t, s in data.tasks.items():
        g = list(s.grounding)
        rows.append([f"`{t}`", len(g), num(mean_grounding(s)), num(statistics.median(g) if g else None),
                     sum(1 for x in g if x >= 0.5), sum(1 for x in g if x == 1.0)])
    L += markdown_table(["task", "records with grounding", "mean", "median", "≥ 0.5", "= 1.0"], rows)
    return L + [""] + ([_image("grounding"), ""] if plots else [])


def _length_section(data: CardData, plots: bool) -> list[str]:
    L = ["## Input length", "", "Characters of `input` (the paper text is most of it).", ""]
    rows = []
    for t, s in data.tasks.items():
        c = sorted(s.input_chars)
        rows.append([f"`{t}`", len(c), num(sum(c) / len(c), 1) if c else "-",
                     num(float(statistics.median(c)), 1) if c else "-", c[-1] if c else "-"])
    L += markdown_table(["task", "records", "mean", "median", "max"], rows)
    cut = data.manifest.get("options", {}).get("max_input_chars") or 0
    L += ["", f"Paper text was cut at {cut} characters (`--max_input_chars`)." if cut else
          "Paper text is not cut (`--max_input_chars` 0): long full texts give long inputs.", ""]
    return L + ([_image("input_length"), ""] if plots else [])


def _years_section(data: CardData, plots: bool) -> list[str]:
    per_year, unknown = year_counts(data)
    text = ("Year of the paper each record is about (the candidate or trial report; the review for "
            "`search_query`), from `tables/articles`.")
    if per_year:
        known, missing = sum(sum(v.values()) for v in per_year.values()), sum(unknown.values())
        text += (f" {_plural(known, 'record has', 'records have')} one, from {min(per_year)} to {max(per_year)}; "
                 f"{_plural(missing, 'has', 'have')} none (a review or paper outside PubMed, or no year in its "
                 "citation).")
    else:
        text += " No record's paper has a known year" + (" (no `tables/articles`)." if data.articles is None
                                                         else ".")
    return ["## Publication years", "", text, ""] + ([_image("years"), ""] if plots else [])


def _sources_section(data: CardData, plots: bool) -> list[str]:
    m = data.manifest
    L = ["## Sources", ""]
    L += markdown_table(["corpus table", "rows"], [[f"`{k}`", v] for k, v in sorted(m.get("tables", {}).items())])
    L += ["", "Inputs read (`--input_root`):", ""] + [f"- `{p}`" for p in m.get("inputs", [])]
    dead = m.get("dead_letters", {})
    unresolved = ", ".join(f"{k} {v}" for k, v in sorted(m.get("unresolved", {}).items())) or "none"
    L += ["", "Input that could not be read: **" + _plural(m.get("dead_letters_total", 0), "dead letter") + "**"
          + (" (" + ", ".join(f"`{k}` {v}" for k, v in sorted(dead.items())) + ")" if dead else "")
          + f" in `dead_letter/`. Links whose study text or registry record is absent: {unresolved} "
          "(`unresolved/`).", ""]
    refresh = m.get("refresh")
    if refresh:
        window, diff = refresh.get("window", {}), refresh.get("records", {})
        L += [f"Refresh snapshot {refresh.get('as_of')}: fetch window {window.get('from')} to {window.get('to')}, "
              f"{_plural(refresh.get('new_raw_files', 0), 'new raw file')}; records since the previous snapshot "
              f"({refresh.get('previous_snapshot') or 'none'}): {diff.get('added', 0)} added, "
              f"{diff.get('removed', 0)} removed, {diff.get('unchanged', 0)} unchanged.", ""]
    if data.links is not None:
        L += ["Links behind the records (`tables/links`), by label and by source (a link can have several "
              "sources):", ""]
        L += markdown_table(["kind", "label", "links"], [[k, lab or "-", n] for (k, lab), n in sorted(data.links.items())],
                    align="llr")
        L += [""]
        L += markdown_table(["kind", "source", "links"], [[k, src, n] for (k, src), n in sorted(data.link_sources.items())],
                    align="llr")
        L += [""]
    return L


def _quality_section(data: CardData, plots: bool) -> list[str]:
    """Rejected records per task and reason, merged records per task, from manifest.json (nothing when
    the manifest has none of ``rejected``, ``rejected_reasons``, ``merged``)."""
    m = data.manifest
    if not any(k in m for k in ("rejected", "rejected_reasons", "merged")):
        return []
    rejected, reasons, merged = m.get("rejected", {}), m.get("rejected_reasons", {}), m.get("merged", {})
    total = m.get("rejected_total", sum(rejected.values()))
    L = ["## Rejected and merged records", "",
         "Every built record is validated before it is written; a record that fails a rule, or whose review "
         "and publication are in different splits (`split.leak`), is kept out of the shards and written with "
         f"its reasons to `rejected/part-*.jsonl`. **{_plural(total, 'record')} rejected**"
         + (":" if total else "."), ""]
    if rejected or total:
        tasks = [t for t in TASKS if t in rejected or t in data.tasks] + sorted(set(rejected) - set(TASKS))
        L += markdown_table(["task", "rejected"], [[f"`{t}`", rejected.get(t, 0)] for t in tasks] + [["**total**", total]])
        L += [""]
    if reasons:
        L += ["By reason (a record can have several):", ""]
        L += markdown_table(["reason", "records"],
                    [[f"`{r}`", n] for r, n in sorted(reasons.items(), key=lambda x: (-x[1], x[0]))])
        L += [""]
    n_merged = sum(merged.values())
    L += ["Near-identical records of a task (same content) are merged into one that keeps all their sources: "
          + (f"**{_plural(n_merged, 'record')} merged** into others:" if n_merged else "none were merged in this "
             "output."), ""]
    if n_merged:
        tasks = [t for t in TASKS if t in merged] + sorted(set(merged) - set(TASKS))
        L += markdown_table(["task", "merged"], [[f"`{t}`", merged[t]] for t in tasks] + [["**total**", n_merged]])
        L += [""]
    return L


def _fields_section(data: CardData, plots: bool) -> list[str]:
    return ["## Record fields", ""] + markdown_table(
        ["field", "type", "description"],
        [[f"`{f.name}`", f"`{field_type(f.name)}`", FIELD_DESCRIPTIONS[f.name]]
         for f in dataclasses.fields(TaskRecord)],
        align="lll") + [""]


def _licences_section(data: CardData, plots: bool) -> list[str]:
    L = ["## Licences", "",
         "The records are derived from sources under different terms; there is no single licence for the "
         "whole dataset.", ""]
    L += [f"- **{name}**: {terms}" for name, terms in SOURCE_TERMS]
    lic = licence_counts(data)
    if lic:
        L += ["", "Licences of the full texts that records use:", ""]
        L += markdown_table(["licence", "full texts", "records"], [[n, t, r] for n, t, r in lic])
        L += ["", "Look up a record's `pmcid` in `tables/fulltexts` (`license`, `license_url`) for the exact "
              "statement."]
    return L + [""]


def _limitations_section(data: CardData, plots: bool) -> list[str]:
    lim = [
        "**Grounding is lexical.** A value counts as grounded when its text occurs in the paper text; a "
        "value written differently (rounded, spelled out, in a figure) counts as absent, and a short number "
        "may occur by chance.",
        "**Registry records are the ground truth of the extraction tasks.** A registry record can differ "
        "from the paper (another time point or analysis population, a later update), so some targets are "
        "not what the paper reports.",
        "**Screening labels come from link collections, not from a reviewer judging each criterion.** A "
        "study that a link table names as included is YES on every criterion; a trial report known only "
        "from the review's reference list is included with every criterion UNCERTAIN (reference lists also "
        "cite studies a review excluded); a study that passed abstract screening is included, UNCERTAIN; an "
        "excluded candidate is NO on the study design only when the review asks for randomised trials and "
        "the candidate is no trial report; a topic-near trial (same condition, none of the review's "
        "interventions) is excluded with Intervention NO. Everything else is UNCERTAIN"
        + (f" (answers in this output: {_answers(data)})" if data.screening_answers else "") + ".",
        "**Abstract-only records** often cannot be answered from their input; check `evidence` and "
        "`grounding`.",
        "**Splits hold out reviews, trials and publications, not topics** (see *Splits*): trials of the same "
        "condition or intervention that no review links together can be in different splits.",
    ]
    if data.synthetic_articles:
        lim.insert(0, "**Synthetic corpus.** Counts, lengths and plots describe generated text in real "
                      "formats, not the literature.")
    else:
        lim.append("**Coverage** follows the inputs: records exist only where a review, its studies and "
                   "their registry records were all fetched (see `unresolved/`).")
    return ["## Known limitations", ""] + [f"- {x}" for x in lim] + [""]


# --------------------------------------------------------------------------- plots
def plot_data(data: CardData) -> dict:
    """The numbers each plot shows (also written into the PNG's ``Description``)."""
    tasks = data.tasks
    per_year, unknown = year_counts(data)
    lengths = {}
    for t, s in tasks.items():
        c = list(s.input_chars)
        lengths[t] = {"records": len(c), "min": min(c) if c else None, "max": max(c) if c else None,
                      "counts": _histogram(c, *_length_range(c), 20) if c else []}
    return {
        "records_per_task": {t: s.records for t, s in tasks.items()},
        "input_length": lengths,
        "grounding": {t: _histogram(list(tasks[t].grounding), 0.0, 1.0, 10) for t in EXTRACTION_TASKS
                      if t in tasks},
        "evidence": {t: {k: s.evidence[k] for k in EVIDENCE_KINDS} for t, s in tasks.items()},
        "years": {"per_year": {str(y): v for y, v in per_year.items()}, "unknown": unknown},
    }


def _length_range(values: list) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    return (lo - 0.5, hi + 0.5) if lo == hi else (lo, hi)


def _histogram(values: list, lo: float, hi: float, bins: int) -> list[int]:
    """Counts of ``values`` in ``bins`` equal bins over [lo, hi] (the last bin includes ``hi``)."""
    counts = [0] * bins
    for v in values:  # multiply first: 0.6 * 10 / 1.0 is 6.0 where 0.6 / 0.1 is 5.999...
        counts[min(int((v - lo) * bins / (hi - lo)), bins - 1)] += 1
    return counts


def render_plots(data: CardData) -> dict[str, bytes]:
    """{plot name: PNG bytes} for ``PLOTS`` (needs matplotlib)."""
    import matplotlib.style
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    numbers = plot_data(data)
    draw = {"records_per_task": _draw_records, "input_length": _draw_lengths, "grounding": _draw_grounding,
            "evidence": _draw_evidence, "years": _draw_years}
    out = {}
    # matplotlib's defaults whatever a matplotlibrc says, so that the bytes depend on the data only
    with matplotlib.style.context(["default", {"font.size": 9, "axes.spines.top": False,
                                               "axes.spines.right": False}]):
        for name, (title, size) in PLOTS.items():
            fig = Figure(figsize=size, dpi=DPI, layout="constrained")
            draw[name](fig, data, numbers[name])
            for ax in fig.axes:  # counts are whole numbers
                (ax.xaxis if name == "records_per_task" else ax.yaxis).set_major_locator(MaxNLocator(integer=True))
            fig.suptitle(title, fontsize=11)
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=DPI,
                        metadata={"Software": None, "Description": json.dumps(numbers[name], sort_keys=True)})
            out[name] = buf.getvalue()
    return out


def _draw_records(fig, data: CardData, numbers: dict) -> None:
    ax = fig.subplots()
    names = list(numbers)[::-1]
    counts = [numbers[t] for t in names]
    bars = ax.barh(names, counts, color=BAR_COLOR, height=0.6)
    ax.bar_label(bars, padding=3)
    ax.set_xlabel("records")
    ax.set_xlim(0, max(counts + [1]) * 1.12)


def _draw_lengths(fig, data: CardData, numbers: dict) -> None:
    axes = fig.subplots(2, 3).ravel()
    for ax, (task, h) in zip(axes, numbers.items()):
        ax.set_title(f"{task} (n={h['records']})", fontsize=9)
        if not h["records"]:
            ax.text(0.5, 0.5, "no records", ha="center", va="center", transform=ax.transAxes)
            continue
        lo, hi = _length_range(list(data.tasks[task].input_chars))
        edges = [lo + (hi - lo) * i / len(h["counts"]) for i in range(len(h["counts"]) + 1)]
        ax.stairs(h["counts"], edges, fill=True, color=TASK_COLORS.get(task, BAR_COLOR))
        ax.set_xlabel("characters")
        ax.set_ylabel("records")
    for ax in axes[len(numbers):]:
        ax.set_visible(False)


def _draw_grounding(fig, data: CardData, numbers: dict) -> None:
    axes = fig.subplots(2, 2).ravel()
    edges = [i / 10 for i in range(11)]
    for ax, (task, counts) in zip(axes, numbers.items()):
        ax.set_title(f"{task} (n={sum(counts)})", fontsize=9)
        ax.stairs(counts, edges, fill=True, color=TASK_COLORS.get(task, BAR_COLOR))
        ax.set_xlim(0, 1)
        ax.set_xlabel("grounding")
        ax.set_ylabel("records")


def _draw_evidence(fig, data: CardData, numbers: dict) -> None:
    ax = fig.subplots()
    names = list(numbers)
    bottom = [0] * len(names)
    for kind in EVIDENCE_KINDS:
        values = [numbers[t][kind] for t in names]
        ax.bar(names, values, bottom=bottom, color=EVIDENCE_COLORS[kind], label=kind, width=0.6)
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_ylabel("records")
    ax.legend(frameon=False)
    ax.tick_params(axis="x", labelrotation=20)


def _draw_years(fig, data: CardData, numbers: dict) -> None:
    from matplotlib.ticker import MaxNLocator
    ax = fig.subplots()
    per_year = {int(y): v for y, v in numbers["per_year"].items()}
    if not per_year:
        ax.text(0.5, 0.5, "no publication year known", ha="center", va="center", transform=ax.transAxes)
        return
    years = list(range(min(per_year), max(per_year) + 1))
    bottom = [0] * len(years)
    for task in data.tasks:
        values = [per_year.get(y, {}).get(task, 0) for y in years]
        if any(values):
            ax.bar(years, values, bottom=bottom, color=TASK_COLORS.get(task, BAR_COLOR), label=task, width=0.8)
            bottom = [b + v for b, v in zip(bottom, values)]
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("publication year")
    ax.set_ylabel("records")
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
