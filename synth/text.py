"""Prose of the sample: titles, abstracts and full-text bodies composed from the entities.

Every registry value a reader might extract (enrollment, arm labels, intervention names, group
titles, baseline and outcome values) is written into the abstract and, for full texts, the body and
tables, using exactly the strings of the registry record.

Body structures are plain data consumed by the JATS writer:
``Sec = (title, paragraphs, subsections, tables)``; a paragraph is a list of segments, each a ``str``,
``("cite", pmid)``, ``("ext", url, text)`` or ``("table", table_id, label)``;
``TableSpec = (table_id, label, caption, header_row, body_rows, footnote)``.
"""
from __future__ import annotations

import datetime
import math
import random
from typing import Optional

from synth.entities import (
    CLEF_REVIEW_ID, ArticleEntity, ArticleSpec, Stat, TrialEntity, fmt, phrase)
from synth.vocab import DEMOGRAPHIC_MESH, JOURNALS, MONTH_ABBR, MONTH_NAMES, TOPICS, Topic

NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
BLINDING = {"QUADRUPLE": "double-blind", "TRIPLE": "double-blind", "DOUBLE": "double-blind",
            "SINGLE": "assessor-blinded", "NONE": "open-label"}
REGISTRY_URL = "https://clinicaltrials.gov/study/"
ARTICLE_COUNTRIES = ("Netherlands",)


# --------------------------------------------------------------------------- small helpers
def join(items: list[str], last: str = "and") -> str:
    """``["a", "b", "c"]`` → ``"a, b and c"``."""
    items = list(items)
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def countries_text(countries: list[str]) -> str:
    """``["United Kingdom", "Spain"]`` → ``"the United Kingdom and Spain"``."""
    return join([f"the {c}" if c.startswith("United ") or c in ARTICLE_COUNTRIES else c for c in countries])


def with_article(word: str) -> str:
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def experimental_phrase(trial: TrialEntity) -> str:
    """How prose names the experimental arm(s): one label, or the agent with its doses."""
    arms = trial.experimental
    if len(arms) == 1:
        return phrase(arms[0].label)
    return f"{trial.topic.agent} ({join([phrase(a.label) for a in arms], 'or')})"


def month_year(d: datetime.date) -> str:
    return f"{MONTH_NAMES[d.month - 1]} {d.year}"


def sentence_case(text: str) -> str:
    return text[0].upper() + text[1:] if text else text


def unit_suffix(unit: str) -> str:
    return f" {unit}" if unit else ""


def citation(article: ArticleEntity) -> str:
    """Vancouver-style citation of an article (as registries and reference lists print it)."""
    names = [f"{a.last} {a.initials}" for a in article.authors[:3]]
    if len(article.authors) > 3:
        names.append("et al")
    journal = JOURNALS[article.journal][1]
    d = article.pub_date
    return (f"{', '.join(names)}. {article.title} {journal}. {d.year} {MONTH_ABBR[d.month - 1]};"
            f"{article.volume}({article.issue}):{article.first_page}-{article.last_page}. doi: {article.doi}.")


def revised_title(title: str) -> str:
    """The corrected title of the updated citation."""
    stem = title.rstrip(".")
    if ": " in stem:
        stem = stem.split(": ", 1)[0]
    return f"{stem}: final results of a multicentre randomised controlled trial."


# --------------------------------------------------------------------------- article filling
def fill_article(world, entity: ArticleEntity, topic: Topic, trial: Optional[TrialEntity],
                 rng: random.Random) -> None:
    """Set the title, abstract and indexing of ``entity`` according to its kind."""
    kind = entity.spec.kind
    if kind == "review":
        _fill_review(world, entity, topic, rng)
    elif trial is not None:
        _fill_trial(world, entity, topic, trial, rng)
    elif kind == "negative":
        _fill_negative(entity, topic, rng)
    elif kind == "background":
        _fill_background(entity, topic)
    else:
        _fill_extra(world, entity, topic)


def _demographic_mesh(age_range: tuple[int, int], blinded: bool) -> list[str]:
    lo, hi = age_range
    names = ["Humans", "Female", "Male"]
    if lo < 19:
        names.append("Adolescent")
    if lo <= 24 and hi >= 19:
        names.append("Young Adult")
    if hi >= 19 and lo < 45:
        names.append("Adult")
    if hi >= 45 and lo < 65:
        names.append("Middle Aged")
    if hi >= 65:
        names.append("Aged")
    if hi >= 80:
        names.append("Aged, 80 and over")
    names.append("Double-Blind Method" if blinded else "Single-Blind Method")
    names.append("Treatment Outcome")
    return names


def _mesh(topic: Topic, extra: list[str]) -> list[tuple]:
    headings = list(topic.mesh) + [(name, DEMOGRAPHIC_MESH[name], False, ()) for name in extra]
    return sorted(headings, key=lambda h: h[0].lower())


def _fill_trial(world, entity: ArticleEntity, topic: Topic, trial: TrialEntity, rng: random.Random) -> None:
    spec = entity.spec
    if spec.kind == "negative":
        entity.title = topic.negatives[spec.position].title + "."
    else:
        entity.title = trial_title(trial)
    entity.sections = trial_abstract(trial, rng)
    types = ["Journal Article"]
    if len(trial.sites) > 1:
        types.append("Multicenter Study")
    types.append("Randomized Controlled Trial")
    if rng.random() < 0.6:
        types.append("Research Support, Non-U.S. Gov't")
    entity.publication_types = types
    entity.mesh = _mesh(topic, _demographic_mesh(trial.age_range, trial.blinded))
    chems = {c[0]: c for c in topic.chemicals}
    for arm in trial.arms:
        for c in arm.template.chemicals:
            chems.setdefault(c[0], c)
    entity.chemicals = sorted(chems.values(), key=lambda c: c[0].lower())
    entity.keywords = rng.sample(topic.keywords, min(4, len(topic.keywords)))
    if trial.spec.link_mode == "databank":
        entity.nct_databank = trial.spec.nct
    if spec.pmcid:
        entity.reference_pmids = world.reference_pmids_for_trial(spec, entity.pub_date)


def trial_title(trial: TrialEntity) -> str:
    """Title of a trial publication; sibling trials of a topic get different title patterns."""
    exp = experimental_phrase(trial)
    comp = phrase(trial.comparator.label)
    pop = trial.population
    outcome = trial.topic.primary.phrase
    multicentre = "multicentre randomised" if len(trial.sites) > 1 else "randomised"
    templates = (
        f"{sentence_case(exp)} versus {comp} in {pop}: a randomised controlled trial.",
        f"Effect of {exp} on {outcome} in {pop}: a randomised trial.",
        f"{sentence_case(exp)} compared with {comp} for {pop}: results of "
        f"{with_article(BLINDING[trial.masking])} randomised trial.",
        f"{sentence_case(exp)} or {comp} for {trial.months} months in {pop}: a {multicentre} trial.",
        f"{sentence_case(outcome)} with {exp} versus {comp}: {trial.months}-month results of a randomised "
        f"trial in {pop}.",
    )
    return templates[(trial.spec.position + trial.spec.topic) % len(templates)]


def _arm_values(trial: TrialEntity, stats: list[Stat], unit: str, with_sd: bool = True) -> list[str]:
    parts = []
    for arm, s in zip(trial.arms, stats):
        sd = f" (SD {s.spread})" if with_sd else ""
        parts.append(f"{s.value}{sd}{unit_suffix(unit)} in the {arm.label} group")
    return parts


def baseline_sentences(trial: TrialEntity) -> list[str]:
    """Sentences stating every baseline value (each group and overall)."""
    age, sex, extra = trial.baseline
    ages = age.categories[0][1]
    female, male = sex.categories[0][1], sex.categories[1][1]
    values = extra.categories[0][1]
    q = trial.topic.baseline
    unit = q.prose_unit
    return [
        f"Mean age was {join(_arm_values(trial, ages[:-1], 'years'))} "
        f"({ages[-1].value} [SD {ages[-1].spread}] years overall).",
        f"Women numbered {join([f'{s.value} in the {a.label} group' for a, s in zip(trial.arms, female)])} "
        f"({female[-1].value} in total); men numbered {join([s.value for s in male[:-1]])} "
        f"({male[-1].value} in total).",
        f"Baseline {q.phrase} was {join(_arm_values(trial, values[:-1], unit))} "
        f"({values[-1].value} [SD {values[-1].spread}]{unit_suffix(unit)} overall).",
    ]


def outcome_sentences(trial: TrialEntity) -> list[str]:
    q = trial.topic.primary
    unit = q.prose_unit
    prim = [f"{s.value} (SD {s.spread}){unit_suffix(unit)} in the {a.label} group (n={a.analysed})"
            for a, s in zip(trial.arms, trial.primary.values)]
    counts = [f"{s.value} of {a.analysed}" for a, s in zip(trial.arms, trial.secondary.values)]
    groups = join([a.label for a in trial.arms])
    return [
        f"At {trial.months} months, {q.phrase} was {join(prim)}.",
        f"{sentence_case(join(counts))} participants in the {groups} groups, respectively, "
        f"{trial.topic.secondary_phrase}.",
    ]


def trial_abstract(trial: TrialEntity, rng: random.Random) -> list[tuple[Optional[str], Optional[str], str]]:
    """Structured abstract of a trial publication: (Label, NlmCategory, text) per section."""
    topic = trial.topic
    exp = experimental_phrase(trial)
    comp = phrase(trial.comparator.label)
    aim = topic.aim.format(experimental=exp, comparator=comp)
    background = f"{rng.choice(topic.background_sentences)} We assessed {aim}."
    control = "placebo-controlled" if trial.comparator.template.arm_type == "PLACEBO_COMPARATOR" else "parallel-group"
    n_sites = len(trial.sites)
    arms = join([f"the {a.label} arm ({a.template.regimen})" for a in trial.arms], "or")
    interventions = join([f"{a.template.intervention_name} ({a.label} arm)" for a in trial.arms])
    lo, hi = trial.age_range
    methods = (f"We did {with_article(BLINDING[trial.masking])}, randomised, {control} trial at "
               f"{NUMBER_WORDS[n_sites]} {'site' if n_sites == 1 else 'sites'} in {countries_text(trial.countries)}. "
               f"{sentence_case(trial.population)} aged {lo} to {hi} years were randomly assigned to {arms} "
               f"for {trial.months} months. Interventions: {interventions}. The primary outcome was "
               f"{topic.primary.phrase} at {trial.months} months.")
    if trial.spec.link_mode == "abstract":
        methods += f" The trial was registered at ClinicalTrials.gov ({trial.spec.nct})."
    allocation = join([f"{a.randomised} to {a.label}" for a in trial.arms])
    results = " ".join([
        f"Between {month_year(trial.start)} and {month_year(trial.recruitment_end)}, we randomised "
        f"{trial.enrollment} participants ({allocation}).",
        *baseline_sentences(trial), *outcome_sentences(trial)])
    template = topic.conclusion_positive if trial.positive else topic.conclusion_neutral
    conclusions = template.format(population=trial.population, experimental=exp, comparator=comp)
    return [("BACKGROUND", "BACKGROUND", background), ("METHODS", "METHODS", methods),
            ("RESULTS", "RESULTS", results), ("CONCLUSIONS", "CONCLUSIONS", conclusions)]


def _included_trials(world, topic_index: int) -> list[TrialEntity]:
    return [world.trial(a.trial) for a in world.layout.topic_articles(topic_index, "trial")]


def number_words(n: int) -> str:
    return NUMBER_WORDS[n] if n < len(NUMBER_WORDS) else str(n)


def review_main_results(world, topic_index: int) -> str:
    topic = world.layout.topic_of(topic_index)
    trials = _included_trials(world, topic_index)
    pubs = [world.article(t.spec.pmid) for t in trials]
    q = topic.primary
    weights = [(t.experimental[0].analysed * t.comparator.analysed)
               / (t.experimental[0].analysed + t.comparator.analysed) for t in trials]
    diffs = [float(t.primary.values[0].value) - float(t.primary.values[-1].value) for t in trials]
    md = sum(w * d for w, d in zip(weights, diffs)) / sum(weights)
    se = q.sd / math.sqrt(sum(weights))
    exp_events = sum(int(t.secondary.values[0].value) for t in trials)
    exp_total = sum(t.experimental[0].analysed for t in trials)
    ctl_events = sum(int(t.secondary.values[-1].value) for t in trials)
    ctl_total = sum(t.comparator.analysed for t in trials)
    years = sorted(p.pub_date.year for p in pubs)
    months = sorted(t.months for t in trials)
    unit = q.prose_unit
    return (f"We included {number_words(len(trials))} randomised controlled trials with "
            f"{sum(t.enrollment for t in trials)} participants, published between {years[0]} and {years[-1]}; "
            f"follow-up ranged from {months[0]} to {months[-1]} months. Compared with control, {topic.agent} "
            f"changed {q.phrase} by a mean difference of {fmt(md, q.decimals)}{unit_suffix(unit)} "
            f"(95% CI {fmt(md - 1.96 * se, q.decimals)} to {fmt(md + 1.96 * se, q.decimals)}; "
            f"{len(trials)} trials). In total, {exp_events} of {exp_total} participants given {topic.agent} and "
            f"{ctl_events} of {ctl_total} control participants {topic.secondary_phrase}.")


def review_abstract(world, topic_index: int) -> list[tuple[str, str, str]]:
    r = world.layout.topic_of(topic_index).review
    criteria = " ".join((r.study_types, r.population, r.intervention, r.comparison, r.outcomes))
    return [
        ("BACKGROUND", "BACKGROUND", r.background),
        ("OBJECTIVES", "OBJECTIVE", r.objectives),
        ("SEARCH METHODS", "METHODS", r.search_methods),
        ("SELECTION CRITERIA", "METHODS", criteria),
        ("DATA COLLECTION AND ANALYSIS", "METHODS", r.data_collection),
        ("MAIN RESULTS", "RESULTS", review_main_results(world, topic_index)),
        ("AUTHORS' CONCLUSIONS", "CONCLUSIONS", r.conclusions),
    ]


# A review group past the first of its topic (scaled corpora) narrows the topic's question, as real
# reviews of one topic do: a setting, a trial design, a subgroup analysed separately and a search
# start year, one combination per repeat (13 x 10 x 8 x 20 = 20,800 per topic), so that its
# question, and hence its search-query and screening records, are its own.
FOCUS_SETTINGS = (
    "in primary care", "in hospital outpatient clinics", "in community settings",
    "in low- and middle-income countries", "in high-income countries", "in rural populations",
    "in urban populations", "in Europe", "in North America", "in Asia", "in multicentre trials",
    "in single-centre trials", "with remote or digital follow-up")
FOCUS_DESIGNS = (
    "with placebo control", "with an active comparator", "with at least six months of follow-up",
    "with at least one year of follow-up", "with blinded outcome assessment",
    "with intention-to-treat analysis", "with more than 100 participants", "with low risk of attrition bias",
    "with pre-registered protocols", "with parallel-group designs")
FOCUS_SUBGROUPS = (
    "women", "men", "participants aged 65 years or older", "participants with obesity",
    "participants from ethnic minority groups", "participants with chronic kidney disease",
    "participants with low socioeconomic status", "participants with multimorbidity")
FOCUS_FIRST_YEAR = 2000
FOCUS_YEARS = 20


def review_focus(repeat: int) -> Optional[tuple[str, str, str, int]]:
    """(setting, design, subgroup, search start year) of the ``repeat``-th extra review of a topic
    (``None`` for the topic's first review, which keeps the topic's own question)."""
    if repeat <= 0:
        return None
    k = repeat - 1
    k, setting = divmod(k, len(FOCUS_SETTINGS))
    k, design = divmod(k, len(FOCUS_DESIGNS))
    k, subgroup = divmod(k, len(FOCUS_SUBGROUPS))
    return (FOCUS_SETTINGS[setting], FOCUS_DESIGNS[design], FOCUS_SUBGROUPS[subgroup],
            FOCUS_FIRST_YEAR + k % FOCUS_YEARS)


def _fill_review(world, entity: ArticleEntity, topic: Topic, rng: random.Random) -> None:
    t = entity.spec.topic
    entity.title = topic.review.title + "."
    entity.sections = review_abstract(world, t)
    focus = review_focus(t // len(TOPICS))
    if focus is not None:
        setting, design, subgroup, year = focus
        entity.title = f"{topic.review.title}: trials {setting} {design}, {year} onwards."
        entity.sections = [
            (label, cat, body + f" We restricted the review to trials {setting} {design} published from {year} "
                                f"onwards, and analysed {subgroup} separately.")
            if label == "OBJECTIVES" else (label, cat, body) for label, cat, body in entity.sections]
    types = ["Journal Article"]
    if topic.meta_analysis:
        types.append("Meta-Analysis")
    entity.publication_types = types + ["Review", "Systematic Review"]
    entity.mesh = _mesh(topic, ["Humans"]) + [("Randomized Controlled Trials as Topic", "D016032", False, ())]
    entity.mesh.sort(key=lambda h: h[0].lower())
    entity.chemicals = list(topic.chemicals)
    entity.keywords = rng.sample(topic.keywords, 3) + ["systematic review"]
    trials = [a.pmid for a in world.layout.topic_articles(t, "trial")]
    backgrounds = [a.pmid for a in world.layout.topic_articles(t, "background")]
    entity.reference_pmids = backgrounds[:1] + trials + backgrounds[1:]


def _fill_negative(entity: ArticleEntity, topic: Topic, rng: random.Random) -> None:
    neg = topic.negatives[entity.spec.position]
    n = rng.randint(60, 4000) if neg.kind in ("cohort", "cross_sectional") else rng.randint(14, 120)
    values = {"n": n, "k": rng.randint(max(2, n // 12), max(3, n // 3)), "k2": rng.randint(1, max(2, n // 5)),
              "m": rng.randint(2, 9), "hr": fmt(rng.uniform(0.6, 1.4), 2)}
    entity.title = neg.title + "."
    entity.sections = [(label, cat, body.format(**values)) for label, cat, body in neg.abstract]
    entity.publication_types = list(neg.publication_types)
    entity.keywords = rng.sample(topic.keywords, 3)
    if topic is TOPICS[3] and neg.kind == "cohort":
        entity.status = "In-Data-Review"
        entity.date_completed = None
        return
    entity.mesh = _mesh(topic, ["Humans", "Female", "Male"])
    entity.chemicals = list(topic.chemicals)


def _fill_background(entity: ArticleEntity, topic: Topic) -> None:
    bg = topic.backgrounds[entity.spec.position]
    entity.title = bg.title + "."
    entity.sections = [(None, None, bg.abstract)]
    entity.publication_types = list(bg.publication_types)
    entity.mesh = _mesh(topic, ["Humans"])
    entity.chemicals = list(topic.chemicals)


def _fill_extra(world, entity: ArticleEntity, topic: Topic) -> None:
    target = world.layout.article(world.layout.updated_pmid)
    entity.title = "Adherence reporting in trials of metformin for prediabetes."
    entity.sections = []
    entity.publication_types = ["Letter", "Comment"]
    entity.mesh = _mesh(topic, ["Humans"])[:3]
    entity.comment_on = target.pmid
    entity.status = "PubMed-not-MEDLINE"
    entity.date_completed = None


# --------------------------------------------------------------------------- full-text bodies
def cites(pmids: list[str]) -> list:
    """Bracketed citation segments: ``[1, 2]``."""
    segments: list = ["["]
    for i, pmid in enumerate(pmids):
        segments += [", "] if i else []
        segments.append(("cite", pmid))
    return segments + ["]"]


def _bare(sentence: str) -> str:
    return sentence.rstrip(".")


def _sites_text(trial: TrialEntity) -> str:
    return join([f"{s.facility} ({s.city}, {s.country})" for s in trial.sites])


def registration_segments(trial: TrialEntity) -> list:
    """Where a full text names the registry record (nothing for registry-only links)."""
    nct = trial.spec.nct
    if not trial.spec.registered:
        return ["The report does not name a trial registration."]
    if trial.spec.link_mode == "registry":
        return ["The trial was prospectively registered in a public trial registry before enrolment began."]
    if trial.spec.index % 2 == 0:
        return ["The trial is registered with ClinicalTrials.gov (", ("ext", REGISTRY_URL + nct, nct), ")."]
    return [f"The trial was registered at ClinicalTrials.gov under the number {nct}."]


def baseline_table(trial: TrialEntity) -> tuple:
    age, sex, extra = trial.baseline
    header = ["Characteristic"] + [f"{a.label} (n = {a.randomised})" for a in trial.arms] + \
             [f"Total (n = {trial.enrollment})"]
    q = trial.topic.baseline
    rows = [
        ["Age, years, mean (SD)"] + [f"{s.value} ({s.spread})" for s in age.categories[0][1]],
        ["Female, n"] + [s.value for s in sex.categories[0][1]],
        ["Male, n"] + [s.value for s in sex.categories[1][1]],
        [f"{sentence_case(q.phrase)}, {q.prose_unit}, mean (SD)"] + [f"{s.value} ({s.spread})" for s in
                                                                     extra.categories[0][1]],
    ]
    return ("tbl1", "Table 1", "Baseline characteristics of the randomised participants", header, rows,
            "SD, standard deviation.")


def outcome_table(trial: TrialEntity) -> tuple:
    q = trial.topic.primary
    header = ["Outcome"] + [f"{a.label} (n = {a.analysed})" for a in trial.arms]
    rows = [
        [f"{sentence_case(q.phrase)} at {trial.months} months, {q.prose_unit}, mean (SD)"]
        + [f"{s.value} ({s.spread})" for s in trial.primary.values],
        [f"Participants who {trial.topic.secondary_phrase}, n"] + [s.value for s in trial.secondary.values],
        ["Participants with a serious adverse event, n"] + [str(a.serious_events) for a in trial.arms],
    ]
    return ("tbl2", "Table 2", "Primary and secondary outcomes", header, rows, None)


def trial_body(world, article: ArticleEntity, trial: TrialEntity) -> list[tuple]:
    """Sections of a trial's full text."""
    topic = trial.topic
    refs = article.reference_pmids
    backgrounds, earlier = refs[:2], refs[2:]
    exp = experimental_phrase(trial)
    comp = phrase(trial.comparator.label)
    intro = [
        [_bare(topic.background_sentences[0]) + " ", *cites(backgrounds[:1]),
         ". " + _bare(topic.background_sentences[1]) + " ", *cites(backgrounds[1:]), "."],
    ]
    if earlier:
        intro.append(["Earlier randomised trials in this field reported differing effect sizes ", *cites(earlier), "."])
    intro.append([f"We therefore assessed {topic.aim.format(experimental=exp, comparator=comp)}."])
    lo, hi = trial.age_range
    control = "placebo-controlled" if trial.comparator.template.arm_type == "PLACEBO_COMPARATOR" else "parallel-group"
    design = [[f"This {BLINDING[trial.masking]}, randomised, {control} trial was done at {_sites_text(trial)}. "
               "Ethics committees at every site approved the protocol and all participants gave written "
               "informed consent. "] + registration_segments(trial)]
    participants = [[f"We enrolled {trial.population} aged {lo} to {hi} years. Inclusion criteria were: "
                     f"{'; '.join(c[0].lower() + c[1:] for c in topic.inclusion)}. Exclusion criteria were: "
                     f"{'; '.join(c[0].lower() + c[1:] for c in topic.exclusion)}."]]
    interventions = [[f"{a.template.intervention_name} was the intervention of the {a.label} arm: participants "
                      f"received {a.template.regimen} for {trial.months} months."] for a in trial.arms]
    interventions.append(["Allocation used computer-generated permuted blocks stratified by site."])
    outcomes = [[f"The primary outcome was {topic.primary.phrase} at {trial.months} months. The secondary "
                 f"outcome was the number of participants who {topic.secondary_phrase} within "
                 f"{trial.months} months. Serious adverse events were recorded at every visit."]]
    stats = [["We analysed participants in the groups to which they were randomly assigned, using linear "
              "regression adjusted for the baseline value and site for the primary outcome and log-binomial "
              "regression for the secondary outcome."]]
    allocation = join([f"{a.randomised} to the {a.label} arm" for a in trial.arms])
    analysed = join([str(a.analysed) for a in trial.arms])
    results = [
        [f"Between {month_year(trial.start)} and {month_year(trial.recruitment_end)}, {trial.screened} people "
         f"were screened and {trial.enrollment} were randomly assigned: {allocation}. Of these, {analysed} "
         f"participants completed follow-up and were analysed."],
        ["Baseline characteristics were similar across groups (", ("table", "tbl1", "Table 1"), "). "]
        + [" ".join(baseline_sentences(trial))],
        [" ".join(outcome_sentences(trial)) + " Results are summarised in ", ("table", "tbl2", "Table 2"),
         ". Serious adverse events occurred in "
         + join([f"{a.serious_events} {'participant' if a.serious_events == 1 else 'participants'} in the "
                 f"{a.label} group" for a in trial.arms]) + "."],
    ]
    conclusion = (topic.conclusion_positive if trial.positive else topic.conclusion_neutral).format(
        population=trial.population, experimental=exp, comparator=comp)
    discussion = [
        [conclusion + " These findings are consistent with the known natural history of the condition ",
         *cites(backgrounds[:1]), "."],
        ["The trial has limitations: follow-up was limited to "
         f"{trial.months} months, and the population was recruited from "
         f"{NUMBER_WORDS[len(trial.countries)]} {'country' if len(trial.countries) == 1 else 'countries'}."],
    ]
    return [
        ("Introduction", intro, [], []),
        ("Methods", [], [("Study design", design, [], []), ("Participants", participants, [], []),
                         ("Interventions", interventions, [], []), ("Outcomes", outcomes, [], []),
                         ("Statistical analysis", stats, [], [])], []),
        ("Results", results, [], [baseline_table(trial), outcome_table(trial)]),
        ("Discussion", discussion, [], []),
    ]


def review_body(world, article: ArticleEntity) -> list[tuple]:
    """Sections of the review's full text (its included-studies table cites every included trial)."""
    t = article.spec.topic
    topic = world.layout.topic_of(t)
    r = topic.review
    trials = _included_trials(world, t)
    backgrounds = [a.pmid for a in world.layout.topic_articles(t, "background")]
    rows = []
    for trial in trials:
        pub = world.article(trial.spec.pmid)
        registration = trial.spec.nct if trial.spec.registered else "Not registered"
        rows.append([f"{pub.authors[0].last} {pub.pub_date.year}", registration, str(trial.enrollment),
                     "; ".join(a.label for a in trial.arms), f"{trial.months} months"])
    table = ("tbl1", "Table 1", "Characteristics of included studies",
             ["Study", "Registration", "Participants randomised", "Arms", "Follow-up"], rows, None)
    return [
        ("Background", [[_bare(r.background) + " ", *cites(backgrounds), "."]], [], []),
        ("Objectives", [[r.objectives]], [], []),
        ("Methods", [], [
            ("Criteria for considering studies for this review", [], [
                ("Types of studies", [[r.study_types]], [], []),
                ("Types of participants", [[r.population]], [], []),
                ("Types of interventions", [[r.intervention + " " + r.comparison]], [], []),
                ("Types of outcome measures", [[r.outcomes]], [], []),
            ], []),
            ("Search methods for identification of studies", [[r.search_methods]], [], []),
            ("Data collection and analysis", [[r.data_collection]], [], []),
        ], []),
        ("Results", [
            ["Included studies are described in ", ("table", "tbl1", "Table 1"), " and cited as ",
             *cites([t.spec.pmid for t in trials]), "."],
            [review_main_results(world, t)],
        ], [], [table]),
        ("Discussion", [[r.conclusions]], [], []),
    ]


def review_ids(article_spec: ArticleSpec) -> Optional[str]:
    """The Cochrane-style identifier carried by the review of topic 1."""
    return CLEF_REVIEW_ID if article_spec.kind == "review" and article_spec.topic == 0 else None
