"""Export task records for fine-tuning: JSON Lines, one example per line, one file per split.

    leadsinstruct export OUTPUT [--to DIR] [--format chat|sharegpt|alpaca] [--metadata]
                         [--tasks T1,T2] [--splits train,validation,test] [--min_grounding G] [--per_task]

``OUTPUT`` is a build output (or a snapshot) holding ``tasks/task=<task>/*.parquet``.

Formats (one UTF-8 JSON object per line):

``chat`` (default)
    ``{"messages": [{"role": "system", "content": …}, {"role": "user", …}, {"role": "assistant", …}]}``:
    the record's ``messages`` unchanged (the assistant turn is the record's ``output``). This is the
    form of OpenAI chat fine-tuning files and the "conversational" form of HuggingFace TRL.
``sharegpt``
    ``{"conversations": [{"from": "system"|"human"|"gpt", "value": …}]}`` (LLaMA-Factory and Axolotl
    ``sharegpt``; both read a leading ``system`` turn as the system prompt).
``alpaca``
    ``{"system", "instruction", "input", "output"}``: the record's fields (LLaMA-Factory ``alpaca``;
    it joins instruction and input with one newline, the record's user message with two).

``--metadata`` adds ``"metadata": {id, task, split, review_id, pmid, pmcid, nct_id, evidence,
grounding}`` to every line (leave it off for OpenAI's fine-tuning upload, which accepts no other key).

Layout: ``<to>/<split>.jsonl``, or with ``--per_task`` ``<to>/<task>/<split>.jsonl``, and
``<to>/export.json`` with the arguments and the counts. A file that would hold no record is not written
(an older copy is removed), because HuggingFace ``datasets`` refuses an empty split; other files in
``<to>`` are left alone.
``load_dataset("json", data_dir=<to>)`` (or ``<to>/<task>``) names the splits from the file names.
``--to`` defaults to ``<OUTPUT>/export/<format>``.

Selection: ``--tasks`` and ``--splits`` choose records by their ``task`` and ``split``;
``--min_grounding G`` drops records whose ``grounding`` is below G (records without a grounding, such
as screening, are kept); the records it drops from the chosen splits are counted per task as
``dropped_low_grounding``.

Order: by task, then record id. Ids are hashes, so within a task this is a fixed pseudo-random order,
the same for the same records however the build sharded them: exporting twice gives the same bytes.

Memory: shards are read one record batch at a time. Lines are sorted in a buffer of at most
``--sort_buffer_mb``; when the records do not fit, sorted runs go to a local temporary folder and are
merged while the files are written. Reading and writing go through Beam's ``FileSystems``, so
``OUTPUT`` and ``--to`` may be local or ``gs://`` folders.
"""
from __future__ import annotations

import argparse
import heapq
import json
import os
import sys
import tempfile
from operator import itemgetter
from typing import Iterable, Iterator, Optional

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipelines.options import csv_list
from transforms.tasks.common import SPLITS as _SPLIT_BOUNDS
from transforms.tasks.common import TASKS

FORMATS = ("chat", "sharegpt", "alpaca")
SPLITS = tuple(name for name, _ in _SPLIT_BOUNDS)  # train, validation, test
METADATA = ("id", "task", "split", "review_id", "pmid", "pmcid", "nct_id", "evidence", "grounding")
SHAREGPT_ROLES = {"system": "system", "user": "human", "assistant": "gpt"}
_FORMAT_COLUMNS = {"chat": ("messages",), "sharegpt": ("messages",),
                   "alpaca": ("system", "instruction", "input", "output")}
_MAX_OPEN_RUNS = 64  # sorted runs merged at once


# --------------------------------------------------------------------------- pure helpers
def to_example(row: dict, fmt: str, metadata: bool = False) -> dict:
    """One fine-tuning example (a JSON-ready dict) from a task record row in format ``fmt``."""
    if fmt == "chat":
        example = {"messages": [{"role": m["role"], "content": m["content"]} for m in row["messages"]]}
    elif fmt == "sharegpt":
        example = {"conversations": [{"from": SHAREGPT_ROLES[m["role"]], "value": m["content"]}
                                     for m in row["messages"]]}
    elif fmt == "alpaca":
        example = {k: row[k] for k in _FORMAT_COLUMNS["alpaca"]}
    else:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if metadata:
        example["metadata"] = {k: row[k] for k in METADATA}
    return example


def example_line(example: dict) -> bytes:
    """The JSON Lines form of an example: compact, UTF-8 (no ASCII escaping), one ``\\n`` at the end."""
    return (json.dumps(example, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def file_name(task: str, split: str, per_task: bool) -> str:
    """``<split>.jsonl`` or ``<task>/<split>.jsonl``, relative to the export folder."""
    return f"{task}/{split}.jsonl" if per_task else f"{split}.jsonl"


def keep(row: dict, min_grounding: Optional[float]) -> tuple[bool, Optional[str]]:
    """(keep, reason): a record without a grounding score is always kept."""
    g = row.get("grounding")
    if min_grounding is None or g is None or g >= min_grounding:
        return True, None
    return False, "low_grounding"


class SortedLines:
    """Lines collected per output file and given back sorted by key, holding at most about
    ``buffer_bytes`` of lines in memory: a full buffer is sorted and written as a run to ``tmp_dir``;
    reading merges the runs (at most ``_MAX_OPEN_RUNS`` open at once) with what is still buffered.
    Equal keys keep the order they were added in."""

    def __init__(self, tmp_dir: str, buffer_bytes: int):
        self._tmp, self._limit = tmp_dir, max(1, buffer_bytes)
        self._buffer: dict[str, list] = {}
        self._size = 0
        self._runs: dict[str, list[str]] = {}
        self._seq = 0

    def add(self, name: str, key: tuple, line: bytes) -> None:
        self._buffer.setdefault(name, []).append((key, line))
        self._size += len(line) + 128  # + the list entry, tuple and key objects
        if self._size >= self._limit:
            self._spill()

    @property
    def runs(self) -> int:
        """Sorted runs written so far (spilled buffers and merges of more than ``_MAX_OPEN_RUNS``)."""
        return self._seq

    def lines(self, name: str) -> Iterator[bytes]:
        """The lines of ``name`` in key order (each output file is read once)."""
        items = sorted(self._buffer.pop(name, ()), key=itemgetter(0))
        runs = self._runs.pop(name, [])
        while len(runs) > _MAX_OPEN_RUNS:
            runs = [self._write_run(heapq.merge(*map(_read_run, runs[:_MAX_OPEN_RUNS]), key=itemgetter(0)),
                                    remove=runs[:_MAX_OPEN_RUNS])] + runs[_MAX_OPEN_RUNS:]
        merged = heapq.merge(*map(_read_run, runs), iter(items), key=itemgetter(0)) if runs else items
        for _, line in merged:
            yield line

    def _spill(self) -> None:
        for name in sorted(self._buffer):
            items = sorted(self._buffer[name], key=itemgetter(0))
            self._runs.setdefault(name, []).append(self._write_run(items))
        self._buffer.clear()
        self._size = 0

    def _write_run(self, items: Iterable[tuple], remove: Iterable[str] = ()) -> str:
        path = os.path.join(self._tmp, f"run-{self._seq:06d}")
        self._seq += 1
        with open(path, "wb") as f:
            for key, line in items:  # key as JSON (no raw tab inside), a tab, the line with its newline
                f.write(json.dumps(key).encode("utf-8") + b"\t" + line)
        for p in remove:
            os.remove(p)
        return path


def _read_run(path: str) -> Iterator[tuple]:
    with open(path, "rb") as f:
        for raw in f:
            key, _, line = raw.partition(b"\t")
            yield tuple(json.loads(key)), line


# --------------------------------------------------------------------------- reading and writing
def task_shards(output: str) -> dict[str, list[str]]:
    """{task: sorted Parquet shard paths} under ``<output>/tasks/task=<task>/`` (local or gs://)."""
    pattern = f"{output.rstrip('/')}/tasks/task=*/*.parquet"
    shards: dict[str, list[str]] = {}
    for m in FileSystems.match([pattern])[0].metadata_list:
        task = m.path.split("/task=", 1)[1].split("/", 1)[0]
        shards.setdefault(task, []).append(m.path)
    return {t: sorted(paths) for t, paths in sorted(shards.items())}


def iter_records(paths: Iterable[str], columns: list[str], splits: Iterable[str],
                 min_grounding: Optional[float], batch_rows: int = 256,
                 dropped: Optional[dict] = None) -> Iterator[dict]:
    """Rows (dicts of ``columns``) of the shards whose ``split`` is in ``splits`` and that pass
    ``keep``; one record batch in memory at a time. ``dropped[reason]`` counts what ``keep`` refused."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    wanted = pa.array(sorted(set(splits)), pa.string())
    for path in paths:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            for batch in pq.ParquetFile(f).iter_batches(batch_size=batch_rows, columns=columns):
                batch = batch.filter(pc.is_in(batch.column("split"), value_set=wanted))
                for row in batch.to_pylist():
                    ok, reason = keep(row, min_grounding)
                    if ok:
                        yield row
                    elif dropped is not None:
                        dropped[reason] = dropped.get(reason, 0) + 1


def _write_file(path: str, lines: Iterable[bytes]) -> int:
    """Write ``path`` under a temporary name, then rename it over any older copy (a file appears only
    complete); the number of lines written."""
    partial, n = f"{path}.partial", 0
    with FileSystems.create(partial, mime_type="application/jsonl",
                            compression_type=CompressionTypes.UNCOMPRESSED) as f:
        for line in lines:
            f.write(line)
            n += 1
    FileSystems.rename([partial], [path])
    return n


def export(output: str, to: Optional[str] = None, *, fmt: str = "chat", metadata: bool = False,
           tasks: Optional[Iterable[str]] = None, splits: Iterable[str] = SPLITS,
           min_grounding: Optional[float] = None, per_task: bool = False,
           sort_buffer_bytes: int = 256 << 20, batch_rows: int = 256, tmp_dir: Optional[str] = None) -> dict:
    """Export the task records of a build ``output`` as JSON Lines under ``to`` (see the module doc).

    Returns the summary also written to ``<to>/export.json``: the arguments, ``files``
    ({relative path: lines}, the files written), ``counts`` ({task: {split: records}}), ``dropped_low_grounding``
    ({task: records}) and ``total``. Raises ``ValueError`` for an unknown format, task or split, and
    ``FileNotFoundError`` when ``output`` holds no task shards.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    splits = list(dict.fromkeys(splits))
    bad = [s for s in splits if s not in SPLITS]
    if bad or not splits:
        raise ValueError(f"unknown split(s) {', '.join(bad) or '(none)'}; expected some of {', '.join(SPLITS)}")
    shards = task_shards(output)
    if not shards:
        raise FileNotFoundError(f"no task shards under {output.rstrip('/')}/tasks/task=*/")
    known = list(dict.fromkeys([*TASKS, *shards]))
    tasks = known if tasks is None else list(dict.fromkeys(tasks))
    bad = [t for t in tasks if t not in known]
    if bad or not tasks:
        raise ValueError(f"unknown task(s) {', '.join(bad) or '(none)'}; expected some of {', '.join(known)}")
    tasks = sorted(tasks)
    to = (to or f"{output.rstrip('/')}/export/{fmt}").rstrip("/")

    columns = list(dict.fromkeys([*METADATA, *_FORMAT_COLUMNS[fmt]]))
    counts = {t: {s: 0 for s in splits} for t in tasks}
    dropped = {t: 0 for t in tasks}
    names = sorted({file_name(t, s, per_task) for t in tasks for s in splits})
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="leadsinstruct-export-", dir=tmp_dir) as tmp:
        lines = SortedLines(tmp, sort_buffer_bytes)
        for task in tasks:
            why: dict = {}
            for row in iter_records(shards.get(task, []), columns, splits, min_grounding, batch_rows, why):
                counts[task][row["split"]] += 1
                name = file_name(task, row["split"], per_task)
                sizes[name] = sizes.get(name, 0) + 1
                lines.add(name, (row["task"], row["id"]), example_line(to_example(row, fmt, metadata)))
            dropped[task] = why.get("low_grounding", 0)
        files = {}
        for name in names:
            if sizes.get(name):
                files[name] = _write_file(f"{to}/{name}", lines.lines(name))
            elif FileSystems.exists(f"{to}/{name}"):  # left by an earlier export
                FileSystems.delete([f"{to}/{name}"])
        runs = lines.runs
    summary = {"source": output, "to": to, "format": fmt, "metadata": metadata, "tasks": tasks, "splits": splits,
               "min_grounding": min_grounding, "per_task": per_task, "order": ["task", "id"],
               "files": files, "counts": counts, "dropped_low_grounding": dropped,
               "total": sum(files.values())}
    with FileSystems.create(f"{to}/export.json", mime_type="application/json",
                            compression_type=CompressionTypes.UNCOMPRESSED) as f:
        f.write((json.dumps(summary, indent=2) + "\n").encode("utf-8"))
    return {**summary, "sort_runs": runs}


# --------------------------------------------------------------------------- command line
def print_export_summary(summary: dict, stream=None) -> None:
    """Records per task and split, the drops, and where the files are (to stdout by default)."""
    w = (stream or sys.stdout).write
    splits = summary["splits"]
    w(f"{'task':<26}" + "".join(f"{s:>12}" for s in splits) + f"{'dropped':>10}\n")
    w("-" * (36 + 12 * len(splits)) + "\n")
    for task in summary["tasks"]:
        w(f"{task:<26}" + "".join(f"{summary['counts'][task][s]:>12}" for s in splits)
          + f"{summary['dropped_low_grounding'][task]:>10}\n")
    w("-" * (36 + 12 * len(splits)) + "\n")
    totals = [sum(c[s] for c in summary["counts"].values()) for s in splits]
    w(f"{'total':<26}" + "".join(f"{n:>12}" for n in totals)
      + f"{sum(summary['dropped_low_grounding'].values()):>10}\n")
    w(f"{summary['total']} examples ({summary['format']}) in {len(summary['files'])} files under "
      f"{summary['to']}/ ({summary['to']}/export.json)\n")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="leadsinstruct export",
                                     description="Export task records as JSON Lines for fine-tuning.")
    parser.add_argument("output", help="build output or snapshot folder (local or gs://) with tasks/task=*/")
    parser.add_argument("--to", default=None, help="export folder (default: OUTPUT/export/FORMAT)")
    parser.add_argument("--format", dest="fmt", choices=FORMATS, default="chat",
                        help="chat: {messages:[{role,content}]} (OpenAI, TRL); sharegpt: {conversations:"
                             "[{from,value}]}; alpaca: {system,instruction,input,output}")
    parser.add_argument("--metadata", action="store_true",
                        help="add a metadata object (id, task, split, review/study/trial ids, evidence, grounding)")
    parser.add_argument("--tasks", type=csv_list, default=None, help="comma-separated tasks (default: all)")
    parser.add_argument("--splits", type=csv_list, default=list(SPLITS), help="comma-separated splits (default: all)")
    parser.add_argument("--min_grounding", type=float, default=None,
                        help="drop records whose grounding is below this (records without one are kept)")
    parser.add_argument("--per_task", action="store_true", help="write TO/<task>/<split>.jsonl")
    parser.add_argument("--sort_buffer_mb", type=int, default=256,
                        help="lines held in memory for sorting before they spill to a temporary folder")
    parser.add_argument("--batch_rows", type=int, default=256, help="records per Parquet batch read")
    parser.add_argument("--tmp_dir", default=None, help="local folder for sort runs (default: the system's)")
    args = parser.parse_args(argv)
    if args.sort_buffer_mb <= 0 or args.batch_rows <= 0:
        parser.error("--sort_buffer_mb and --batch_rows must be positive")
    try:
        summary = export(args.output, args.to, fmt=args.fmt, metadata=args.metadata, tasks=args.tasks,
                         splits=args.splits, min_grounding=args.min_grounding, per_task=args.per_task,
                         sort_buffer_bytes=args.sort_buffer_mb << 20, batch_rows=args.batch_rows,
                         tmp_dir=args.tmp_dir)
    except ValueError as e:
        parser.error(str(e))
    except FileNotFoundError as e:
        print(f"export stopped: {e}", file=sys.stderr)
        return 1
    print_export_summary(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
