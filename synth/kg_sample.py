"""Deterministic writer of the embedded KG reasoning sample: a small medical knowledge graph in
PrimeKG's ``kg.csv`` schema, a synonym table, and QA files in four public formats (MedQA JSONL,
MedMCQA JSONL, PubMedQA JSON, MMLU CSV), each with a few malformed records.

The facts are textbook pharmacology and clinical associations, written for this sample; node ids
follow PrimeKG's sources (DrugBank, MONDO, HPO, NCBI Gene). Usage::

    python -m synth.kg_sample OUT_DIR
"""
from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

# (id source, id, type, name)
NODES = {
    "metformin": ("DrugBank", "DB00331", "drug", "Metformin"),
    "insulin_glargine": ("DrugBank", "DB00047", "drug", "Insulin glargine"),
    "lisinopril": ("DrugBank", "DB00722", "drug", "Lisinopril"),
    "aspirin": ("DrugBank", "DB00945", "drug", "Aspirin"),
    "warfarin": ("DrugBank", "DB00682", "drug", "Warfarin"),
    "levothyroxine": ("DrugBank", "DB00451", "drug", "Levothyroxine"),
    "methimazole": ("DrugBank", "DB00763", "drug", "Methimazole"),
    "isoniazid": ("DrugBank", "DB00951", "drug", "Isoniazid"),
    "pyridoxine": ("DrugBank", "DB00165", "drug", "Pyridoxine"),
    "cyanocobalamin": ("DrugBank", "DB00115", "drug", "Cyanocobalamin"),
    "miglustat": ("DrugBank", "DB00419", "drug", "Miglustat"),
    "phytonadione": ("DrugBank", "DB01022", "drug", "Phytonadione"),
    "t2dm": ("MONDO", "5148", "disease", "type 2 diabetes mellitus"),
    "t1dm": ("MONDO", "5147", "disease", "type 1 diabetes mellitus"),
    "hypertension": ("MONDO", "5044", "disease", "hypertension"),
    "mi": ("MONDO", "5068", "disease", "myocardial infarction"),
    "pe": ("MONDO", "5279", "disease", "pulmonary embolism"),
    "hypothyroidism": ("MONDO", "5420", "disease", "hypothyroidism"),
    "graves": ("MONDO", "5364", "disease", "Graves disease"),
    "tuberculosis": ("MONDO", "18076", "disease", "tuberculosis"),
    "b12_deficiency": ("MONDO", "1016", "disease", "vitamin B12 deficiency"),
    "npc": ("MONDO", "18982", "disease", "Niemann-Pick disease type C"),
    "canavan": ("MONDO", "10079", "disease", "Canavan disease"),
    "tay_sachs": ("MONDO", "10100", "disease", "Tay-Sachs disease"),
    "vk_deficiency": ("MONDO", "100100", "disease", "vitamin K deficiency bleeding"),
    "cough": ("HPO", "12735", "effect/phenotype", "cough"),
    "chest_pain": ("HPO", "100749", "effect/phenotype", "chest pain"),
    "fatigue": ("HPO", "12378", "effect/phenotype", "fatigue"),
    "weight_gain": ("HPO", "4324", "effect/phenotype", "weight gain"),
    "exophthalmos": ("HPO", "520", "effect/phenotype", "exophthalmos"),
    "neuropathy": ("HPO", "9830", "effect/phenotype", "peripheral neuropathy"),
    "macrocytic_anemia": ("HPO", "1972", "effect/phenotype", "macrocytic anemia"),
    "macrocephaly": ("HPO", "256", "effect/phenotype", "macrocephaly"),
    "bleeding": ("HPO", "1892", "effect/phenotype", "abnormal bleeding"),
    "ace": ("NCBI", "1636", "gene/protein", "ACE"),
    "ptgs1": ("NCBI", "5742", "gene/protein", "PTGS1"),
    "vkorc1": ("NCBI", "79001", "gene/protein", "VKORC1"),
    "aspa": ("NCBI", "443", "gene/protein", "ASPA"),
    "hexa": ("NCBI", "3073", "gene/protein", "HEXA"),
    "npc1": ("NCBI", "4864", "gene/protein", "NPC1"),
}

# (PrimeKG relation, display_relation, x, y)
EDGES = [
    ("indication", "indication", "metformin", "t2dm"),
    ("indication", "indication", "insulin_glargine", "t1dm"),
    ("indication", "indication", "insulin_glargine", "t2dm"),
    ("indication", "indication", "lisinopril", "hypertension"),
    ("drug_effect", "side effect", "lisinopril", "cough"),
    ("drug_protein", "target", "lisinopril", "ace"),
    ("indication", "indication", "aspirin", "mi"),
    ("drug_protein", "target", "aspirin", "ptgs1"),
    ("drug_effect", "side effect", "aspirin", "bleeding"),
    ("indication", "indication", "warfarin", "pe"),
    ("drug_protein", "target", "warfarin", "vkorc1"),
    ("drug_effect", "side effect", "warfarin", "bleeding"),
    ("disease_phenotype_positive", "phenotype present", "mi", "chest_pain"),
    ("disease_phenotype_positive", "phenotype present", "pe", "chest_pain"),
    ("disease_disease", "parent-child", "hypertension", "mi"),
    ("indication", "indication", "levothyroxine", "hypothyroidism"),
    ("disease_phenotype_positive", "phenotype present", "hypothyroidism", "fatigue"),
    ("disease_phenotype_positive", "phenotype present", "hypothyroidism", "weight_gain"),
    ("indication", "indication", "methimazole", "graves"),
    ("disease_phenotype_positive", "phenotype present", "graves", "exophthalmos"),
    ("indication", "indication", "isoniazid", "tuberculosis"),
    ("drug_effect", "side effect", "isoniazid", "neuropathy"),
    ("indication", "indication", "pyridoxine", "neuropathy"),
    ("indication", "indication", "cyanocobalamin", "b12_deficiency"),
    ("disease_phenotype_positive", "phenotype present", "b12_deficiency", "macrocytic_anemia"),
    ("disease_phenotype_positive", "phenotype present", "b12_deficiency", "fatigue"),
    ("disease_phenotype_positive", "phenotype present", "b12_deficiency", "neuropathy"),
    ("indication", "indication", "miglustat", "npc"),
    ("disease_protein", "associated with", "npc", "npc1"),
    ("disease_protein", "associated with", "canavan", "aspa"),
    ("disease_phenotype_positive", "phenotype present", "canavan", "macrocephaly"),
    ("disease_protein", "associated with", "tay_sachs", "hexa"),
    ("indication", "indication", "phytonadione", "vk_deficiency"),
]

SYNONYMS = [
    ("hypertension", "high blood pressure"),
    ("cough", "dry cough"),
    ("mi", "heart attack"),
    ("hexa", "hexosaminidase A"),
    ("pyridoxine", "vitamin B6"),
    ("cyanocobalamin", "vitamin B12"),
    ("graves", "Graves' disease"),
    ("phytonadione", "vitamin K"),
]

MEDQA = [
    {"question": "A 56-year-old man with newly diagnosed type 2 diabetes mellitus and normal kidney function "
                 "asks about initial drug therapy. Which medication is the most appropriate first-line treatment?",
     "options": {"A": "Insulin glargine", "B": "Metformin", "C": "Lisinopril", "D": "Aspirin"},
     "answer": "Metformin", "answer_idx": "B", "meta_info": "step2&3"},
    {"question": "A 62-year-old woman with high blood pressure started a new medication last month and now has "
                 "a persistent dry cough. Which drug is the most likely cause?",
     "options": {"A": "Metformin", "B": "Lisinopril", "C": "Levothyroxine", "D": "Warfarin"},
     "answer": "Lisinopril", "answer_idx": "B", "meta_info": "step1"},
    {"question": "A 45-year-old man receiving isoniazid for pulmonary tuberculosis reports numbness and tingling "
                 "in both feet. Supplementation with which vitamin would most likely have prevented this?",
     "options": {"A": "Cyanocobalamin", "B": "Pyridoxine", "C": "Warfarin", "D": "Methimazole"},
     "answer": "Pyridoxine", "answer_idx": "B", "meta_info": "step1"},
    {"question": "A 70-year-old woman on a strict vegan diet has fatigue, and her blood smear shows large red "
                 "blood cells. Which condition best explains these findings?",
     "options": {"A": "Deficiency of vitamin B12", "B": "Hypothyroidism", "C": "Tuberculosis",
                 "D": "Pulmonary embolism"},
     "answer": "Deficiency of vitamin B12", "answer_idx": "A", "meta_info": "step2&3"},
    {"question": "A 68-year-old man taking warfarin after a pulmonary embolism presents with gum bleeding and a "
                 "markedly prolonged INR. Which agent reverses the anticoagulant effect?",
     "options": {"A": "Vitamin K", "B": "Protamine sulfate", "C": "Pyridoxine", "D": "Aspirin"},
     "answer": "Vitamin K", "answer_idx": "A", "meta_info": "step2&3"},
]
MEDQA_BAD = ['{"question": "A truncated line", "options": {"A": "x"',
             json.dumps({"question": "Which drug treats hypothyroidism?", "options": {"A": "Levothyroxine",
                                                                                       "B": "Aspirin"},
                         "answer": "Levothyroxine", "answer_idx": "E"})]

MEDMCQA = [
    {"id": "c0a1e8b2-0001-4c1e-9a11-000000000001", "question": "Drug of choice for hypothyroidism is",
     "opa": "Levothyroxine", "opb": "Methimazole", "opc": "Warfarin", "opd": "Isoniazid", "cop": 1,
     "exp": "Levothyroxine replaces the missing thyroid hormone.", "subject_name": "Pharmacology"},
    {"id": "c0a1e8b2-0002-4c1e-9a11-000000000002", "question": "Exophthalmos is a classical feature of",
     "opa": "Hypothyroidism", "opb": "Graves disease", "opc": "Tuberculosis", "opd": "Canavan disease",
     "cop": 2, "exp": "", "subject_name": "Medicine"},
    {"id": "c0a1e8b2-0003-4c1e-9a11-000000000003",
     "question": "Which drug is approved for Niemann-Pick disease type C?",
     "opa": "Metformin", "opb": "Aspirin", "opc": "Miglustat", "opd": "Pyridoxine", "cop": 3,
     "exp": "Miglustat inhibits glucosylceramide synthase.", "subject_name": "Pharmacology"},
    {"id": "c0a1e8b2-0004-4c1e-9a11-000000000004",
     "question": "Which of the following is not a feature of hypothyroidism?",
     "opa": "Weight gain", "opb": "Fatigue", "opc": "Tachycardia", "opd": "Cold intolerance", "cop": 3,
     "exp": "", "subject_name": "Medicine"},
]
MEDMCQA_BAD = [{"id": "c0a1e8b2-0005-4c1e-9a11-000000000005", "question": "Warfarin targets",
                "opa": "VKORC1", "opb": "ACE", "opc": "PTGS1", "opd": "HEXA", "cop": 7, "exp": "",
                "subject_name": "Pharmacology"}]

PUBMEDQA = {
    "90000001": {"QUESTION": "Does aspirin lower the risk of a second heart attack?",
                 "CONTEXTS": ["Patients who survived a first event were followed for five years.",
                              "Recurrent events were fewer in the treated group."],
                 "LABELS": ["METHODS", "RESULTS"], "MESHES": ["Aspirin", "Myocardial Infarction"],
                 "YEAR": "2001", "reasoning_required_pred": "yes", "reasoning_free_pred": "yes",
                 "final_decision": "yes",
                 "LONG_ANSWER": "Aspirin reduced recurrent myocardial infarction and chest pain episodes."},
    "90000002": {"QUESTION": "Is a short walking programme acceptable to older adults?",
                 "CONTEXTS": ["Adults aged 70 years or more were invited to a walking programme."],
                 "LABELS": ["METHODS"], "MESHES": ["Walking"], "YEAR": "2010",
                 "reasoning_required_pred": "maybe", "reasoning_free_pred": "maybe",
                 "final_decision": "maybe", "LONG_ANSWER": "Most participants completed the programme."},
}

MMLU = [
    ["Aspirin is given after an acute coronary event mainly to prevent which condition?",
     "Myocardial infarction", "Hypothyroidism", "Tuberculosis", "Graves disease", "A"],
    ["Which drug is used to treat Graves disease?", "Levothyroxine", "Methimazole", "Metformin", "Pyridoxine",
     "B"],
]
MMLU_BAD = [["A row with too few columns", "x", "y", "z", "A", "B", "C"]]


def _node_id(key: str) -> str:
    source, ident, _, _ = NODES[key]
    return f"{source}:{ident}"


def kg_csv() -> str:
    """The sample graph as a PrimeKG ``kg.csv`` (one row per edge, both end nodes described)."""
    index = {k: i for i, k in enumerate(NODES)}
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["relation", "display_relation", "x_index", "x_id", "x_type", "x_name", "x_source",
                "y_index", "y_id", "y_type", "y_name", "y_source"])
    for relation, display, x, y in EDGES:
        xs, xi, xt, xn = NODES[x]
        ys, yi, yt, yn = NODES[y]
        w.writerow([relation, display, index[x], xi, xt, xn, xs, index[y], yi, yt, yn, ys])
    return out.getvalue()


def synonyms_tsv() -> str:
    return "node_id\tsynonym\n" + "".join(f"{_node_id(k)}\t{s}\n" for k, s in SYNONYMS)


def write_kg_sample(out_dir: str) -> dict:
    """Write the sample under ``out_dir``; returns {"kg": [paths], "synonyms": path, "qa": [paths]}."""
    root = Path(out_dir)
    (root / "kg").mkdir(parents=True, exist_ok=True)
    (root / "qa").mkdir(parents=True, exist_ok=True)
    files = {
        "kg/kg.csv": kg_csv(),
        "kg/synonyms.tsv": synonyms_tsv(),
        "qa/medqa_sample.jsonl": "".join(json.dumps(r) + "\n" for r in MEDQA) + "".join(b + "\n" for b in MEDQA_BAD),
        "qa/medmcqa_sample.jsonl": "".join(json.dumps(r) + "\n" for r in MEDMCQA + MEDMCQA_BAD),
        "qa/pubmedqa_sample.json": json.dumps(PUBMEDQA, indent=4),
        "qa/clinical_sample_test.csv": _csv_rows(MMLU + MMLU_BAD),
    }
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return {"kg": [str(root / "kg/kg.csv")], "synonyms": str(root / "kg/synonyms.tsv"),
            "qa": [str(root / n) for n in sorted(files) if n.startswith("qa/")]}


def _csv_rows(rows) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


if __name__ == "__main__":
    print(json.dumps(write_kg_sample(sys.argv[1] if len(sys.argv) > 1 else "kg_sample"), indent=2))
