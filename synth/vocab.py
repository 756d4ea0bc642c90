"""Vocabulary of the synthetic sample corpus: topics, people, places and journals (data only).

Every sentence here is original wording for the sample. Identifiers follow the real formats but use
unassigned ranges (NCT09…, PMID 9…, PMC99…, DOI prefix 10.5555).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class ArmTemplate:
    """One arm of a trial: label (also the results group title) and its single intervention."""
    label: str
    arm_type: str  # v2 enum: EXPERIMENTAL, PLACEBO_COMPARATOR, ACTIVE_COMPARATOR, NO_INTERVENTION
    intervention_type: str  # v2 enum: DRUG, BEHAVIORAL, DIETARY_SUPPLEMENT, OTHER
    intervention_name: str
    regimen: str  # what participants of the arm received, as a plain phrase
    other_names: tuple[str, ...] = ()
    chemicals: tuple[tuple[str, str, str], ...] = ()  # (name, MeSH UI, registry number)
    effect: float = 0.0  # shift of the primary outcome against the comparator, in outcome units
    event_ratio: float = 1.0  # risk ratio of the secondary (count) outcome against the comparator


@dataclass(frozen=True)
class Quantity:
    """A continuous measure: registry title, phrase used in text, unit and a plausible distribution."""
    title: str
    phrase: str
    unit: str
    mean: float
    sd: float
    decimals: int = 1
    text_unit: Optional[str] = None  # unit as written in prose when it differs from the registry unit

    @property
    def prose_unit(self) -> str:
        return self.text_unit if self.text_unit is not None else self.unit


@dataclass(frozen=True)
class Negative:
    """A topic-near article the review did not include."""
    kind: str  # rct_other_population | cohort | cross_sectional | qualitative | crossover
    title: str
    publication_types: tuple[str, ...]
    abstract: tuple[tuple[Optional[str], Optional[str], str], ...]  # (label, NlmCategory, text with {n} fields)
    registered: Optional[str] = None  # link mode when registered: databank | abstract
    population: str = ""  # population phrase of a registered trial
    age_range: tuple[int, int] = (18, 80)
    age_mean: tuple[float, float] = (40.0, 50.0)
    baseline_shift: float = 0.0  # added to the topic's baseline measure mean


@dataclass(frozen=True)
class Background:
    """A non-trial article cited as background by the review and the trials."""
    title: str
    publication_types: tuple[str, ...]
    abstract: str


@dataclass(frozen=True)
class ReviewText:
    title: str
    background: str
    objectives: str
    search_methods: str
    population: str
    intervention: str
    comparison: str
    outcomes: str
    study_types: str
    data_collection: str
    conclusions: str


@dataclass(frozen=True)
class Topic:
    key: str
    name: str
    agent: str  # short name of the intervention class: "metformin"
    condition: str
    conditions: tuple[str, ...]
    keywords: tuple[str, ...]
    population: str  # plural noun phrase: "adults with prediabetes"
    inclusion: tuple[str, ...]  # registry inclusion criteria bullets
    exclusion: tuple[str, ...]
    age_range: tuple[int, int]
    age_mean: tuple[float, float]
    female_share: tuple[float, float]
    experimental: tuple[ArmTemplate, ...]
    comparators: tuple[ArmTemplate, ...]
    baseline: Quantity
    primary: Quantity  # title holds "{months}"
    primary_drift: float  # comparator change of the primary outcome from baseline
    secondary_title: str  # holds "{months}"
    secondary_phrase: str  # "developed type 2 diabetes"
    secondary_rate: float  # comparator event rate
    months: tuple[int, ...]
    phases: tuple[tuple[str, ...], ...]
    primary_purpose: str
    maskings: tuple[tuple[str, tuple[str, ...]], ...]
    mesh: tuple[tuple[str, str, bool, tuple[tuple[str, str, bool], ...]], ...]
    chemicals: tuple[tuple[str, str, str], ...]
    background_sentences: tuple[str, ...]
    aim: str  # "whether {experimental} lowers fasting glucose"
    conclusion_positive: str
    conclusion_neutral: str
    review: ReviewText
    negatives: tuple[Negative, ...]
    backgrounds: tuple[Background, ...]
    journals: tuple[int, ...]  # indices into JOURNALS
    external: Optional[str] = None  # clef | synergy | link_table
    meta_analysis: bool = False


# MeSH qualifiers (name, UI)
Q_THERAPEUTIC_USE = ("therapeutic use", "Q000627")
Q_PREVENTION = ("prevention & control", "Q000517")
Q_DRUG_THERAPY = ("drug therapy", "Q000188")
Q_ADMIN = ("administration & dosage", "Q000008")
Q_BLOOD = ("blood", "Q000097")
Q_DRUG_EFFECTS = ("drug effects", "Q000187")
Q_THERAPY = ("therapy", "Q000628")
Q_METHODS = ("methods", "Q000379")
Q_EPIDEMIOLOGY = ("epidemiology", "Q000453")

# Publication types (name → MeSH UI)
PUBLICATION_TYPE_UI = {
    "Journal Article": "D016428",
    "Randomized Controlled Trial": "D016449",
    "Multicenter Study": "D016448",
    "Systematic Review": "D000078182",
    "Meta-Analysis": "D017418",
    "Review": "D016454",
    "Observational Study": "D064888",
    "Comparative Study": "D003160",
    "Research Support, Non-U.S. Gov't": "D013485",
    "Letter": "D016422",
    "Comment": "D016420",
}

DEMOGRAPHIC_MESH = {
    "Humans": "D006801", "Adult": "D000328", "Middle Aged": "D008875", "Aged": "D000368",
    "Aged, 80 and over": "D000369", "Adolescent": "D000293", "Young Adult": "D055815",
    "Female": "D005260", "Male": "D008297", "Double-Blind Method": "D004311",
    "Single-Blind Method": "D016037", "Treatment Outcome": "D016896", "Follow-Up Studies": "D005500",
}

# --------------------------------------------------------------------------- places and people
# (institution, town, country); towns are invented, countries are real registry country names.
INSTITUTIONS = (
    ("Eastmere General Hospital", "Eastmere", "United Kingdom"),
    ("Valbrook Institute of Clinical Research", "Valbrook", "United Kingdom"),
    ("Kestrel Bay University Medical Centre", "Kestrel Bay", "Netherlands"),
    ("Port Alder Teaching Hospital", "Port Alder", "Canada"),
    ("Linden Falls Health Sciences Centre", "Linden Falls", "Canada"),
    ("Marrowhill Regional Hospital", "Marrowhill", "Australia"),
    ("Oakhaven Metabolic Research Unit", "Oakhaven", "Denmark"),
    ("Sorrelby University Clinic", "Sorrelby", "Germany"),
    ("Castellmar Hospital Foundation", "Castellmar", "Spain"),
    ("Rivolta Clinical Trials Centre", "Rivolta", "Italy"),
    ("Brenwick Sleep and Behaviour Institute", "Brenwick", "United States"),
    ("Halloway Cardiovascular Institute", "Halloway", "United States"),
    ("Northfen Primary Care Research Network", "Northfen", "United Kingdom"),
    ("Tamsworth Academic Health Centre", "Tamsworth", "New Zealand"),
    ("Ilmsford Bone Health Unit", "Ilmsford", "Sweden"),
    ("Quillon University Hospital", "Quillon", "France"),
)

DEPARTMENTS = (
    "Department of Endocrinology", "Department of Internal Medicine", "Clinical Trials Unit",
    "Department of General Practice", "Department of Epidemiology", "Department of Psychiatry",
    "Department of Geriatric Medicine", "Department of Cardiology", "Division of Nephrology and Hypertension",
    "Department of Nutrition", "Sleep Medicine Service", "Centre for Evidence Synthesis",
)

SURNAMES = (
    "Abernethy", "Okafor", "Lindqvist", "Moreau", "Castellanos", "Varga", "Nakamura", "Petrov",
    "Haddad", "Kowalczyk", "Brennan", "Iyer", "Fontaine", "Sandoval", "Whitlock", "Achterberg",
    "Delacroix", "Mbeki", "Rasmussen", "Tanaka", "Oyelaran", "Quintero", "Halvorsen", "Ferreira",
    "Lambrecht", "Osei", "Sorensen", "Vukovic", "Ashworth", "Benedetti", "Carvalho", "Dunmore",
    "Eriksen", "Gallagher", "Hoshino", "Jansen", "Kaplan", "Lopez-Arana", "Mahlangu", "Novak",
)

FORENAMES = (
    ("Helena", "F"), ("Tobias", "M"), ("Amara", "F"), ("Rafael", "M"), ("Ingrid", "F"), ("Kwame", "M"),
    ("Sofia", "F"), ("Mateo", "M"), ("Yuki", "F"), ("Dmitri", "M"), ("Leila", "F"), ("Pieter", "M"),
    ("Chiara", "F"), ("Oluwaseun", "M"), ("Margit", "F"), ("Anders", "M"), ("Priya", "F"), ("Julien", "M"),
    ("Noor", "F"), ("Callum", "M"), ("Beatriz", "F"), ("Henrik", "M"), ("Aiko", "F"), ("Samuel", "M"),
)

MIDDLE_INITIALS = ("", "", "", "A", "J", "M", "R", "L", "K")

# (journal title, ISO abbreviation, 7-digit ISSN stem, NLM unique id, publisher)
JOURNALS = (
    ("Journal of Preventive Metabolic Medicine", "J Prev Metab Med", "2998001", "101990011",
     "Meridian Academic Press"),
    ("Clinical Trials in Endocrinology", "Clin Trials Endocrinol", "2998002", "101990022",
     "Meridian Academic Press"),
    ("Bone and Mineral Outcomes", "Bone Miner Outcomes", "2998003", "101990033", "Harrow & Finch"),
    ("Ageing and Musculoskeletal Health", "Ageing Musculoskelet Health", "2998004", "101990044",
     "Harrow & Finch"),
    ("Sleep Intervention Research", "Sleep Interv Res", "2998005", "101990055", "Lantern Scientific"),
    ("Behavioural Therapy Trials", "Behav Ther Trials", "2998006", "101990066", "Lantern Scientific"),
    ("Hypertension Therapeutics", "Hypertens Ther", "2998007", "101990077", "Corvid Medical Publishing"),
    ("Cardiovascular Prevention Reports", "Cardiovasc Prev Rep", "2998008", "101990088",
     "Corvid Medical Publishing"),
    ("International Journal of Pragmatic Trials", "Int J Pragmat Trials", "2998009", "101990099",
     "Meridian Academic Press"),
    ("Evidence Synthesis Reviews", "Evid Synth Rev", "2998010", "101990100", "Open Evidence Collaboration"),
)
REVIEW_JOURNAL = 9

SPONSOR_FUNDERS = (
    "National Foundation for Metabolic Health", "Society for Bone Research Trust",
    "Restful Nights Research Fund", "Heart and Vessel Research Council", "Independent Trials Fund",
)

LICENSES = (
    ("https://creativecommons.org/licenses/by/4.0/",
     "This is an open access article distributed under the terms of the Creative Commons Attribution "
     "License (CC BY 4.0), which permits use, distribution and reproduction in any medium, provided the "
     "original work is properly credited."),
    ("https://creativecommons.org/licenses/by-nc/4.0/",
     "This article is distributed under the Creative Commons Attribution-NonCommercial 4.0 licence; "
     "non-commercial reuse is allowed with attribution to the authors."),
)


# --------------------------------------------------------------------------- topics
PLACEBO_TABLET = ArmTemplate(
    "Placebo", "PLACEBO_COMPARATOR", "DRUG", "Placebo",
    "identical-looking placebo tablets taken on the same schedule")

METFORMIN = Topic(
    key="metformin_prediabetes",
    agent="metformin",
    name="metformin for the prevention of type 2 diabetes in adults with prediabetes",
    condition="Prediabetes",
    conditions=("Prediabetes", "Impaired Glucose Tolerance", "Type 2 Diabetes Prevention"),
    keywords=("metformin", "prediabetes", "diabetes prevention", "impaired fasting glucose"),
    population="adults with prediabetes",
    inclusion=("Fasting plasma glucose between 100 and 125 mg/dL or HbA1c between 5.7% and 6.4%",
               "Body mass index of 25 kg/m2 or more",
               "Able to attend study visits every three months"),
    exclusion=("Known diabetes or use of any glucose-lowering medicine",
               "Estimated glomerular filtration rate below 45 mL/min/1.73 m2",
               "Pregnancy or planned pregnancy during the study"),
    age_range=(35, 75),
    age_mean=(51.0, 58.0),
    female_share=(0.42, 0.62),
    experimental=(
        ArmTemplate("Metformin 850 mg", "EXPERIMENTAL", "DRUG", "Metformin hydrochloride",
                    "metformin hydrochloride 850 mg twice daily with meals", ("Glucophage",),
                    (("Metformin", "D008687", "9100L32L2N"),), -4.2, 0.62),
        ArmTemplate("Metformin XR", "EXPERIMENTAL", "DRUG", "Metformin extended-release",
                    "extended-release metformin 1000 mg once daily with the evening meal", (),
                    (("Metformin", "D008687", "9100L32L2N"),), -3.6, 0.68),
        ArmTemplate("Low-dose metformin", "EXPERIMENTAL", "DRUG", "Metformin hydrochloride",
                    "metformin hydrochloride 500 mg twice daily, titrated over two weeks", (),
                    (("Metformin", "D008687", "9100L32L2N"),), -2.9, 0.74),
    ),
    comparators=(
        PLACEBO_TABLET,
        PLACEBO_TABLET,
        ArmTemplate("Lifestyle advice", "ACTIVE_COMPARATOR", "BEHAVIORAL", "Standard lifestyle advice",
                    "two group sessions of standard diet and physical activity advice"),
    ),
    baseline=Quantity("Fasting Plasma Glucose", "fasting plasma glucose", "mg/dL", 109.0, 6.5),
    primary=Quantity("Fasting Plasma Glucose at {months} Months", "fasting plasma glucose", "mg/dL",
                     109.0, 9.5),
    primary_drift=1.8,
    secondary_title="Number of Participants Who Developed Type 2 Diabetes Within {months} Months",
    secondary_phrase="developed type 2 diabetes",
    secondary_rate=0.16,
    months=(12, 18, 24),
    phases=(("PHASE3",), ("PHASE4",), ("PHASE3",)),
    primary_purpose="PREVENTION",
    maskings=(("QUADRUPLE", ("PARTICIPANT", "CARE_PROVIDER", "INVESTIGATOR", "OUTCOMES_ASSESSOR")),
              ("DOUBLE", ("PARTICIPANT", "INVESTIGATOR"))),
    mesh=(
        ("Prediabetic State", "D011236", True, (Q_DRUG_THERAPY,)),
        ("Metformin", "D008687", True, (Q_THERAPEUTIC_USE,)),
        ("Hypoglycemic Agents", "D007004", False, (Q_THERAPEUTIC_USE,)),
        ("Diabetes Mellitus, Type 2", "D003924", False, (Q_PREVENTION,)),
        ("Blood Glucose", "D001786", False, (("metabolism", "Q000378"),)),
        ("Glycated Hemoglobin", "D006442", False, ()),
    ),
    chemicals=(("Blood Glucose", "D001786", "0"), ("Hypoglycemic Agents", "D007004", "0")),
    background_sentences=(
        "Raised fasting glucose below the diabetic threshold identifies people with a high yearly risk "
        "of progressing to type 2 diabetes.",
        "Intensive lifestyle programmes delay progression to diabetes but are hard to sustain outside "
        "research settings, so an inexpensive oral drug is an attractive alternative.",
    ),
    aim="whether {experimental} lowers fasting glucose and delays diabetes compared with {comparator}",
    conclusion_positive="In {population}, {experimental} lowered fasting plasma glucose and fewer "
                        "participants developed diabetes than with {comparator}.",
    conclusion_neutral="In {population}, {experimental} produced only a small change in fasting plasma "
                       "glucose compared with {comparator}; larger trials are needed.",
    review=ReviewText(
        title="Metformin for preventing type 2 diabetes in adults with prediabetes",
        background="Prediabetes affects a large share of adults and many of them develop type 2 diabetes "
                   "within a decade. Metformin is cheap and well known, but its preventive value outside "
                   "large landmark programmes remains debated.",
        objectives="To assess the effects of metformin, compared with placebo or lifestyle advice, on "
                   "glycaemic control and the development of type 2 diabetes in adults with prediabetes.",
        search_methods="We searched MEDLINE, Embase, CENTRAL and two trial registers from inception to "
                       "March 2024, and checked the reference lists of included trials.",
        population="Participants were adults aged 18 years or older with prediabetes, defined by impaired "
                   "fasting glucose, impaired glucose tolerance or a raised HbA1c.",
        intervention="The intervention was oral metformin at any dose or formulation given for at least "
                     "six months.",
        comparison="The comparison was placebo, no treatment or standard lifestyle advice.",
        outcomes="The primary outcomes were incident type 2 diabetes and fasting plasma glucose at the end "
                 "of follow-up; secondary outcomes were HbA1c, body weight and adverse events.",
        study_types="We included randomised controlled trials with parallel groups.",
        data_collection="Two review authors independently screened records, extracted data and assessed "
                        "risk of bias; we pooled continuous outcomes as mean differences using random-effects "
                        "models.",
        conclusions="Metformin probably lowers fasting glucose and reduces the number of adults with "
                    "prediabetes who progress to type 2 diabetes over one to two years. Evidence on "
                    "long-term cardiovascular outcomes is lacking.",
    ),
    negatives=(
        Negative(
            "cohort",
            "Metformin prescription and later diabetes diagnosis in primary care patients with raised "
            "fasting glucose: a retrospective cohort study",
            ("Journal Article", "Observational Study"),
            ((None, None, "We used linked primary care records to follow {n} adults with fasting glucose "
                          "between 100 and 125 mg/dL, of whom {k} were prescribed metformin. Over a median "
                          "of {m} years, the adjusted hazard ratio for a diabetes diagnosis among metformin "
                          "users was {hr}. Confounding by indication cannot be excluded in this "
                          "non-randomised comparison."),)),
        Negative(
            "rct_other_population",
            "Metformin added to a family weight programme for adolescents with obesity: a randomised "
            "placebo-controlled trial",
            ("Journal Article", "Randomized Controlled Trial"),
            (), registered="databank", population="adolescents with obesity and insulin resistance",
            age_range=(12, 17), age_mean=(13.8, 15.2), baseline_shift=-14.0),
        Negative(
            "crossover",
            "Short-term metformin and ovulatory cycles in women with polycystic ovary syndrome: a "
            "randomised crossover study",
            ("Journal Article", "Randomized Controlled Trial"),
            (("BACKGROUND", "BACKGROUND", "Insulin resistance is common in polycystic ovary syndrome."),
             ("METHODS", "METHODS", "In a two-period crossover design, {n} women aged 18 to 38 years "
                                    "received metformin 1500 mg daily or placebo for {m} months each."),
             ("RESULTS", "RESULTS", "Ovulatory cycles were documented in {k} of {n} women during "
                                    "metformin and in {k2} during placebo."),
             ("CONCLUSIONS", "CONCLUSIONS", "Metformin modestly increased ovulation in this population."))),
    ),
    backgrounds=(
        Background("Progression from prediabetes to type 2 diabetes: a narrative review of risk markers",
                   ("Journal Article", "Review"),
                   "This review summarises how fasting glucose, glucose tolerance and HbA1c predict the "
                   "transition to diabetes, and why the thresholds used by guideline bodies differ."),
        Background("Prevalence of prediabetes in adults attending general practice: a national survey",
                   ("Journal Article",),
                   "A cross-sectional survey of general practice attenders found that roughly one adult in "
                   "three met at least one laboratory definition of prediabetes."),
    ),
    journals=(0, 1, 8),
    external="clef",
    meta_analysis=True,
)

VITAMIN_D = Topic(
    key="vitamin_d_fracture",
    agent="vitamin D",
    name="vitamin D supplementation for preventing fractures in older adults",
    condition="Osteoporotic Fractures",
    conditions=("Osteoporotic Fractures", "Vitamin D Deficiency"),
    keywords=("vitamin D", "cholecalciferol", "fracture prevention", "older adults", "bone mineral density"),
    population="community-dwelling older adults",
    inclusion=("Aged 65 years or older and living independently",
               "Serum 25-hydroxyvitamin D below 75 nmol/L at screening",
               "Able to swallow study capsules"),
    exclusion=("Use of vitamin D supplements above 400 IU per day in the previous six months",
               "Hypercalcaemia, kidney stones or sarcoidosis",
               "Current treatment with bisphosphonates or denosumab"),
    age_range=(65, 90),
    age_mean=(71.0, 77.5),
    female_share=(0.58, 0.78),
    experimental=(
        ArmTemplate("Vitamin D3 2000 IU", "EXPERIMENTAL", "DIETARY_SUPPLEMENT", "Cholecalciferol",
                    "cholecalciferol 2000 IU as one capsule each day", ("Vitamin D3",),
                    (("Cholecalciferol", "D002762", "1C6V77QF41"),), 0.012, 0.74),
        ArmTemplate("Vitamin D3 800 IU", "EXPERIMENTAL", "DIETARY_SUPPLEMENT", "Cholecalciferol",
                    "cholecalciferol 800 IU daily", ("Vitamin D3",),
                    (("Cholecalciferol", "D002762", "1C6V77QF41"),), 0.008, 0.82),
        ArmTemplate("Monthly vitamin D3", "EXPERIMENTAL", "DIETARY_SUPPLEMENT", "Cholecalciferol oral solution",
                    "a monthly oral dose of 50000 IU cholecalciferol solution", (),
                    (("Cholecalciferol", "D002762", "1C6V77QF41"),), 0.006, 0.9),
    ),
    comparators=(
        ArmTemplate("Placebo capsule", "PLACEBO_COMPARATOR", "DIETARY_SUPPLEMENT", "Placebo capsule",
                    "a matching olive-oil placebo capsule each day"),
        ArmTemplate("Calcium only", "ACTIVE_COMPARATOR", "DIETARY_SUPPLEMENT", "Calcium carbonate",
                    "calcium carbonate 1000 mg daily without vitamin D", (),
                    (("Calcium Carbonate", "D002119", "H0G9379FGK"),)),
    ),
    baseline=Quantity("Serum 25-Hydroxyvitamin D", "serum 25-hydroxyvitamin D", "nmol/L", 47.0, 14.0),
    primary=Quantity("Total Hip Bone Mineral Density at {months} Months", "total hip bone mineral density",
                     "g/cm2", 0.842, 0.118, 3),
    primary_drift=-0.011,
    secondary_title="Number of Participants With a New Low-Trauma Fracture Within {months} Months",
    secondary_phrase="had a new low-trauma fracture",
    secondary_rate=0.11,
    months=(24, 36),
    phases=(("PHASE4",), ("NA",)),
    primary_purpose="PREVENTION",
    maskings=(("QUADRUPLE", ("PARTICIPANT", "CARE_PROVIDER", "INVESTIGATOR", "OUTCOMES_ASSESSOR")),
              ("TRIPLE", ("PARTICIPANT", "INVESTIGATOR", "OUTCOMES_ASSESSOR"))),
    mesh=(
        ("Fractures, Bone", "D050723", True, (Q_PREVENTION,)),
        ("Cholecalciferol", "D002762", True, (Q_ADMIN,)),
        ("Dietary Supplements", "D019587", False, ()),
        ("Bone Density", "D015519", False, (Q_DRUG_EFFECTS,)),
        ("Vitamin D", "D014807", False, (("analogs & derivatives", "Q000031"), Q_BLOOD)),
        ("Independent Living", "D055032", False, ()),
    ),
    chemicals=(("Vitamin D", "D014807", "1406-16-2"), ("Vitamins", "D014815", "0")),
    background_sentences=(
        "Low vitamin D status is common in later life and has been linked with bone loss and falls.",
        "Whether vitamin D supplementation prevents fractures in people who live independently is uncertain, "
        "because earlier studies mixed institutional and community populations.",
    ),
    aim="whether {experimental} preserves hip bone density and prevents fractures compared with {comparator}",
    conclusion_positive="Among {population}, {experimental} slowed hip bone loss and fewer participants "
                        "had a fracture than with {comparator}.",
    conclusion_neutral="Among {population}, {experimental} did not clearly change hip bone density "
                       "compared with {comparator}.",
    review=ReviewText(
        title="Vitamin D supplements for the prevention of fractures in community-dwelling older people",
        background="Fractures after minor falls cause disability and loss of independence in older age. "
                   "Vitamin D supplements are widely recommended, but trial results conflict.",
        objectives="To determine whether vitamin D supplementation, with or without calcium, prevents "
                   "fractures and preserves bone density in older people living in the community.",
        search_methods="We searched MEDLINE, Embase and CENTRAL to February 2024 without language "
                       "restrictions.",
        population="Participants were adults aged 65 years or older living in the community; trials in "
                   "care homes or in children were excluded.",
        intervention="The intervention was oral vitamin D2 or D3 at any dose or interval.",
        comparison="Comparators were placebo, no supplement or calcium alone.",
        outcomes="Outcomes were new fractures of any type, hip bone mineral density and adverse events "
                 "such as hypercalcaemia.",
        study_types="Only randomised controlled trials lasting at least one year were eligible.",
        data_collection="Pairs of reviewers extracted data independently and resolved disagreements by "
                        "discussion.",
        conclusions="Daily vitamin D may slightly reduce fractures in older community-dwelling adults with "
                    "low baseline vitamin D status; intermittent high doses show no clear benefit.",
    ),
    negatives=(
        Negative(
            "cross_sectional",
            "Serum 25-hydroxyvitamin D and self-reported fracture history in adults over 60: a "
            "cross-sectional analysis",
            ("Journal Article", "Observational Study"),
            ((None, None, "Among {n} adults who gave a blood sample, {k} reported a fracture after the age "
                          "of 50. Mean 25-hydroxyvitamin D was {m} nmol/L lower in those with a fracture. "
                          "The design cannot show whether low vitamin D preceded the fracture."),)),
        Negative(
            "rct_other_population",
            "Vitamin D and bone accrual in schoolchildren: a randomised controlled trial",
            ("Journal Article", "Randomized Controlled Trial"),
            (("OBJECTIVE", "OBJECTIVE", "To test whether winter vitamin D supplements improve bone accrual "
                                        "in children."),
             ("METHODS", "METHODS", "{n} children aged 8 to 12 years received cholecalciferol 1000 IU or "
                                    "placebo for {m} months."),
             ("RESULTS", "RESULTS", "Forearm bone mineral content rose by {k}% in both groups."),
             ("CONCLUSIONS", "CONCLUSIONS", "Winter supplementation did not improve bone accrual."))),
    ),
    backgrounds=(
        Background("Vitamin D metabolism and skeletal health in later life", ("Journal Article", "Review"),
                   "We review how ageing skin, kidney function and diet reduce vitamin D status and how "
                   "this affects calcium absorption, bone turnover and muscle strength."),
        Background("Incidence of low-trauma fractures in older adults: ten-year data from a regional "
                   "fracture registry", ("Journal Article",),
                   "A regional registry recorded fractures after falls from standing height; incidence rose "
                   "steeply after the age of 75, especially in women."),
    ),
    journals=(2, 3, 8),
    external="synergy",
    meta_analysis=True,
)

CBT_INSOMNIA = Topic(
    key="cbt_insomnia",
    agent="CBT-I",
    name="cognitive behavioural therapy for insomnia in adults",
    condition="Insomnia Disorder",
    conditions=("Insomnia Disorder", "Chronic Insomnia"),
    keywords=("insomnia", "cognitive behavioural therapy", "CBT-I", "sleep restriction", "sleep hygiene"),
    population="adults with chronic insomnia disorder",
    inclusion=("Insomnia symptoms on at least three nights per week for three months or longer",
               "Insomnia Severity Index score of 10 or more",
               "Access to a telephone or computer for follow-up assessments"),
    exclusion=("Untreated obstructive sleep apnoea or restless legs syndrome",
               "Night-shift work",
               "Current psychotherapy for any condition"),
    age_range=(18, 75),
    age_mean=(41.0, 52.0),
    female_share=(0.55, 0.72),
    experimental=(
        ArmTemplate("Group CBT-I", "EXPERIMENTAL", "BEHAVIORAL", "Group cognitive behavioural therapy for insomnia",
                    "six weekly group sessions of sleep restriction, stimulus control and cognitive therapy",
                    ("CBT-I",), (), -4.3, 2.2),
        ArmTemplate("Digital CBT-I", "EXPERIMENTAL", "BEHAVIORAL", "Digital cognitive behavioural therapy",
                    "a six-module automated online programme with a sleep diary", ("dCBT-I",), (), -3.6, 1.9),
        ArmTemplate("Brief CBT-I", "EXPERIMENTAL", "BEHAVIORAL", "Brief behavioural treatment for insomnia",
                    "four individual nurse-delivered sessions over six weeks", (), (), -3.1, 1.7),
    ),
    comparators=(
        ArmTemplate("Sleep hygiene education", "ACTIVE_COMPARATOR", "BEHAVIORAL", "Sleep hygiene education",
                    "a leaflet and one session on sleep hygiene"),
        ArmTemplate("Waiting list", "NO_INTERVENTION", "OTHER", "Waiting list",
                    "no treatment until the end of follow-up"),
        ArmTemplate("Zolpidem", "ACTIVE_COMPARATOR", "DRUG", "Zolpidem",
                    "zolpidem 5 to 10 mg at bedtime as needed", ("Stilnoct",),
                    (("Zolpidem", "D000077334", "7K383OQI23"), ("Hypnotics and Sedatives", "D006993", "0"))),
    ),
    baseline=Quantity("Insomnia Severity Index", "Insomnia Severity Index score", "score on a scale", 17.6, 3.3,
                      text_unit="points"),
    primary=Quantity("Insomnia Severity Index Score at {months} Months", "Insomnia Severity Index score",
                     "score on a scale", 17.6, 4.6, text_unit="points"),
    primary_drift=-2.1,
    secondary_title="Number of Participants in Remission (Insomnia Severity Index Below 8) at {months} Months",
    secondary_phrase="were in remission",
    secondary_rate=0.2,
    months=(3, 6, 12),
    phases=(("NA",),),
    primary_purpose="TREATMENT",
    maskings=(("SINGLE", ("OUTCOMES_ASSESSOR",)), ("NONE", ())),
    mesh=(
        ("Sleep Initiation and Maintenance Disorders", "D007319", True, (Q_THERAPY,)),
        ("Cognitive Behavioral Therapy", "D015928", True, (Q_METHODS,)),
        ("Sleep Hygiene", "D000073640", False, ()),
        ("Surveys and Questionnaires", "D011795", False, ()),
    ),
    chemicals=(),
    background_sentences=(
        "Chronic insomnia impairs daytime functioning and raises the risk of later depression.",
        "Guidelines recommend cognitive behavioural therapy as first-line treatment, yet access to trained "
        "therapists is limited and hypnotics remain widely prescribed.",
    ),
    aim="whether {experimental} reduces insomnia severity compared with {comparator}",
    conclusion_positive="For {population}, {experimental} reduced insomnia severity and more participants "
                        "reached remission than with {comparator}.",
    conclusion_neutral="For {population}, {experimental} was not clearly better than {comparator}.",
    review=ReviewText(
        title="Cognitive behavioural therapy for chronic insomnia in adults: a systematic review",
        background="Insomnia disorder is frequent and persistent. Cognitive behavioural therapy for "
                   "insomnia (CBT-I) combines behavioural and cognitive techniques delivered in several "
                   "formats.",
        objectives="To assess the effectiveness of CBT-I in any delivery format for adults with chronic "
                   "insomnia disorder.",
        search_methods="We searched MEDLINE, PsycINFO, CENTRAL and trial registers up to January 2024.",
        population="Participants were adults with chronic insomnia disorder diagnosed by standard criteria, "
                   "without another primary sleep disorder; trials of shift workers or adolescents were "
                   "excluded.",
        intervention="The intervention was multicomponent CBT-I delivered individually, in groups or "
                     "digitally.",
        comparison="Comparators were sleep hygiene education, waiting list or hypnotic medication.",
        outcomes="The primary outcome was insomnia severity at the end of treatment; secondary outcomes "
                 "were remission and adverse events.",
        study_types="We included randomised controlled trials.",
        data_collection="Two authors independently extracted outcome data and judged risk of bias with "
                        "the RoB 2 tool.",
        conclusions="CBT-I reduces insomnia severity across delivery formats; digital and group formats "
                    "offer scalable options.",
    ),
    negatives=(
        Negative(
            "cross_sectional",
            "Use of sleep medicines and beliefs about sleep among adults with insomnia symptoms: an "
            "online survey",
            ("Journal Article", "Observational Study"),
            ((None, None, "Of {n} adults who completed the survey, {k} reported current use of a sleep "
                          "medicine; unhelpful beliefs about sleep were more frequent among users "
                          "(odds ratio {hr}). Few respondents had been offered psychological treatment."),)),
        Negative(
            "rct_other_population",
            "Cognitive behavioural therapy for shift work disorder in hospital nurses: a randomised trial",
            ("Journal Article", "Randomized Controlled Trial"),
            (), registered="abstract", population="hospital nurses with shift work disorder",
            age_range=(22, 60), age_mean=(34.0, 39.0), baseline_shift=-1.5),
        Negative(
            "qualitative",
            "Patients' experiences of sleep restriction therapy in primary care: a qualitative interview "
            "study",
            ("Journal Article",),
            ((None, None, "We interviewed {n} patients who had started sleep restriction therapy. "
                          "Participants valued the structure but found the first weeks of restricted sleep "
                          "demanding; support from a clinician helped them persist."),)),
    ),
    backgrounds=(
        Background("The burden of chronic insomnia: a review of consequences and costs", ("Journal Article", "Review"),
                   "Chronic insomnia is associated with absenteeism, accidents and higher health care use; "
                   "we review estimates of its individual and societal costs."),
        Background("Mechanisms of sleep restriction and stimulus control: a conceptual review",
                   ("Journal Article", "Review"),
                   "Sleep restriction builds homeostatic sleep pressure while stimulus control weakens the "
                   "learned link between bed and wakefulness; we discuss evidence for both processes."),
    ),
    journals=(4, 5, 8),
    external="link_table",
)

AMLODIPINE = Topic(
    key="amlodipine_hypertension",
    agent="amlodipine",
    name="amlodipine for primary hypertension in adults",
    condition="Hypertension",
    conditions=("Hypertension", "Essential Hypertension"),
    keywords=("amlodipine", "hypertension", "calcium channel blocker", "blood pressure"),
    population="adults with primary hypertension",
    inclusion=("Office systolic blood pressure between 140 and 179 mmHg",
               "No antihypertensive treatment in the previous four weeks",
               "Written informed consent"),
    exclusion=("Secondary hypertension",
               "Heart failure with reduced ejection fraction",
               "Known intolerance of dihydropyridine calcium channel blockers"),
    age_range=(30, 80),
    age_mean=(52.0, 61.0),
    female_share=(0.38, 0.55),
    experimental=(
        ArmTemplate("Amlodipine 5 mg", "EXPERIMENTAL", "DRUG", "Amlodipine besylate",
                    "amlodipine 5 mg once daily", ("Norvasc",),
                    (("Amlodipine", "D000684", "1J444QC288"),), -9.1, 1.7),
        ArmTemplate("Amlodipine 10 mg", "EXPERIMENTAL", "DRUG", "Amlodipine besylate",
                    "amlodipine 10 mg once daily after a two-week 5 mg run-in", ("Norvasc",),
                    (("Amlodipine", "D000684", "1J444QC288"),), -12.4, 1.9),
    ),
    comparators=(
        ArmTemplate("Placebo", "PLACEBO_COMPARATOR", "DRUG", "Placebo",
                    "one matching placebo tablet each morning"),
        ArmTemplate("Hydrochlorothiazide", "ACTIVE_COMPARATOR", "DRUG", "Hydrochlorothiazide",
                    "hydrochlorothiazide 25 mg once daily", (),
                    (("Hydrochlorothiazide", "D006852", "0J48LPH2TH"),)),
    ),
    baseline=Quantity("Office Systolic Blood Pressure", "office systolic blood pressure", "mmHg", 154.0, 8.5),
    primary=Quantity("Office Systolic Blood Pressure at {months} Months", "office systolic blood pressure",
                     "mmHg", 154.0, 12.0),
    primary_drift=-3.0,
    secondary_title="Number of Participants With Blood Pressure Control at {months} Months",
    secondary_phrase="reached the blood pressure target",
    secondary_rate=0.3,
    months=(3, 6),
    phases=(("PHASE4",), ("PHASE3",)),
    primary_purpose="TREATMENT",
    maskings=(("DOUBLE", ("PARTICIPANT", "INVESTIGATOR")),
              ("QUADRUPLE", ("PARTICIPANT", "CARE_PROVIDER", "INVESTIGATOR", "OUTCOMES_ASSESSOR"))),
    mesh=(
        ("Hypertension", "D006973", True, (Q_DRUG_THERAPY,)),
        ("Amlodipine", "D000684", True, (Q_THERAPEUTIC_USE,)),
        ("Antihypertensive Agents", "D000959", False, (Q_THERAPEUTIC_USE,)),
        ("Blood Pressure", "D001794", False, (Q_DRUG_EFFECTS,)),
        ("Calcium Channel Blockers", "D002121", False, (Q_THERAPEUTIC_USE,)),
    ),
    chemicals=(("Antihypertensive Agents", "D000959", "0"), ("Calcium Channel Blockers", "D002121", "0")),
    background_sentences=(
        "Uncontrolled blood pressure is the leading modifiable risk factor for stroke.",
        "Long-acting calcium channel blockers are recommended first-line options, but head-to-head data "
        "in routine practice populations are limited.",
    ),
    aim="how much {experimental} lowers office systolic blood pressure compared with {comparator}",
    conclusion_positive="In {population}, {experimental} lowered systolic blood pressure more than "
                        "{comparator} and more participants reached target.",
    conclusion_neutral="In {population}, {experimental} and {comparator} lowered blood pressure to a "
                       "similar extent.",
    review=ReviewText(
        title="Blood pressure lowering efficacy of amlodipine in primary hypertension: a systematic review",
        background="Amlodipine is among the most prescribed antihypertensive drugs, yet estimates of its "
                   "dose-related effect vary between trials.",
        objectives="To quantify the effect of amlodipine on office blood pressure compared with placebo or "
                   "a thiazide diuretic in adults with primary hypertension.",
        search_methods="We searched MEDLINE, Embase and CENTRAL to April 2024.",
        population="Participants were adults with primary hypertension who were untreated or had stopped "
                   "treatment before randomisation.",
        intervention="The intervention was amlodipine monotherapy at any fixed or titrated dose.",
        comparison="The comparison was placebo or hydrochlorothiazide monotherapy.",
        outcomes="Outcomes were office systolic blood pressure at the end of treatment, blood pressure "
                 "control and withdrawal because of adverse effects.",
        study_types="Eligible studies were randomised controlled trials lasting at least eight weeks.",
        data_collection="One author extracted data and a second checked them; we calculated mean "
                        "differences with 95% confidence intervals.",
        conclusions="Amlodipine lowers office systolic blood pressure by about ten mmHg more than placebo, "
                    "with a larger effect at 10 mg.",
    ),
    negatives=(
        Negative(
            "cohort",
            "Persistence with amlodipine versus lisinopril in a pharmacy dispensing cohort",
            ("Journal Article", "Observational Study", "Comparative Study"),
            ((None, None, "Among {n} adults starting a first antihypertensive, {k} started amlodipine. "
                          "After {m} years, persistence was higher with amlodipine (hazard ratio for "
                          "discontinuation {hr}). Blood pressure values were not available."),)),
        Negative(
            "crossover",
            "Amlodipine pharmacokinetics in healthy volunteers after morning versus evening dosing",
            ("Journal Article", "Comparative Study"),
            ((None, None, "In a two-period crossover study, {n} healthy volunteers took amlodipine 5 mg in "
                          "the morning or the evening for {m} weeks. Peak concentrations differed by {k}% "
                          "between schedules, without a change in overall exposure."),)),
    ),
    backgrounds=(
        Background("Calcium channel blockers in the management of hypertension: an overview",
                   ("Journal Article", "Review"),
                   "This overview describes dihydropyridine and non-dihydropyridine calcium channel "
                   "blockers, their haemodynamic effects and their place in current guidelines."),
        Background("Blood pressure control in adults treated in primary care: a repeated cross-sectional "
                   "study", ("Journal Article",),
                   "Across three survey waves, fewer than half of treated adults had office blood pressure "
                   "below 140/90 mmHg, with little improvement over time."),
    ),
    journals=(6, 7, 8),
)

TOPICS = (METFORMIN, VITAMIN_D, CBT_INSOMNIA, AMLODIPINE)

MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
               "October", "November", "December")
MONTH_ABBR = tuple(m[:3] for m in MONTH_NAMES)
