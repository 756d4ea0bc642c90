"""The build job: PubMed + PMC + ClinicalTrials.gov + link tables → six LEADS tasks → Parquet.

    python -m pipelines.build                       # embedded sample corpus → ./output
    python -m pipelines.build --input_root RAW --output OUT [--runner FnApiRunner|DataflowRunner]

``build(p, options)`` wires the graph and returns its key PCollections; ``run(argv)`` runs it.
"""
from __future__ import annotations

import datetime
import logging
import os
import sys

import apache_beam as beam
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions

from pipelines.options import BuildOptions, ProgressOptions
from pipelines.progress import BuildProgress

from schemas.records import Article, DeletedCitation, FullText, Link, ReviewCriteria, ReviewLink, Trial
from transforms.joins.transforms import (AddTopicNearNegatives, DropDeletedFullTexts, JoinReviewStudies,
                                        JoinStudyTrials, SelectLatestArticles, SelectLatestFullTexts,
                                        SelectLatestTrials)
from transforms.quality.transforms import DeduplicateTaskRecords
from transforms.quality.validate import ValidationSettings
from transforms.read import ParseInputFiles, ReadSnapshotTables
from transforms.runtime import use_storage_emulator
from transforms.tasks.common import TASKS, BuildContext
from transforms.tasks.transforms import BuildTaskRecords
from transforms.write import WriteJsonLines, WriteManifest, WriteTable, WriteTaskShards

SOURCE_DIRS = ("pubmed", "pmc", "ctgov", "links")
MULTI_THREADING_REFUSAL = (
    "--direct_running_mode=multi_threading is refused: with Beam 2.77 it lost 0.1-0.9% of elements at "
    "a GroupByKey on this kind of machine. Use in_memory (default) or multi_processing.")


def input_patterns(input_root: str) -> list[str]:
    root = input_root.rstrip("/")
    return [f"{root}/{d}/**" for d in SOURCE_DIRS]


def read_input_list(path: str) -> list[str]:
    """Paths named in an input-list file (one per line; blank lines and # comments ignored)."""
    from apache_beam.io.filesystems import FileSystems
    with FileSystems.open(path) as f:
        lines = f.read().decode("utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def build_inputs(options: BuildOptions) -> list[str]:
    """The file patterns the build reads: the input list when given, else the raw-zone folders."""
    if options.input_list:
        return read_input_list(options.input_list)
    return input_patterns(options.input_root)


LOCAL_RUNNERS = (None, "FnApiRunner", "DirectRunner", "SwitchingDirectRunner")


def parse_processes(options: PipelineOptions) -> int:
    """``--parse_processes``, with -1 resolved: one worker per usable CPU when the local runner
    runs in_memory on more than one CPU (its one process would leave the others idle while
    reading), else 0."""
    wanted = options.view_as(BuildOptions).parse_processes
    if wanted >= 0:
        return wanted
    runner = options.view_as(StandardOptions).runner
    runner_name = runner if runner is None or isinstance(runner, str) else type(runner).__name__
    if runner_name not in LOCAL_RUNNERS or options.view_as(DirectOptions).direct_running_mode != "in_memory":
        return 0
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cpus if cpus > 1 else 0


def _counts(pcoll, label: str, key_fn):
    return pcoll | label >> beam.Map(lambda x: (key_fn(x), 1))


def build(p: beam.Pipeline, options: BuildOptions) -> dict:
    """Wire the build graph on ``p``; returns the key PCollections (records, tables, dead letters)."""
    use_storage_emulator()  # before the runner or the graph touches gs:// (see transforms.runtime)
    out = options.output.rstrip("/")
    ctx = BuildContext(created_at=options.snapshot_date or datetime.date.today().isoformat(),
                       max_input_chars=options.max_input_chars)
    shards = options.num_shards
    review_types = tuple(t.strip() for t in options.review_publication_types.split(",") if t.strip())

    inputs = build_inputs(options)
    parsed = p | "ParseInputFiles" >> ParseInputFiles(inputs, parse_processes(options))
    in_articles, in_fulltexts, in_trials = parsed.articles, parsed.fulltexts, parsed.trials
    in_links, in_criteria, deletions = parsed.review_links, parsed.criteria, parsed.deletions
    if options.previous_snapshot:
        prev = p | "ReadPreviousSnapshot" >> ReadSnapshotTables(options.previous_snapshot)
        in_articles = (in_articles, prev.articles) | "WithPreviousArticles" >> beam.Flatten()
        in_fulltexts = ((in_fulltexts, prev.fulltexts, prev.withheld_fulltexts)
                        | "WithPreviousFullTexts" >> beam.Flatten())
        in_trials = (in_trials, prev.trials, prev.withheld_trials) | "WithPreviousTrials" >> beam.Flatten()
        in_links = (in_links, prev.review_links) | "WithPreviousReviewLinks" >> beam.Flatten()
        in_criteria = (in_criteria, prev.criteria) | "WithPreviousCriteria" >> beam.Flatten()
        deletions = (deletions, prev.deletions) | "WithPreviousDeletions" >> beam.Flatten()
    articles = (in_articles, deletions) | "SelectLatestArticles" >> SelectLatestArticles()
    live_fulltexts = ((in_fulltexts | "SelectLatestFullTexts" >> SelectLatestFullTexts(), deletions, articles)
                      | "DropDeletedFullTexts" >> DropDeletedFullTexts())
    fulltexts = live_fulltexts["fulltexts"]
    trials = in_trials | "SelectLatestTrials" >> SelectLatestTrials()
    input_links, input_criteria = in_links, in_criteria
    studies = ((articles, fulltexts, trials.trials, trials.aliases, input_links)
               | "JoinStudyTrials" >> JoinStudyTrials(review_types))
    review_links = (input_links, studies["review_links"]) | "AllReviewLinks" >> beam.Flatten()
    criteria = (input_criteria, studies["criteria"]) | "AllCriteria" >> beam.Flatten()
    reviews = ((review_links, studies["summaries"], studies["briefs"], criteria, studies["pub_splits"])
               | "JoinReviewStudies" >> JoinReviewStudies())
    review_bundles = reviews["bundles"] | "AddTopicNearNegatives" >> AddTopicNearNegatives(options.topic_negatives)
    built = ((review_bundles, studies["bundles"])
             | "BuildTaskRecords" >> BuildTaskRecords(ctx, ValidationSettings(options.min_grounding)))
    deduped = tuple(built[task] for task in TASKS) | "DeduplicateTaskRecords" >> DeduplicateTaskRecords()
    records = deduped["records"]
    rejected = built["rejected"]

    link_rows = (studies["link_rows"], reviews["link_rows"]) | "AllLinkRows" >> beam.Flatten()
    unresolved = (studies["unresolved"], reviews["unresolved"]) | "AllUnresolved" >> beam.Flatten()
    written = (
        records | "WriteTaskShards" >> WriteTaskShards(out, shards),
        articles | "WriteArticles" >> WriteTable(out, "articles", Article, shards),
        fulltexts | "WriteFullTexts" >> WriteTable(out, "fulltexts", FullText, shards),
        trials.trials | "WriteTrials" >> WriteTable(out, "trials", Trial, shards),
        link_rows | "WriteLinks" >> WriteTable(out, "links", Link, shards),
        input_links | "WriteReviewLinks" >> WriteTable(out, "review_links", ReviewLink, shards),
        input_criteria | "WriteCriteria" >> WriteTable(out, "criteria", ReviewCriteria, shards),
        deletions | "WriteDeletions" >> WriteTable(out, "deletions", DeletedCitation, shards),
        live_fulltexts["withheld"] | "WriteWithheldFullTexts" >> WriteTable(out, "withheld_fulltexts", FullText,
                                                                              shards),
        trials.withdrawn | "WriteWithdrawnTrials" >> WriteTable(out, "withheld_trials", Trial, shards),
        parsed.dead_letters | "WriteDeadLetters" >> WriteJsonLines(out, "dead_letter"),
        unresolved | "WriteUnresolved" >> WriteJsonLines(out, "unresolved"),
        rejected | "WriteRejected" >> WriteJsonLines(out, "rejected"),
    ) | "AllWrittenFiles" >> beam.Flatten()

    counts = (
        _counts(articles, "CountArticles", lambda _: "tables.articles"),
        _counts(fulltexts, "CountFullTexts", lambda _: "tables.fulltexts"),
        _counts(trials.trials, "CountTrials", lambda _: "tables.trials"),
        _counts(link_rows, "CountLinks", lambda r: f"tables.links_{r.kind}"),
        _counts(parsed.dead_letters, "CountDeadLetters", lambda d: f"dead_letters.{d.stage}:{d.error_type}"),
        _counts(unresolved, "CountUnresolved", lambda u: f"unresolved.{u.kind}"),
        _counts(rejected, "CountRejected", lambda r: f"rejected.{r.record.task}"),
        rejected | "CountRejectedReasons" >> beam.FlatMap(lambda r: [(f"rejected_reasons.{x}", 1) for x in r.reasons]),
        deduped["counts"],
    ) | "AllCounts" >> beam.Flatten()
    opts = {"snapshot_date": ctx.created_at, "num_shards": shards, "max_input_chars": ctx.max_input_chars,
            "review_publication_types": list(review_types), "topic_negatives": options.topic_negatives,
            "min_grounding": options.min_grounding}
    if options.previous_snapshot:
        opts["previous_snapshot"] = options.previous_snapshot
    manifest = (counts, records, written) | "WriteManifest" >> WriteManifest(out, inputs, opts)
    return {"records": records, "articles": articles, "fulltexts": fulltexts, "trials": trials.trials,
            "links": link_rows, "unresolved": unresolved, "dead_letters": parsed.dead_letters, "rejected": rejected,
            "review_bundles": review_bundles, "study_bundles": studies["bundles"], "manifest": manifest}


def local_runner_options(argv=None) -> PipelineOptions:
    """Parse options; choose the local FnApiRunner unless a runner is named; refuse multi_threading."""
    use_storage_emulator()
    options = PipelineOptions(argv)
    std = options.view_as(StandardOptions)
    if std.runner is None:
        std.runner = "FnApiRunner"
    if options.view_as(DirectOptions).direct_running_mode == "multi_threading":
        raise SystemExit(MULTI_THREADING_REFUSAL)
    return options


def prepare_options(argv=None) -> PipelineOptions:
    """``local_runner_options``, and the embedded sample corpus when no ``--input_root`` is given."""
    options = local_runner_options(argv)
    build_opts = options.view_as(BuildOptions)
    if build_opts.input_root is None:
        if "://" in build_opts.output:
            raise SystemExit(f"--input_root is required with --output {build_opts.output}: the embedded sample "
                             "is written beside a local output only (workers elsewhere could not read it)")
        from synth.sample import write_sample_corpus
        build_opts.input_root = os.path.join(build_opts.output, "sample_input")
        write_sample_corpus(build_opts.input_root)
    return options


OUTPUT_PARTS = ("tasks", "tables", "dead_letter", "unresolved", "rejected", "manifest.json", "stats.json",
                "README.md", "card", "export")  # the last three: the data card and exports made from it


def clear_previous_output(output: str, parts: tuple[str, ...] = OUTPUT_PARTS) -> list[str]:
    """Delete what an earlier run wrote under ``output`` (only the job's own ``parts``: folders and
    files), so a rerun never leaves stale shards beside new ones. Returns the deleted paths."""
    from fetching.rawzone import delete_tree
    root = output.rstrip("/")
    return [f"{root}/{part}" for part in parts if delete_tree(f"{root}/{part}")]


def run(argv=None, progress_stream=None):
    """Run the build job (replacing an earlier build's output) and return (PipelineResult, manifest path).
    Progress lines go to ``progress_stream`` (default stderr) every ``--progress_interval`` s."""
    options = prepare_options(argv)
    build_opts = options.view_as(BuildOptions)
    clear_previous_output(build_opts.output)
    p = beam.Pipeline(options=options)
    build(p, build_opts)
    with BuildProgress(progress_stream, options.view_as(ProgressOptions).progress_interval):
        result = p.run()
        result.wait_until_finish()
    return result, f"{options.view_as(BuildOptions).output.rstrip('/')}/manifest.json"


if __name__ == "__main__":
    logging.getLogger().setLevel(logging.WARNING)
    from pipelines.cli import main
    sys.exit(main(["build", *sys.argv[1:]]))
