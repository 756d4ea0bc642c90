"""The sample's layout (which records exist and how they link) and seeded per-entity builders.

The layout is a list of small frozen specs (ids, roles, link modes). Every entity is then built on
demand from ``random.Random(f"{seed}:{kind}:{i}")``, so any record can be regenerated alone and
writers can stream records one by one. Nothing here depends on set or dict-hash ordering.
"""
from __future__ import annotations

import datetime
import math
import random
import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

from synth.vocab import (
    DEPARTMENTS, FORENAMES, INSTITUTIONS, JOURNALS, MIDDLE_INITIALS, REVIEW_JOURNAL,
    SPONSOR_FUNDERS, SURNAMES, TOPICS, ArmTemplate, Negative, Topic)

FIRST_PMID = 90000001
FIRST_NCT = 9000001
FIRST_PMC = 9900001
DOI_PREFIX = "10.5555"
CLEF_REVIEW_ID = "CD900001"
ALIAS_NCT = "NCT09000901"

# Link mode of the k-th included trial publication of a topic:
#   databank → PubMed DataBankList; abstract → NCT only in the abstract text;
#   registry → only the registry record's referencesModule (RESULT) names the PMID.
LINK_PATTERN = ("databank", "abstract", "databank", "registry", "databank", "abstract")
TRIALS_PER_TOPIC = (6, 6, 5, 5)
FULLTEXT_POSITIONS = {6: (0, 1, 3, 4), 5: (0, 2, 3)}
# Per global trial index: registry file format, trials without posted results, three-arm trials.
TRIAL_FORMATS = {3: "page", 10: "page", 20: "page", 12: "ndjson", 17: "ndjson", 8: "legacy", 15: "legacy"}
NO_RESULTS = (2, 5, 11, 15, 18, 21, 23)
THREE_ARM_TRIALS = (7, 19)
ALIAS_TRIAL = 4
OA_PACKAGE_TRIALS = (8, 21)
REGISTRY_ALSO_REFERENCES = (0, 4)  # databank positions whose registry record also cites the paper
UPDATED_TRIAL = 0  # its publication gets a newer version in the update file
REVIEW_FULLTEXT_TOPIC = 0


@dataclass(frozen=True, slots=True)
class TrialSpec:
    index: int  # global ordinal, 0-based; NCT = NCT09000001 + index
    nct: str
    topic: int
    position: int  # ordinal among the topic's included trials, or among its negatives
    pmid: str  # the publication reporting the trial
    included: bool
    link_mode: str  # databank | abstract | registry
    fmt: str  # json | page | ndjson | legacy
    has_results: bool
    arms: int
    alias: Optional[str]
    negative: Optional[int] = None  # index into Topic.negatives for hard-negative trials
    registered: bool = True  # False: a publication's study with no registry record (link_mode "none")


@dataclass(frozen=True, slots=True)
class ArticleSpec:
    pmid: str
    kind: str  # review | trial | negative | background | extra
    topic: int
    position: int
    trial: Optional[int] = None  # global trial index
    pmcid: Optional[str] = None  # "PMC9900001" when a full text is written
    in_oa_package: bool = False


@dataclass(frozen=True)
class Layout:
    """Which records exist. ``topic`` fields of the specs index review groups; group ``g`` is
    written from the vocabulary topic ``TOPICS[bases[g]]`` (the sample: group g = topic g)."""
    articles: tuple[ArticleSpec, ...]  # in PMID order
    trials: tuple[TrialSpec, ...]  # in NCT order
    updated_pmid: str
    deleted_pmid: str
    bases: tuple[int, ...] = tuple(range(len(TOPICS)))
    _by_group: dict = dataclasses.field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self):
        for a in self.articles:
            self._by_group.setdefault((a.topic, a.kind), []).append(a)

    def article(self, pmid: str) -> ArticleSpec:
        return self.articles[int(pmid) - FIRST_PMID]

    def topic_of(self, group: int) -> Topic:
        """The vocabulary topic review group ``group`` is written from."""
        return TOPICS[self.bases[group]]

    def topic_articles(self, topic: int, kind: str) -> list[ArticleSpec]:
        return list(self._by_group.get((topic, kind), ()))

    def review(self, topic: int) -> ArticleSpec:
        return self.topic_articles(topic, "review")[0]


def sample_layout() -> Layout:
    """The fixed structure of the sample: 4 topics, 45 PubMed records, 24 trials, 15 full texts."""
    articles: list[ArticleSpec] = []
    trials: list[TrialSpec] = []
    pmc = iter(range(FIRST_PMC, FIRST_PMC + 1000))

    def pmid() -> str:
        return str(FIRST_PMID + len(articles))

    def add_trial(topic: int, position: int, pub: str, included: bool, mode: str,
                  negative: Optional[int] = None) -> int:
        i = len(trials)
        trials.append(TrialSpec(
            index=i, nct=f"NCT{FIRST_NCT + i:08d}", topic=topic, position=position, pmid=pub,
            included=included, link_mode=mode, fmt=TRIAL_FORMATS.get(i, "json"),
            has_results=i not in NO_RESULTS, arms=3 if i in THREE_ARM_TRIALS else 2,
            alias=ALIAS_NCT if i == ALIAS_TRIAL else None, negative=negative))
        return i

    for t, topic in enumerate(TOPICS):
        review_pmc = f"PMC{next(pmc)}" if t == REVIEW_FULLTEXT_TOPIC else None
        articles.append(ArticleSpec(pmid(), "review", t, 0, pmcid=review_pmc))
        n = TRIALS_PER_TOPIC[t]
        for k in range(n):
            pub = pmid()
            i = add_trial(t, k, pub, True, LINK_PATTERN[k])
            full = k in FULLTEXT_POSITIONS[n]
            articles.append(ArticleSpec(pub, "trial", t, k, trial=i,
                                        pmcid=f"PMC{next(pmc)}" if full else None,
                                        in_oa_package=i in OA_PACKAGE_TRIALS))
        for k, neg in enumerate(topic.negatives):
            pub = pmid()
            i = add_trial(t, k, pub, False, neg.registered, negative=k) if neg.registered else None
            articles.append(ArticleSpec(pub, "negative", t, k, trial=i))
        for k in range(len(topic.backgrounds)):
            articles.append(ArticleSpec(pmid(), "background", t, k))
    deleted = pmid()
    articles.append(ArticleSpec(deleted, "extra", 0, 0))
    updated = next(a.pmid for a in articles if a.trial == UPDATED_TRIAL)
    return Layout(tuple(articles), tuple(trials), updated, deleted)


# --------------------------------------------------------------------------- small helpers
def add_months(d: datetime.date, months: int, day: Optional[int] = None) -> datetime.date:
    """``d`` moved by ``months`` (day clamped to 28 unless given)."""
    y, m = divmod(d.year * 12 + d.month - 1 + months, 12)
    return datetime.date(y, m + 1, min(day or d.day, 28))


def fmt(x: float, decimals: int) -> str:
    """Fixed-point text of ``x`` (``-0.0`` printed as ``0.0``)."""
    text = f"{x:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def issn(stem: str) -> str:
    """``"2998001"`` → ``"2998-0015"`` with a valid ISSN check digit."""
    total = sum(int(c) * w for c, w in zip(stem, range(8, 1, -1)))
    check = (11 - total % 11) % 11
    digit = "X" if check == 10 else str(check)
    return f"{stem[:4]}-{stem[4:]}{digit}"


def phrase(label: str) -> str:
    """A label as it reads mid-sentence: ``"Metformin 850 mg"`` → ``"metformin 850 mg"``."""
    if len(label) > 1 and label[1].islower():
        return label[0].lower() + label[1:]
    return label


# --------------------------------------------------------------------------- entities
@dataclass
class Stat:
    value: str
    spread: Optional[str] = None


@dataclass
class Arm:
    group: str  # BG/OG suffix index as text: "000", "001", ...
    template: ArmTemplate
    randomised: int
    analysed: int
    serious_events: int

    @property
    def label(self) -> str:
        return self.template.label


@dataclass
class BaselineMeasure:
    """One baseline measure; ``categories`` holds (title, one Stat per arm then the total)."""
    title: str
    param_type: str  # v2 enum
    dispersion_type: Optional[str]  # v2 enum
    unit: str
    categories: list[tuple[Optional[str], list[Stat]]]


@dataclass
class OutcomeResult:
    type: str  # PRIMARY | SECONDARY
    title: str
    description: str
    time_frame: str
    param_type: str
    dispersion_type: Optional[str]  # display text, as v2 outcome measures give it
    unit: str
    values: list[Stat]  # one per arm


@dataclass
class Person:
    last: str
    fore: str
    initials: str
    affiliations: list[str]

    @property
    def full(self) -> str:
        return f"{self.fore} {self.last}"


@dataclass
class Site:
    facility: str
    city: str
    country: str


@dataclass
class TrialEntity:
    spec: TrialSpec
    topic: Topic
    population: str
    age_range: tuple[int, int]
    arms: list[Arm]
    months: int
    phases: tuple[str, ...]
    masking: str
    who_masked: tuple[str, ...]
    baseline: list[BaselineMeasure]
    primary: OutcomeResult
    secondary: OutcomeResult
    positive: bool
    sites: list[Site]
    sponsor: str
    funder: str
    official: Person
    org_study_id: str
    grant_id: str
    acronym: Optional[str]
    brief_title: str
    official_title: str
    start: datetime.date
    recruitment_end: datetime.date
    primary_completion: datetime.date
    completion: datetime.date
    first_submitted: datetime.date
    first_posted: datetime.date
    results_submitted: Optional[datetime.date]
    results_posted: Optional[datetime.date]
    last_update_posted: datetime.date
    screened: int

    @property
    def enrollment(self) -> int:
        return sum(a.randomised for a in self.arms)

    @property
    def experimental(self) -> list[Arm]:
        return [a for a in self.arms if a.template.arm_type == "EXPERIMENTAL"]

    @property
    def comparator(self) -> Arm:
        return self.arms[-1]

    @property
    def countries(self) -> list[str]:
        return list(dict.fromkeys(s.country for s in self.sites))

    @property
    def blinded(self) -> bool:
        return self.masking not in ("NONE", "SINGLE")


@dataclass
class ArticleEntity:
    spec: ArticleSpec
    title: str
    journal: int  # index into JOURNALS
    volume: str
    issue: str
    first_page: int
    last_page: int
    pub_date: datetime.date
    date_completed: Optional[datetime.date]
    date_revised: datetime.date
    received: datetime.date
    accepted: datetime.date
    authors: list[Person]
    sections: list[tuple[Optional[str], Optional[str], str]]  # (Label, NlmCategory, text)
    publication_types: list[str]
    mesh: list[tuple[str, str, bool, tuple]]
    chemicals: list[tuple[str, str, str]]
    keywords: list[str]
    reference_pmids: list[str]
    status: str = "MEDLINE"
    nct_databank: Optional[str] = None
    comment_on: Optional[str] = None
    version: int = 1

    @property
    def doi(self) -> str:
        return f"{DOI_PREFIX}/{JOURNALS[self.journal][1].lower().replace(' ', '')}.{self.pub_date.year}.{self.spec.pmid}"


def _people(rng: random.Random, count: int, affiliations: list[str]) -> list[Person]:
    people = []
    for last in rng.sample(SURNAMES, count):
        fore, _ = rng.choice(FORENAMES)
        middle = rng.choice(MIDDLE_INITIALS)
        aff = [rng.choice(affiliations)]
        if rng.random() < 0.2 and len(affiliations) > 1:
            aff.append(next(a for a in affiliations if a != aff[0]))
        people.append(Person(last, f"{fore} {middle}" if middle else fore, fore[0] + middle, aff))
    return people


def affiliation(site: Site, department: str) -> str:
    return f"{department}, {site.facility}, {site.city}, {site.country}."


def _pooled(arms: list[tuple[int, float, float]]) -> tuple[float, float]:
    """Mean and SD of the union of groups given as (n, mean, sd)."""
    n = sum(a[0] for a in arms)
    mean = sum(a[0] * a[1] for a in arms) / n
    ss = sum((k - 1) * s * s + k * (m - mean) ** 2 for k, m, s in arms)
    return mean, math.sqrt(ss / (n - 1))


class SampleWorld:
    """Builds every entity of the sample for one seed; builders are cached (bounded)."""

    def __init__(self, seed: int = 0, layout: Optional[Layout] = None):
        self.seed = seed
        self.layout = layout or sample_layout()
        self.trial = lru_cache(maxsize=4096)(self._build_trial)
        self.article = lru_cache(maxsize=4096)(self._build_article)

    def rng(self, kind: str, i) -> random.Random:
        return random.Random(f"{self.seed}:{kind}:{i}")

    # ----------------------------------------------------------------------- trials
    def _arm_templates(self, spec: TrialSpec, topic: Topic) -> list[ArmTemplate]:
        if spec.negative is not None:
            return [topic.experimental[0], topic.comparators[0]]
        exp = topic.experimental
        if spec.arms == 3:
            return [exp[0], exp[1], topic.comparators[0]]
        return [exp[spec.position % len(exp)], topic.comparators[spec.position % len(topic.comparators)]]

    def _build_trial(self, index: int) -> TrialEntity:
        spec = self.layout.trials[index]
        topic = self.layout.topic_of(spec.topic)
        rng = self.rng("trial", index)
        neg: Optional[Negative] = topic.negatives[spec.negative] if spec.negative is not None else None
        population = neg.population if neg else topic.population
        age_range = neg.age_range if neg else topic.age_range
        age_mean = neg.age_mean if neg else topic.age_mean
        templates = self._arm_templates(spec, topic)
        months = rng.choice(topic.months)
        comparator = templates[-1]
        if comparator.arm_type == "PLACEBO_COMPARATOR" or comparator.intervention_type == templates[0].intervention_type == "DRUG":
            masking, who = rng.choice(topic.maskings)
        else:
            masking, who = ("SINGLE", ("OUTCOMES_ASSESSOR",))
        positive = rng.random() > 0.2
        base = rng.randint(36, 90) if spec.arms == 3 else rng.randint(45, 160)
        sizes = [base + rng.randint(-4, 4) for _ in templates]
        arms = []
        for g, (tpl, n) in enumerate(zip(templates, sizes)):
            lost = rng.randint(2, max(3, n // 9))
            arms.append(Arm(f"{g:03d}", tpl, n, n - lost, rng.randint(0, max(1, n // 14))))
        baseline = self._baseline(rng, topic, neg, arms, age_range, age_mean)
        primary, secondary = self._outcomes(rng, topic, arms, months, positive,
                                            float(baseline[2].categories[0][1][-1].value))
        sites = [Site(*s) for s in rng.sample(INSTITUTIONS, rng.randint(1, 4))]
        start = datetime.date(rng.randint(2011, 2016), rng.randint(1, 12), rng.randint(1, 28))
        recruitment_end = add_months(start, rng.randint(8, 20))
        primary_completion = add_months(recruitment_end, months, rng.randint(1, 28))
        completion = add_months(primary_completion, rng.randint(0, 3), rng.randint(1, 28))
        first_submitted = add_months(start, -rng.randint(1, 4), rng.randint(1, 28))
        first_posted = first_submitted + datetime.timedelta(days=rng.randint(2, 9))
        if spec.has_results:
            results_submitted = add_months(completion, rng.randint(9, 14), rng.randint(1, 28))
            results_posted = results_submitted + datetime.timedelta(days=rng.randint(20, 60))
            last_update = results_posted + datetime.timedelta(days=rng.choice((0, 0, 45, 120)))
        else:
            results_submitted = results_posted = None
            last_update = add_months(completion, rng.randint(2, 10), rng.randint(1, 28))
        lead = sites[0]
        official = _people(rng, 1, [affiliation(lead, rng.choice(DEPARTMENTS))])[0]
        exp_names = _title_case(" and ".join(dict.fromkeys(t.intervention_name for t in templates[:-1])))
        pop_title = _title_case(population[0].upper() + population[1:])
        brief_title = f"{exp_names} Versus {_title_case(comparator.label)} in {pop_title}"
        design = {"QUADRUPLE": "Double-Blind", "TRIPLE": "Double-Blind", "DOUBLE": "Double-Blind",
                  "SINGLE": "Assessor-Blinded", "NONE": "Open-Label"}[masking]
        control = "Placebo-Controlled" if comparator.arm_type == "PLACEBO_COMPARATOR" else "Parallel-Group"
        official_title = (f"A Randomized, {design}, {control} Trial of {exp_names} in {pop_title} "
                          f"Over {months} Months")
        acronym = None
        if index % 4 == 1:
            acronym = (templates[0].intervention_name[:3] + topic.condition[:3] + str(index)).upper()
        return TrialEntity(
            spec=spec, topic=topic, population=population, age_range=age_range, arms=arms, months=months,
            phases=rng.choice(topic.phases), masking=masking, who_masked=who, baseline=baseline,
            primary=primary, secondary=secondary, positive=positive, sites=sites, sponsor=lead.facility,
            funder=rng.choice(SPONSOR_FUNDERS), official=official,
            org_study_id=f"{topic.key[:3].upper()}-{start.year}-{index + 1:02d}",
            grant_id=f"GR{start.year % 100:02d}-{rng.randint(100, 999)}", acronym=acronym,
            brief_title=brief_title, official_title=official_title, start=start,
            recruitment_end=recruitment_end, primary_completion=primary_completion, completion=completion,
            first_submitted=first_submitted, first_posted=first_posted, results_submitted=results_submitted,
            results_posted=results_posted, last_update_posted=last_update,
            screened=sum(sizes) + rng.randint(40, 260))

    @staticmethod
    def _baseline(rng: random.Random, topic: Topic, neg: Optional[Negative], arms: list[Arm],
                  age_range: tuple[int, int], age_mean: tuple[float, float]) -> list[BaselineMeasure]:
        ns = [a.randomised for a in arms]
        centre = rng.uniform(*age_mean)
        sd_age = (age_range[1] - age_range[0]) / 6
        ages = [(n, round(centre + rng.gauss(0, 0.7), 1), round(sd_age * rng.uniform(0.8, 1.2), 1)) for n in ns]
        share = rng.uniform(*topic.female_share)
        female = [min(n - 1, max(1, round(n * (share + rng.gauss(0, 0.03))))) for n in ns]
        q = topic.baseline
        base_mean = q.mean + (neg.baseline_shift if neg else 0.0)
        values = [(n, round(base_mean + rng.gauss(0, q.sd * 0.08), q.decimals),
                   round(q.sd * rng.uniform(0.85, 1.15), q.decimals)) for n in ns]

        def continuous(groups: list[tuple[int, float, float]], decimals: int) -> list[Stat]:
            stats = [Stat(fmt(m, decimals), fmt(s, decimals)) for _, m, s in groups]
            m, s = _pooled(groups)
            return stats + [Stat(fmt(m, decimals), fmt(s, decimals))]

        males = [n - f for n, f in zip(ns, female)]
        return [
            BaselineMeasure("Age, Continuous", "MEAN", "STANDARD_DEVIATION", "years",
                            [(None, continuous(ages, 1))]),
            BaselineMeasure("Sex: Female, Male", "COUNT_OF_PARTICIPANTS", None, "Participants",
                            [("Female", [Stat(str(f)) for f in female] + [Stat(str(sum(female)))]),
                             ("Male", [Stat(str(m)) for m in males] + [Stat(str(sum(males)))])]),
            BaselineMeasure(q.title, "MEAN", "STANDARD_DEVIATION", q.unit,
                            [(None, continuous(values, q.decimals))]),
        ]

    @staticmethod
    def _outcomes(rng: random.Random, topic: Topic, arms: list[Arm], months: int, positive: bool,
                  baseline_mean: float) -> tuple[OutcomeResult, OutcomeResult]:
        q = topic.primary
        start = baseline_mean if q.phrase == topic.baseline.phrase else q.mean
        control = start + topic.primary_drift + rng.gauss(0, q.sd * 0.05)
        rate = topic.secondary_rate * rng.uniform(0.8, 1.2)
        means, counts = [], []
        for arm in arms:
            tpl = arm.template
            scale = rng.uniform(0.7, 1.3) if positive else rng.uniform(0.05, 0.25)
            means.append(control + tpl.effect * scale)
            ratio = 1 + (tpl.event_ratio - 1) * (scale if positive else 0.2)
            counts.append(min(arm.analysed - 1, max(1, round(arm.analysed * rate * ratio))))
        time_frame = f"Baseline and {months} months after randomization"
        primary = OutcomeResult(
            "PRIMARY", q.title.format(months=months),
            f"{q.phrase[0].upper() + q.phrase[1:]} measured at the {months}-month visit.",
            time_frame, "MEAN", "Standard Deviation", q.unit,
            [Stat(fmt(m, q.decimals), fmt(q.sd * rng.uniform(0.85, 1.15), q.decimals)) for m in means])
        secondary = OutcomeResult(
            "SECONDARY", topic.secondary_title.format(months=months),
            f"Participants who {topic.secondary_phrase} during {months} months of follow-up.",
            f"{months} months", "COUNT_OF_PARTICIPANTS", None, "Participants",
            [Stat(str(c)) for c in counts])
        return primary, secondary

    # ----------------------------------------------------------------------- articles
    def _build_article(self, pmid: str) -> ArticleEntity:
        from synth import text  # composition of titles and abstracts

        spec = self.layout.article(pmid)
        topic = self.layout.topic_of(spec.topic)
        rng = self.rng(spec.kind, f"{spec.topic}:{spec.position}")
        trial = self.trial(spec.trial) if spec.trial is not None else None
        if spec.kind == "review":
            year_date = datetime.date(2024, rng.randint(5, 11), rng.randint(1, 28))
            journal = REVIEW_JOURNAL
            dept = "Centre for Evidence Synthesis"
            sites = [Site(*s) for s in rng.sample(INSTITUTIONS, 2)]
        elif trial is not None:
            year_date = add_months(trial.primary_completion, rng.randint(8, 18), rng.randint(1, 28))
            journal = rng.choice(topic.journals)
            dept = rng.choice(DEPARTMENTS)
            sites = trial.sites
        else:
            lo, hi = (2012, 2018) if spec.kind == "background" else (2016, 2022)
            year_date = datetime.date(rng.randint(lo, hi), rng.randint(1, 12), rng.randint(1, 28))
            journal = rng.choice(topic.journals)
            dept = rng.choice(DEPARTMENTS)
            sites = [Site(*s) for s in rng.sample(INSTITUTIONS, rng.randint(1, 2))]
        affiliations = [affiliation(s, dept if i == 0 else rng.choice(DEPARTMENTS)) for i, s in enumerate(sites)]
        authors = _people(rng, rng.randint(3, 8), affiliations)
        if trial is not None:
            authors = [a for a in authors if a.last != trial.official.last] + [trial.official]
        received = add_months(year_date, -rng.randint(5, 9), rng.randint(1, 28))
        accepted = add_months(year_date, -rng.randint(1, 3), rng.randint(1, 28))
        completed = add_months(year_date, rng.randint(1, 3), rng.randint(1, 28))
        revised = min(add_months(completed, rng.randint(1, 30), rng.randint(1, 28)), datetime.date(2024, 12, 20))
        revised = max(revised, completed)
        volume = str(year_date.year - 2000 + journal + rng.randint(0, 2))
        first_page = rng.randint(101, 1900)
        entity = ArticleEntity(
            spec=spec, title="", journal=journal, volume=volume, issue=str(rng.randint(1, 12)),
            first_page=first_page, last_page=first_page + rng.randint(6, 14), pub_date=year_date,
            date_completed=completed, date_revised=revised, received=received, accepted=accepted,
            authors=authors, sections=[], publication_types=[], mesh=[], chemicals=[], keywords=[],
            reference_pmids=[])
        text.fill_article(self, entity, topic, trial, rng)
        return entity

    def updated_article(self, pmid: Optional[str] = None) -> ArticleEntity:
        """The newer version of a trial publication (default: the layout's ``updated_pmid``) written
        to an update file (changed title, later revision date)."""
        from synth import text

        base = self.article(pmid or self.layout.updated_pmid)
        rng = self.rng("update", base.spec.pmid)
        return dataclasses.replace(base, title=text.revised_title(base.title),
                                   date_revised=datetime.date(2025, rng.randint(1, 6), rng.randint(1, 28)))

    def reference_pmids_for_trial(self, spec: ArticleSpec, pub_date: datetime.date) -> list[str]:
        """PMIDs cited by a trial publication: the topic's background articles, then up to two other
        included trials of the topic published earlier."""
        refs = [a.pmid for a in self.layout.topic_articles(spec.topic, "background")]
        earlier = [a.pmid for a in self.layout.topic_articles(spec.topic, "trial")
                   if a.position < spec.position and self.article(a.pmid).pub_date < pub_date]
        return refs + earlier[-2:]


_SMALL_WORDS = ("a", "an", "and", "or", "of", "for", "in", "on", "to", "the", "at", "by")


def _title_case(text: str) -> str:
    """Registry-style title case: ``"adults with prediabetes"`` → ``"Adults With Prediabetes"``."""
    out = []
    for i, w in enumerate(text.split(" ")):
        if i and w.lower() in _SMALL_WORDS:
            out.append(w.lower())
        elif w[:1].islower():
            out.append(w[0].upper() + w[1:])
        else:
            out.append(w)
    return " ".join(out)
