"""MEDLINE parse throughput, one core: leadsinstruct vs pubmed_parser vs Biopython, same file, same run.

Biopython is run with ``Entrez.read`` (its ``Entrez.parse`` refuses PubmedArticleSet files in 1.88).

    python bench/parse_medline.py [FILE.xml[.gz] ...] [--repeat N] [--rounds R] [--json OUT]

Without files it uses the embedded sample's baseline file; the citations of a legacy
``MedlineCitationSet`` file (such as ``medline16n0902.xml.gz``) are wrapped as ``PubmedArticle``
records. ``--repeat`` concatenates the records N times into one temporary file (a real MEDLINE
file holds ~30,000), so every parser reads the same bytes.

Each parser runs ``--rounds`` times in alternation. Records/s are from each parser's best round;
the ratios are the median over the rounds of the ratio within a round (this machine's speed
drifts by up to 2x between rounds, so two parsers' best rounds may come from different phases).
A fourth pass only decompresses the file and lets libxml2 build each record, reading no field:
the floor under any lxml-based parser, printed as a share of pubmed_parser's time. Field
coverage: per field, how many records each parser returned a non-empty value for. Needs
``pip install -r bench/requirements.txt``.
"""
from __future__ import annotations

import argparse
import gc
import gzip
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lxml import etree

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FIELDS = ("title", "abstract", "journal", "pub_date", "authors", "affiliations", "mesh", "publication_types",
          "keywords", "chemicals", "languages", "doi", "pmcid", "references", "nct_ids")


PUBMED_DOCTYPE = (b'<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2024//EN" '
                  b'"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_240101.dtd">')


def _records(paths: list[str]) -> tuple[bytes, list[bytes]]:
    """(the DOCTYPE line of the first file, every PubmedArticle element)."""
    doctype, out = b"", []
    for path in paths:
        data = Path(path).read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        if not doctype and b"<!DOCTYPE" in data[:2000]:
            start = data.index(b"<!DOCTYPE")
            doctype = data[start:data.index(b">", start) + 1]
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True,
                                                      huge_tree=True))
        out += [etree.tostring(a) for a in root.iterfind("PubmedArticle")]
        # a legacy MedlineCitationSet (bare citations): each one wrapped as a PubmedArticle
        out += [b"<PubmedArticle>" + etree.tostring(c) + b"</PubmedArticle>" for c in root.iterfind("MedlineCitation")]
    return doctype if b"PubmedArticleSet" in doctype else PUBMED_DOCTYPE, out


def write_bench_file(paths: list[str], repeat: int, directory: str) -> tuple[str, int]:
    doctype, records = _records(paths)
    path = os.path.join(directory, "bench_medline.xml.gz")
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(b'<?xml version="1.0" encoding="UTF-8"?>\n' + doctype + b"\n<PubmedArticleSet>\n")
        for _ in range(repeat):
            for r in records:
                f.write(r)
                f.write(b"\n")
        f.write(b"</PubmedArticleSet>\n")
    return path, len(records) * repeat


# --------------------------------------------------------------------------- the three parsers
def run_ours(path: str) -> list[dict]:
    from schemas.records import Article
    from transforms.formats import parse_source
    out = []
    with open(path, "rb") as f:  # as the build reads it: format and gzip recognised by content
        for a in parse_source(f, path):
            if isinstance(a, Article):
                out.append({"pmid": a.pmid, "title": a.title, "abstract": a.abstract, "journal": a.journal,
                            "pub_date": a.pub_date, "authors": a.authors,
                            "affiliations": [x for au in a.authors for x in au.affiliations], "mesh": a.mesh,
                            "publication_types": a.publication_types, "keywords": a.keywords,
                            "chemicals": a.chemicals, "languages": a.languages, "doi": a.doi, "pmcid": a.pmcid,
                            "references": a.reference_pmids, "nct_ids": a.nct_ids})
    return out


def run_pubmed_parser(path: str) -> list[dict]:
    import pubmed_parser as pp
    out = []
    for r in pp.parse_medline_xml(path, year_info_only=False, nlm_category=True, author_list=True,
                                  reference_list=True):
        out.append({"pmid": str(r.get("pmid")), "title": r.get("title"), "abstract": r.get("abstract"),
                    "journal": r.get("journal"), "pub_date": r.get("pubdate"), "authors": r.get("authors"),
                    "affiliations": [a.get("affiliation") for a in (r.get("authors") or [])
                                     if isinstance(a, dict) and a.get("affiliation")],
                    "mesh": r.get("mesh_terms"), "publication_types": r.get("publication_types"),
                    "keywords": r.get("keywords"), "chemicals": r.get("chemical_list"),
                    "languages": r.get("languages"), "doi": r.get("doi"), "pmcid": r.get("pmc"),
                    "references": r.get("references"), "nct_ids": None})
    return out


def run_biopython(path: str) -> list[dict]:
    from Bio import Entrez
    out = []
    # Entrez.parse refuses a PubmedArticleSet with Biopython 1.88 ("does not represent a list": the
    # DTD makes it a record of PubmedArticle and PubmedBookArticle lists), so Entrez.read it is
    with gzip.open(path, "rb") as f:
        for r in Entrez.read(f, validate=False)["PubmedArticle"]:  # 2016 files have tags the DTD lacks
            mc, pd = r.get("MedlineCitation", {}), r.get("PubmedData", {})
            art = mc.get("Article", {})
            ids = {str(i.attributes.get("IdType")): str(i) for i in pd.get("ArticleIdList", [])}
            refs = [str(i) for rl in pd.get("ReferenceList", []) for ref in rl.get("Reference", [])
                    for i in ref.get("ArticleIdList", []) if i.attributes.get("IdType") == "pubmed"]
            banks = [str(a) for d in art.get("DataBankList", []) for a in d.get("AccessionNumberList", [])]
            authors = art.get("AuthorList", [])
            out.append({"pmid": str(mc.get("PMID")), "title": str(art.get("ArticleTitle") or "") or None,
                        "abstract": " ".join(str(t) for t in art.get("Abstract", {}).get("AbstractText", [])),
                        "journal": str(art.get("Journal", {}).get("Title") or "") or None,
                        "pub_date": art.get("Journal", {}).get("JournalIssue", {}).get("PubDate"),
                        "authors": authors,
                        "affiliations": [str(x.get("Affiliation")) for au in authors
                                         for x in au.get("AffiliationInfo", [])],
                        "mesh": mc.get("MeshHeadingList"), "publication_types": art.get("PublicationTypeList"),
                        "keywords": [k for kl in mc.get("KeywordList", []) for k in kl],
                        "chemicals": mc.get("ChemicalList"), "languages": art.get("Language"),
                        "doi": ids.get("doi"), "pmcid": ids.get("pmc"), "references": refs, "nct_ids": banks})
    return out


def read_only(path: str) -> int:
    """The floor under any lxml-based parser: decompress the file and let libxml2 build each
    ``PubmedArticle`` (iterparse, records freed as they end), reading no field. Returns the count."""
    count = 0
    with gzip.open(path, "rb") as f:
        for _, el in etree.iterparse(f, tag="PubmedArticle", resolve_entities=False, no_network=True,
                                     load_dtd=False, huge_tree=True):
            count += 1
            el.clear()
            while el.getprevious() is not None:
                del el.getparent()[0]
    return count


PARSERS = {"leadsinstruct": run_ours, "pubmed_parser": run_pubmed_parser, "biopython": run_biopython}


def coverage(rows: list[dict]) -> dict:
    return {f: sum(1 for r in rows if r.get(f)) for f in FIELDS}


def _median_ratio(per_round: list[dict[str, float]], other: str) -> float:
    """Median over the rounds of ``other``'s time / leadsinstruct's time in the same round (the
    machine's speed drifts between rounds; within a round the parsers run back to back)."""
    return round(statistics.median(t[other] / t["leadsinstruct"] for t in per_round), 2)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*")
    ap.add_argument("--repeat", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--json", default="bench/results/parse_medline.json")
    args = ap.parse_args(argv)
    try:
        import pubmed_parser  # noqa: F401
    except ImportError:
        raise SystemExit("pubmed_parser is not installed: pip install -r bench/requirements.txt")
    with tempfile.TemporaryDirectory() as tmp:
        files = args.files
        if not files:
            from synth.sample import PUBMED_BASELINE, write_sample_corpus
            write_sample_corpus(os.path.join(tmp, "sample"))
            files = [os.path.join(tmp, "sample", PUBMED_BASELINE)]
        path, n = write_bench_file(files, args.repeat, tmp)
        best: dict[str, float] = {}
        covered: dict[str, dict] = {}
        per_round: list[dict[str, float]] = []
        for _ in range(args.rounds):
            times: dict[str, float] = {}
            per_round.append(times)
            for name, fn in PARSERS.items():
                gc.collect()  # each parser starts from the same clean heap
                t = time.perf_counter()
                out = fn(path)
                dt = time.perf_counter() - t
                if len(out) != n:
                    raise SystemExit(f"{name} returned {len(out)} records of {n}")
                best[name] = min(best.get(name, dt), dt)
                times[name] = dt
                covered[name] = coverage(out)
                del out
            t = time.perf_counter()
            if read_only(path) != n:
                raise SystemExit("the read-only pass saw another record count")
            best["read_only"] = min(best.get("read_only", float("inf")), time.perf_counter() - t)
    result = {"records": n, "source_files": files, "rounds": args.rounds,
              "seconds": {k: round(v, 3) for k, v in best.items()},
              "records_per_second": {k: round(n / v, 1) for k, v in best.items()},
              "ratio_vs_pubmed_parser": _median_ratio(per_round, "pubmed_parser"),
              "ratio_vs_biopython": _median_ratio(per_round, "biopython"),
              "ratio_vs_pubmed_parser_per_round": [round(t["pubmed_parser"] / t["leadsinstruct"], 2)
                                                   for t in per_round],
              "ratio_of_best_rounds_vs_pubmed_parser": round(best["pubmed_parser"] / best["leadsinstruct"], 2),
              "read_only_share_of_pubmed_parser": round(best["read_only"] / best["pubmed_parser"], 3),
              "read_only_share_of_leadsinstruct": round(best["read_only"] / best["leadsinstruct"], 3),
              "field_coverage": covered}
    print(f"{n} records, best of {args.rounds} rounds (one core)")
    for k in PARSERS:
        print(f"  {k:<15}{result['records_per_second'][k]:>10.0f} records/s  ({result['seconds'][k]:.2f} s)")
    print(f"  {'(read only)':<15}{result['records_per_second']['read_only']:>10.0f} records/s  "
          f"({result['seconds']['read_only']:.2f} s: gunzip + libxml2, no field read; "
          f"{result['read_only_share_of_pubmed_parser']:.0%} of pubmed_parser's time)")
    print(f"  leadsinstruct / pubmed_parser: {result['ratio_vs_pubmed_parser']}x, "
          f"/ biopython: {result['ratio_vs_biopython']}x (median of the rounds' ratios; per round: "
          f"{', '.join(map(str, result['ratio_vs_pubmed_parser_per_round']))})")
    print(f"  {'field':<18}" + "".join(f"{k:>15}" for k in PARSERS))
    for f in FIELDS:
        print(f"  {f:<18}" + "".join(f"{result['field_coverage'][k][f]:>15}" for k in PARSERS))
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as fh:
        json.dump(result, fh, indent=2)
    return result


if __name__ == "__main__":
    main()
