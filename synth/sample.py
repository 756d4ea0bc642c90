"""Deterministic writer of the embedded sample corpus.

``write_sample_corpus(out_dir, seed)`` writes PubMed XML (baseline + update), PMC JATS full texts
(plain ``.nxml`` and an OA ``.tar.gz`` package), ClinicalTrials.gov records (API v2 single-study
JSON, a ``/studies`` page, NDJSON, legacy XML) and review → study link files, all mutually
consistent, byte-for-byte identical for a given seed. Usage::

    python -m synth.sample OUT_DIR [--seed N]
"""
from __future__ import annotations

import argparse
import gzip
import io
import json
import random
import sys
import tarfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from synth import ctgov, jats_xml, links, pubmed_xml, text
from synth.entities import CLEF_REVIEW_ID, Layout, SampleWorld, sample_layout
from synth.vocab import TOPICS

PUBMED_BASELINE = "pubmed/sample_baseline_0001.xml.gz"
PUBMED_UPDATE = "pubmed/sample_update_0002.xml.gz"
OA_PACKAGE = "pmc/oa_package_sample.tar.gz"
STUDIES_PAGE = "ctgov/studies_page_0001.json"
STUDIES_NDJSON = "ctgov/studies.ndjson"
CLEF_PROTOCOL = f"links/{CLEF_REVIEW_ID}.xml"
QRELS_ABSTRACT = "links/sample.abs.qrels"
QRELS_CONTENT = "links/sample.content.qrels"
SYNERGY_CSV = "links/Sample_2020_ids.csv"
LINK_TABLE = "links/review_links.tsv"
TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


class _Output:
    """The files written under one root, in writing order."""

    def __init__(self, root: Path):
        self.root = root
        self.files: list[str] = []

    def path(self, rel: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if rel not in self.files:
            self.files.append(rel)
        return path

    def write(self, rel: str, data: bytes) -> None:
        self.path(rel).write_bytes(data)

    @contextmanager
    def gzip(self, rel: str, level: int = 9) -> Iterator[IO[bytes]]:
        """A gzip stream with no file name and mtime 0 in its header (reproducible bytes)."""
        with open(self.path(rel), "wb") as raw, \
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=level) as gz:
            yield gz


def _tar_add(tar: tarfile.TarFile, name: str, data: bytes | None) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if data is None:
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        tar.addfile(info)
    else:
        info.mode = 0o644
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def _fake_jpeg(rng: random.Random) -> bytes:
    """A small JPEG-looking blob (SOI/JFIF header, filler, EOI); not a decodable image."""
    return (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
            + bytes(rng.randrange(256) for _ in range(240)) + b"\xff\xd9")


# --------------------------------------------------------------------------- writers
def _citations(world: SampleWorld, pmids: list[str]) -> dict[str, str]:
    return {pmid: text.citation(world.article(pmid)) for pmid in pmids}


def _write_pubmed(world: SampleWorld, out: _Output, counts: dict) -> None:
    layout = world.layout

    def elements() -> Iterator:
        for spec in layout.articles:
            article = world.article(spec.pmid)
            yield pubmed_xml.pubmed_article(article, _citations(world, article.reference_pmids))

    with out.gzip(PUBMED_BASELINE) as gz:
        counts["pubmed_articles"] = pubmed_xml.write_article_set(gz, elements())
    updated = world.updated_article()
    with out.gzip(PUBMED_UPDATE) as gz:
        counts["pubmed_update_articles"] = pubmed_xml.write_article_set(
            gz, [pubmed_xml.pubmed_article(updated, _citations(world, updated.reference_pmids))],
            deleted=[layout.deleted_pmid])
    counts["pubmed_deleted"] = 1
    for kind, key in (("review", "reviews"), ("trial", "trial_publications"), ("negative", "hard_negatives"),
                      ("background", "background_articles"), ("extra", "extra_articles")):
        counts[key] = sum(1 for a in layout.articles if a.kind == kind)
    counts["pubmed_databank_links"] = sum(1 for t in layout.trials if t.link_mode == "databank")
    counts["pubmed_abstract_nct_links"] = sum(1 for t in layout.trials if t.link_mode == "abstract")


def _write_pmc(world: SampleWorld, out: _Output, counts: dict) -> None:
    layout = world.layout
    packaged = []
    plain = 0
    for spec in layout.articles:
        if not spec.pmcid:
            continue
        trial = world.trial(spec.trial) if spec.trial is not None else None
        data = jats_xml.jats_article(world, world.article(spec.pmid), trial)
        if spec.in_oa_package:
            packaged.append((spec, data))
        else:
            out.write(f"pmc/{spec.pmcid}.nxml", data)
            plain += 1
    with out.gzip(OA_PACKAGE) as gz, tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for spec, data in packaged:
            stem = jats_xml.figure_stem(world.article(spec.pmid))
            _tar_add(tar, spec.pmcid, None)
            _tar_add(tar, f"{spec.pmcid}/{stem}.nxml", data)
            _tar_add(tar, f"{spec.pmcid}/{stem}-g001.jpg", _fake_jpeg(world.rng("figure", spec.pmid)))
    counts["fulltexts"] = plain + len(packaged)
    counts["fulltext_nxml_files"] = plain
    counts["oa_package_articles"] = len(packaged)
    counts["oa_package_images"] = len(packaged)
    counts["review_fulltexts"] = sum(1 for a in layout.articles if a.pmcid and a.kind == "review")


def _json_bytes(obj) -> bytes:
    """Compact UTF-8 JSON, as the ClinicalTrials.gov API v2 returns it."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _write_ctgov(world: SampleWorld, out: _Output, counts: dict) -> None:
    layout = world.layout
    by_format: dict[str, list] = {"json": [], "page": [], "ndjson": [], "legacy": []}
    for spec in layout.trials:
        by_format[spec.fmt].append(spec)
    for spec in by_format["json"]:
        out.write(f"ctgov/{spec.nct}.json", _json_bytes(ctgov.v2_study(world, world.trial(spec.index))))
    with open(out.path(STUDIES_PAGE), "wb") as f:
        f.write(b'{"studies":[')
        for i, spec in enumerate(by_format["page"]):
            f.write((b"," if i else b"") + _json_bytes(ctgov.v2_study(world, world.trial(spec.index))))
        rng = world.rng("page", 1)
        token = "".join(rng.choice(TOKEN_ALPHABET) for _ in range(30))
        f.write(b'],"nextPageToken":"' + token.encode("ascii") + b'"}')
    with open(out.path(STUDIES_NDJSON), "wb") as f:
        for spec in by_format["ndjson"]:
            f.write(_json_bytes(ctgov.v2_study(world, world.trial(spec.index))) + b"\n")
    for spec in by_format["legacy"]:
        out.write(f"ctgov/{spec.nct}.xml", ctgov.legacy_study(world, world.trial(spec.index)))
    counts["trials"] = len(layout.trials)
    counts["trials_with_results"] = sum(1 for t in layout.trials if t.has_results)
    counts["ctgov_json_files"] = len(by_format["json"])
    counts["ctgov_page_studies"] = len(by_format["page"])
    counts["ctgov_ndjson_studies"] = len(by_format["ndjson"])
    counts["ctgov_legacy_xml"] = len(by_format["legacy"])
    counts["ctgov_legacy_with_results"] = sum(1 for t in by_format["legacy"] if t.has_results)
    counts["registry_result_references"] = sum(
        1 for t in layout.trials for _, kind, _ in ctgov.references(world, world.trial(t.index)) if kind == "RESULT")


def _write_links(world: SampleWorld, out: _Output, counts: dict) -> None:
    layout = world.layout
    clef_topic = next(i for i, t in enumerate(TOPICS) if t.external == "clef")
    synergy_topic = next(i for i, t in enumerate(TOPICS) if t.external == "synergy")
    table_topic = next(i for i, t in enumerate(TOPICS) if t.external == "link_table")
    out.write(CLEF_PROTOCOL, links.clef_protocol(clef_topic))
    included = links.included_pmids(layout, clef_topic)
    screened = sorted(included + links.screened_out_pmids(layout, clef_topic))
    out.write(QRELS_ABSTRACT, links.qrels(screened))
    out.write(QRELS_CONTENT, links.qrels(included))
    data, synergy_rows = links.synergy_csv(layout, synergy_topic, lambda pmid: world.article(pmid).doi)
    out.write(SYNERGY_CSV, data)
    data, table_rows = links.link_table(layout, table_topic)
    out.write(LINK_TABLE, data)
    counts["clef_protocols"] = 1
    counts["qrels_abstract_rows"] = len(screened)
    counts["qrels_content_rows"] = len(included)
    counts["synergy_rows"] = synergy_rows
    counts["link_table_rows"] = table_rows


def write_sample_corpus(out_dir: str, seed: int = 0) -> dict:
    """Write the sample corpus under ``out_dir`` (a local directory) and return a summary.

    The summary maps each kind of record to its count (e.g. ``pubmed_articles``, ``fulltexts``,
    ``trials``, ``trials_with_results``, ``qrels_content_rows``), plus ``files`` (relative path →
    size in bytes, in writing order) and ``total_bytes``. Same seed → same bytes.
    """
    out = _Output(Path(out_dir))
    world = SampleWorld(seed)
    counts: dict = {"seed": seed}
    _write_pubmed(world, out, counts)
    _write_pmc(world, out, counts)
    _write_ctgov(world, out, counts)
    _write_links(world, out, counts)
    files = {rel: (out.root / rel).stat().st_size for rel in out.files}
    counts["files"] = files
    counts["total_bytes"] = sum(files.values())
    return counts


def sample_truth(layout: Layout | None = None) -> dict:
    """The sample's structural ground truth (independent of the seed), for tests and joins.

    ``reviews``: per topic the review PMID, external ids, included / excluded / background PMIDs;
    ``trial_links``: (pmid, nct, mode) with mode databank | abstract | registry;
    ``fulltexts``: pmid → pmcid; ``trials_with_results``; ``updated_pmid``; ``deleted_pmid``;
    ``nct_aliases``: alias → nct.
    """
    layout = layout or sample_layout()
    reviews = []
    for t, topic in enumerate(TOPICS):
        external = {"clef": [f"cochrane:{CLEF_REVIEW_ID}"], "synergy": ["synergy:Sample_2020"]}.get(topic.external, [])
        reviews.append({
            "topic": topic.key,
            "pmid": layout.review(t).pmid,
            "external_ids": external,
            "included": links.included_pmids(layout, t),
            "screened_out": links.screened_out_pmids(layout, t),
            "negatives": [a.pmid for a in layout.topic_articles(t, "negative")],
            "background": [a.pmid for a in layout.topic_articles(t, "background")],
        })
    return {
        "reviews": reviews,
        "trial_links": [(t.pmid, t.nct, t.link_mode) for t in layout.trials],
        "fulltexts": {a.pmid: a.pmcid for a in layout.articles if a.pmcid},
        "trials_with_results": [t.nct for t in layout.trials if t.has_results],
        "updated_pmid": layout.updated_pmid,
        "deleted_pmid": layout.deleted_pmid,
        "nct_aliases": {t.alias: t.nct for t in layout.trials if t.alias},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the embedded sample corpus.")
    parser.add_argument("out_dir")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    summary = write_sample_corpus(args.out_dir, args.seed)
    json.dump(summary, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
