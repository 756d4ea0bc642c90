"""The build job as one plain Python loop: the baseline of the Beam-overhead benchmark.

    python bench/plain_build.py INPUT_ROOT OUTPUT [--snapshot_date YYYY-MM-DD] [--topic_negatives N]
                                [--max_input_chars N] [--review_publication_types T1,T2] [--tasks_only]

``plain_build`` runs the graph of ``pipelines/build.py`` in a single process without Beam: every
``GroupByKey`` becomes a dict of key → list, every ``CoGroupByKey`` a dict of key → {tag: list},
every side input (``AsDict``) a plain dict, and the steps call the very same functions and
``DoFn.process`` methods the Beam graph calls (``transforms.formats.parse_source`` and the routing
of ``transforms.read``, the joins of ``transforms.joins.transforms``, the task builders of
``transforms.tasks.transforms``). Side outputs (``TaggedOutput``) are routed by tag. So on the same
input it builds the same ``TaskRecord``s as the Beam build, and the time difference between the
two is what Beam costs.

It must mirror ``pipelines/build.py``: a change to that graph (a new step, a new grouping key, a
new output) needs the same change here, or the benchmark compares different work.

Output, in the Beam build's layout (one shard per dataset, zstd Parquet written with pyarrow):
- ``tasks/task=<task>/part-00000-of-00001.parquet`` (always);
- unless ``tasks_only``: ``tables/<name>/part-00000-of-00001.parquet`` (articles, fulltexts,
  trials, links, review_links, criteria, deletions, withheld_fulltexts, withheld_trials),
  ``dead_letter/`` and ``unresolved/`` JSON lines, ``manifest.json`` and ``stats.json``.
Not covered: ``--input_list`` and ``--previous_snapshot`` (incremental builds), inputs outside
the local file system, and ``--num_shards`` (always one shard).

Returns (and ``main`` prints as JSON) the record count per task, the total, and the seconds
spent per phase: parse, join, tasks, write.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import logging
import os
import sys
import time
from collections import defaultdict
from typing import Callable, Iterable

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from apache_beam.pvalue import TaggedOutput  # noqa: E402

from pipelines.build import SOURCE_DIRS, clear_previous_output, input_patterns  # noqa: E402
from pipelines.options import BuildOptions  # noqa: E402
from schemas.arrow import arrow_schema, to_row  # noqa: E402
from schemas.records import (Article, DeadLetter, DeletedCitation, FullText, Link, ReviewCriteria,  # noqa: E402
                             ReviewLink, TaskRecord, Trial)
from transforms.formats import parse_source  # noqa: E402
from transforms.runtime import tune_gc  # noqa: E402
from transforms.joins import link as L  # noqa: E402
from transforms.joins.transforms import (_JoinByPmidFn, _NearByConditionFn, _fulltext_key, _join_by_nct,  # noqa: E402
                                         _keep_unless_deleted, _key_fulltexts, _latest_article,
                                         _latest_fulltext, _latest_trial, _pool, _profile, _review_bundle,
                                         _review_studies, _split_of_publication, _split_of_trial,
                                         _split_votes_by_pmid, _with_negatives)
from transforms.metrics import inc  # noqa: E402
from transforms.quality.dedup import content_key, merge_group  # noqa: E402
from transforms.quality.transforms import _ValidateFn  # noqa: E402
from transforms.quality.validate import ValidationSettings  # noqa: E402
from transforms.read import _ParseFileFn  # noqa: E402
from transforms.tasks.common import TASKS, BuildContext  # noqa: E402
from transforms.tasks.transforms import REVIEW_TASKS, STUDY_TASKS, _BuildFn  # noqa: E402
from transforms.write import PARQUET_ARGS, ROW_GROUP_BYTES, TaskStatsFn, _WriteJsonFn  # noqa: E402

_DEFAULTS = BuildOptions([])  # the build job's option defaults, so both runs get the same settings
ROW_GROUP_BUFFER_BYTES = ROW_GROUP_BYTES  # as transforms.write._parquet
RECORD_BATCH_SIZE = 1000
SHARD = "-00000-of-00001"


# --------------------------------------------------------------------------- Beam primitives as dicts
def tagged(outputs: Iterable, main: str = "main") -> dict[str, list]:
    """Split what a DoFn / FlatMap function yields by tag (untagged values go to ``main``)."""
    out: dict[str, list] = defaultdict(list)
    for x in outputs:
        if isinstance(x, TaggedOutput):
            out[x.tag].append(x.value)
        else:
            out[main].append(x)
    return out


def group_by_key(pairs: Iterable[tuple]) -> dict:
    """GroupByKey: (key, value) pairs → {key: [values]}."""
    groups: dict = defaultdict(list)
    for k, v in pairs:
        groups[k].append(v)
    return groups


def co_group_by_key(**tagged_pairs: Iterable[tuple]) -> dict:
    """CoGroupByKey: tag → (key, value) pairs, to {key: {tag: [values]}} with every tag present."""
    groups: dict = {}
    for tag, pairs in tagged_pairs.items():
        for k, v in pairs:
            if k not in groups:
                groups[k] = {t: [] for t in tagged_pairs}
            groups[k][tag].append(v)
    return groups


def flat_map(fn: Callable, items: Iterable, *args) -> list:
    return [y for x in items for y in fn(x, *args)]


# --------------------------------------------------------------------------- read (transforms.read)
def list_input_files(input_root: str) -> list[str]:
    """The files the build's ``<root>/<source>/**`` patterns match on a local file system, with the
    same path strings (they end up in ``source_file``). Names starting with "." or "_" are skipped
    (as ``_ParseFileFn`` does)."""
    root = input_root.rstrip("/")
    paths = []
    for d in SOURCE_DIRS:
        for dirpath, _, files in os.walk(f"{root}/{d}"):
            paths += [os.path.join(dirpath, f) for f in files if not f.startswith((".", "_"))]
    return sorted(paths)


def parse_file(path: str) -> Iterable[TaggedOutput]:
    """One file's records, tagged like ``transforms.read._ParseFileFn``."""
    inc("read.files")
    try:
        with open(path, "rb") as f:
            for record in parse_source(f, path):
                yield _ParseFileFn._route(record)
    except (ConnectionError, TimeoutError):
        raise
    except Exception as e:  # noqa: BLE001 - same file boundary as _ParseFileFn
        logging.exception("unexpected error while reading %s", path)
        yield _ParseFileFn._route(DeadLetter(path, "read.file", f"Unexpected{type(e).__name__}", str(e)[:500],
                                             "", None))


def parse_inputs(paths: list[str]) -> dict[str, list]:
    """ParseInputFiles: tag (articles, deletions, fulltexts, trials, review_links, criteria,
    dead_letters) → records."""
    return tagged(out for path in paths for out in parse_file(path))


# --------------------------------------------------------------------------- joins (transforms.joins)
def select_latest_articles(articles: list, deletions: list) -> list:
    keyed = [(a.pmid, a) for a in articles] + [(d.pmid, d) for d in deletions]
    return flat_map(_latest_article, group_by_key(keyed).items())


def select_latest_fulltexts(fulltexts: list) -> list:
    return flat_map(_latest_fulltext, group_by_key((_fulltext_key(f), f) for f in fulltexts).items())


def drop_deleted_fulltexts(fulltexts: list, deletions: list, articles: list) -> dict[str, list]:
    groups = co_group_by_key(fulltext=[(f.pmid, f) for f in fulltexts if f.pmid is not None],
                             deleted=[(d.pmid, True) for d in deletions],
                             article=[(a.pmid, True) for a in articles])
    kept = tagged(flat_map(_keep_unless_deleted, groups.items()), main="fulltexts")
    return {"fulltexts": kept["fulltexts"] + [f for f in fulltexts if f.pmid is None],
            "withheld": kept["withheld"]}


def select_latest_trials(trials: list) -> dict[str, list]:
    """trials (latest per NCT id, not withdrawn), aliases ((alias, nct_id)), withdrawn."""
    alias_pairs = list(dict.fromkeys((a, t.nct_id) for t in trials for a in t.aliases))  # Distinct
    amap = dict(alias_pairs)  # AsDict
    groups = group_by_key((amap.get(t.nct_id, t.nct_id), t) for t in trials)
    return tagged(flat_map(_latest_trial, groups.items()), main="trials")


def assign_splits(review_links: list, link_rows: list) -> dict[str, list]:
    """AssignSplits: pub_splits, trial_splits, pub_trial_splits."""
    groups = co_group_by_key(reviews=[(ln.pmid, ln.review_id) for ln in review_links],
                             trials=[(r.pmid, r.nct_id) for r in link_rows if r.kind == "study_trial"])
    by_pmid = tagged(flat_map(_split_votes_by_pmid, groups.items()), main="by_nct")
    trials = tagged(flat_map(_split_of_trial, group_by_key(by_pmid["by_nct"]).items()), main="by_pmid")
    pubs = tagged(flat_map(_split_of_publication, group_by_key(trials["by_pmid"]).items()), main="pub_splits")
    return {"pub_splits": by_pmid["pub_splits"] + pubs["pub_splits"], "trial_splits": trials["trial_splits"],
            "pub_trial_splits": pubs["pub_trial_splits"]}


def join_study_trials(articles: list, fulltexts: list, trials: list, aliases: list,
                      review_types: tuple, input_links: list) -> dict[str, list]:
    """JoinStudyTrials: bundles, summaries, briefs, review_links, criteria, link_rows, unresolved, pub_splits."""
    without = [(f.pmcid, f) for f in fulltexts if f.pmid is None and f.pmcid]
    pmcid_to_pmid = [(a.pmcid, a.pmid) for a in articles if a.pmcid]
    resolved = flat_map(_key_fulltexts, co_group_by_key(fulltext=without, pmid=pmcid_to_pmid).items())
    ft_by_pmid = [(f.pmid, f) for f in fulltexts if f.pmid is not None] + resolved
    registry = [(ln.pmid, ln) for ln in flat_map(L.trial_links_from_trial, trials)]
    by_pmid_groups = co_group_by_key(article=[(a.pmid, a) for a in articles], fulltext=ft_by_pmid,
                                     registry=registry)
    join_fn, alias_map = _JoinByPmidFn(review_types), dict(aliases)
    by_pmid = tagged(out for kv in by_pmid_groups.items() for out in join_fn.process(kv, alias_map))
    splits = assign_splits(input_links + by_pmid["review_links"], by_pmid["link_rows"])
    by_nct_groups = co_group_by_key(trial=[(t.nct_id, t) for t in trials], pubs=by_pmid["by_nct"],
                                    split=splits["trial_splits"], pub_split=splits["pub_trial_splits"])
    by_nct = tagged(flat_map(_join_by_nct, by_nct_groups.items()), main="bundles")
    return {"bundles": by_nct["bundles"], "summaries": by_pmid["summaries"], "briefs": by_nct["briefs"],
            "review_links": by_pmid["review_links"], "criteria": by_pmid["criteria"],
            "link_rows": by_pmid["link_rows"], "unresolved": by_pmid["unresolved"] + by_nct["unresolved"],
            "pub_splits": splits["pub_splits"]}


def join_review_studies(review_links: list, summaries: list, briefs: list, criteria: list,
                        pub_splits: list) -> dict[str, list]:
    """JoinReviewStudies: bundles (ReviewBundle), link_rows, unresolved."""
    groups = co_group_by_key(summary=summaries, briefs=briefs, links=[(ln.pmid, ln) for ln in review_links],
                             split=pub_splits)
    studies = tagged(flat_map(_review_studies, groups.items()), main="studies")
    by_review = co_group_by_key(studies=studies["studies"], criteria=[(c.review_id, c) for c in criteria])
    return {"bundles": flat_map(_review_bundle, by_review.items()), "link_rows": studies["link_rows"],
            "unresolved": studies["unresolved"]}


def add_topic_near_negatives(bundles: list, limit: int) -> list:
    if limit <= 0:
        return bundles
    by_condition = co_group_by_key(reviews=flat_map(_profile, bundles), studies=flat_map(_pool, bundles))
    near_fn = _NearByConditionFn(limit)
    near = [out for kv in by_condition.items() for out in near_fn.process(kv)]
    groups = co_group_by_key(bundle=[(b.review_id, b) for b in bundles], near=near)
    return flat_map(_with_negatives, groups.items(), limit)


# --------------------------------------------------------------------------- tasks
def deduplicate(records: list[TaskRecord]) -> tuple[list[TaskRecord], list[str]]:
    """DeduplicateTaskRecords: near-identical records merged; returns (records, one task name per
    record merged away)."""
    groups = group_by_key((content_key(r), r) for r in records)
    out, merged = [], []
    for group in groups.values():
        out.append(group[0] if len(group) == 1 else merge_group(group))
        merged += [group[0].task] * (len(group) - 1)
    return out, merged


def build_task_records(review_bundles: list, study_bundles: list, ctx: BuildContext) -> tuple[list, list]:
    """BuildTaskRecords: the six task builders, through the same ``_BuildFn``; (records, rejected)."""
    records, rejected = [], []
    for classes, bundles in ((REVIEW_TASKS, review_bundles), (STUDY_TASKS, study_bundles)):
        for cls in classes:
            fn = _BuildFn(cls.TASK, cls.BUILDER, ctx)
            for bundle in bundles:
                for out in fn.process(bundle):
                    if isinstance(out, TaggedOutput):
                        rejected.append(out.value)
                    else:
                        records.append(out)
    return records, rejected


# --------------------------------------------------------------------------- write (transforms.write)
def write_parquet(path: str, cls, records: Iterable) -> str:
    """Records → one Parquet file, batched like Beam's WriteToParquet (1000-row record batches,
    a row group per ``ROW_GROUP_BYTES`` of buffered batches)."""
    schema = arrow_schema(cls)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with pq.ParquetWriter(path, schema, compression=PARQUET_ARGS["codec"],
                          use_compliant_nested_type=PARQUET_ARGS["use_compliant_nested_type"]) as writer:
        rows, batches, buffered = [], [], 0

        def flush_rows():
            nonlocal rows, buffered
            batch = pa.RecordBatch.from_pylist(rows, schema=schema)
            batches.append(batch)
            buffered += batch.nbytes
            rows = []

        for record in records:
            rows.append(to_row(record))
            if len(rows) >= RECORD_BATCH_SIZE:
                flush_rows()
                if buffered >= ROW_GROUP_BUFFER_BYTES:
                    writer.write_table(pa.Table.from_batches(batches, schema=schema))
                    batches, buffered = [], 0
        if rows:
            flush_rows()
        if batches:
            writer.write_table(pa.Table.from_batches(batches, schema=schema))
    return path


def write_json_lines(path: str, records: Iterable) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(dataclasses.asdict(r), ensure_ascii=False, sort_keys=True) + "\n")
    return path


def write_task_shards(out: str, records: list[TaskRecord]) -> list[str]:
    by_task: dict[str, list] = {t: [] for t in TASKS}
    for r in records:
        by_task[r.task].append(r)
    return [write_parquet(f"{out}/tasks/task={task}/part{SHARD}.parquet", TaskRecord, part)
            for task, part in by_task.items()]


# --------------------------------------------------------------------------- the job
def plain_build(input_root: str, output: str, snapshot_date: str | None,
                topic_negatives: int = _DEFAULTS.topic_negatives,
                max_input_chars: int = _DEFAULTS.max_input_chars,
                review_publication_types: str = _DEFAULTS.review_publication_types,
                tasks_only: bool = False) -> dict:
    """Run the build job of ``pipelines/build.py`` as a plain loop (see module doc).

    Replaces an earlier build's output under ``output`` first, as the Beam build does. Returns
    ``{"tasks": {task: records}, "total_records": n, "seconds": {phase: s}}``.
    """
    out = output.rstrip("/")
    ctx = BuildContext(created_at=snapshot_date or datetime.date.today().isoformat(),
                       max_input_chars=max_input_chars)
    review_types = tuple(t.strip() for t in review_publication_types.split(",") if t.strip())
    clear_previous_output(out)
    seconds = {}

    t0 = time.perf_counter()
    parsed = parse_inputs(list_input_files(input_root))
    in_articles, in_fulltexts, in_trials = parsed["articles"], parsed["fulltexts"], parsed["trials"]
    input_links, input_criteria, deletions = parsed["review_links"], parsed["criteria"], parsed["deletions"]
    seconds["parse"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    articles = select_latest_articles(in_articles, deletions)
    live_fulltexts = drop_deleted_fulltexts(select_latest_fulltexts(in_fulltexts), deletions, articles)
    fulltexts = live_fulltexts["fulltexts"]
    trials = select_latest_trials(in_trials)
    studies = join_study_trials(articles, fulltexts, trials["trials"], trials["aliases"], review_types, input_links)
    reviews = join_review_studies(input_links + studies["review_links"], studies["summaries"],
                                  studies["briefs"], input_criteria + studies["criteria"], studies["pub_splits"])
    review_bundles = add_topic_near_negatives(reviews["bundles"], topic_negatives)
    seconds["join"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    built, rejected = build_task_records(review_bundles, studies["bundles"], ctx)
    records = []
    validate = _ValidateFn(ValidationSettings(_DEFAULTS.min_grounding))
    for out_record in flat_map(validate.process, built):
        if isinstance(out_record, TaggedOutput):
            rejected.append(out_record.value)
        else:
            records.append(out_record)
    records, merged = deduplicate(records)
    seconds["tasks"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    written = write_task_shards(out, records)
    if not tasks_only:
        link_rows = studies["link_rows"] + reviews["link_rows"]
        unresolved = studies["unresolved"] + reviews["unresolved"]
        tables = (("articles", Article, articles), ("fulltexts", FullText, fulltexts),
                  ("trials", Trial, trials["trials"]), ("links", Link, link_rows),
                  ("review_links", ReviewLink, input_links), ("criteria", ReviewCriteria, input_criteria),
                  ("deletions", DeletedCitation, deletions),
                  ("withheld_fulltexts", FullText, live_fulltexts["withheld"]),
                  ("withheld_trials", Trial, trials["withdrawn"]))
        written += [write_parquet(f"{out}/tables/{name}/part{SHARD}.parquet", cls, rows)
                    for name, cls, rows in tables]
        written.append(write_json_lines(f"{out}/dead_letter/part{SHARD}.jsonl", parsed["dead_letters"]))
        written.append(write_json_lines(f"{out}/unresolved/part{SHARD}.jsonl", unresolved))
        written.append(write_json_lines(f"{out}/rejected/part{SHARD}.jsonl", rejected))
        counts: dict[str, int] = defaultdict(int)
        for key in (["tables.articles"] * len(articles) + ["tables.fulltexts"] * len(fulltexts)
                    + ["tables.trials"] * len(trials["trials"]) + [f"tables.links_{r.kind}" for r in link_rows]
                    + [f"dead_letters.{d.stage}:{d.error_type}" for d in parsed["dead_letters"]]
                    + [f"unresolved.{u.kind}" for u in unresolved]
                    + [f"rejected.{r.record.task}" for r in rejected]
                    + [f"rejected_reasons.{x}" for r in rejected for x in r.reasons]
                    + [f"merged.{task}" for task in merged]):
            counts[key] += 1
        stats_fn = TaskStatsFn()
        acc = stats_fn.create_accumulator()
        for r in records:
            acc = stats_fn.add_input(acc, r)
        opts = {"snapshot_date": ctx.created_at, "num_shards": 0, "max_input_chars": ctx.max_input_chars,
                "review_publication_types": list(review_types), "topic_negatives": topic_negatives,
                "min_grounding": _DEFAULTS.min_grounding}
        list(_WriteJsonFn(out, input_patterns(input_root), opts).process(
            None, list(counts.items()), stats_fn.extract_output(acc), written))
    seconds["write"] = time.perf_counter() - t0

    per_task = {t: 0 for t in TASKS}
    for r in records:
        per_task[r.task] += 1
    return {"tasks": per_task, "total_records": len(records),
            "seconds": {k: round(v, 3) for k, v in seconds.items()}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("input_root", help="Raw zone (local dir) holding any of pubmed/, pmc/, ctgov/, links/.")
    ap.add_argument("output", help="Output root (local dir).")
    ap.add_argument("--snapshot_date", default=None, help="created_at of the records; default: today.")
    ap.add_argument("--topic_negatives", type=int, default=_DEFAULTS.topic_negatives)
    ap.add_argument("--max_input_chars", type=int, default=_DEFAULTS.max_input_chars)
    ap.add_argument("--review_publication_types", default=_DEFAULTS.review_publication_types)
    ap.add_argument("--tasks_only", action="store_true",
                    help="Write only the task shards (no tables, dead letters, unresolved, manifest).")
    args = ap.parse_args(argv)
    tune_gc()  # the same collector setting as the Beam build's run()
    result = plain_build(args.input_root, args.output, args.snapshot_date, topic_negatives=args.topic_negatives,
                         max_input_chars=args.max_input_chars,
                         review_publication_types=args.review_publication_types, tasks_only=args.tasks_only)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
