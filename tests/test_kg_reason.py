"""Entity linking, path ranking, chains and validation of the KG reasoning job on the embedded
sample graph and QA files (pure code; no Beam)."""
from __future__ import annotations

import pytest

from schemas.records import QAOption, QAPair
from synth.kg_sample import write_kg_sample
from transforms.kg.linking import EntityIndex, LinkSettings, link_entities, normalize, read_synonyms
from transforms.kg.qa import parse_qa_file
from transforms.kg.reason import ReasonSettings, reason_over_kg
from transforms.kg.resources import KgSpec, load_resources

SETTINGS = ReasonSettings(created_at="2026-11-26")


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return write_kg_sample(str(tmp_path_factory.mktemp("kg_sample")))


@pytest.fixture(scope="module")
def qa(sample):
    pairs = {}
    for path in sample["qa"]:
        with open(path, "rb") as f:
            for item in parse_qa_file(path, f.read()):
                if isinstance(item, QAPair):
                    pairs[item.id] = item
    return pairs


@pytest.fixture(scope="module")
def res_exact(sample):
    return load_resources(KgSpec(kg_paths=tuple(sample["kg"]), synonyms_path=sample["synonyms"], embedding=False))


@pytest.fixture(scope="module")
def res_embed(sample, tmp_path_factory):
    return load_resources(KgSpec(kg_paths=tuple(sample["kg"]), synonyms_path=sample["synonyms"], embedding=True,
                                 cache_dir=str(tmp_path_factory.mktemp("kg_cache"))))


def links(record):
    return [(e.role, e.mention, e.node_id, e.method) for e in record.entities]


def chains(record):
    return [[(s.head, s.relation, s.tail, s.inverse) for s in p.steps] for p in record.paths]


def test_normalize():
    assert normalize("Graves' disease") == "grave disease"
    assert normalize("Graves disease") == "grave disease"
    assert normalize("Type-2 Diabetes  Mellitus") == "type 2 diabete mellitus" == normalize("type 2 diabetes mellitus")
    assert normalize("coronary arteries") == "coronary artery"
    assert normalize("β-blockers") == "β blocker"


def test_short_symbols_match_only_as_spelled():
    index = EntityIndex.build(["g:1", "g:2", "d:1"], ["WAS", "ACE", "Wiskott-Aldrich syndrome"],
                              ["gene", "gene", "disease"])
    found = [(m.text, m.nodes) for m in index.mentions("The boy was tested: ACE and WAS levels; ace was low")]
    assert found == [("ACE", [1]), ("WAS", [0])]


def test_synonym_table_errors():
    assert read_synonyms("node_id\tsynonym\n# c\nA:1\tfoo bar\n") == [("A:1", "foo bar")]
    with pytest.raises(ValueError, match="expected node_id<TAB>synonym"):
        read_synonyms("A:1\n")
    with pytest.raises(ValueError, match="not in the graph"):
        EntityIndex.build(["A:1"], ["alpha"], ["x"], [("B:2", "beta")])


def test_sample_graph(res_exact):
    g = res_exact.graph
    assert (g.num_nodes, g.num_edges, len(g.relations)) == (40, 33, 6)


@pytest.mark.parametrize("qa_id, expected_links, expected_paths", [
    ("medqa:medqa_sample:0", [
        ("question", "type 2 diabetes mellitus", "MONDO:5148", "exact"),
                 ("answer", "Metformin", "DrugBank:DB00331", "exact")],
     [[("MONDO:5148", "indication", "DrugBank:DB00331", True)]]),
    ("medqa:medqa_sample:1", [
        ("question", "high blood pressure", "MONDO:5044", "synonym"),
                 ("question", "dry cough", "HPO:12735", "synonym"),
                 ("answer", "Lisinopril", "DrugBank:DB00722", "exact")],
     [[("HPO:12735", "side effect", "DrugBank:DB00722", True)],
      [("MONDO:5044", "indication", "DrugBank:DB00722", True)]]),
    # the 3-hop path from tuberculosis runs through isoniazid, itself a question entity: dropped
    ("medqa:medqa_sample:2", [
        ("question", "isoniazid", "DrugBank:DB00951", "exact"),
                 ("question", "tuberculosis", "MONDO:18076", "exact"),
                 ("answer", "Pyridoxine", "DrugBank:DB00165", "exact")],
     [[("DrugBank:DB00951", "side effect", "HPO:9830", False),
       ("HPO:9830", "indication", "DrugBank:DB00165", True)]]),
    ("mmlu:clinical_sample_test:1", [("question", "Graves disease", "MONDO:5364", "exact"),
                                     ("answer", "Methimazole", "DrugBank:DB00763", "exact")],
     [[("MONDO:5364", "indication", "DrugBank:DB00763", True)]]),
    # PubMedQA: the answer's entities come from the long answer; aspirin and myocardial
    # infarction are named by the question too, so chest pain is the answer's own entity
    ("pubmedqa:90000001", [("question", "aspirin", "DrugBank:DB00945", "exact"),
                           ("question", "heart attack", "MONDO:5068", "synonym"),
                           ("answer", "chest pain", "HPO:100749", "exact")],
     [[("MONDO:5068", "phenotype present", "HPO:100749", False)]]),
])
def test_named_questions(qa, res_exact, qa_id, expected_links, expected_paths):
    record, reasons = reason_over_kg(qa[qa_id], res_exact, SETTINGS)
    assert reasons == []
    assert links(record) == expected_links
    assert chains(record) == expected_paths
    assert [p.rank for p in record.paths] == list(range(1, len(expected_paths) + 1))
    assert record.answer_reached is True and record.validation == "paths"


def test_rejections(qa, res_exact):
    results = {i: reason_over_kg(qa[i], res_exact, SETTINGS) for i in
               ("medqa:medqa_sample:4", "medmcqa:c0a1e8b2-0004-4c1e-9a11-000000000004",
                "pubmedqa:90000002")}
    assert {i: r[1] for i, r in results.items()} == {
        "medqa:medqa_sample:4": ["kg.no_path"],  # vitamin K (phytonadione) is not linked to warfarin here
        "medmcqa:c0a1e8b2-0004-4c1e-9a11-000000000004": ["qa.no_answer_entity"],
        "pubmedqa:90000002": ["qa.no_question_entity", "qa.no_answer_entity"]}
    no_path = results["medqa:medqa_sample:4"][0]
    assert links(no_path) == [("question", "warfarin", "DrugBank:DB00682", "exact"),
                              ("question", "pulmonary embolism", "MONDO:5279", "exact"),
                              ("answer", "Vitamin K", "DrugBank:DB01022", "synonym")]
    assert no_path.paths == [] and no_path.answer_reached is False


def test_embedding_links_the_whole_answer(qa, res_exact, res_embed):
    q = qa["medqa:medqa_sample:3"]  # "Deficiency of vitamin B12"
    exact_only, _ = reason_over_kg(q, res_exact, SETTINGS)
    # without embeddings the contained synonym "vitamin B12" names the drug
    assert links(exact_only)[-1] == ("answer", "vitamin B12", "DrugBank:DB00115", "synonym")
    record, reasons = reason_over_kg(q, res_embed, SETTINGS)
    assert reasons == []
    answer = [e for e in record.entities if e.role == "answer"]
    assert [(e.mention, e.node_id, e.node_name, e.method) for e in answer] == [
        ("Deficiency of vitamin B12", "MONDO:1016", "vitamin B12 deficiency", "embedding")]
    assert 0.95 < answer[0].score <= 1.0
    assert chains(record) == [[("HPO:12378", "phenotype present", "MONDO:1016", True)]]


def test_embedding_threshold(res_embed):
    strict = LinkSettings(threshold=0.999)
    maps = link_entities(res_embed.index, "fatigue", "Deficiency of vitamin B12", strict, encode=res_embed.encode)
    assert [(m.role, m.method, m.node_id) for m in maps] == [
        ("question", "exact", "HPO:12378"), ("answer", "synonym", "DrugBank:DB00115")]


def test_template_chain_and_record(qa, res_exact):
    record, _ = reason_over_kg(qa["medqa:medqa_sample:2"], res_exact, SETTINGS)
    assert record.reasoning == (
        "Finding reasoning paths:\n"
        "1. Isoniazid -> peripheral neuropathy -> Pyridoxine\n\n"
        "Reasoning Process:\n"
        "The question involves Isoniazid and tuberculosis.\n"
        "- Isoniazid has the side effect peripheral neuropathy.\n"
        "- Pyridoxine is indicated for peripheral neuropathy.\n"
        "These facts connect Isoniazid to Pyridoxine through peripheral neuropathy.\n"
        "Taken together, the evidence points to Pyridoxine.\n\n"
        "Conclusion:\nThe answer is B. Pyridoxine")
    assert record.output == record.reasoning + "\n\nAnswer: B. Pyridoxine"
    assert record.input.endswith("Answer Choices:\nA. Cyanocobalamin\nB. Pyridoxine\nC. Warfarin\nD. Methimazole")
    assert [m.role for m in record.messages] == ["system", "user", "assistant"]
    assert record.messages[2].content == record.output
    assert (record.task, record.dataset, record.qa_id, record.answer_idx) == (
        "kg_reasoning", "medqa", "medqa:medqa_sample:2", "B")
    assert record.sources == ["medqa:medqa_sample:2", "kg:kg.csv"]
    assert record.source_versions[0].endswith("medqa_sample.jsonl#2")
    assert record.id.startswith("kg_reasoning:") and len(record.id) == len("kg_reasoning:") + 24
    again, _ = reason_over_kg(qa["medqa:medqa_sample:2"], res_exact, SETTINGS)
    assert again == record  # deterministic


def test_keep_paths_and_hops_bounds(res_exact):
    q = QAPair("medqa:x", "medqa", "x", "A patient with tuberculosis has peripheral neuropathy; which drug?",
               [QAOption("A", "Pyridoxine"), QAOption("B", "Aspirin")], "A", "Pyridoxine", None, None, None, "f", 0)
    record, reasons = reason_over_kg(q, res_exact, SETTINGS)
    assert reasons == [] and chains(record) == [[("HPO:9830", "indication", "DrugBank:DB00165", True)]]
    short = ReasonSettings(created_at="2026-11-26", max_hops=1)
    q2 = QAPair("medqa:y", "medqa", "y", "A patient with tuberculosis; which vitamin?",
                [QAOption("A", "Pyridoxine"), QAOption("B", "Aspirin")], "A", "Pyridoxine", None, None, None, "f", 1)
    assert reason_over_kg(q2, res_exact, short)[1] == ["kg.no_path"]
    record3, reasons3 = reason_over_kg(q2, res_exact, SETTINGS)
    assert reasons3 == [] and [len(p.steps) for p in record3.paths] == [3]


def test_paths_through_a_wrong_option_rank_last():
    from transforms.kg.graph import build_graph
    from transforms.kg.reason import KgResources
    g = build_graph([("fever", "treats", "aspirin"), ("aspirin", "resembles", "ibuprofen"),
                     ("fever", "presents", "inflammation"), ("ibuprofen", "treats", "inflammation")])
    res = KgResources(g, EntityIndex.build(g.node_ids, g.node_names, g.node_types))
    q = QAPair("medqa:z", "medqa", "z", "A child has fever. Which drug?", [QAOption("A", "aspirin"),
               QAOption("B", "ibuprofen")], "B", "ibuprofen", None, None, None, "f", 0)
    record, reasons = reason_over_kg(q, res, SETTINGS)
    assert reasons == []
    # the path through aspirin (a wrong option) would argue for aspirin: it comes second
    assert [[s.tail for s in p.steps] for p in record.paths] == [["inflammation", "ibuprofen"],
                                                                 ["aspirin", "ibuprofen"]]
    assert [p.score for p in record.paths] == [-0.6099, -1.6099]  # -0.5 hop - 0.1 log(1 + degree 2) (- 1)


@pytest.mark.parametrize("text, expected", [
    ("Finding reasoning paths:\n1. a -> b\n\nReasoning Process:\nx\n\nConclusion:\nThe answer is B.",
     "Finding reasoning paths:\n1. a -> b\n\nReasoning Process:\nx"),
    ("Reasoning:\nstep\n**Conclusion:** B. Ibuprofen", "Reasoning:\nstep"),
    ("Reasoning\n### Conclusion\nB", "Reasoning"),
    ("Reasoning: the conclusion follows.\nCONCLUSIONS - B", "Reasoning: the conclusion follows."),
    ("No layout at all. Answer: B", None),
])
def test_before_conclusion(text, expected):
    from transforms.kg.reason import before_conclusion
    assert before_conclusion(text) == expected


def test_settings_bounds():
    with pytest.raises(ValueError, match="keep_paths must be at least 1"):
        ReasonSettings(created_at="2026-11-26", keep_paths=0)


class ScriptedModel:
    """Stands in for ``llm.LlmClient``: replies in turn, recording the prompts."""

    def __init__(self, *replies):
        self.replies, self.prompts = list(replies), []

    def chat(self, messages, response_format_json=False):
        self.prompts.append(messages[-1]["content"])
        return self.replies.pop(0)


def test_model_chain_validation(qa, res_exact):
    q = qa["medqa:medqa_sample:2"]  # answer B. Pyridoxine
    model = ScriptedModel("Reasoning Process:\nIsoniazid depletes vitamin B6.\n**Conclusion:** B. Pyridoxine",
                          "It supports pyridoxine.\nAnswer: B")
    record, reasons = reason_over_kg(q, res_exact, SETTINGS, llm=model)
    assert reasons == [] and (record.reasoning_method, record.validation) == ("llm", "paths+llm")
    assert (record.llm_answer, record.llm_match) == ("B", True)
    # validation saw the reasoning without its conclusion
    assert "Isoniazid depletes vitamin B6." in model.prompts[1] and "Pyridoxine" not in model.prompts[1].split(
        "Reasoning:", 1)[1]

    no_conclusion = ScriptedModel("Isoniazid depletes vitamin B6, so the answer is B. Pyridoxine")
    record, reasons = reason_over_kg(q, res_exact, SETTINGS, llm=no_conclusion)
    assert reasons == ["llm.no_conclusion"] and len(no_conclusion.prompts) == 1
    assert (record.validation, record.llm_answer, record.llm_match) == ("paths+llm", None, None)

    wrong = ScriptedModel("Reasoning Process:\nx\nConclusion: A", "Answer: A")
    assert reason_over_kg(q, res_exact, SETTINGS, llm=wrong)[1] == ["llm.answer_mismatch"]


def test_pubmedqa_context_reaches_the_model(qa, res_exact):
    model = ScriptedModel("Reasoning Process:\nx\nConclusion: A", "Answer: A")
    reason_over_kg(qa["pubmedqa:90000001"], res_exact, SETTINGS, llm=model)
    assert "Recurrent events were fewer in the treated group." in model.prompts[0]
