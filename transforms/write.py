"""Write outputs: task shards, corpus tables, dead letters, manifest and stats.

Composites:
- ``WriteTaskShards(output)``: TaskRecord → ``<output>/tasks/task=<name>/part-SSSSS-of-NNNNN.parquet``.
- ``WriteTable(output, name, cls)``: record dataclass → ``<output>/tables/<name>/part-*.parquet``.
- ``WriteJsonLines(output, name)``: dataclass → ``<output>/<name>/part-*.jsonl``.
- ``WriteManifest(output, inputs, options)``: (name, count) pairs, TaskRecords and the written file
  names → ``<output>/manifest.json`` and ``<output>/stats.json``, written once every file is final.
Each writer returns the PCollection of the file names it wrote (str).
"""
from __future__ import annotations

import dataclasses
import json
from collections import defaultdict

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from schemas.arrow import arrow_schema, to_row
from schemas.records import SCHEMA_VERSION, TaskRecord
from transforms.runtime import use_storage_emulator
from transforms.tasks.common import TASKS

# Arrow bytes buffered per output file before a row group is written. Every open file (six task
# datasets at once) holds up to this much; 8 MiB is ~1,000 task records per row group, and was
# ~150 MB less peak memory than 32 MiB on a scale-0.1 build.
ROW_GROUP_BYTES = 8 * 1024 * 1024
PARQUET_ARGS = dict(codec="zstd", use_compliant_nested_type=True, file_name_suffix=".parquet",
                    shard_name_template="-SSSSS-of-NNNNN")


def _parquet(path_prefix: str, cls, num_shards: int):
    return beam.io.WriteToParquet(path_prefix, arrow_schema(cls), num_shards=num_shards,
                                  row_group_buffer_size=ROW_GROUP_BYTES, record_batch_size=1000,
                                  **PARQUET_ARGS)


class WriteTaskShards(beam.PTransform):
    """TaskRecord → one Parquet dataset per task (hive-style ``task=<name>`` folders)."""

    def __init__(self, output: str, num_shards: int = 0):
        super().__init__()
        self._output, self._num_shards = output.rstrip("/"), num_shards

    def expand(self, records):
        parts = records | "ByTask" >> beam.Partition(lambda r, n: TASKS.index(r.task), len(TASKS))
        written = [part | f"ToRow_{task}" >> beam.Map(to_row)
                   | f"Write_{task}" >> _parquet(f"{self._output}/tasks/task={task}/part", TaskRecord,
                                                 self._num_shards)
                   for task, part in zip(TASKS, parts)]
        return written | "AllTaskFiles" >> beam.Flatten()


class WriteTable(beam.PTransform):
    """Record dataclass → ``tables/<name>`` Parquet dataset."""

    def __init__(self, output: str, name: str, cls, num_shards: int = 0):
        super().__init__()
        self._prefix = f"{output.rstrip('/')}/tables/{name}/part"
        self._cls, self._num_shards = cls, num_shards

    def expand(self, records):
        return (records | "ToRow" >> beam.Map(to_row)
                | "WriteParquet" >> _parquet(self._prefix, self._cls, self._num_shards))


class WriteJsonLines(beam.PTransform):
    """Dataclass → ``<output>/<name>/part-*.jsonl`` (one JSON object per line)."""

    def __init__(self, output: str, name: str):
        super().__init__()
        self._prefix = f"{output.rstrip('/')}/{name}/part"

    def expand(self, records):
        return (records | "ToJson" >> beam.Map(lambda r: json.dumps(dataclasses.asdict(r), ensure_ascii=False,
                                                                     sort_keys=True))
                | "WriteText" >> beam.io.WriteToText(self._prefix, file_name_suffix=".jsonl",
                                                     shard_name_template="-SSSSS-of-NNNNN"))


class TaskStatsFn(beam.CombineFn):
    """TaskRecord → per-task statistics (counts by split and evidence, grounding, input length)."""

    def create_accumulator(self):
        return {}

    def add_input(self, acc, r: TaskRecord):
        s = acc.setdefault(r.task, {"records": 0, "split": {}, "evidence": {}, "grounding_sum": 0.0,
                                    "grounding_n": 0, "grounding_ge_0_5": 0, "input_chars_sum": 0,
                                    "input_chars_max": 0})
        s["records"] += 1
        s["split"][r.split] = s["split"].get(r.split, 0) + 1
        ev = r.evidence or "none"
        s["evidence"][ev] = s["evidence"].get(ev, 0) + 1
        if r.grounding is not None:
            s["grounding_sum"] += r.grounding
            s["grounding_n"] += 1
            s["grounding_ge_0_5"] += r.grounding >= 0.5
        s["input_chars_sum"] += len(r.input)
        s["input_chars_max"] = max(s["input_chars_max"], len(r.input))
        return acc

    def merge_accumulators(self, accs):
        out = {}
        for acc in accs:
            for task, s in acc.items():
                if task not in out:
                    out[task] = json.loads(json.dumps(s))
                    continue
                o = out[task]
                for k in ("records", "grounding_sum", "grounding_n", "grounding_ge_0_5", "input_chars_sum"):
                    o[k] += s[k]
                o["input_chars_max"] = max(o["input_chars_max"], s["input_chars_max"])
                for k in ("split", "evidence"):
                    for kk, v in s[k].items():
                        o[k][kk] = o[k].get(kk, 0) + v
        return out

    def extract_output(self, acc):
        out = {}
        for task in TASKS:
            s = acc.get(task)
            if not s:
                out[task] = {"records": 0}
                continue
            out[task] = {
                "records": s["records"], "split": dict(sorted(s["split"].items())),
                "evidence": dict(sorted(s["evidence"].items())),
                "grounding_mean": round(s["grounding_sum"] / s["grounding_n"], 4) if s["grounding_n"] else None,
                "grounding_ge_0_5": s["grounding_ge_0_5"],
                "input_chars_mean": round(s["input_chars_sum"] / s["records"], 1),
                "input_chars_max": s["input_chars_max"]}
        return out


def _nest(counts):
    """[("tables.articles", 3), ("dead_letters.pubmed.parse.XMLSyntaxError", 1)] → nested dict."""
    out: dict = defaultdict(dict)
    for key, n in sorted(counts):
        section, _, rest = key.partition(".")
        out[section][rest] = n
    return dict(out)


class _WriteJsonFn(beam.DoFn):
    def __init__(self, output: str, inputs: list[str], options: dict):
        self._output, self._inputs, self._options = output.rstrip("/"), inputs, options

    def setup(self):
        use_storage_emulator()

    def process(self, _, counts, stats, written):
        counts = _nest(counts)
        tasks = {t: stats.get(t, {}).get("records", 0) for t in TASKS}
        manifest = {
            "schema_version": SCHEMA_VERSION, "inputs": self._inputs, "options": self._options,
            "tasks": tasks, "total_records": sum(tasks.values()), "tables": counts.get("tables", {}),
            "dead_letters": counts.get("dead_letters", {}),
            "dead_letters_total": sum(counts.get("dead_letters", {}).values()),
            "unresolved": counts.get("unresolved", {}),
            "rejected": counts.get("rejected", {}), "rejected_total": sum(counts.get("rejected", {}).values()),
            "rejected_reasons": counts.get("rejected_reasons", {}), "merged": counts.get("merged", {}),
            "files_written": len(written),
            "layout": {"tasks": "tasks/task=<task>/part-*.parquet", "tables": "tables/<name>/part-*.parquet",
                       "dead_letters": "dead_letter/part-*.jsonl", "unresolved": "unresolved/part-*.jsonl",
                       "rejected": "rejected/part-*.jsonl"},
        }
        for name, payload in (("manifest.json", manifest), ("stats.json", {"tasks": stats})):
            with FileSystems.create(f"{self._output}/{name}") as f:
                f.write(json.dumps(payload, indent=2, sort_keys=False).encode("utf-8"))
        yield manifest


class WriteManifest(beam.PTransform):
    """((name, count) pairs, TaskRecords, written file names) → manifest.json + stats.json, after
    every output file is final (the file names are a side input); emits the manifest dict."""

    def __init__(self, output: str, inputs: list[str], options: dict):
        super().__init__()
        self._output, self._inputs, self._options = output, inputs, options

    def expand(self, pcolls):
        counts, records, written = pcolls
        totals = counts | "SumCounts" >> beam.CombinePerKey(sum)
        stats = records | "TaskStats" >> beam.CombineGlobally(TaskStatsFn())
        return (counts.pipeline | "Once" >> beam.Create([None])
                | "WriteManifestJson" >> beam.ParDo(
                    _WriteJsonFn(self._output, self._inputs, self._options),
                    beam.pvalue.AsList(totals), beam.pvalue.AsSingleton(stats), beam.pvalue.AsList(written)))
