"""Recognise an input file's format by its content and hand it to the right parser (pure).

``parse_source(fileobj, source_file)`` yields the parsed records of any supported file:
``Article``/``DeletedCitation`` (PubMed), ``FullText`` (PMC JATS), ``Trial`` (ClinicalTrials.gov),
``ReviewLink``/``ReviewCriteria`` (link tables, CLEF-TAR), and ``DeadLetter`` for what cannot be read.
Gzip is recognised by its magic bytes too, so a gzipped file without ``.gz`` still reads.
"""
from __future__ import annotations

import gzip
import re
import zlib
from typing import IO, Callable, Iterator

from schemas.records import DeadLetter
from transforms.textutil import excerpt, peek

STAGE = "read.detect"
_XML_ROOT = re.compile(rb"<([A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)[\s/>]")
_QRELS_LINE = re.compile(r"^\S+\s+\S+\s+\d+\s+-?\d+\s*$")

PUBMED_ROOTS = {"PubmedArticleSet", "MedlineCitationSet", "PubmedArticle", "PubmedBookArticle",
                "MedlineCitation", "DeleteCitation"}
JATS_ROOTS = {"article", "pmc-articleset"}
CTGOV_XML_ROOTS = {"clinical_study", "clinical_studies", "search_results"}
PROTOCOL_TAGS = (b"<TypesofStudies", b"<TypesofParticipants", b"<Objectives")


def _xml_root(head: bytes) -> str | None:
    pos = 0
    while True:
        m = _XML_ROOT.search(head, pos)
        if not m:
            return None
        before = head[max(0, m.start() - 1):m.start() + 2]
        if before.startswith(b"<?") or before.startswith(b"<!"):
            pos = m.end()
            continue
        return m.group(2).decode("ascii", "replace")


def detect_format(head: bytes, source_file: str) -> str:
    """The format name of a file from its first bytes (already decompressed) and its name.

    One of: pubmed_xml, jats_xml, ctgov_xml, elink_xml, clef_protocol, ctgov_json, tar, zip, qrels,
    synergy_csv, synergy_toml, link_table, clef_topic, unknown.
    """
    name = source_file.rsplit("/", 1)[-1].lower()
    if head[:4] == b"PK\x03\x04":
        return "zip"
    if len(head) > 262 and head[257:262] == b"ustar":
        return "tar"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<"):
        root = _xml_root(text)
        if root in PUBMED_ROOTS:
            return "pubmed_xml"
        if root in JATS_ROOTS:
            return "jats_xml"
        if root in CTGOV_XML_ROOTS or b"<clinical_study" in text:
            return "ctgov_xml"
        if root == "eLinkResult":
            return "elink_xml"
        if any(t in text for t in PROTOCOL_TAGS):
            return "clef_protocol"
        return "unknown"
    if text[:1] in (b"{", b"["):
        if (b"protocolSection" in text or b'"studies"' in text or b"FullStudiesResponse" in text
                or b"nctId" in text or text[:1] == b"[" or name.endswith((".json", ".ndjson", ".jsonl"))):
            return "ctgov_json"
        return "unknown"
    first = text.decode("utf-8", "replace").split("\n", 1)[0].strip().lower()
    if first.startswith("topic:"):
        return "clef_topic"
    if b"[[datasets]]" in text and b"eligibility_criteria" in text:
        return "synergy_toml"
    if _QRELS_LINE.match(first):
        return "qrels"
    cols = [c.strip() for c in re.split(r"[\t,]", first)]
    if "pmid" in cols and "label_included" in cols:
        return "synergy_csv"
    if {"review_id", "pmid", "label"} <= set(cols):
        return "link_table"
    return "unknown"


def _parsers() -> dict[str, Callable[[IO[bytes], str], Iterator]]:
    from transforms.ctgov.parse import parse_ctgov_json, parse_ctgov_xml, parse_ctgov_zip
    from transforms.links.parse import (parse_clef_protocol, parse_clef_topic, parse_elink_refs,
                                        parse_link_table, parse_qrels, parse_synergy_csv, parse_synergy_metadata)
    from transforms.pmc.parse import parse_jats, parse_pmc_tar
    from transforms.pubmed.parse import parse_pubmed
    return {
        "pubmed_xml": parse_pubmed, "jats_xml": parse_jats, "tar": parse_pmc_tar,
        "ctgov_xml": parse_ctgov_xml, "ctgov_json": parse_ctgov_json, "zip": parse_ctgov_zip,
        "clef_protocol": parse_clef_protocol, "clef_topic": parse_clef_topic, "qrels": parse_qrels,
        "synergy_csv": parse_synergy_csv, "synergy_toml": parse_synergy_metadata, "link_table": parse_link_table,
        "elink_xml": parse_elink_refs,
    }


def parse_source(fileobj: IO[bytes], source_file: str) -> Iterator:
    """Sniff ``fileobj`` (plain or gzip) and yield its parsed records and dead letters."""
    try:
        head, stream = peek(fileobj, 2)
        if head[:2] == b"\x1f\x8b":
            stream = gzip.GzipFile(fileobj=stream, mode="rb")
        head, stream = peek(stream)
    except (OSError, EOFError, zlib.error) as e:
        yield DeadLetter(source_file, STAGE, type(e).__name__, f"cannot read file: {e}", "", None)
        return
    if not head.strip():
        yield DeadLetter(source_file, STAGE, "EmptyFile", "file is empty", "", None)
        return
    fmt = detect_format(head, source_file)
    if fmt == "unknown":
        yield DeadLetter(source_file, STAGE, "UnknownFormat",
                         "not a PubMed, PMC JATS, ClinicalTrials.gov or link-table file", excerpt(head), None)
        return
    try:
        yield from _parsers()[fmt](stream, source_file)
    except (ConnectionError, TimeoutError):
        raise  # transient storage errors are retried by the runner, not dead-lettered
    except (OSError, EOFError, zlib.error) as e:  # a compressed stream that breaks midway
        yield DeadLetter(source_file, f"{fmt}.read", type(e).__name__, f"stream broke: {e}", "", None)
