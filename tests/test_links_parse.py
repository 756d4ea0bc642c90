"""Link tables and review criteria on the real CLEF-TAR and SYNERGY files, plus bad input."""
from __future__ import annotations

import io
from collections import Counter

from schemas.records import DeadLetter, ReviewCriteria, ReviewLink
from tests.conftest import open_bytes
from transforms.formats import detect_format, parse_source
from transforms.links.parse import (criteria_from_article, merge_criteria, parse_clef_protocol, parse_clef_topic,
                                    parse_link_table, parse_qrels, parse_synergy_csv, pmid_from, review_id_for)

CLEF = "sr_included_studies/clef_tar_2019/Testing/Intervention"


def _parse(fn, path, name=None):
    with open_bytes(path) as f:
        return list(fn(f, name or str(path)))


def test_clef_qrels_abstract_and_content_levels(corpus):
    abs_links = _parse(parse_qrels, corpus / CLEF / "qrels/task1.test.abs.intervention.2019.qrels")
    content = _parse(parse_qrels, corpus / CLEF / "qrels/task1.test.content.intervention.2019.qrels")
    assert len(abs_links) == 1315 and all(isinstance(x, ReviewLink) for x in abs_links)
    assert len(content) == 658
    assert Counter(x.label for x in abs_links) == {"screened_in": 1315}
    assert Counter(x.label for x in content) == {"included": 658}
    assert len({x.review_id for x in abs_links}) == 20 and len({x.review_id for x in content}) == 18
    assert abs_links[0] == ReviewLink("cochrane:CD000996", "1615177", "screened_in", "clef_qrels_abstract",
                                      str(corpus / CLEF / "qrels/task1.test.abs.intervention.2019.qrels"))
    named = {(x.review_id, x.pmid) for x in abs_links}
    assert {("cochrane:CD009069", "23873171"), ("cochrane:CD010038", "26936901"),
            ("cochrane:CD010558", "19697180"), ("cochrane:CD010558", "22661794")} <= named
    assert not {("cochrane:CD009069", "23873171")} & {(x.review_id, x.pmid) for x in content}


def test_synergy_csvs_count_rows_and_dead_letter_rows_without_pmid(corpus):
    links, dead = [], []
    for path in sorted((corpus / "sr_included_studies/synergy").glob("*_ids.csv")):
        for x in _parse(parse_synergy_csv, path):
            (links if isinstance(x, ReviewLink) else dead).append(x)
    assert len(links) + len(dead) == 6374
    assert len(dead) == 874 and {d.error_type for d in dead} == {"MissingField"}
    assert Counter(x.label for x in links) == {"excluded": 5264, "included": 236}
    jey = [x for x in links if x.review_id == "synergy:Jeyaraman_2020"]
    assert len(jey) == 1097
    assert ("26956476", "included") in {(x.pmid, x.label) for x in jey}
    first_dead = next(d for d in dead if d.source_file.endswith("Jeyaraman_2020_ids.csv"))
    assert first_dead.record_index == 15 and "openalex.org/W320698679" in first_dead.excerpt


def test_clef_protocol_maps_to_pico(corpus):
    (c,) = _parse(parse_clef_protocol, corpus / CLEF / "protocals/CD009069.xml")
    assert c.review_id == "cochrane:CD009069" and c.source == "clef_protocol"
    assert c.objectives.startswith("To evaluate the harms and protection of prophylactic human papillomaviruses")
    assert c.study_types == "We considered only phase II and phase III randomised controlled trials (RCTs)."
    assert c.population.startswith("We included studies enrolling female participants, without any age restriction")
    assert c.intervention.startswith("Vaccination with prophylactic HPV vaccines")
    assert c.comparison.startswith("Administration of placebo containing no active product")
    assert c.outcome is not None


def test_clef_topic_and_merge(corpus):
    (topic,) = _parse(parse_clef_topic, corpus / CLEF / "topics/CD009069")
    assert topic.review_id == "cochrane:CD009069"
    assert topic.title == ("Prophylactic vaccination against human papillomaviruses to prevent cervical cancer "
                           "and its precursors")
    (protocol,) = _parse(parse_clef_protocol, corpus / CLEF / "protocals/CD009069.xml")
    merged = merge_criteria([topic, protocol])
    assert merged.title == topic.title and merged.study_types == protocol.study_types
    assert merged.source == "clef_protocol+clef_topic"


def test_detect_format_by_content_not_extension(corpus):
    assert detect_format(b"CD000996     0  1615177      1  \n", "x.txt") == "qrels"
    assert detect_format(b"doi,pmid,openalex_id,label_included\n", "a.csv") == "synergy_csv"
    assert detect_format(b"review_id\tpmid\tlabel\n", "links.dat") == "link_table"
    assert detect_format(b"Topic: CD1\n", "CD1") == "clef_topic"
    assert detect_format(b"<?xml version='1.0'?>\n<root>\n  <Objectives>x</Objectives>", "p") == "clef_protocol"
    assert detect_format(b'<?xml version="1.0"?>\n<!DOCTYPE PubmedArticleSet>\n<PubmedArticleSet>', "a.txt") \
        == "pubmed_xml"
    assert detect_format(b"<pmc-articleset><article>", "a") == "jats_xml"
    assert detect_format(b'{"protocolSection": {}}', "a.bin") == "ctgov_json"
    assert detect_format(b"hello world\n", "a.xml") == "unknown"


def test_link_table_rows_and_bad_rows():
    data = (b"review_id\tpmid\tlabel\n"
            b"pubmed:111\t222\tincluded\n"
            b"CD000001\thttps://pubmed.ncbi.nlm.nih.gov/333\texcluded\n"
            b"pubmed:111\tnot-a-pmid\tincluded\n"
            b"pubmed:111\t444\tmaybe\n")
    out = list(parse_link_table(io.BytesIO(data), "links/t.tsv"))
    assert out[:2] == [ReviewLink("pubmed:111", "222", "included", "link_table", "links/t.tsv"),
                       ReviewLink("cochrane:CD000001", "333", "excluded", "link_table", "links/t.tsv")]
    assert [(d.error_type, d.record_index) for d in out[2:]] == [("MissingField", 3), ("MissingField", 4)]


def test_malformed_qrels_line_and_unknown_file():
    out = list(parse_qrels(io.BytesIO(b"CD1 0 123 1\nbroken line\n"), "x.abs.qrels"))
    assert isinstance(out[0], ReviewLink) and out[0].label == "screened_in"
    assert isinstance(out[1], DeadLetter) and out[1].error_type == "MalformedLine" and out[1].record_index == 1
    (dead,) = list(parse_source(io.BytesIO(b"just some notes\n"), "links/notes.txt"))
    assert (dead.stage, dead.error_type) == ("read.detect", "UnknownFormat")
    (empty,) = list(parse_source(io.BytesIO(b""), "links/empty.tsv"))
    assert empty.error_type == "EmptyFile"


def test_protocol_with_entity_declaration_is_refused():
    data = b'<?xml version="1.0"?><!DOCTYPE root [<!ENTITY x "boom">]><root><Objectives>&x;</Objectives></root>'
    (dead,) = list(parse_clef_protocol(io.BytesIO(data), "links/CD1.xml"))
    assert dead.error_type == "UnsafeXmlError"


def test_ids():
    assert review_id_for("CD009069") == "cochrane:CD009069"
    assert review_id_for("123") == "pubmed:123"
    assert review_id_for("synergy:X") == "synergy:X"
    assert pmid_from("https://pubmed.ncbi.nlm.nih.gov/26067812") == "26067812"
    assert pmid_from("pubmed:0042") == "42"
    assert pmid_from("https://doi.org/10.1/x") is None


def test_criteria_from_review_abstract():
    from schemas.records import AbstractSection
    from tests.test_tasks import make_article
    article = make_article("900", abstract_sections=[
        AbstractSection("OBJECTIVES", "OBJECTIVE", "To assess metformin for prediabetes."),
        AbstractSection("SELECTION CRITERIA", "METHODS",
                        "Randomised controlled trials were eligible. Adults with prediabetes were included. "
                        "Metformin treatment was compared with placebo. The primary outcome was incidence of "
                        "diabetes."),
    ])
    c = criteria_from_article(article)
    assert c == ReviewCriteria(
        review_id="pubmed:900", title=article.title, objectives="To assess metformin for prediabetes.",
        population="Adults with prediabetes were included.", intervention=None,
        comparison="Metformin treatment was compared with placebo.",
        outcome="The primary outcome was incidence of diabetes.",
        study_types="Randomised controlled trials were eligible.", source="review_abstract",
        source_file=article.source_file)


def test_split_comparison_headings_and_sentences():
    from transforms.links.parse import split_comparison
    assert split_comparison("Intervention Vaccination with HPV vaccines. Comparison Administration of placebo.") == (
        "Vaccination with HPV vaccines.", "Administration of placebo.")
    assert split_comparison("The intervention was oral metformin. The comparison was placebo or advice.") == (
        "The intervention was oral metformin.", "The comparison was placebo or advice.")
    assert split_comparison("Any exercise programme.") == ("Any exercise programme.", None)
    assert split_comparison(None) == (None, None)


def test_synergy_metadata_gives_criteria_of_each_review(corpus):
    from transforms.links.parse import parse_synergy_metadata
    out = _parse(parse_synergy_metadata, corpus / "sr_included_studies/synergy/datasets.toml")
    assert len(out) == 26 and all(isinstance(c, ReviewCriteria) for c in out)
    jey = next(c for c in out if c.review_id == "synergy:Jeyaraman_2020")
    assert (jey.population, jey.intervention, jey.comparison, jey.study_types) == (
        "Patients with knee osteoarthritis", "MSC therapy", "Usual care", "Randomized controlled trials")
    assert jey.outcome.startswith("Visual Analog Score (VAS) for Pain, Western Ontario McMaster") and \
        jey.outcome.endswith("and adverse events")
    assert jey.exclusion.startswith("Trials were excluded if they had the following characteristics: 1. Observational")
    app = next(c for c in out if c.review_id == "synergy:Appenzeller-Herzog_2019")
    assert app.population == "We included WD patients of any age or stage."
    assert detect_format((corpus / "sr_included_studies/synergy/datasets.toml").read_bytes()[:65536],
                         "datasets.toml") == "synergy_toml"
    (bad,) = list(parse_synergy_metadata(io.BytesIO(b"[[datasets]\nkey = 1"), "links/datasets.toml"))
    assert bad.error_type == "TOMLDecodeError"
