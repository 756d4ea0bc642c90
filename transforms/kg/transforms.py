"""Beam composites of the KG reasoning job.

- ``ReadQAPairs(patterns)``: PBegin → {"qa": QAPair, "dead_letters": DeadLetter}. Counters
  ``qa.files``, ``qa.parsed``, ``qa.parse.dead_letter``.
- ``ReasonOverKg(spec, settings, llm_settings)``: QAPair → {"records": KgReasoningRecord,
  "rejected": RejectedReasoning, "dead_letters": DeadLetter}. The graph, its entity index and the
  node embeddings are loaded once per worker process and shared by every DoFn instance there
  (``apache_beam.utils.shared``; counter ``kg.loaded``). Counters ``kg_reasoning.kept``,
  ``kg_reasoning.rejected``, ``kg_reasoning.dead_letter``, ``link.<method>``, ``paths.found``,
  ``llm.requests``, ``llm.cache_hits``, ``llm.retries``, ``llm.errors``.
- ``WriteKgReasoning(output, num_shards)``: KgReasoningRecord →
  ``<output>/tasks/task=kg_reasoning/part-*.parquet``.
- ``KgStatsFn``: ("kept" | "rejected", KgReasoningRecord) → the figures of ``stats.json``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import tempfile
from collections import Counter

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.utils import shared

from schemas.arrow import arrow_schema, to_row
from schemas.records import DeadLetter, KgReasoningRecord, QAPair, RejectedReasoning
from transforms.kg.qa import parse_qa_file
from transforms.kg.reason import TASK, ReasonSettings, reason_over_kg
from transforms.kg.resources import KgSpec, load_resources
from transforms.metrics import inc
from transforms.runtime import use_storage_emulator
from transforms.textutil import excerpt
from transforms.write import PARQUET_ARGS


class _ParseQAFileFn(beam.DoFn):
    """File path (str) → QAPair (main) | DeadLetter (``dead_letters``)."""

    def setup(self):
        use_storage_emulator()

    def process(self, path: str):
        name = path.rsplit("/", 1)[-1]
        if name.startswith("."):  # hidden files (editor and upload leftovers) are not QA files
            logging.warning("skipping hidden file %s", path)
            inc("qa.files_skipped")
            return
        inc("qa.files")
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            data = f.read()
        for item in parse_qa_file(path, data):
            if isinstance(item, DeadLetter):
                inc(f"{item.stage}.dead_letter")
                yield beam.pvalue.TaggedOutput("dead_letters", item)
            else:
                inc("qa.parsed")
                yield item


class ReadQAPairs(beam.PTransform):
    """File patterns (local or gs://) of QA files → {"qa": QAPair, "dead_letters": DeadLetter}.
    A pattern that matches nothing is an error; hidden files (``.name``) are skipped and counted."""

    def __init__(self, patterns: list[str]):
        super().__init__()
        self._patterns = list(patterns)

    def expand(self, pbegin):
        out = (pbegin | "ListPatterns" >> beam.Create(self._patterns)
               | "MatchFiles" >> fileio.MatchAll(fileio.EmptyMatchTreatment.DISALLOW)
               # a file named by two patterns is read once
               | "Paths" >> beam.Map(lambda m: m.path) | "OncePerFile" >> beam.Distinct()
               | "ParseQA" >> beam.ParDo(_ParseQAFileFn()).with_outputs("dead_letters", main="qa"))
        return {"qa": out.qa | "SpreadQA" >> beam.Reshuffle(), "dead_letters": out.dead_letters}


def localize(paths, folder: str) -> tuple[str, ...]:
    """Copies of remote (``gs://``) files in a local folder; local paths are returned as they are.
    A copy is named by a hash of the URL, the object's size and its update time, so a replaced
    object is fetched again and two URLs never share a copy."""
    out = []
    for path in paths:
        if "://" not in path:
            out.append(path)
            continue
        meta = FileSystems.match([path])[0].metadata_list
        if not meta:
            raise FileNotFoundError(path)
        key = hashlib.sha256(f"{path}\x1f{meta[0].size_in_bytes}\x1f{meta[0].last_updated_in_seconds}".encode())
        local = os.path.join(folder, f"{key.hexdigest()[:16]}-{path.rsplit('/', 1)[-1]}")
        if not os.path.exists(local):
            tmp = f"{local}.tmp{os.getpid()}"
            with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as src, \
                    open(tmp, "wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
            os.replace(tmp, local)
        out.append(local)
    return tuple(out)


class _Holder:
    """A weak-referenceable box for ``shared.Shared`` (it cannot hold a dataclass with slots)."""

    def __init__(self, value):
        self.value = value


class _ReasonFn(beam.DoFn):
    """QAPair → KgReasoningRecord | RejectedReasoning (``rejected``) | DeadLetter (``dead_letters``)."""

    def __init__(self, spec: KgSpec, settings: ReasonSettings, llm_settings, shared_handle):
        self._spec, self._settings, self._llm_settings = spec, settings, llm_settings
        self._shared = shared_handle

    def setup(self):
        use_storage_emulator()
        spec = self._spec

        def load():
            folder = spec.cache_dir or os.path.join(tempfile.gettempdir(), "leadsinstruct-kg")
            os.makedirs(folder, exist_ok=True)
            local = dataclasses.replace(
                spec, kg_paths=localize(spec.kg_paths, folder), cache_dir=folder,
                synonyms_path=localize([spec.synonyms_path], folder)[0] if spec.synonyms_path else None)
            loaded.append(True)
            return _Holder(load_resources(local))

        key = "|".join([*spec.kg_paths, spec.kg_format, spec.synonyms_path or "", str(spec.embedding),
                        *spec.embedding_node_types, spec.embedding_model or ""])
        loaded: list = []
        # keep the holder itself: Shared keeps an object only while someone references it
        self._holder = self._shared.acquire(load, tag=key)
        self._count_load = bool(loaded)  # counted in process(): metrics need a step context
        self._res = self._holder.value
        self._llm = None
        if self._llm_settings is not None:
            from transforms.kg.llm import LlmClient
            if not os.environ.get(self._llm_settings.api_key_env):
                logging.warning("%s is not set on this worker: requests go without an API key",
                                self._llm_settings.api_key_env)
            self._llm = LlmClient(self._llm_settings)
            self._llm_stats = dict(self._llm.stats)

    def process(self, qa: QAPair):
        if self._count_load:
            inc("kg.loaded")  # once per worker process, whatever the number of DoFn instances
            self._count_load = False
        try:
            record, reasons = reason_over_kg(qa, self._res, self._settings, self._llm)
        except (ConnectionError, TimeoutError):
            raise
        except Exception as e:  # noqa: BLE001 - one bad pair must not stop the job
            logging.exception("kg reasoning failed for %s", qa.id)
            inc("kg_reasoning.dead_letter")
            yield beam.pvalue.TaggedOutput("dead_letters", DeadLetter(
                qa.source_file, "kg.reason", type(e).__name__, str(e)[:500], excerpt(qa.question),
                qa.source_index))
            return
        finally:
            self._count_llm()
        for method, n in Counter(e.method for e in record.entities).items():
            inc(f"link.{method}", n)
        inc("paths.found", len(record.paths))
        if reasons:
            inc("kg_reasoning.rejected")
            yield beam.pvalue.TaggedOutput("rejected", RejectedReasoning(reasons, record))
        else:
            inc("kg_reasoning.kept")
            yield record

    def _count_llm(self):
        if self._llm is None:
            return
        now = dict(self._llm.stats)
        for k in ("requests", "cache_hits", "retries", "errors"):
            delta = now.get(k, 0) - self._llm_stats.get(k, 0)
            if delta:
                inc(f"llm.{k}", delta)
        self._llm_stats = now


class ReasonOverKg(beam.PTransform):
    """QAPair → {"records", "rejected", "dead_letters"} (see module doc)."""

    def __init__(self, spec: KgSpec, settings: ReasonSettings, llm_settings=None):
        super().__init__()
        self._spec, self._settings, self._llm_settings = spec, settings, llm_settings

    def expand(self, qa):
        out = qa | "Reason" >> beam.ParDo(
            _ReasonFn(self._spec, self._settings, self._llm_settings, shared.Shared())
        ).with_outputs("rejected", "dead_letters", main="records")
        return {"records": out.records, "rejected": out.rejected, "dead_letters": out.dead_letters}


class WriteKgReasoning(beam.PTransform):
    """KgReasoningRecord → ``<output>/tasks/task=kg_reasoning/part-SSSSS-of-NNNNN.parquet``;
    returns the written file names."""

    def __init__(self, output: str, num_shards: int = 0):
        super().__init__()
        self._prefix = f"{output.rstrip('/')}/tasks/task={TASK}/part"
        self._num_shards = num_shards

    def expand(self, records):
        return (records | "ToRow" >> beam.Map(to_row)
                | "WriteParquet" >> beam.io.WriteToParquet(
                    self._prefix, arrow_schema(KgReasoningRecord), num_shards=self._num_shards,
                    row_group_buffer_size=32 * 1024 * 1024, record_batch_size=1000, **PARQUET_ARGS))


class KgStatsFn(beam.CombineFn):
    """KgReasoningRecord (kept or rejected, as ``(status, record)``) → statistics for stats.json:
    per dataset and split, entity mappings by method, paths per record, path lengths, relations."""

    def create_accumulator(self):
        return {"records": Counter(), "by_dataset": Counter(), "split": Counter(), "links": Counter(),
                "paths_per_record": Counter(), "hops": Counter(), "relations": Counter(),
                "reasoning_method": Counter(), "embedding_scores": []}

    def add_input(self, acc, item):
        status, r = item
        acc["records"][status] += 1
        acc["by_dataset"][f"{r.dataset}.{status}"] += 1
        if status == "kept":
            acc["split"][r.split] += 1
            acc["reasoning_method"][r.reasoning_method] += 1
            acc["paths_per_record"][str(len(r.paths))] += 1
            for p in r.paths:
                acc["hops"][str(len(p.steps))] += 1
                for s in p.steps:
                    acc["relations"][s.relation] += 1
        for e in r.entities:
            acc["links"][f"{e.role}.{e.method}"] += 1
            if e.method == "embedding":
                acc["embedding_scores"].append(e.score)
        return acc

    def merge_accumulators(self, accs):
        out = self.create_accumulator()
        for a in accs:
            for k, v in a.items():
                if k == "embedding_scores":
                    out[k].extend(v)
                else:
                    out[k].update(v)
        return out

    def extract_output(self, acc):
        scores = sorted(acc["embedding_scores"])
        return {
            **{k: dict(sorted(v.items())) for k, v in acc.items() if k != "embedding_scores"},
            "relations": dict(acc["relations"].most_common(20)),
            "embedding_score": ({"n": len(scores), "min": scores[0], "median": scores[len(scores) // 2],
                                 "max": scores[-1]} if scores else {"n": 0}),
        }
