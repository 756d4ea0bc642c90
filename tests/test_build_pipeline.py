"""The build job as a whole: reading by content with dead letters, runner options, and an
end-to-end run on the real public corpus arranged as an ``--input_root``."""
from __future__ import annotations

import glob
import gzip
import json
import shutil

import apache_beam as beam
import pyarrow.parquet as pq
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.build import MULTI_THREADING_REFUSAL, build, prepare_options
from pipelines.options import BuildOptions
from tests.test_joins import counters
from transforms.read import ParseInputFiles

PUBMED_OK = b"""<?xml version="1.0"?>
<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2019//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_190101.dtd">
<PubmedArticleSet>
<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM"><PMID Version="1">111</PMID>
<Article><ArticleTitle>First</ArticleTitle></Article></MedlineCitation></PubmedArticle>
<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM"><PMID Version="1">222</PMID>
<Article><ArticleTitle>Second</ArticleTitle></Article></MedlineCitation></PubmedArticle>
</PubmedArticleSet>
"""


def _write_inputs(root):
    (root / "pubmed").mkdir(parents=True)
    (root / "ctgov").mkdir()
    (root / "links").mkdir()
    (root / "pubmed" / "good.xml.gz").write_bytes(gzip.compress(PUBMED_OK, mtime=0))
    (root / "pubmed" / "cut.xml").write_bytes(PUBMED_OK[:PUBMED_OK.index(b"<PubmedArticle><MedlineCitation Status"
                                                                         b"=\"MEDLINE\" Owner=\"NLM\"><PMID Version="
                                                                         b"\"1\">222")] + b"<PubmedArticle><Med")
    (root / "pubmed" / "bomb.xml").write_bytes(
        b'<?xml version="1.0"?><!DOCTYPE PubmedArticleSet [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        b"<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID></MedlineCitation></PubmedArticle>"
        b"</PubmedArticleSet>")
    (root / "pubmed" / "gzip_named_plain.txt").write_bytes(gzip.compress(PUBMED_OK.replace(b"111", b"333")
                                                                         .replace(b"222", b"444"), mtime=0))
    (root / "ctgov" / "broken.json").write_bytes(b'{"protocolSection": {"identificationModule": {"nctId": "NCT0')
    (root / "ctgov" / "notes.md").write_bytes(b"# notes\nnothing to see\n")
    (root / "links" / "t.tsv").write_bytes(b"review_id\tpmid\tlabel\npubmed:111\t222\tincluded\n")
    (root / "links" / ".hidden").write_bytes(b"ignored")


@pytest.mark.parametrize("processes", [0, 2], ids=["in_process", "parse_pool"])
def test_parse_input_files_routes_records_and_dead_letters(tmp_path, processes):
    """The same records, dead letters and counters whether files are parsed in the runner's process
    or by two worker processes (``min_bytes=0``: every file goes to the pool)."""
    _write_inputs(tmp_path)
    p = TestPipeline(runner="FnApiRunner")
    parsed = p | ParseInputFiles([f"{tmp_path}/{d}/**" for d in ("pubmed", "pmc", "ctgov", "links")],
                                 processes=processes, min_bytes=0)
    assert_that(parsed.articles | "Pmids" >> beam.Map(lambda a: (a.pmid, a.source_file.rsplit("/", 1)[1])),
                equal_to([("111", "good.xml.gz"), ("222", "good.xml.gz"), ("111", "cut.xml"),
                          ("333", "gzip_named_plain.txt"), ("444", "gzip_named_plain.txt")]), label="articles")
    assert_that(parsed.dead_letters | "Dead" >> beam.Map(lambda d: (d.source_file.rsplit("/", 1)[1], d.stage,
                                                                     d.error_type)),
                equal_to([("cut.xml", "pubmed.parse", "XMLSyntaxError"),
                          ("bomb.xml", "pubmed.parse", "UnsafeXmlError"),
                          ("broken.json", "ctgov.parse", "JSONDecodeError"),
                          ("notes.md", "read.detect", "UnknownFormat")]), label="dead")
    assert_that(parsed.review_links | "Links" >> beam.Map(lambda x: (x.review_id, x.pmid, x.label)),
                equal_to([("pubmed:111", "222", "included")]), label="links")
    c = counters(p.run())
    assert c["read.files"] == 7
    assert (c["pubmed.parsed"], c["links.parsed"]) == (5, 1)
    assert (c["pubmed.parse.dead_letter"], c["ctgov.parse.dead_letter"], c["read.detect.dead_letter"]) == (2, 1, 1)


def test_runner_defaults_and_multi_threading_is_refused(tmp_path):
    opts = prepare_options(["--input_root", str(tmp_path), "--output", str(tmp_path / "o")])
    assert opts.view_as(StandardOptions).runner == "FnApiRunner"
    with pytest.raises(SystemExit) as e:
        prepare_options(["--input_root", str(tmp_path), "--direct_running_mode=multi_threading"])
    assert str(e.value) == MULTI_THREADING_REFUSAL
    # the embedded sample is written beside a local output only
    with pytest.raises(SystemExit, match="--input_root is required with --output gs://bucket/out"):
        prepare_options(["--output", "gs://bucket/out", "--runner", "DataflowRunner"])
    assert not (tmp_path / "gs:").exists() and not glob.glob("gs:*")


def read_task(output, task):
    rows = []
    for f in sorted(glob.glob(f"{output}/tasks/task={task}/*.parquet")):
        rows += pq.read_table(f).to_pylist()
    return rows


def run_build(input_root, output, extra=()):
    options = PipelineOptions(["--input_root", str(input_root), "--output", str(output),
                               "--snapshot_date", "2026-01-01", "--num_shards", "1", *extra])
    p = TestPipeline(runner="FnApiRunner", options=options)
    build(p, options.view_as(BuildOptions))
    result = p.run()
    result.wait_until_finish()
    with open(f"{output}/manifest.json") as f:
        return json.load(f), counters(result)


@pytest.fixture(scope="module")
def shared_build(tmp_path_factory):
    from tests.conftest import SHARED_CORPUS
    if not SHARED_CORPUS.is_dir():
        pytest.skip("../shared/corpus is not present")
    root = tmp_path_factory.mktemp("raw")
    shutil.copytree(SHARED_CORPUS / "pubmed", root / "pubmed")
    shutil.copytree(SHARED_CORPUS / "pmc_jats", root / "pmc")
    for d in ("ctgov_v2", "ctgov_legacy_xml", "ctgov_classic_api_json"):
        shutil.copytree(SHARED_CORPUS / d, root / "ctgov" / d)
    shutil.copytree(SHARED_CORPUS / "sr_included_studies", root / "links")
    out = tmp_path_factory.mktemp("out")
    manifest, c = run_build(root, out)
    return out, manifest, c


def test_shared_corpus_build_counts(shared_build):
    out, manifest, c = shared_build
    # 69 trials, less NCT00973089 (v2) and NCT02591810 (legacy XML), both WITHDRAWN
    assert manifest["tables"] == {"articles": 729, "fulltexts": 41, "links_review_study": 6851,
                                  "links_study_trial": 46, "trials": 67}
    assert manifest["tasks"] == {"search_query": 0, "screening": 5, "study_characteristics": 0, "arm_design": 0,
                                 "participant_statistics": 0, "trial_results": 0}
    # 874 SYNERGY rows without a PMID, a plain PMID list (unknown format), and a PMC metadata
    # JSON that looks like JSON but is no registry record.
    assert manifest["dead_letters"] == {"ctgov.parse:UnsupportedFormat": 1, "links.parse:MissingField": 874,
                                        "read.detect:UnknownFormat": 1}
    assert manifest["unresolved"] == {"study_text": 6869, "trial": 23}
    # records in = records out + dead letters, per source
    assert c["pubmed.parsed"] == 731 and c["pubmed.deleted_citations"] == 1
    assert c["pubmed.parsed"] == manifest["tables"]["articles"] + c["pubmed.superseded"] + c.get("pubmed.deleted", 0)
    assert c["ctgov.parsed"] == 30 + 47 + 1
    assert c["ctgov.withdrawn"] == 2
    assert c["ctgov.parsed"] == manifest["tables"]["trials"] + c["ctgov.superseded"] + c["ctgov.withdrawn"]
    # PMC3040717 twice (efetch pmc-articleset and the OA S3 copy)
    assert c["pmc.parsed"] == 42 == manifest["tables"]["fulltexts"] + c["pmc.superseded"]
    assert c["links.parsed"] + c["links.parse.dead_letter"] == 1315 + 658 + 6374
    assert c["criteria.parsed"] == 20 + 20 + 26  # CLEF protocols, CLEF topics, SYNERGY reviews with criteria


def test_shared_corpus_screening_records(shared_build):
    out, _, _ = shared_build
    rows = {(r["review_id"], r["pmid"]): r for r in read_task(out, "screening")}
    assert sorted(rows) == [("cochrane:CD009069", "23873171"), ("cochrane:CD010038", "26936901"),
                            ("cochrane:CD010558", "19697180"), ("cochrane:CD010558", "22661794"),
                            ("synergy:Jeyaraman_2020", "26956476")]
    jey = rows[("synergy:Jeyaraman_2020", "26956476")]  # SYNERGY marks it included; full text PMC4784272
    assert jey["pmcid"] == "PMC4784272"
    assert json.loads(jey["output"]) == {"criteria": [
        {"criterion": n, "eligibility": "YES"} for n in
        ("Population", "Intervention", "Comparison", "Outcomes", "Types of studies", "Exclusion criteria")],
        "include": True}
    assert "Population: Patients with knee osteoarthritis\nIntervention: MSC therapy\nComparison: Usual care" \
        in jey["input"]
    r = rows[("cochrane:CD009069", "23873171")]
    assert r["pmcid"] == "PMC3714284" and r["evidence"] == "abstract" and r["created_at"] == "2026-01-01"
    assert json.loads(r["output"]) == {"criteria": [
        {"criterion": n, "eligibility": "UNCERTAIN"} for n in
        ("Population", "Intervention", "Comparison", "Outcomes", "Types of studies")], "include": True}
    assert r["input"].startswith("CRITERIA:\nTitle: Prophylactic vaccination against human papillomaviruses")
    assert "Types of studies: We considered only phase II and phase III randomised controlled trials (RCTs)." \
        in r["input"]
    assert any(s.endswith("task1.test.abs.intervention.2019.qrels") for s in r["sources"])


def test_shared_corpus_unresolved_links_are_listed(shared_build):
    out, manifest, _ = shared_build
    rows = [json.loads(line) for f in glob.glob(f"{out}/unresolved/*.jsonl") for line in open(f)]
    assert len(rows) == sum(manifest["unresolved"].values())
    keys = {(r["kind"], r["key"], r["review_id"]) for r in rows}
    assert ("study_text", "1615177", "cochrane:CD000996") in keys  # a CLEF-TAR study with no text here
    assert ("trial", "NCT02109003", None) in keys  # PMC4461648 registration, registry record absent
    links = pq.read_table(glob.glob(f"{out}/tables/links/*.parquet")[0]).to_pylist()
    pmc = [x for x in links if x["kind"] == "study_trial" and x["pmid"] == "26059205"]
    assert [(x["nct_id"], x["sources"]) for x in pmc] == [("NCT02109003", ["abstract_mention", "fulltext_registration"])]


def test_unexpected_parser_failure_becomes_a_dead_letter(tmp_path, monkeypatch):
    import transforms.read as read

    def explode(fileobj, source_file):
        yield from ()
        raise AttributeError("parser bug")
    monkeypatch.setattr(read, "parse_source", explode)
    (tmp_path / "pubmed").mkdir()
    (tmp_path / "pubmed" / "a.xml").write_bytes(PUBMED_OK)
    p = TestPipeline(runner="FnApiRunner")
    parsed = p | ParseInputFiles([f"{tmp_path}/pubmed/**"])
    assert_that(parsed.dead_letters | beam.Map(lambda d: (d.stage, d.error_type, d.message)),
                equal_to([("read.file", "UnexpectedAttributeError", "parser bug")]))
    assert counters(p.run())["read.file.dead_letter"] == 1


def test_rerun_replaces_earlier_output(tmp_path):
    from pipelines.build import clear_previous_output
    out = tmp_path / "out"
    (out / "tasks" / "task=screening").mkdir(parents=True)
    (out / "tasks" / "task=screening" / "part-00000-of-00003.parquet").write_bytes(b"stale")
    (out / "manifest.json").write_text("{}")
    (out / "notes.txt").write_text("mine")
    assert sorted(p.rsplit("/", 1)[1] for p in clear_previous_output(str(out))) == ["manifest.json", "tasks"]
    assert sorted(x.name for x in out.iterdir()) == ["notes.txt"]
