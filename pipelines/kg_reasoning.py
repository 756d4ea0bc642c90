"""The KG reasoning job: clinical QA pairs + a medical knowledge graph → ``kg_reasoning`` records.

    leadsinstruct kg-reasoning                                   # embedded sample QA + graph → ./output-kg
    leadsinstruct kg-reasoning --qa 'qa/*.jsonl,qa/*.csv' --kg kg.csv --output OUT
        [--llm_endpoint http://127.0.0.1:8000/v1 --llm_model M]  # key from $OPENAI_API_KEY

Output: ``<output>/tasks/task=kg_reasoning/part-*.parquet`` (``schemas.records.KgReasoningRecord``),
``rejected/`` (records that failed validation, with reasons), ``dead_letter/`` (unparsable QA
lines, pairs that failed), ``manifest.json`` and ``stats.json``. Records in = kept + rejected +
dead letters.

``build(p, options)`` wires the graph and returns its key PCollections; ``run(argv)`` runs it.
"""
from __future__ import annotations

import datetime
import json
import os
import sys

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.options import BuildOptions, KgReasoningOptions, ProgressOptions, csv_list
from pipelines.progress import BuildProgress, kg_progress_line
from transforms.kg.linking import LinkSettings
from transforms.kg.reason import TASK, ReasonSettings
from transforms.kg.resources import KgSpec
from transforms.kg.transforms import KgStatsFn, ReadQAPairs, ReasonOverKg, WriteKgReasoning
from transforms.runtime import use_storage_emulator
from transforms.write import WriteJsonLines

OUTPUT_PARTS = ("tasks/task=kg_reasoning", "rejected", "dead_letter", "manifest.json", "stats.json", "README.md")
DEFAULT_OUTPUT = "output-kg"


def kg_spec(options: KgReasoningOptions) -> KgSpec:
    return KgSpec(kg_paths=tuple(csv_list(options.kg)), kg_format=options.kg_format, synonyms_path=options.synonyms,
                  embedding=options.embedding, embedding_node_types=tuple(csv_list(options.embedding_node_types)),
                  embedding_model=options.embedding_model, cache_dir=options.kg_cache_dir)


def reason_settings(options: KgReasoningOptions) -> ReasonSettings:
    snapshot_date = options.view_as(BuildOptions).snapshot_date
    return ReasonSettings(
        created_at=snapshot_date or datetime.date.today().isoformat(), max_hops=options.max_hops,
        max_paths_per_pair=options.max_paths_per_pair, keep_paths=options.keep_paths,
        link=LinkSettings(threshold=options.link_threshold, max_question_spans=options.max_question_spans))


def public_url(url):
    """``url`` without user info and query (where credentials hide), for the manifest."""
    if not url:
        return url
    from urllib.parse import urlsplit, urlunsplit
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.hostname + (f":{parts.port}" if parts.port else "") if parts.hostname
                       else parts.netloc, parts.path, "", ""))


def llm_settings(options: KgReasoningOptions):
    if not options.llm_endpoint:
        return None
    from transforms.kg.llm import LlmSettings
    cache, output = options.llm_cache, options.view_as(BuildOptions).output
    if cache is not None and "://" in cache:
        raise SystemExit(f"--llm_cache {cache}: the response cache is a local folder (each worker keeps its own)")
    if cache is None and "://" not in output:
        cache = os.path.join(output, "_llm_cache")
    return LlmSettings(endpoint=options.llm_endpoint, model=options.llm_model, api_key_env=options.llm_api_key_env,
                       requests_per_second=options.llm_requests_per_second, max_retries=options.llm_max_retries,
                       cache_dir=cache)


class _WriteManifestFn(beam.DoFn):
    def __init__(self, output: str, inputs: dict, options: dict):
        self._output, self._inputs, self._options = output.rstrip("/"), inputs, options

    def setup(self):
        use_storage_emulator()

    def process(self, _, counts, stats, written):
        counts = dict(counts)
        section = lambda prefix: {k.split(".", 1)[1]: v for k, v in sorted(counts.items())  # noqa: E731
                                  if k.startswith(prefix + ".")}
        manifest = {
            "job": "kg_reasoning", "inputs": self._inputs, "options": self._options,
            "qa_read": sum(section("qa").values()), "qa_by_dataset": section("qa"),
            "tasks": {TASK: counts.get("kept", 0)}, "total_records": counts.get("kept", 0),
            "rejected": {TASK: counts.get("rejected", 0)}, "rejected_total": counts.get("rejected", 0),
            "rejected_reasons": section("rejected_reasons"),
            "dead_letters": section("dead_letters"), "dead_letters_total": sum(section("dead_letters").values()),
            "files_written": len(written),
            "layout": {"tasks": f"tasks/task={TASK}/part-*.parquet", "rejected": "rejected/part-*.jsonl",
                       "dead_letters": "dead_letter/part-*.jsonl"},
        }
        for name, payload in (("manifest.json", manifest), ("stats.json", {"tasks": {TASK: stats}})):
            with FileSystems.create(f"{self._output}/{name}") as f:
                f.write(json.dumps(payload, indent=2).encode("utf-8"))
        yield manifest


def build(p: beam.Pipeline, options: KgReasoningOptions) -> dict:
    """Wire the KG reasoning graph on ``p``; returns {"records", "rejected", "dead_letters", "manifest"}."""
    use_storage_emulator()
    build_opts = options.view_as(BuildOptions)
    out = build_opts.output.rstrip("/")
    spec, settings = kg_spec(options), reason_settings(options)
    qa_patterns = csv_list(options.qa)
    read = p | "ReadQAPairs" >> ReadQAPairs(qa_patterns)
    reasoned = read["qa"] | "ReasonOverKg" >> ReasonOverKg(spec, settings, llm_settings(options))
    records, rejected = reasoned["records"], reasoned["rejected"]
    dead = (read["dead_letters"], reasoned["dead_letters"]) | "AllDeadLetters" >> beam.Flatten()
    written = (
        records | "WriteKgReasoning" >> WriteKgReasoning(out, build_opts.num_shards),
        rejected | "WriteRejected" >> WriteJsonLines(out, "rejected"),
        dead | "WriteDeadLetters" >> WriteJsonLines(out, "dead_letter"),
    ) | "AllWrittenFiles" >> beam.Flatten()
    counts = (
        read["qa"] | "CountQA" >> beam.Map(lambda q: (f"qa.{q.dataset}", 1)),
        records | "CountKept" >> beam.Map(lambda _: ("kept", 1)),
        rejected | "CountRejected" >> beam.Map(lambda _: ("rejected", 1)),
        rejected | "CountReasons" >> beam.FlatMap(
            lambda r: [(f"rejected_reasons.{x.split(':', 1)[0]}", 1) for x in r.reasons]),
        dead | "CountDead" >> beam.Map(lambda d: (f"dead_letters.{d.stage}:{d.error_type}", 1)),
    ) | "AllCounts" >> beam.Flatten() | "SumCounts" >> beam.CombinePerKey(sum)
    stats = ((records | "Kept" >> beam.Map(lambda r: ("kept", r)),
              rejected | "Rejected" >> beam.Map(lambda r: ("rejected", r.record)))
             | "AllForStats" >> beam.Flatten() | "Stats" >> beam.CombineGlobally(KgStatsFn()))
    opts = {"snapshot_date": settings.created_at, "max_hops": settings.max_hops,
            "max_paths_per_pair": settings.max_paths_per_pair, "keep_paths": settings.keep_paths,
            "link_threshold": settings.link.threshold, "max_question_spans": settings.link.max_question_spans,
            "embedding": spec.embedding, "embedding_node_types": list(spec.embedding_node_types),
            "llm_endpoint": public_url(options.llm_endpoint), "llm_model": options.llm_model if options.llm_endpoint else None}
    inputs = {"qa": qa_patterns, "kg": list(spec.kg_paths), "synonyms": spec.synonyms_path}
    manifest = (p | "Once" >> beam.Create([None])
                | "WriteManifest" >> beam.ParDo(_WriteManifestFn(out, inputs, opts), beam.pvalue.AsList(counts),
                                                beam.pvalue.AsSingleton(stats), beam.pvalue.AsList(written)))
    return {"records": records, "rejected": rejected, "dead_letters": dead, "manifest": manifest}


def prepare_options(argv=None) -> PipelineOptions:
    """Parse options; the local FnApiRunner unless a runner is named; the embedded sample QA files
    and graph when ``--qa``/``--kg`` are not given."""
    from pipelines.build import local_runner_options
    options = local_runner_options(argv)
    kg_opts = options.view_as(KgReasoningOptions)
    build_opts = options.view_as(BuildOptions)
    argv = list(argv or [])
    if not any(a == "--output" or a.startswith("--output=") for a in argv):
        build_opts.output = DEFAULT_OUTPUT
    refuse_build_output(build_opts.output)
    if kg_opts.qa is None or kg_opts.kg is None:
        if "://" in build_opts.output:
            raise SystemExit(f"--qa and --kg are required with --output {build_opts.output}: the embedded sample "
                             "is written beside a local output only")
        from synth.kg_sample import write_kg_sample
        sample = write_kg_sample(os.path.join(build_opts.output, "sample_input"))
        if kg_opts.qa is None:
            kg_opts.qa = ",".join(sample["qa"])
        if kg_opts.kg is None:
            kg_opts.kg = ",".join(sample["kg"])
            if kg_opts.synonyms is None:
                kg_opts.synonyms = sample["synonyms"]
    return options


def refuse_build_output(output: str) -> None:
    """Stop when ``output`` holds a LEADS build (its manifest names no ``job``): this job would
    replace the build's rejected/, dead_letter/ and manifest."""
    path = f"{output.rstrip('/')}/manifest.json"
    if FileSystems.exists(path):
        with FileSystems.open(path) as f:
            if json.loads(f.read().decode("utf-8")).get("job") != "kg_reasoning":
                raise SystemExit(f"{output} holds a LEADS build; give the KG reasoning job its own --output")


def run(argv=None, progress_stream=None):
    """Run the job (replacing an earlier run's output; the LLM cache is kept) → (result, manifest path).
    Progress lines go to ``progress_stream`` (default stderr) every ``--progress_interval`` s."""
    options = prepare_options(argv)
    output = options.view_as(BuildOptions).output
    from pipelines.build import clear_previous_output
    clear_previous_output(output, OUTPUT_PARTS)
    p = beam.Pipeline(options=options)
    build(p, options.view_as(KgReasoningOptions))
    interval = options.view_as(ProgressOptions).progress_interval
    with BuildProgress(progress_stream, interval, line=kg_progress_line):
        result = p.run()
        result.wait_until_finish()
    return result, f"{output.rstrip('/')}/manifest.json"


def print_summary(manifest: dict, stream=sys.stdout) -> None:
    w = stream.write
    w(f"QA pairs read: {manifest['qa_read']}  "
      f"({', '.join(f'{k} {v}' for k, v in manifest['qa_by_dataset'].items()) or 'none'})\n")
    w(f"kg_reasoning records: {manifest['total_records']}   rejected: {manifest['rejected_total']}   "
      f"dead letters: {manifest['dead_letters_total']}\n")
    for reason, n in manifest["rejected_reasons"].items():
        w(f"  rejected {reason}: {n}\n")


def main(argv: list[str]) -> int:
    result, manifest_path = run(argv)
    if not FileSystems.exists(manifest_path):
        print(f"Submitted (state {result.state}); its manifest will be {manifest_path}")
        return 0
    with FileSystems.open(manifest_path) as f:
        manifest = json.loads(f.read().decode("utf-8"))
    print_summary(manifest)
    print(f"Records: {manifest_path.rsplit('/', 1)[0]}/tasks/task={TASK}/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
