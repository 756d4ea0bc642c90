"""Typed records: parsed sources, links, task records and dead letters.

Ids are namespaced and stable: ``pubmed:<pmid>``, ``pmc:<pmcid>``, ``ctgov:<nct>``.
Pure module: no Beam import.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional
from schemas.packing import compact_pickling

SCHEMA_VERSION = "1.0.0"


# --------------------------------------------------------------------------- PubMed
@dataclass
class AbstractSection:
    label: Optional[str]
    category: Optional[str]  # NlmCategory: BACKGROUND, OBJECTIVE, METHODS, RESULTS, CONCLUSIONS, UNASSIGNED
    text: str


@dataclass
class Author:
    last_name: Optional[str]
    fore_name: Optional[str]
    initials: Optional[str]
    collective_name: Optional[str]
    affiliations: list[str] = field(default_factory=list)


@dataclass
class MeshQualifier:
    name: str
    ui: Optional[str]
    major: bool


@dataclass
class MeshHeading:
    descriptor: str
    ui: Optional[str]
    major: bool
    qualifiers: list[MeshQualifier] = field(default_factory=list)


@dataclass
class Chemical:
    name: str
    ui: Optional[str]
    registry_number: Optional[str]


@dataclass
class ArticleId:
    id_type: str  # pubmed, doi, pmc, pii, mid, ...
    value: str


@dataclass
class DataBank:
    name: str  # e.g. ClinicalTrials.gov, ISRCTN, GENBANK
    accessions: list[str] = field(default_factory=list)


@dataclass
class Article:
    """One PubMed/MEDLINE citation (``PubmedArticle``, ``MedlineCitation`` or ``PubmedBookArticle``)."""
    pmid: str
    version: int
    title: Optional[str]
    abstract: Optional[str]
    abstract_sections: list[AbstractSection]
    journal: Optional[str]
    journal_iso: Optional[str]
    pub_date: Optional[str]  # ISO prefix: YYYY, YYYY-MM or YYYY-MM-DD; raw MedlineDate otherwise
    pub_year: Optional[int]
    authors: list[Author]
    mesh: list[MeshHeading]
    keywords: list[str]
    chemicals: list[Chemical]
    publication_types: list[str]
    languages: list[str]
    databanks: list[DataBank]
    nct_ids: list[str]  # ClinicalTrials.gov accessions from DataBankList, sorted, unique
    text_nct_ids: list[str]  # NCT ids mentioned in title/abstract, sorted, unique
    article_ids: list[ArticleId]
    doi: Optional[str]
    pmcid: Optional[str]  # "PMC1234567"
    reference_pmids: list[str]  # from ReferenceList, in order, unique
    is_book: bool
    date_revised: Optional[str]  # YYYY-MM-DD (latest version wins on this, then source order)
    source_file: str
    source_index: int  # ordinal of the record in its file (0-based)

    @property
    def id(self) -> str:
        return f"pubmed:{self.pmid}"


@dataclass
class DeletedCitation:
    """A PMID listed in a MEDLINE update file's ``<DeleteCitation>``."""
    pmid: str
    source_file: str


# --------------------------------------------------------------------------- PMC JATS
@dataclass
class Section:
    heading: Optional[str]
    text: str
    level: int  # 1 for a top-level <sec>, 2 for a nested one, ...


@dataclass
class Table:
    label: Optional[str]
    caption: Optional[str]
    rows: list[list[str]]  # cell text, header rows first


@dataclass
class Reference:
    ref_id: Optional[str]
    pmid: Optional[str]
    doi: Optional[str]
    text: str


@dataclass
class FullText:
    """One PMC/JATS article."""
    pmcid: Optional[str]  # "PMC1234567"; None for publisher JATS without one
    pmid: Optional[str]
    doi: Optional[str]
    title: Optional[str]
    abstract: Optional[str]
    sections: list[Section]
    tables: list[Table]
    references: list[Reference]
    nct_ids: list[str]  # sorted, unique, from anywhere in the article
    license: Optional[str]
    license_url: Optional[str]
    article_type: Optional[str]
    journal: Optional[str]
    pub_year: Optional[int]
    source_file: str
    source_index: int

    @property
    def id(self) -> str:
        return f"pmc:{self.pmcid}" if self.pmcid else f"doi:{self.doi}"

    @property
    def body_text(self) -> str:
        return "\n\n".join(
            (f"{s.heading}\n{s.text}" if s.heading else s.text) for s in self.sections)


# --------------------------------------------------------------------------- ClinicalTrials.gov
@dataclass
class Intervention:
    type: Optional[str]
    name: str
    description: Optional[str]
    arm_group_labels: list[str] = field(default_factory=list)
    other_names: list[str] = field(default_factory=list)


@dataclass
class ArmGroup:
    label: str
    type: Optional[str]  # EXPERIMENTAL, ACTIVE_COMPARATOR, PLACEBO_COMPARATOR, ... (v2 enum spelling)
    description: Optional[str]
    intervention_names: list[str] = field(default_factory=list)


@dataclass
class Design:
    study_type: Optional[str]  # INTERVENTIONAL, OBSERVATIONAL, EXPANDED_ACCESS
    phases: list[str]  # PHASE1, PHASE2, ..., NA
    allocation: Optional[str]  # RANDOMIZED, NON_RANDOMIZED, NA
    intervention_model: Optional[str]
    primary_purpose: Optional[str]
    masking: Optional[str]  # NONE, SINGLE, DOUBLE, TRIPLE, QUADRUPLE
    who_masked: list[str] = field(default_factory=list)


@dataclass
class Eligibility:
    criteria: Optional[str]
    sex: Optional[str]
    minimum_age: Optional[str]
    maximum_age: Optional[str]
    healthy_volunteers: Optional[bool]


@dataclass
class Outcome:
    measure: str
    description: Optional[str]
    time_frame: Optional[str]


@dataclass
class TrialReference:
    pmid: Optional[str]
    type: Optional[str]  # BACKGROUND, RESULT, DERIVED
    citation: Optional[str]


@dataclass
class Group:
    id: str
    title: Optional[str]
    description: Optional[str]


@dataclass
class DenomCount:
    group_id: str
    value: Optional[str]


@dataclass
class Denom:
    units: Optional[str]
    counts: list[DenomCount]


@dataclass
class Measurement:
    group_id: str
    value: Optional[str]
    spread: Optional[str]
    lower_limit: Optional[str]
    upper_limit: Optional[str]
    comment: Optional[str]


@dataclass
class Category:
    title: Optional[str]
    measurements: list[Measurement]


@dataclass
class MeasureClass:
    title: Optional[str]
    denoms: list[Denom]
    categories: list[Category]


@dataclass
class Measure:
    """A baseline measure or an outcome measure of a trial's results section."""
    title: str
    description: Optional[str]
    population_description: Optional[str]
    param_type: Optional[str]  # v2 enum spelling: MEAN, MEDIAN, COUNT_OF_PARTICIPANTS, NUMBER, ...
    dispersion_type: Optional[str]
    unit_of_measure: Optional[str]
    unit_of_denom: Optional[str]  # outcome "units analyzed" when not participants
    type: Optional[str]  # outcome type PRIMARY/SECONDARY/OTHER_PRE_SPECIFIED/POST_HOC; None for baseline
    time_frame: Optional[str]
    groups: list[Group]
    denoms: list[Denom]
    classes: list[MeasureClass]


@dataclass
class Results:
    baseline_population: Optional[str]
    baseline_groups: list[Group]
    baseline_denoms: list[Denom]
    baseline_measures: list[Measure]
    outcome_measures: list[Measure]


@dataclass
class Trial:
    """One ClinicalTrials.gov study (API v2 JSON or legacy ``clinical_study`` XML)."""
    nct_id: str
    aliases: list[str]
    org_study_id: Optional[str]
    secondary_ids: list[str]
    brief_title: Optional[str]
    official_title: Optional[str]
    acronym: Optional[str]
    brief_summary: Optional[str]
    detailed_description: Optional[str]
    overall_status: Optional[str]  # v2 enum spelling: COMPLETED, RECRUITING, WITHDRAWN, ...
    conditions: list[str]
    keywords: list[str]
    interventions: list[Intervention]
    design: Design
    enrollment: Optional[int]
    enrollment_type: Optional[str]  # ACTUAL, ESTIMATED
    arm_groups: list[ArmGroup]
    eligibility: Eligibility
    primary_outcomes: list[Outcome]
    secondary_outcomes: list[Outcome]
    lead_sponsor: Optional[str]
    collaborators: list[str]
    start_date: Optional[str]
    primary_completion_date: Optional[str]
    completion_date: Optional[str]
    first_posted: Optional[str]
    last_update_posted: Optional[str]  # YYYY-MM-DD or YYYY-MM (latest wins on this)
    countries: list[str]
    references: list[TrialReference]
    results: Optional[Results]
    source_format: str  # ctgov_v2_json | ctgov_legacy_xml | ctgov_classic_json
    source_file: str
    source_index: int

    @property
    def id(self) -> str:
        return f"ctgov:{self.nct_id}"


# --------------------------------------------------------------------------- links and reviews
@dataclass
class ReviewLink:
    """review → study: one candidate or included study of a systematic review."""
    review_id: str  # a PMID ("pubmed:<pmid>") or an external id such as "cochrane:CD009069"
    pmid: str
    label: str  # included | screened_in | excluded | reference
    source: str  # clef_qrels_content | clef_qrels_abstract | synergy | link_table | medline_references | pmc_references
    source_file: str


@dataclass
class TrialLink:
    """study → trial: a publication (PMID) reporting on a registered trial."""
    pmid: str
    nct_id: str
    source: str  # databank | abstract_mention | fulltext_registration | registry_reference
    source_file: str


@dataclass
class ReviewCriteria:
    """What a systematic review looks for, mapped to PICO."""
    review_id: str
    title: Optional[str]
    objectives: Optional[str]
    population: Optional[str]
    intervention: Optional[str]
    comparison: Optional[str]
    outcome: Optional[str]
    study_types: Optional[str]
    source: str  # clef_protocol | clef_topic | synergy_metadata | review_abstract
    source_file: str
    exclusion: Optional[str] = None  # stated exclusion criteria, when the source separates them


# --------------------------------------------------------------------------- outputs
@dataclass
class Message:
    role: str  # system | user | assistant
    content: str


@dataclass
class TaskRecord:
    """One instruction record; the same schema for all six tasks (DESIGN §3)."""
    id: str
    task: str
    system: str
    instruction: str
    input: str
    output: str  # JSON string in the LEADS output format of the task
    messages: list[Message]
    review_id: Optional[str]
    pmid: Optional[str]
    pmcid: Optional[str]
    nct_id: Optional[str]
    evidence: Optional[str]  # fulltext | abstract (extraction and screening tasks)
    grounding: Optional[float]
    split: str  # train | validation | test
    sources: list[str]
    source_versions: list[str]
    created_at: str


@dataclass
class RejectedRecord:
    """A task record that failed validation (``transforms/quality/validate.py``), kept whole with
    the reasons; written to ``<output>/rejected/``, apart from dead letters (unparsable input)."""
    reasons: list[str]
    record: TaskRecord


@dataclass
class DeadLetter:
    """Input that could not be parsed, with where it came from and why."""
    source_file: str
    stage: str  # e.g. pubmed.parse
    error_type: str
    message: str
    excerpt: str  # at most a few hundred characters of the raw input
    record_index: Optional[int] = None  # ordinal within the file when known


@dataclass
class UnresolvedLink:
    """A link whose target text is absent from the inputs (to fetch later)."""
    kind: str  # study_text | trial
    key: str  # pmid or nct id that is missing
    review_id: Optional[str]
    pmid: Optional[str]
    source: str
    source_file: str


@dataclass
class Link:
    """A row of the ``tables/links`` output: review→study or study→trial, with provenance."""
    kind: str  # review_study | study_trial
    review_id: Optional[str]
    pmid: str
    nct_id: Optional[str]
    label: Optional[str]
    sources: list[str]
    source_files: list[str]


# --------------------------------------------------------------------------- joined entities
@dataclass
class TrialBrief:
    """What a review needs to know about a trial its study reports."""
    nct_id: str
    conditions: list[str]
    interventions: list[str]
    keywords: list[str]


@dataclass
class StudySummary:
    """A candidate study of a review, as screening and query building see it."""
    pmid: str
    pmcid: Optional[str]
    title: Optional[str]
    abstract: Optional[str]
    publication_types: list[str]
    mesh: list[str]  # descriptor names
    major_mesh: list[str]
    keywords: list[str]
    is_trial_report: bool
    trials: list[TrialBrief]
    source_files: list[str]
    version: Optional[str]


@dataclass
class ReviewStudy:
    """One study of one review: the merged link(s) and the study when its text is present."""
    review_id: str
    pmid: str
    label: str
    link_sources: list[str]
    link_files: list[str]
    study: Optional[StudySummary]
    split: Optional[str] = None  # the publication's split (transforms.joins.splits); None = not assigned


@dataclass
class ReviewBundle:
    """A review with its criteria and all its linked studies (input of the review-level tasks)."""
    review_id: str
    criteria: Optional[ReviewCriteria]
    studies: list[ReviewStudy]


@dataclass
class StudyBundle:
    """A publication joined with one registry record it reports (input of the extraction tasks)."""
    pmid: str
    article: Optional[Article]
    fulltext: Optional[FullText]
    trial: Trial
    link_sources: list[str]
    split: Optional[str] = None  # the split shared by the publication and the trial; None = not assigned


# --------------------------------------------------------------------------- KG reasoning (second job)
@dataclass
class QAOption:
    label: str  # A, B, C, ...
    text: str


@dataclass
class QAPair:
    """One clinical QA pair as read from a public QA file (``transforms/kg/qa.py``).

    ``id`` is namespaced and stable: ``<dataset>:<id in the dataset>`` (``medqa:12``,
    ``medmcqa:<uuid>``, ``pubmedqa:<pmid>``, ``mmlu:anatomy_test:7``)."""
    id: str
    dataset: str  # medqa | medmcqa | pubmedqa | mmlu | medbullets
    source_id: str
    question: str
    options: list[QAOption]
    answer_idx: Optional[str]  # label of the correct option
    answer: str  # text of the correct option (PubMedQA: yes | no | maybe)
    context: Optional[str]  # PubMedQA abstract contexts, joined
    explanation: Optional[str]  # MedMCQA exp, PubMedQA LONG_ANSWER
    subject: Optional[str]  # MMLU subject, MedMCQA subject_name, MedQA meta_info
    source_file: str
    source_index: int  # 0-based line / record ordinal in the file


@dataclass
class EntityMapping:
    """A mention of the question or the answer mapped to a KG node, with how it was mapped."""
    role: str  # question | answer
    mention: str  # the text span as it occurs in the QA pair
    node_id: str
    node_name: str
    node_type: Optional[str]
    method: str  # exact | synonym | embedding
    score: float  # 1.0 for exact and synonym matches; cosine similarity for embedding matches


@dataclass
class PathStep:
    """One hop of a path, read along the path: ``head`` → ``tail``. ``inverse`` is true when the KG
    edge points the other way (tail --relation--> head)."""
    head: str  # node id
    head_name: str
    relation: str
    tail: str
    tail_name: str
    inverse: bool


@dataclass
class KgPath:
    start: str  # node id of a question entity
    end: str  # node id of an answer entity
    steps: list[PathStep]
    rank: int  # 1 = best
    score: float


@dataclass
class KgReasoningRecord:
    """A KG-guided reasoning record (task ``kg_reasoning``). The first fields are those of
    ``TaskRecord`` (id, task, system, instruction, input, output, messages, split, sources,
    source_versions, created_at), so the records sit beside the six LEADS tasks."""
    id: str
    task: str
    system: str
    instruction: str
    input: str
    output: str
    messages: list[Message]
    split: str
    sources: list[str]
    source_versions: list[str]
    created_at: str
    dataset: str
    qa_id: str
    question: str
    options: list[QAOption]
    answer_idx: Optional[str]
    answer: str
    entities: list[EntityMapping]
    paths: list[KgPath]
    reasoning: str
    reasoning_method: str  # template | llm
    kg: str  # name and content fingerprint of the graph
    answer_reached: bool  # some path ends at an answer entity
    validation: str  # paths | paths+llm
    llm_answer: Optional[str] = None  # option label the LLM chose from the chain alone
    llm_match: Optional[bool] = None


@dataclass
class RejectedReasoning:
    """A KG reasoning record that failed validation, kept whole with the reasons
    (``<output>/rejected/``)."""
    reasons: list[str]
    record: KgReasoningRecord


compact_pickling(Article, DeletedCitation, FullText, Trial, ReviewLink, TrialLink, ReviewCriteria, TaskRecord,
                 DeadLetter, UnresolvedLink, Link, TrialBrief, StudySummary, ReviewStudy, ReviewBundle, StudyBundle,
                 QAPair, EntityMapping, KgReasoningRecord)
