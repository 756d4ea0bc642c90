"""Tests of ``transforms.kg.qa`` on the shared MedReason QA corpus and on small files written here."""
from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from schemas.records import DeadLetter, QAOption, QAPair
from transforms.kg.qa import FORMATS, detect_format, parse_qa_file

MEDREASON = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "medreason"


def parse(path: str, data: bytes, **kwargs) -> tuple[list[QAPair], list[DeadLetter]]:
    records = list(parse_qa_file(path, data, **kwargs))
    pairs = [r for r in records if isinstance(r, QAPair)]
    dead = [r for r in records if isinstance(r, DeadLetter)]
    assert len(pairs) + len(dead) == len(records)
    return pairs, dead


def dead_summary(dead: list[DeadLetter]) -> list[tuple[int, str]]:
    return [(d.record_index, d.error_type) for d in dead]


def jsonl(*items) -> bytes:
    """Lines of a JSONL file: dicts are dumped, strings are written as they are."""
    return "".join((json.dumps(i) if not isinstance(i, str) else i) + "\n" for i in items).encode()


def opts(*texts: str) -> list[QAOption]:
    return [QAOption("ABCDEFG"[i], t) for i, t in enumerate(texts)]


# --------------------------------------------------------------------------- real corpus
@pytest.fixture(scope="module")
def medreason() -> Path:
    if not MEDREASON.is_dir():
        pytest.skip("../shared/corpus/medreason is not present")
    return MEDREASON


def parse_real(root: Path, rel: str) -> tuple[list[QAPair], list[DeadLetter]]:
    path = root / rel
    return parse(str(path), path.read_bytes())


@pytest.mark.parametrize("rel, fmt, count, dataset", [
    ("medqa_usmle/medqa_en_4op.jsonl", "aistairc_jsonl", 1273, "medqa"),
    ("medmcqa/medmcqa.jsonl", "aistairc_jsonl", 4183, "medmcqa"),
    ("medreason_eval_data/medqa_test.jsonl", "medqa_jsonl", 1273, "medqa"),
    ("medreason_eval_data/medbullets_op4.jsonl", "medqa_jsonl", 308, "medbullets"),
    ("medreason_eval_data/medbullets_op5.jsonl", "medqa_jsonl", 308, "medbullets"),
    ("pubmedqa/ori_pqal_non_test_500.json", "pubmedqa_json", 500, "pubmedqa"),
    ("mmlu_medical/anatomy_test.csv", "mmlu_csv", 135, "mmlu"),
    ("mmlu_medical/clinical_knowledge_test.csv", "mmlu_csv", 265, "mmlu"),
    ("mmlu_medical/college_medicine_test.csv", "mmlu_csv", 173, "mmlu"),
    ("mmlu_medical/medical_genetics_test.csv", "mmlu_csv", 100, "mmlu"),
    ("mmlu_medical/college_biology_test.csv", "mmlu_csv", 144, "mmlu"),
    ("mmlu_medical/anatomy_dev.csv", "mmlu_csv", 5, "mmlu"),
])
def test_real_file_counts(medreason, rel, fmt, count, dataset):
    path = medreason / rel
    data = path.read_bytes()
    assert detect_format(str(path), data[:65536]) == fmt
    pairs, dead = parse(str(path), data)
    assert dead == []
    assert len(pairs) == count
    assert {p.dataset for p in pairs} == {dataset}
    assert len({p.id for p in pairs}) == count
    assert [p.source_index for p in pairs] == list(range(count))
    assert {p.source_file for p in pairs} == {str(path)}
    for p in pairs:
        assert p.id == f"{p.dataset}:{p.source_id}"
        assert p.answer == next(o.text for o in p.options if o.label == p.answer_idx)
        assert p.question == p.question.strip() and p.question


def test_real_kg_tables_are_not_qa(medreason):
    path = medreason / "primekg_plus" / "20260529-literature_edges_novel.csv"
    data = path.read_bytes()
    assert detect_format(str(path), data) is None
    pairs, dead = parse(str(path), data)
    assert pairs == [] and dead_summary(dead) == [(None, "UnknownFormat")]


def test_real_medqa_aistairc(medreason):
    pairs, _ = parse_real(medreason, "medqa_usmle/medqa_en_4op.jsonl")
    first = pairs[0]
    assert first.id == "medqa:0" and first.source_id == "0"
    assert first.question.startswith("A junior orthopaedic surgery resident is completing a carpal")
    assert first.question.endswith(
        "Which of the following is the correct next action for the resident to take?")
    assert first.options == opts("Disclose the error to the patient and put it in the operative report",
                                 "Tell the attending that he cannot fail to disclose this mistake",
                                 "Report the physician to the ethics committee",
                                 "Refuse to dictate the operative report")
    assert (first.answer_idx, first.answer) == (
        "B", "Tell the attending that he cannot fail to disclose this mistake")
    assert (first.context, first.explanation, first.subject) == (None, None, None)
    # surrounding white space of the question ("...?\n ") and of an option (" Hepatic ...") is stripped
    by_id = {p.id: p for p in pairs}
    assert by_id["medqa:448"].question.endswith("treatment for this patient?")
    assert by_id["medqa:828"].options == opts(
        "Metabolic disorder", "Substance abuse", "Obesity", "Hepatic venous outflow obstruction")
    assert (by_id["medqa:828"].answer_idx, by_id["medqa:828"].answer) == ("B", "Substance abuse")
    assert Counter(p.answer_idx for p in pairs) == {"A": 353, "C": 346, "B": 309, "D": 265}


def test_real_medqa_eval_matches_aistairc(medreason):
    four, _ = parse_real(medreason, "medqa_usmle/medqa_en_4op.jsonl")
    five, _ = parse_real(medreason, "medreason_eval_data/medqa_test.jsonl")
    first = five[0]
    assert first.id == "medqa:medqa_test:0"  # no id field: the file stem and the line
    assert first.options == opts("Disclose the error to the patient but leave it out of the operative report",
                                 "Disclose the error to the patient and put it in the operative report",
                                 "Tell the attending that he cannot fail to disclose this mistake",
                                 "Report the physician to the ethics committee",
                                 "Refuse to dictate the operative report")
    assert (first.answer_idx, first.answer, first.subject) == (
        "C", "Tell the attending that he cannot fail to disclose this mistake", "step1")
    assert Counter(p.subject for p in five) == {"step1": 679, "step2&3": 594}
    # the same 1,273 questions in the same order (problem_id = line), with the same correct answer text
    assert [p.source_id for p in four] == [p.source_id.split(":")[1] for p in five]
    assert sum(a.question == b.question for a, b in zip(four, five)) == 1273
    assert sum(a.answer == b.answer for a, b in zip(four, five)) == 1273


def test_real_medmcqa_aistairc(medreason):
    pairs, _ = parse_real(medreason, "medmcqa/medmcqa.jsonl")
    first = pairs[0]
    assert first.id == "medmcqa:45258d3d-b974-44dd-a161-c3fccbdadd88"
    assert first.question == "Which of the following is not true for myelinated nerve fibers:"
    assert first.options == opts(
        "Impulse through myelinated fibers is slower than non-myelinated fibers",
        "Membrane currents are generated at nodes of Ranvier",
        "Saltatory conduction of impulses is seen",
        "Local anesthesia is effective only when the nerve is not covered by myelin sheath")
    assert (first.answer_idx, first.answer) == (
        "A", "Impulse through myelinated fibers is slower than non-myelinated fibers")
    assert Counter(p.answer_idx for p in pairs) == {"A": 1348, "B": 1085, "C": 925, "D": 825}
    assert len({p.question for p in pairs}) == 4183


def test_real_medbullets(medreason):
    op4, _ = parse_real(medreason, "medreason_eval_data/medbullets_op4.jsonl")
    op5, _ = parse_real(medreason, "medreason_eval_data/medbullets_op5.jsonl")
    first4 = op4[0]
    assert first4.id == "medbullets:medbullets_op4:0"
    assert first4.question.startswith("A 42-year-old woman is enrolled in a randomized controlled trial")
    assert first4.options == opts("AV node > ventricles > atria > Purkinje fibers",
                                  "Purkinje fibers > ventricles > atria > AV node",
                                  "Purkinje fibers > atria > ventricles > AV node",
                                  "Purkinje fibers > AV node > ventricles > atria")
    assert (first4.answer_idx, first4.answer, first4.subject) == (
        "C", "Purkinje fibers > atria > ventricles > AV node", None)
    first5 = op5[0]
    assert first5.question.startswith("A 64-year-old man presents to the emergency room with a headache")
    assert "The patient\u2019s past medical history" in first5.question
    assert first5.options == opts("Acetazolamide", "Amitriptyline", "Clopidogrel", "Epinephrine", "Verapamil")
    assert (first5.answer_idx, first5.answer) == ("A", "Acetazolamide")
    assert len({p.question for p in op4}) == len({p.question for p in op5}) == 298
    assert len({p.id for p in op4} | {p.id for p in op5}) == 616  # the two orders never share an id


def test_real_pubmedqa(medreason):
    path = medreason / "pubmedqa" / "ori_pqal_non_test_500.json"
    raw = json.loads(path.read_text())
    pairs, _ = parse_real(medreason, "pubmedqa/ori_pqal_non_test_500.json")
    assert Counter(p.answer for p in pairs) == {"yes": 276, "no": 169, "maybe": 55}
    assert Counter(p.answer_idx for p in pairs) == {"A": 276, "B": 169, "C": 55}
    assert [p.source_id for p in pairs] == list(raw)
    first = pairs[0]
    assert first.id == "pubmedqa:10808977" and first.source_index == 0
    assert first.question == "Can tailored interventions increase mammography use among HMO women?"
    assert first.options == opts("yes", "no", "maybe")
    assert (first.answer_idx, first.answer) == ("A", "yes")
    assert first.context.startswith("Telephone counseling and tailored print communications have emerged")
    assert first.context.split("\n") == raw["10808977"]["CONTEXTS"]
    assert len(first.context.split("\n")) == 6
    assert first.explanation.startswith(
        "The effects of the intervention were most pronounced after the first")
    assert first.explanation == raw["10808977"]["LONG_ANSWER"]
    assert (pairs[-1].id, pairs[-1].answer, pairs[-1].source_index) == ("pubmedqa:17559449", "no", 499)


def test_real_mmlu(medreason):
    pairs, _ = parse_real(medreason, "mmlu_medical/anatomy_test.csv")
    first = pairs[0]
    assert first.id == "mmlu:anatomy_test:0" and first.source_id == "anatomy_test:0"
    assert first.subject == "anatomy"
    assert first.question == ("A lesion causing compression of the facial nerve at the stylomastoid "
                              "foramen will cause ipsilateral")
    assert first.options == opts(
        "paralysis of the facial muscles.", "paralysis of the facial muscles and loss of taste.",
        "paralysis of the facial muscles, loss of taste and lacrimation.",
        "paralysis of the facial muscles, loss of taste, lacrimation and decreased salivation.")
    assert (first.answer_idx, first.answer) == ("A", "paralysis of the facial muscles.")
    second = pairs[1]  # doubled quotes inside a quoted field
    assert second.question == 'A "dished face" profile is often associated with'
    assert (second.answer_idx, second.answer) == (
        "B", "a recessive maxilla due to failure of elongation of the cranial base.")
    bio, _ = parse_real(medreason, "mmlu_medical/college_biology_test.csv")
    multi = bio[13]  # a quoted question spanning lines
    assert multi.id == "mmlu:college_biology_test:13" and multi.subject == "college_biology"
    assert multi.question == "A cell nucleus contains which of the following?\nI. DNA\nII. Protein\nIII. RNA"
    assert multi.options == opts("I only", "II only", "III only", "I, II, and III")
    assert (multi.answer_idx, multi.answer) == ("D", "I, II, and III")
    dev, _ = parse_real(medreason, "mmlu_medical/anatomy_dev.csv")
    assert dev[0].id == "mmlu:anatomy_dev:0" and dev[0].subject == "anatomy"


# --------------------------------------------------------------------------- small files: aistairc
def aistairc(pid, text="Which nerve?", choices=("Vagus", "Facial", "Optic", "Ulnar"), answer=("b",)):
    return {"problem_id": pid, "problem_text": text, "choices": list(choices), "answer": list(answer),
            "points": 1, "text_only": True}


def test_aistairc_malformed_lines():
    data = jsonl(
        aistairc(10),                                              # 0 good
        '{"problem_id": 11, "problem_text": "broken',              # 1 bad JSON
        "",                                                        # 2 blank: not a record
        {"problem_id": 12, "choices": ["a", "b"], "answer": ["a"]},  # 3 no problem_text
        aistairc(13, answer=["e"]),                                # 4 letter beyond the choices
        aistairc(14, answer=["a", "c"]),                           # 5 two answers
        aistairc(15, text="   "),                                  # 6 empty question
        aistairc(16, answer=[]),                                   # 7 no answer letter
        "[1, 2]",                                                  # 8 not an object
        aistairc(17, choices=("x", 5, None)),                      # 9 null choice
        aistairc(18, text="  Which\u00a0bone?\n", answer=["D"]),   # 10 good (upper-case letter)
        aistairc(10),                                              # 11 id already seen
        "   \t",                                                   # 12 blank
    )
    pairs, dead = parse("medqa_en_4op.jsonl", data)
    assert dead_summary(dead) == [
        (1, "InvalidJSON"), (3, "MissingField"), (4, "AnswerNotInOptions"), (5, "MultipleAnswers"),
        (6, "EmptyQuestion"), (7, "MissingAnswer"), (8, "NotAnObject"), (9, "MissingField"),
        (11, "DuplicateId")]
    assert len(pairs) + len(dead) == 11  # 13 lines, 2 blank
    assert [(p.id, p.source_index, p.answer_idx, p.answer) for p in pairs] == [
        ("medqa:10", 0, "B", "Facial"), ("medqa:18", 10, "D", "Ulnar")]
    assert pairs[1].question == "Which\u00a0bone?"
    assert pairs[0].options == opts("Vagus", "Facial", "Optic", "Ulnar")
    assert all(d.stage == "qa.parse" and d.source_file == "medqa_en_4op.jsonl" for d in dead)
    assert dead[0].excerpt == '{"problem_id": 11, "problem_text": "broken'


def test_aistairc_dataset_from_id_and_name():
    uuid = "45258d3d-b974-44dd-a161-c3fccbdadd88"
    pairs, dead = parse("questions.jsonl", jsonl(aistairc(uuid), aistairc(3), aistairc("q-9")))
    assert [p.id for p in pairs] == [f"medmcqa:{uuid}", "medqa:3"]
    assert dead_summary(dead) == [(2, "UnknownDataset")]
    pairs, dead = parse("data/mmlu_en_medical.jsonl", jsonl(aistairc(3), aistairc("q-9")))
    assert ([p.id for p in pairs], dead) == (["mmlu:3", "mmlu:q-9"], [])
    pairs, dead = parse("medmcqa.jsonl", jsonl(aistairc("q-9")))
    assert ([p.id for p in pairs], dead) == (["medmcqa:q-9"], [])


def test_excerpt_is_at_most_300_characters():
    long_line = '{"problem_id": 1, "problem_text": "' + "x" * 1000
    _, dead = parse("medqa.jsonl", jsonl(aistairc(0), long_line))
    assert dead_summary(dead) == [(1, "InvalidJSON")]
    assert dead[0].excerpt == long_line[:300]


def test_undecodable_line_is_one_dead_letter():
    data = jsonl(aistairc(0)) + b'{"problem_id": 1, "problem_text": "\xff\xfe"}\n' + jsonl(aistairc(2))
    pairs, dead = parse("medqa.jsonl", data)
    assert [p.id for p in pairs] == ["medqa:0", "medqa:2"]
    assert dead_summary(dead) == [(1, "DecodeError")]


# --------------------------------------------------------------------------- small files: MedQA / Medbullets
def medqa(question="Which drug?", answer="Aspirin", idx="B", **extra):
    rec = {"question": question, "answer": answer,
           "options": {"A": "Heparin", "B": "Aspirin", "C": "Warfarin", "D": "Insulin"},
           "answer_idx": idx}
    rec.update(extra)
    return rec


def test_medqa_malformed_lines():
    data = jsonl(
        medqa(meta_info="step1"),                                    # 0 good
        medqa(answer="Heparin"),                                     # 1 answer text is not option B
        medqa(idx="F"),                                              # 2 label not among the options
        {"question": "Q?", "options": ["Aspirin"], "answer_idx": "A"},  # 3 options not an object
        medqa(answer=" Aspirin\n", idx=" b "),                       # 4 good: white space, lower case
        {"question": "Q?", "options": {"A": "x"}, "answer": "x"},    # 5 no answer_idx
        medqa(question=""),                                          # 6 empty question
        medqa(id="q7", answer="  ", idx="D"),                        # 7 answer text mismatch
        medqa(id="q8"),                                              # 8 good, own id
    )
    pairs, dead = parse("us_qbank_test.jsonl", data)
    assert dead_summary(dead) == [
        (1, "AnswerMismatch"), (2, "AnswerNotInOptions"), (3, "InvalidField"), (5, "MissingField"),
        (6, "EmptyQuestion"), (7, "AnswerMismatch")]
    assert [(p.id, p.source_index, p.answer_idx, p.answer, p.subject) for p in pairs] == [
        ("medqa:us_qbank_test:0", 0, "B", "Aspirin", "step1"),
        ("medqa:us_qbank_test:4", 4, "B", "Aspirin", None),
        ("medqa:q8", 8, "B", "Aspirin", None)]
    assert pairs[0].options == opts("Heparin", "Aspirin", "Warfarin", "Insulin")


def test_medqa_answer_compared_after_whitespace_normalisation():
    rec = medqa(answer="Tell  the\nattending", idx="A")
    rec["options"]["A"] = "Tell the attending"
    pairs, dead = parse("medqa_test.jsonl", jsonl(rec))
    assert dead == [] and (pairs[0].answer_idx, pairs[0].answer) == ("A", "Tell the attending")


def test_medbullets_by_file_name():
    pairs, dead = parse("eval/medbullets_op4.jsonl", jsonl(medqa(), medqa(question="Other?")))
    assert dead == []
    assert [(p.id, p.dataset, p.source_id) for p in pairs] == [
        ("medbullets:medbullets_op4:0", "medbullets", "medbullets_op4:0"),
        ("medbullets:medbullets_op4:1", "medbullets", "medbullets_op4:1")]


# --------------------------------------------------------------------------- small files: MedMCQA official
def medmcqa(rid, cop, **extra):
    rec = {"question": "Drug of choice?", "exp": "Because it is. ", "cop": cop, "opa": "Atropine",
           "opb": "Adrenaline", "opc": "Amiodarone", "opd": "Adenosine", "subject_name": "Pharmacology",
           "topic_name": None, "id": rid, "choice_type": "single"}
    rec.update(extra)
    return rec


def test_medmcqa_official_cop_is_one_based():
    data = jsonl(
        medmcqa("a1", 1),                   # 0 good: A
        medmcqa("a2", 4, exp=""),           # 1 good: D, empty explanation
        medmcqa("a3", 0),                   # 2 0 is outside 1..4
        medmcqa("a4", 5),                   # 3 outside
        medmcqa("a5", None),                # 4 no cop (the official test split)
        medmcqa("a6", "3"),                 # 5 good: C, cop as a string
        medmcqa("a7", "c"),                 # 6 not an integer
        medmcqa("a8", 2, opb=None),         # 7 option missing
        medmcqa("a9", 2, opb="  "),         # 8 the correct option is empty
    )
    pairs, dead = parse("dev.json", data)
    assert detect_format("dev.json", data) == "medmcqa_jsonl"
    assert dead_summary(dead) == [
        (2, "AnswerNotInOptions"), (3, "AnswerNotInOptions"), (4, "MissingField"), (6, "InvalidField"),
        (7, "MissingField"), (8, "EmptyAnswer")]
    assert [(p.id, p.source_index, p.answer_idx, p.answer, p.explanation) for p in pairs] == [
        ("medmcqa:a1", 0, "A", "Atropine", "Because it is."),
        ("medmcqa:a2", 1, "D", "Adenosine", None),
        ("medmcqa:a6", 5, "C", "Amiodarone", "Because it is.")]
    assert {p.subject for p in pairs} == {"Pharmacology"}
    assert pairs[0].options == opts("Atropine", "Adrenaline", "Amiodarone", "Adenosine")


def test_medmcqa_zero_based_cop():
    pairs, dead = parse("medmcqa_hf.jsonl", jsonl(medmcqa("b1", 0), medmcqa("b2", 3), medmcqa("b3", 4)),
                        medmcqa_cop_base=0)
    assert [(p.id, p.answer_idx) for p in pairs] == [("medmcqa:b1", "A"), ("medmcqa:b2", "D")]
    assert dead_summary(dead) == [(2, "AnswerNotInOptions")]


# --------------------------------------------------------------------------- small files: PubMedQA
def pqa(question="Does it work?", decision="yes", **extra):
    rec = {"QUESTION": question, "CONTEXTS": [" First part. ", "Second part."], "LABELS": ["A", "B"],
           "MESHES": ["Humans"], "YEAR": "2001", "final_decision": decision,
           "LONG_ANSWER": " It works. "}
    rec.update(extra)
    return rec


def pubmedqa_document(indent) -> bytes:
    # written by hand so that a PMID can repeat (a Python dict cannot hold that)
    items = [("111", pqa()), ("222", pqa(decision="perhaps")), ("333", pqa(decision="maybe")),
             ("444", {"CONTEXTS": [], "final_decision": "no"}), ("111", pqa(decision="no")),
             ("555", pqa(decision="No", CONTEXTS=[]))]
    sep = "\n" if indent else " "
    body = ("," + sep).join(f"{json.dumps(k)}: {json.dumps(v, indent=indent)}" for k, v in items)
    return ("{" + sep + body + sep + "}").encode()


@pytest.mark.parametrize("indent", [None, 4])
def test_pubmedqa_json_malformed_records(indent):
    data = pubmedqa_document(indent)
    assert detect_format("ori_pqal.json", data) == "pubmedqa_json"
    assert detect_format("ori_pqal.json", data[:60]) == "pubmedqa_json"
    pairs, dead = parse("ori_pqal.json", data)
    assert dead_summary(dead) == [(1, "InvalidDecision"), (3, "MissingField"), (4, "DuplicateId")]
    assert [(p.id, p.source_index, p.answer_idx, p.answer) for p in pairs] == [
        ("pubmedqa:111", 0, "A", "yes"), ("pubmedqa:333", 2, "C", "maybe"), ("pubmedqa:555", 5, "B", "no")]
    first = pairs[0]
    assert first.options == opts("yes", "no", "maybe")
    assert (first.context, first.explanation, first.subject) == (
        "First part.\nSecond part.", "It works.", None)
    assert pairs[2].context is None


def test_pubmedqa_json_unparsable_document():
    data = pubmedqa_document(4)[:-10]
    pairs, dead = parse("ori_pqal.json", data)
    assert pairs == [] and dead_summary(dead) == [(None, "InvalidJSON")]


def test_pubmedqa_jsonl():
    data = jsonl(dict(pqa(), pmid="1"), dict(pqa(decision="unsure"), pmid="2"), pqa(),
                 {"pubid": 3, "question": "Lower case?", "context": {"contexts": ["c1", "c2"]},
                  "long_answer": "la", "final_decision": "maybe"})
    assert detect_format("pqa.jsonl", data) == "pubmedqa_jsonl"
    pairs, dead = parse("pqa.jsonl", data)
    assert dead_summary(dead) == [(1, "InvalidDecision"), (2, "MissingField")]
    assert [(p.id, p.answer_idx, p.context, p.explanation) for p in pairs] == [
        ("pubmedqa:1", "A", "First part.\nSecond part.", "It works."),
        ("pubmedqa:3", "C", "c1\nc2", "la")]


# --------------------------------------------------------------------------- small files: MMLU
def test_mmlu_malformed_rows():
    data = (
        b'What is 1+1?,1,2,3,4,B\n'                                    # 0 good
        b'Too few,1,2,3,A\n'                                           # 1 five columns
        b'Which letter?,a,b,c,d,E\n'                                   # 2 letter not an option
        b'\n'                                                          # 3 blank: not a record
        b' ,a,b,c,d,A\n'                                               # 4 empty question
        b'"Quoted, with ""quotes""\nand a line break",x,"y, z",w,v,B\n'  # 5 good
        b'Bad byte \xff?,a,b,c,d,A\n'                                  # 6 not UTF-8
        b'Seven,a,b,c,d,A,extra\n'                                     # 7 seven columns
        b'Last one?,p,q,r,s,d'                                         # 8 good, no final newline
    )
    path = "gs://bucket/mmlu/virology_test.csv"
    assert detect_format(path, data) == "mmlu_csv"
    pairs, dead = parse(path, data)
    assert dead_summary(dead) == [
        (1, "WrongColumnCount"), (2, "AnswerNotInOptions"), (4, "EmptyQuestion"), (6, "DecodeError"),
        (7, "WrongColumnCount")]
    assert dead[0].excerpt == "Too few,1,2,3,A"
    assert [(p.id, p.source_index, p.answer_idx, p.answer, p.subject) for p in pairs] == [
        ("mmlu:virology_test:0", 0, "B", "2", "virology"),
        ("mmlu:virology_test:5", 5, "B", "y, z", "virology"),
        ("mmlu:virology_test:8", 8, "D", "s", "virology")]
    assert pairs[1].question == 'Quoted, with "quotes"\nand a line break'
    assert pairs[1].options == opts("x", "y, z", "w", "v")


def test_mmlu_named_file_with_only_bad_rows():
    data = b"only,three,columns\nstill,three,columns\n"
    pairs, dead = parse("nutrition_dev.csv", data)
    assert pairs == [] and dead_summary(dead) == [(0, "WrongColumnCount"), (1, "WrongColumnCount")]
    assert detect_format("table.csv", data) is None


# --------------------------------------------------------------------------- gzip, detection, unknown
def test_gzip_input_gives_the_same_records():
    plain = jsonl(aistairc(1), "{oops", aistairc(2, answer=["c"]))
    packed = gzip.compress(plain)
    assert detect_format("medqa.jsonl.gz", packed) == "aistairc_jsonl"
    assert list(parse_qa_file("medqa.jsonl.gz", packed)) == list(parse_qa_file("medqa.jsonl.gz", plain))
    pairs, dead = parse("medqa.jsonl.gz", packed)
    assert [(p.id, p.answer) for p in pairs] == [("medqa:1", "Facial"), ("medqa:2", "Optic")]
    assert dead_summary(dead) == [(1, "InvalidJSON")]
    csv_pairs, _ = parse("anatomy_test.csv.gz", gzip.compress(b"Q?,a,b,c,d,A\n"))
    assert [(p.id, p.subject) for p in csv_pairs] == [("mmlu:anatomy_test:0", "anatomy")]


def test_broken_gzip():
    packed = gzip.compress(jsonl(*(aistairc(i) for i in range(50))))
    pairs, dead = parse("medqa.jsonl.gz", packed[:len(packed) // 2])
    assert pairs == [] and dead_summary(dead) == [(None, "BadGzip")]


@pytest.mark.parametrize("name, data", [
    ("notes.txt", b"hello world\nthis is not a QA file\n"),
    ("empty.jsonl", b""),
    ("blank.jsonl", b"\n \n"),
    ("other.jsonl", jsonl({"text": "a"}, {"text": "b"})),
    ("edges.csv", b"relation,display_relation,x_index\nppi,ppi,0\n"),
    ("array.json", b'[{"question": "Q?"}]'),
])
def test_unknown_format(name, data):
    assert detect_format(name, data) is None
    records = list(parse_qa_file(name, data))
    assert len(records) == 1
    assert isinstance(records[0], DeadLetter)
    assert (records[0].error_type, records[0].stage, records[0].source_file, records[0].record_index) == (
        "UnknownFormat", "qa.parse", name, None)
    assert records[0].excerpt == data[:300].decode()


def test_detection_skips_a_bad_first_line_and_a_bom():
    data = b"\xef\xbb\xbf" + jsonl("{not json", medqa())
    assert detect_format("x.jsonl", data) == "medqa_jsonl"
    pairs, dead = parse("x.jsonl", data)
    assert [p.id for p in pairs] == ["medqa:x:1"] and dead_summary(dead) == [(0, "InvalidJSON")]


def test_formats_constant():
    assert FORMATS == ("aistairc_jsonl", "medqa_jsonl", "medmcqa_jsonl", "pubmedqa_json",
                       "pubmedqa_jsonl", "mmlu_csv")
