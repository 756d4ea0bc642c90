"""The KG reasoning job end to end (``pipelines.kg_reasoning.build`` on TestPipeline): the embedded
sample's exact counts, Parquet records read back, dead letters, rejected records, and the LLM
steps against a local OpenAI-protocol server (response cache: a rerun sends no request)."""
from __future__ import annotations

import glob
import json
import re

import pyarrow.parquet as pq
import pytest
from apache_beam.testing.test_pipeline import TestPipeline

from pipelines.kg_reasoning import build, prepare_options
from pipelines.options import KgReasoningOptions
from schemas.arrow import from_row
from schemas.records import KgReasoningRecord
from tests.openai_server import OpenAIServer
from tests.test_build_pipeline import counters

KEPT = ["medmcqa:c0a1e8b2-0001-4c1e-9a11-000000000001", "medmcqa:c0a1e8b2-0002-4c1e-9a11-000000000002",
        "medmcqa:c0a1e8b2-0003-4c1e-9a11-000000000003", "medqa:medqa_sample:0", "medqa:medqa_sample:1",
        "medqa:medqa_sample:2", "medqa:medqa_sample:3", "mmlu:clinical_sample_test:0", "mmlu:clinical_sample_test:1",
        "pubmedqa:90000001"]
REJECTED = {"medqa:medqa_sample:4": ["kg.no_path"],
            "medmcqa:c0a1e8b2-0004-4c1e-9a11-000000000004": ["qa.no_answer_entity"],
            "pubmedqa:90000002": ["qa.no_question_entity", "qa.no_answer_entity"]}
DEAD = [("clinical_sample_test.csv", 2, "WrongColumnCount"), ("medmcqa_sample.jsonl", 4, "AnswerNotInOptions"),
        ("medqa_sample.jsonl", 5, "InvalidJSON"), ("medqa_sample.jsonl", 6, "AnswerNotInOptions")]


def run_job(output, extra=()):
    options = prepare_options(["--output", str(output), "--snapshot_date", "2026-11-26", "--num_shards", "1",
                               "--kg_cache_dir", str(output / "_cache"), *extra])
    p = TestPipeline(runner="FnApiRunner", options=options)
    build(p, options.view_as(KgReasoningOptions))
    result = p.run()
    result.wait_until_finish()
    with open(output / "manifest.json") as f:
        return json.load(f), counters(result)


def read_records(output) -> dict[str, KgReasoningRecord]:
    files = glob.glob(str(output / "tasks" / "task=kg_reasoning" / "part-*.parquet"))
    rows = [r for f in files for r in pq.read_table(f).to_pylist()]
    return {r["qa_id"]: from_row(KgReasoningRecord, r) for r in rows}


def read_jsonl(output, name):
    return [json.loads(line) for f in sorted(glob.glob(str(output / name / "part-*.jsonl")))
            for line in open(f)]


@pytest.fixture(scope="module")
def sample_job(tmp_path_factory):
    out = tmp_path_factory.mktemp("kg_out")
    manifest, c = run_job(out)
    return out, manifest, c


def test_sample_counts(sample_job):
    out, manifest, c = sample_job
    assert manifest["qa_read"] == 13
    assert manifest["qa_by_dataset"] == {"medmcqa": 4, "medqa": 5, "mmlu": 2, "pubmedqa": 2}
    assert manifest["tasks"] == {"kg_reasoning": 10} and manifest["rejected_total"] == 3
    assert manifest["rejected_reasons"] == {"kg.no_path": 1, "qa.no_answer_entity": 2, "qa.no_question_entity": 1}
    assert manifest["dead_letters"] == {"qa.parse:AnswerNotInOptions": 2, "qa.parse:InvalidJSON": 1,
                                        "qa.parse:WrongColumnCount": 1}
    # records in = records out + rejected + dead letters: 17 QA records in the four files
    assert manifest["total_records"] + manifest["rejected_total"] + manifest["dead_letters_total"] == 17
    assert c["qa.files"] == 4 and c["qa.parsed"] == 13 and c["qa.parse.dead_letter"] == 4
    assert c["kg_reasoning.kept"] == 10 and c["kg_reasoning.rejected"] == 3
    assert c["kg.loaded"] == 1  # one process: the graph is loaded once, not per bundle or element
    assert (c["link.exact"], c["link.synonym"], c["link.embedding"]) == (22, 4, 1)


def test_sample_records(sample_job):
    out, _, _ = sample_job
    records = read_records(out)
    assert sorted(records) == KEPT
    r = records["medqa:medqa_sample:3"]
    assert [(e.role, e.node_id, e.method) for e in r.entities] == [
        ("question", "HPO:12378", "exact"), ("answer", "MONDO:1016", "embedding")]
    assert [[(s.head_name, s.relation, s.tail_name) for s in p.steps] for p in r.paths] == [
        [("fatigue", "phenotype present", "vitamin B12 deficiency")]]
    assert all(x.reasoning_method == "template" and x.validation == "paths" and x.answer_reached
               and x.llm_answer is None for x in records.values())
    assert {x.split for x in records.values()} <= {"train", "validation", "test"}
    assert len({x.id for x in records.values()}) == 10
    stats = json.load(open(out / "stats.json"))["tasks"]["kg_reasoning"]
    assert stats["records"] == {"kept": 10, "rejected": 3}
    assert stats["hops"] == {"1": 10, "2": 1} and stats["paths_per_record"] == {"1": 9, "2": 1}


def test_sample_rejected_and_dead_letters(sample_job):
    out, _, _ = sample_job
    rejected = read_jsonl(out, "rejected")
    assert {r["record"]["qa_id"]: r["reasons"] for r in rejected} == REJECTED
    dead = read_jsonl(out, "dead_letter")
    assert sorted((d["source_file"].rsplit("/", 1)[1], d["record_index"], d["error_type"]) for d in dead) == DEAD
    assert all(d["stage"] == "qa.parse" and d["excerpt"] for d in dead)


def test_refuses_a_leads_build_output(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"tasks": {}, "total_records": 0}))
    with pytest.raises(SystemExit, match="holds a LEADS build"):
        prepare_options(["--output", str(tmp_path)])


# --------------------------------------------------------------------------- LLM steps
_REF_RE = re.compile(r"Reference answer:\n([A-Z])\.")
_SUPPORTS_RE = re.compile(r"supports option ([A-Z])")


def responder(wrong_for: str):
    """A deterministic model: prunes to the first path, writes a chain that supports the reference
    answer (or option A when the question contains ``wrong_for``), answers from the chain."""
    def respond(request):
        user = request["messages"][-1]["content"]
        if request.get("response_format"):
            return json.dumps({"paths": [{"index": 1, "reason": "most direct"}]})
        if "Reference answer:" in user:
            letter = "A" if wrong_for in user else _REF_RE.search(user).group(1)
            return (f"Finding reasoning paths:\n1. a -> b\n\nReasoning Process:\nThe findings fit; this "
                    f"supports option {letter}.\n\nConclusion:\nThe answer is {letter}.")
        m = _SUPPORTS_RE.search(user)
        assert "Conclusion:" not in user  # validation reads the reasoning without its conclusion
        return f"The reasoning points to it.\nAnswer: {m.group(1) if m else '?'}"
    return respond


def test_llm_chains_validation_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KG_TEST_KEY", "sk-test-123")
    with OpenAIServer(responder("used to treat Graves disease")) as server:
        args = ["--llm_endpoint", server.base_url, "--llm_model", "test-model", "--llm_api_key_env", "KG_TEST_KEY",
                "--llm_requests_per_second", "0", "--keep_paths", "1", "--llm_cache", str(tmp_path / "llm_cache")]
        manifest, c = run_job(tmp_path / "run1", args)
        first = len(server.requests)
        # 10 pairs reach the model: chain + answer each, and one pruning (medqa:1 has 2 paths, keep 1)
        assert first == 21
        assert c["llm.requests"] == 21 and c.get("llm.cache_hits", 0) == 0
        assert all(r.header("Authorization") == "Bearer sk-test-123" for r in server.requests)
        assert {r.json["model"] for r in server.requests} == {"test-model"}
        assert manifest["tasks"] == {"kg_reasoning": 9}
        assert manifest["rejected_reasons"] == {"kg.no_path": 1, "llm.answer_mismatch": 1,
                                                "qa.no_answer_entity": 2, "qa.no_question_entity": 1}
        records = read_records(tmp_path / "run1")
        assert sorted(records) == [k for k in KEPT if k != "mmlu:clinical_sample_test:1"]
        r = records["medqa:medqa_sample:1"]
        assert (r.reasoning_method, r.validation, r.llm_answer, r.llm_match) == ("llm", "paths+llm", "B", True)
        assert len(r.paths) == 1 and r.paths[0].rank == 1
        assert r.reasoning.startswith("Finding reasoning paths:") and "supports option B" in r.reasoning
        mismatch = [x for x in read_jsonl(tmp_path / "run1", "rejected") if "llm.answer_mismatch" in x["reasons"]]
        assert [(x["record"]["qa_id"], x["record"]["llm_answer"], x["record"]["llm_match"]) for x in mismatch] == [
            ("mmlu:clinical_sample_test:1", "A", False)]
        cache_files = glob.glob(str(tmp_path / "llm_cache" / "**" / "*.json"), recursive=True)
        assert len(cache_files) == 21
        assert not any("sk-test-123" in open(f).read() for f in cache_files)

        # a rerun with the same prompts is answered from the cache: no request at all
        manifest2, c2 = run_job(tmp_path / "run2", args)
        assert len(server.requests) == first
        assert c2["llm.cache_hits"] == 21 and c2.get("llm.requests", 0) == 0
        assert manifest2["tasks"] == manifest["tasks"] and manifest2["rejected_reasons"] == manifest["rejected_reasons"]
        assert {k: v.output for k, v in read_records(tmp_path / "run2").items()} == {
            k: v.output for k, v in records.items()}


def test_llm_failure_rejects_with_reason(tmp_path):
    from tests.openai_server import Fault
    with OpenAIServer(responder("nothing")) as server:
        server.add_faults(*[Fault.http(500, "down")] * 3)
        manifest, c = run_job(tmp_path / "out", ["--llm_endpoint", server.base_url, "--llm_requests_per_second", "0",
                                                 "--llm_max_retries", "0", "--llm_cache", str(tmp_path / "c")])
    # the first pairs to reach the model meet the three failures; each is rejected, none is lost
    assert manifest["rejected_reasons"].get("llm.error") == 3
    assert manifest["total_records"] + manifest["rejected_total"] == 13
    assert manifest["total_records"] == 7


def test_data_card(sample_job, capsys):
    from pipelines.stats import main as stats_main
    out, _, _ = sample_job
    assert stats_main([str(out)]) == 0
    card = (out / "README.md").read_text()
    assert "10 records (task `kg_reasoning`) from 13 QA pairs" in card
    assert "| medqa | 4 | 1 |\n| mmlu | 2 | 0 |\n| pubmedqa | 1 | 1 |" in card
    assert "| answer | embedding | 1 |\n| answer | exact | 9 |\n| question | exact | 10 |\n| question | synonym | 3 |" in card
    assert "| 1 | 10 |\n| 2 | 1 |" in card and "| `kg.no_path` | 1 |" in card
    assert "data_files: tasks/task=kg_reasoning/*.parquet" in card
    printed = capsys.readouterr().out
    assert "total                 10" in printed and "Data card:" in printed


def test_run_prints_progress(tmp_path):
    import io
    from pipelines.kg_reasoning import run
    from pipelines.progress import kg_progress_line
    stream = io.StringIO()
    _, manifest_path = run(["--output", str(tmp_path / "out"), "--progress_interval", "0.5",
                            "--kg_cache_dir", str(tmp_path / "cache")], progress_stream=stream)
    last = stream.getvalue().splitlines()[-1]
    assert re.fullmatch(r"\[kg_reasoning +[\d.]+s\] QA read: 13 \| reasoned: 13 \([\d.]+/s\), kept 10, "
                        r"rejected 3 \| dead letters: 4", last), last
    assert json.load(open(manifest_path))["total_records"] == 10
    assert kg_progress_line({}, 0.0) == "[kg_reasoning    0.0s] QA read: 0 | reasoned: 0, kept 0, rejected 0"
