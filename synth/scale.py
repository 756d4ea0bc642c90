"""A scalable synthetic raw zone: the LEADS corpus shape at any ``--scale``.

``scale=1.0`` is the LEADS corpus: 21,335 systematic reviews, 453,625 publications (studies the
reviews included, excluded studies and background papers) and 27,015 registry records. The
records are written in the real formats the build reads, with the sample's builders
(``synth.entities``, ``synth.text``, ...), so every record is as rich as a sample record:

- ``pubmed/synth25n<NNNN>.xml.gz``: MEDLINE baseline-style files of ``records_per_file`` records,
  in PMID order (a review, then its studies, excluded studies and background paper);
  ``pubmed/synth25n_update_0001.xml.gz``: newer versions of every 1000th included study;
- ``pmc/oa_package_<NNNN>.tar.gz``: PMC OA packages (JATS + a figure) of the file's full texts;
- ``ctgov/studies_<NNNN>.ndjson``: API v2 records of the trials reported by the file's publications;
- ``links/review_links_<NNNN>.tsv``: review → study tables (included / excluded) of the file's reviews.

Distributions (seeded): studies per review log-normal (σ 0.75, at least 2), scaled so the totals
hit the targets exactly; registry records spread evenly over the included studies, their link
modes cycling databank / abstract / databank / registry / databank / abstract; 70% of trials
with posted results; 15% three-arm; full texts for 60% of registered studies' reports, 4% of the
others and 10% of reviews. Each review group is written from one of the four vocabulary topics
in turn; past a topic's first group, each review narrows the topic's question (a setting, a trial
design, a subgroup and a search start year: ``synth.text.review_focus``), so its search-query and
screening records are not near-identical twins of another review's.

Generation runs one process per file (``workers``); each process streams its file and keeps only
bounded entity caches. Same scale and seed → same bytes.

    python -m synth.scale OUT_DIR --scale 0.01 [--seed 0] [--workers 2]
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import random
import sys
import tarfile
import time
from pathlib import Path
from typing import Optional

from synth import ctgov, jats_xml, links, pubmed_xml
from synth.entities import FIRST_NCT, FIRST_PMC, FIRST_PMID, LINK_PATTERN, ArticleSpec, Layout, SampleWorld, \
    TrialSpec
from synth.sample import _fake_jpeg, _json_bytes, _Output, _tar_add, _citations
from synth.vocab import TOPICS

LEADS_REVIEWS = 21_335
LEADS_PUBLICATIONS = 453_625
LEADS_TRIALS = 27_015
RECORDS_PER_FILE = 30_000
UPDATE_EVERY = 1000  # every n-th included study gets a newer version in the update file
RESULTS_SHARE = 0.7
THREE_ARM_SHARE = 0.15
FULLTEXT_REGISTERED = 0.6
FULLTEXT_OTHER = 0.04
FULLTEXT_REVIEW = 0.1
GZIP_LEVEL = 6  # zlib's default level; 9 costs much more time for a few percent less
MIN_STUDIES = 2
STUDIES_SIGMA = 0.75


def targets(scale: float) -> dict:
    """Reviews, publications and registry records at ``scale`` (1.0 = LEADS)."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    reviews = max(len(TOPICS), round(LEADS_REVIEWS * scale))
    return {"reviews": reviews, "publications": round(LEADS_PUBLICATIONS * scale),
            "trials": round(LEADS_TRIALS * scale)}


def _apportion(total: int, weights: list[float]) -> list[int]:
    """Integers proportional to ``weights`` summing to ``total`` (largest remainder, ties by index)."""
    s = sum(weights)
    raw = [total * w / s for w in weights]
    out = [math.floor(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: (out[i] - raw[i], i))
    for i in order[:total - sum(out)]:
        out[i] += 1
    return out


def _unit(seed: int, kind: str, i: int) -> float:
    """A stable uniform [0, 1) draw per (kind, i)."""
    return random.Random(f"{seed}:{kind}:{i}").random()


def scaled_layout(scale: float, seed: int = 0) -> Layout:
    """The layout at ``scale``: review groups in PMID order, each the review, its included studies,
    the topic's excluded studies and one background paper."""
    goal = targets(scale)
    n_groups = goal["reviews"]
    bases = tuple(g % len(TOPICS) for g in range(n_groups))
    per_group_other = [len(TOPICS[b].negatives) + 1 for b in bases]
    included_total = goal["publications"] - sum(per_group_other)
    if included_total < MIN_STUDIES * n_groups:
        raise ValueError(f"scale {scale} is too small for {n_groups} reviews")
    rng = random.Random(f"{seed}:layout")
    weights = [rng.lognormvariate(0.0, STUDIES_SIGMA) for _ in range(n_groups)]
    studies = [MIN_STUDIES + k for k in _apportion(included_total - MIN_STUDIES * n_groups, weights)]
    registered_negatives = sum(1 for b in bases for n in TOPICS[b].negatives if n.registered)
    share = max(0.0, (goal["trials"] - registered_negatives) / included_total)

    articles: list[ArticleSpec] = []
    trials: list[TrialSpec] = []
    pmc = [FIRST_PMC]
    included_seen = [0]
    registered_seen = [0]

    def next_pmcid() -> str:
        pmc[0] += 1
        return f"PMC{pmc[0] - 1}"

    def add_trial(group: int, position: int, pub: str, included: bool, mode: str, registered: bool,
                  negative: Optional[int] = None) -> int:
        i = len(trials)
        trials.append(TrialSpec(
            index=i, nct=f"NCT{FIRST_NCT + i:08d}", topic=group, position=position, pmid=pub,
            included=included, link_mode=mode if registered else "none", fmt="ndjson",
            has_results=_unit(seed, "results", i) < RESULTS_SHARE,
            arms=3 if included and _unit(seed, "arms", i) < THREE_ARM_SHARE else 2,
            alias=None, negative=negative, registered=registered))
        return i

    for g, base in enumerate(bases):
        topic = TOPICS[base]
        pmid = str(FIRST_PMID + len(articles))
        review_pmc = next_pmcid() if _unit(seed, "review_pmc", g) < FULLTEXT_REVIEW else None
        articles.append(ArticleSpec(pmid, "review", g, 0, pmcid=review_pmc))
        for k in range(studies[g]):
            j = included_seen[0]
            included_seen[0] += 1
            registered = math.floor((j + 1) * share) > math.floor(j * share)
            mode = LINK_PATTERN[registered_seen[0] % len(LINK_PATTERN)] if registered else "none"
            pub = str(FIRST_PMID + len(articles))
            i = add_trial(g, k, pub, True, mode, registered)
            registered_seen[0] += registered
            p_full = FULLTEXT_REGISTERED if registered else FULLTEXT_OTHER
            full = _unit(seed, "pmc", i) < p_full
            articles.append(ArticleSpec(pub, "trial", g, k, trial=i, pmcid=next_pmcid() if full else None,
                                        in_oa_package=full))
        for k, neg in enumerate(topic.negatives):
            pub = str(FIRST_PMID + len(articles))
            i = add_trial(g, k, pub, False, neg.registered, True, negative=k) if neg.registered else None
            articles.append(ArticleSpec(pub, "negative", g, k, trial=i))
        articles.append(ArticleSpec(str(FIRST_PMID + len(articles)), "background", g, 0))
    first_study = next(a.pmid for a in articles if a.kind == "trial")
    return Layout(tuple(articles), tuple(trials), first_study, "", bases)


# --------------------------------------------------------------------------- writing
_WORLD: Optional[SampleWorld] = None  # set in the parent before the worker processes fork


def _file_ranges(n_articles: int, per_file: int) -> list[tuple[int, int]]:
    return [(lo, min(lo + per_file, n_articles)) for lo in range(0, n_articles, per_file)]


def _write_file(job: tuple[str, int, int, int]) -> dict:
    """Write file number ``n`` (PubMed, PMC package, CT.gov NDJSON, link table) for articles [lo, hi)."""
    root, n, lo, hi = job
    world = _WORLD
    layout = world.layout
    out = _Output(Path(root))
    specs = layout.articles[lo:hi]
    counts = {"pubmed_records": 0, "fulltexts": 0, "trials": 0, "trials_with_results": 0, "link_rows": 0}

    def elements():
        for spec in specs:
            article = world.article(spec.pmid)
            yield pubmed_xml.pubmed_article(article, _citations(world, article.reference_pmids))

    with out.gzip(f"pubmed/synth25n{n:04d}.xml.gz", GZIP_LEVEL) as gz:
        counts["pubmed_records"] = pubmed_xml.write_article_set(gz, elements())
    with out.gzip(f"pmc/oa_package_{n:04d}.tar.gz", GZIP_LEVEL) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for spec in specs:
            if not spec.pmcid:
                continue
            trial = world.trial(spec.trial) if spec.trial is not None else None
            article = world.article(spec.pmid)
            data = jats_xml.jats_article(world, article, trial)
            stem = jats_xml.figure_stem(article)
            _tar_add(tar, spec.pmcid, None)
            _tar_add(tar, f"{spec.pmcid}/{stem}.nxml", data)
            _tar_add(tar, f"{spec.pmcid}/{stem}-g001.jpg", _fake_jpeg(world.rng("figure", spec.pmid)))
            counts["fulltexts"] += 1
    with open(out.path(f"ctgov/studies_{n:04d}.ndjson"), "wb") as f:
        for spec in specs:
            if spec.trial is None or not layout.trials[spec.trial].registered:
                continue
            trial = world.trial(spec.trial)
            f.write(_json_bytes(ctgov.v2_study(world, trial)) + b"\n")
            counts["trials"] += 1
            counts["trials_with_results"] += trial.spec.has_results
    with open(out.path(f"links/review_links_{n:04d}.tsv"), "w", encoding="utf-8") as f:
        f.write(links.LINK_TABLE_HEADER)
        for spec in specs:
            if spec.kind == "review":
                lines = links.link_table_lines(layout, spec.topic)
                f.writelines(lines)
                counts["link_rows"] += len(lines)
    counts["files"] = {rel: (out.root / rel).stat().st_size for rel in out.files}
    return counts


def _write_updates(root: str) -> dict:
    world = _WORLD
    out = _Output(Path(root))
    studies = [a for a in world.layout.articles if a.kind == "trial"][::UPDATE_EVERY]

    def elements():
        for spec in studies:
            article = world.updated_article(spec.pmid)
            yield pubmed_xml.pubmed_article(article, _citations(world, article.reference_pmids))

    rel = "pubmed/synth25n_update_0001.xml.gz"
    with out.gzip(rel, GZIP_LEVEL) as gz:
        n = pubmed_xml.write_article_set(gz, elements())
    return {"pubmed_update_records": n, "files": {rel: (out.root / rel).stat().st_size}}


def write_scaled_corpus(out_dir: str, scale: float, seed: int = 0, workers: int = 0,
                        records_per_file: int = RECORDS_PER_FILE) -> dict:
    """Write the raw zone at ``scale`` under ``out_dir`` and return its summary (counts per kind,
    the targets, files with sizes, seconds). ``workers`` processes (default: CPU count)."""
    global _WORLD
    started = time.perf_counter()
    layout = scaled_layout(scale, seed)
    _WORLD = SampleWorld(seed, layout)
    jobs = [(out_dir, n + 1, lo, hi) for n, (lo, hi) in enumerate(_file_ranges(len(layout.articles),
                                                                                  records_per_file))]
    workers = workers or os.cpu_count() or 1
    results = []
    try:
        if workers == 1:
            results = [_write_file(job) for job in jobs] + [_write_updates(out_dir)]
        else:
            ctx = multiprocessing.get_context("fork")
            with ctx.Pool(min(workers, len(jobs) + 1)) as pool:
                pending = [pool.apply_async(_write_updates, (out_dir,))]
                pending += [pool.apply_async(_write_file, (job,)) for job in jobs]
                results = [r.get() for r in pending]
    finally:
        _WORLD = None
    summary: dict = {"scale": scale, "seed": seed, "targets": targets(scale), "reviews": 0}
    files: dict = {}
    for r in results:
        for k, v in r.items():
            if k == "files":
                files.update(v)
            else:
                summary[k] = summary.get(k, 0) + v
    kinds = {}
    for a in layout.articles:
        kinds[a.kind] = kinds.get(a.kind, 0) + 1
    summary["reviews"] = kinds.get("review", 0)
    summary["included_studies"] = kinds.get("trial", 0)
    summary["excluded_studies"] = kinds.get("negative", 0)
    summary["background_articles"] = kinds.get("background", 0)
    summary["publications"] = len(layout.articles) - summary["reviews"]
    summary["files"] = dict(sorted(files.items()))
    summary["total_bytes"] = sum(files.values())
    summary["seconds"] = round(time.perf_counter() - started, 2)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="leadsinstruct synth",
                                     description="Write a synthetic raw zone (the sample, or --scale S of LEADS).")
    parser.add_argument("out_dir")
    parser.add_argument("--scale", type=float, default=None,
                        help="1.0 = LEADS: 21,335 reviews, 453,625 publications, 27,015 trials "
                             "(default: the small embedded sample)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=0, help="processes (default: CPU count)")
    parser.add_argument("--records_per_file", type=int, default=RECORDS_PER_FILE,
                        help="PubMed records per file (default 30000, as MEDLINE baseline files)")
    args = parser.parse_args(argv)
    if args.scale is None:
        from synth.sample import write_sample_corpus
        summary = write_sample_corpus(args.out_dir, args.seed)
    else:
        if args.scale <= 0 or args.records_per_file <= 0:
            parser.error("--scale and --records_per_file must be positive")
        summary = write_scaled_corpus(args.out_dir, args.scale, args.seed, args.workers, args.records_per_file)
        with open(os.path.join(args.out_dir, "synth_summary.json"), "w") as f:
            json.dump(summary, f, indent=2)
    shown = {k: v for k, v in summary.items() if k != "files"}
    json.dump(shown, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
