"""Review → study link files of the sample: CLEF-TAR protocol and qrels, SYNERGY csv, plain TSV."""
from __future__ import annotations

import csv
import io

from lxml import etree

from synth.entities import CLEF_REVIEW_ID, Layout
from synth.vocab import TOPICS

PUBMED_URL = "https://pubmed.ncbi.nlm.nih.gov/"
DOI_URL = "https://doi.org/"
OPENALEX_URL = "https://openalex.org/"
RCT_NEGATIVES = ("rct_other_population", "crossover")


def included_pmids(layout: Layout, topic: int) -> list[str]:
    return [a.pmid for a in layout.topic_articles(topic, "trial")]


def screened_out_pmids(layout: Layout, topic: int) -> list[str]:
    """Negatives that are randomised trials: they pass title/abstract screening, then are excluded."""
    negatives = layout.topic_of(topic).negatives
    return [a.pmid for a in layout.topic_articles(topic, "negative") if negatives[a.position].kind in RCT_NEGATIVES]


def excluded_pmids(layout: Layout, topic: int) -> list[str]:
    return [a.pmid for a in layout.topic_articles(topic, "negative")] + \
           [a.pmid for a in layout.topic_articles(topic, "background")]


def clef_protocol(topic: int) -> bytes:
    """CLEF-TAR protocol XML (``<root><Objectives>…``) of a topic's review."""
    r = TOPICS[topic].review
    root = etree.Element("root")
    for tag, value in (("Objectives", r.objectives), ("TypesofStudies", r.study_types),
                       ("TypesofParticipants", r.population),
                       ("TypesofInterventions", f"{r.intervention} {r.comparison}"),
                       ("TypesofOutcomeMeasures", r.outcomes)):
        etree.SubElement(root, tag).text = value
    etree.indent(root, space="  ")
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n"


def qrels(pmids: list[str]) -> bytes:
    """CLEF-TAR qrels lines ``TOPIC  0  PMID  1`` (only relevant PMIDs are listed)."""
    return "".join(f"{CLEF_REVIEW_ID}  0  {pmid}  1\n" for pmid in pmids).encode("ascii")


def synergy_csv(layout: Layout, topic: int, doi_of) -> tuple[bytes, int]:
    """SYNERGY-style ``*_ids.csv`` (URL-form ids) and its row count; one row has no PMID."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["doi", "pmid", "openalex_id", "label_included", "method"])
    rows = [(pmid, 1) for pmid in included_pmids(layout, topic)]
    rows += [(pmid, 0) for pmid in excluded_pmids(layout, topic)]
    rows.sort()
    for pmid, label in rows:
        writer.writerow([DOI_URL + doi_of(pmid), PUBMED_URL + pmid, f"{OPENALEX_URL}W99{pmid}", label,
                         "id_retrieval_pmid"])
    writer.writerow([f"{DOI_URL}10.5555/grey-literature.{topic}", "", f"{OPENALEX_URL}W9980000001", 0,
                     "search_title"])
    return out.getvalue().encode("utf-8"), len(rows) + 1


LINK_TABLE_HEADER = "review_id\tpmid\tlabel\n"


def link_table_lines(layout: Layout, topic: int) -> list[str]:
    """The ``review_id<TAB>pmid<TAB>label`` lines of a topic's review: its included studies, then
    its excluded ones."""
    review = f"pubmed:{layout.review(topic).pmid}"
    rows = [(pmid, "included") for pmid in included_pmids(layout, topic)]
    rows += [(a.pmid, "excluded") for a in layout.topic_articles(topic, "negative")]
    return [f"{review}\t{pmid}\t{label}\n" for pmid, label in rows]


def link_table(layout: Layout, topic: int) -> tuple[bytes, int]:
    """A plain ``review_id<TAB>pmid<TAB>label`` table for the topic's review and its row count."""
    lines = link_table_lines(layout, topic)
    return (LINK_TABLE_HEADER + "".join(lines)).encode("utf-8"), len(lines)
