"""The KG reasoning job on the real samples in ``../shared/corpus/medreason``: Hetionet (full
node table, 5k-per-type edge sample) with MedQA, MMLU and PubMedQA questions, and the
PrimeKG-schema edges of PrimeKG-Plus. Named questions have exact entity mappings and paths; the
Beam job's counts equal the pure functions' on the same files. Skipped when ../shared is absent."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from schemas.records import QAPair
from transforms.kg.graph import load_graph
from transforms.kg.linking import EntityIndex, LinkSettings
from transforms.kg.qa import parse_qa_file
from transforms.kg.reason import KgResources, ReasonSettings, reason_over_kg
from transforms.kg.resources import KgSpec, load_resources

MEDREASON = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "medreason"
HETIONET = MEDREASON / "hetionet"
HETIONET_FILES = [str(HETIONET / n) for n in ("hetionet-v1.0-nodes.tsv", "edges-5k.sif.gz", "metaedges.tsv")]
MEDQA = MEDREASON / "medqa_usmle" / "medqa_en_4op.jsonl"
SETTINGS = ReasonSettings(created_at="2026-11-26")

pytestmark = pytest.mark.skipif(not MEDREASON.is_dir(), reason="../shared/corpus/medreason is not present")


@pytest.fixture(scope="module")
def hetionet():
    g = load_graph(HETIONET_FILES)
    return KgResources(g, EntityIndex.build(g.node_ids, g.node_names, g.node_types), None)


def pairs(path: Path) -> dict[str, QAPair]:
    return {q.id: q for q in parse_qa_file(str(path), path.read_bytes()) if isinstance(q, QAPair)}


def links(record):
    return [(e.role, e.mention, e.node_id, e.method) for e in record.entities]


def chains(record):
    return [[(s.head, s.relation, s.tail, s.inverse) for s in p.steps] for p in record.paths]


def test_hetionet_named_questions(hetionet):
    medqa = pairs(MEDQA)
    record, reasons = reason_over_kg(medqa["medqa:4"], hetionet, SETTINGS)  # answer "Ketotifen eye drops"
    assert reasons == []
    assert links(record) == [
        ("question", "sneezing", "Side Effect::C0037383", "exact"), ("question", "sneezing", "Symptom::D012912", "exact"),
        ("question", "iron deficiency", "Side Effect::C0240066", "exact"),
        ("question", "anemia", "Disease::DOID:2355", "exact"),
        ("question", "ankylosing spondylitis", "Disease::DOID:7147", "exact"),
        ("question", "ankylosing spondylitis", "Side Effect::C0038013", "exact"),
        ("question", "indomethacin", "Compound::DB00328", "exact"),
        ("question", "pupils", "Anatomy::UBERON:0001771", "exact"), ("question", "eye", "Anatomy::UBERON:0000970", "exact"),
        ("answer", "Ketotifen", "Compound::DB00920", "exact")]
    assert len(record.paths) == 5
    # best path: asthma presents with sneezing, ketotifen treats asthma
    assert chains(record)[0] == [("Symptom::D012912", "presents", "Disease::DOID:2841", True),
                                 ("Disease::DOID:2841", "treats", "Compound::DB00920", True)]
    assert "Asthma presents with Sneezing." in record.reasoning or "asthma presents with Sneezing." in record.reasoning

    mmlu = pairs(MEDREASON / "mmlu_medical" / "college_medicine_test.csv")
    record, reasons = reason_over_kg(mmlu["mmlu:college_medicine_test:8"], hetionet, SETTINGS)
    assert reasons == []
    assert links(record) == [("question", "translation", "Biological Process::GO:0006412", "exact"),
                             ("question", "translation", "Pathway::PC7_8331", "exact"),
                             ("answer", "ribosomes", "Cellular Component::GO:0005840", "exact")]
    assert chains(record) == [[("Pathway::PC7_8331", "participates", "Gene::6230", True),
                               ("Gene::6230", "participates", "Cellular Component::GO:0005840", False)]]

    genetics = pairs(MEDREASON / "mmlu_medical" / "medical_genetics_test.csv")
    record, reasons = reason_over_kg(genetics["mmlu:medical_genetics_test:70"], hetionet, SETTINGS)  # BRCA2
    assert reasons == [] and links(record)[-1] == ("answer", "BRCA2", "Gene::675", "exact")
    assert [len(p.steps) for p in record.paths] == [3, 3, 3, 3, 3]
    assert {p.end for p in record.paths} == {"Gene::675"} and {p.start for p in record.paths} == {"Disease::DOID:1612"}

    pubmedqa = pairs(MEDREASON / "pubmedqa" / "ori_pqal_non_test_500.json")
    record, reasons = reason_over_kg(pubmedqa["pubmedqa:19054501"], hetionet, SETTINGS)
    assert reasons == [] and record.answer == "yes"
    assert links(record) == [("question", "schizophrenia", "Disease::DOID:5419", "exact"),
                             ("question", "schizophrenia", "Side Effect::C0036341", "exact"),
                             ("answer", "eye", "Anatomy::UBERON:0000970", "exact")]  # from the long answer
    assert chains(record)[0] == [("Disease::DOID:5419", "upregulates", "Gene::1429", False),
                                 ("Gene::1429", "expresses", "Anatomy::UBERON:0000970", True)]


def test_hetionet_medqa_outcomes(hetionet):
    outcomes = Counter(tuple(reason_over_kg(q, hetionet, SETTINGS)[1]) for q in pairs(MEDQA).values())
    assert outcomes == {(): 384, ("qa.no_answer_entity",): 686, ("kg.no_path",): 160,
                        ("qa.no_question_entity", "qa.no_answer_entity"): 28, ("qa.no_question_entity",): 15}


def test_embedding_links_real_answers(tmp_path):
    res = load_resources(KgSpec(kg_paths=tuple(HETIONET_FILES), embedding=True,
                                embedding_node_types=("Disease", "Symptom"), cache_dir=str(tmp_path)))
    assert len(res.index.embedded_nodes) == 137 + 438
    settings = ReasonSettings(created_at="2026-11-26", link=LinkSettings(max_question_spans=0))
    medqa = pairs(MEDQA)
    found = {}
    for qa_id in ("medqa:40", "medqa:157", "medqa:304"):
        record, reasons = reason_over_kg(medqa[qa_id], res, settings)
        assert reasons == []
        found[qa_id] = [(e.mention, e.node_id, e.method) for e in record.entities if e.role == "answer"]
    assert found == {
        "medqa:40": [("Polycystic ovarian syndrome (PCOS)", "Disease::DOID:11612", "embedding")],
        "medqa:157": [("Acute pancreatitis", "Disease::DOID:4989", "embedding")],
        "medqa:304": [("Asthma attack", "Disease::DOID:2841", "embedding")]}


def test_primekg_schema_graph(tmp_path):
    kg = MEDREASON / "primekg_plus" / "20260529-literature_edges_novel.csv"
    g = load_graph([str(kg)])
    res = KgResources(g, EntityIndex.build(g.node_ids, g.node_names, g.node_types), None)
    line = {"question": "An infant with Canavan disease shows spongiform changes of the cerebral cortex. "
                        "Which gene is mutated?", "options": {"A": "ASPA", "B": "HEXA", "C": "NPC1", "D": "CLN3"},
            "answer": "ASPA", "answer_idx": "A"}
    (qa,) = list(parse_qa_file("medqa_written.jsonl", json.dumps(line).encode()))
    record, reasons = reason_over_kg(qa, res, SETTINGS)
    assert reasons == []
    # two nodes carry the name (MONDO:10079 and the grouped entry); only the grouped one reaches ASPA
    assert links(record) == [("question", "Canavan disease", "MONDO:10079", "exact"),
                             ("question", "Canavan disease", "MONDO_grouped:10079_16781_16207", "exact"),
                             ("answer", "ASPA", "NCBI:443", "exact")]
    assert chains(record) == [[("MONDO_grouped:10079_16781_16207", "phenotype present", "NCBI:443", False)]]


def test_beam_job_on_real_files(tmp_path):
    """The job over MedQA + Hetionet (answers linked by embedding among Disease and Symptom
    nodes) gives the same outcome per question as the pure functions."""
    from tests.test_kg_pipeline import read_jsonl, read_records, run_job
    args = ["--qa", str(MEDQA), "--kg", ",".join(HETIONET_FILES), "--embedding_node_types", "Disease,Symptom",
            "--max_question_spans", "0"]
    manifest, c = run_job(tmp_path / "out", args)
    res = load_resources(KgSpec(kg_paths=tuple(HETIONET_FILES), embedding=True,
                                embedding_node_types=("Disease", "Symptom"), cache_dir=str(tmp_path / "out" / "_cache")))
    settings = ReasonSettings(created_at="2026-11-26", link=LinkSettings(max_question_spans=0))
    expected = {q.id: reason_over_kg(q, res, settings) for q in pairs(MEDQA).values()}
    kept = sorted(i for i, (_, reasons) in expected.items() if not reasons)
    assert manifest["qa_read"] == 1273 and manifest["dead_letters_total"] == 0
    assert manifest["total_records"] == len(kept) == 1273 - manifest["rejected_total"]
    records = read_records(tmp_path / "out")
    assert sorted(records) == kept
    assert all(records[i].output == expected[i][0].output for i in kept)
    rejected = {r["record"]["qa_id"]: r["reasons"] for r in read_jsonl(tmp_path / "out", "rejected")}
    assert rejected == {i: reasons for i, (_, reasons) in expected.items() if reasons}
    assert c["link.embedding"] == sum(e.method == "embedding" for r, _ in expected.values() for e in r.entities) > 0
