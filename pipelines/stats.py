"""``leadsinstruct stats OUTPUT``: the data card of a build output.

Reads ``OUTPUT/manifest.json``, the task shards (``tasks/task=*/*.parquet``) and the corpus tables
``articles``, ``fulltexts`` and ``links`` (only the columns it needs, batch by batch), then writes

    OUTPUT/README.md        the data card (Hugging Face dataset-card form)
    OUTPUT/card/<plot>.png  records per task, input lengths, grounding, evidence, publication years

and prints a per-task table. ``OUTPUT`` may be local or ``gs://`` (Beam's ``FileSystems``). The
card is deterministic: the same output gives the same README.md and PNG bytes. The statistics,
markdown and plots are in ``transforms/datacard.py``; this module only reads and writes files.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from transforms import datacard
from transforms.runtime import use_storage_emulator

BATCH_ROWS = 4096


class StatsError(Exception):
    """The output cannot be described (no manifest, no shards, unreadable files)."""


def _parquet_files(pattern: str) -> list[str]:
    return sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)


def _batches(path: str, columns) -> Iterator[pa.RecordBatch]:
    try:
        with FileSystems.open(path) as f:
            yield from pq.ParquetFile(f).iter_batches(batch_size=BATCH_ROWS, columns=list(columns))
    except (pa.ArrowException, OSError) as e:
        raise StatsError(f"cannot read {path}: {e}") from e


def _read_table(output: str, name: str, columns, add) -> None:
    """Feed ``tables/<name>`` (when there is one) to ``add`` batch by batch."""
    for path in _parquet_files(f"{output}/tables/{name}/*.parquet"):
        for batch in _batches(path, columns):
            add(batch)


def load(output: str):
    """The card's data from a build output (raises ``StatsError`` when it is not one); for the
    output of the KG reasoning job, its manifest (dict)."""
    output = output.rstrip("/")
    manifest_path = f"{output}/manifest.json"
    if not FileSystems.exists(manifest_path):
        raise StatsError(f"{manifest_path} not found: {output} is not the --output of a finished build")
    try:
        with FileSystems.open(manifest_path) as f:
            manifest = json.loads(f.read().decode("utf-8"))
    except ValueError as e:  # not UTF-8 or not JSON
        raise StatsError(f"{manifest_path} is not valid JSON: {e}") from e
    if not isinstance(manifest, dict):
        raise StatsError(f"{manifest_path} is not a build manifest (a JSON object)")
    if manifest.get("job") == "kg_reasoning":
        return manifest
    data = datacard.CardData(manifest=manifest)
    shards = _parquet_files(f"{output}/tasks/task=*/*.parquet")
    if not shards:
        raise StatsError(f"no task shards under {output}/tasks/task=<task>/: nothing to describe")
    for path in shards:
        task = path.rsplit("/task=", 1)[1].split("/", 1)[0]
        data.shard_files[task] += 1
        for batch in _batches(path, datacard.RECORD_COLUMNS):
            datacard.add_records(data, batch)
        if task == "screening":
            for batch in _batches(path, ("output",)):
                datacard.add_screening_targets(data, batch)
    _read_table(output, "articles", datacard.ARTICLE_COLUMNS, lambda b: datacard.add_articles(data, b))
    _read_table(output, "fulltexts", datacard.FULLTEXT_COLUMNS, lambda b: datacard.add_fulltexts(data, b))
    _read_table(output, "links", datacard.LINK_COLUMNS, lambda b: datacard.add_links(data, b))
    return data


def _write(path: str, payload: bytes) -> None:
    with FileSystems.create(path) as f:
        f.write(payload)


def write_card(output: str, data: datacard.CardData, plots: bool = True) -> list[str]:
    """Write README.md and (with ``plots``) card/*.png; returns the paths written."""
    output = output.rstrip("/")
    written = []
    if plots:
        for name, png in datacard.render_plots(data).items():
            written.append(f"{output}/card/{name}.png")
            _write(written[-1], png)
    written.append(f"{output}/README.md")
    _write(written[-1], datacard.render_card(data, plots=plots).encode("utf-8"))
    return written


def write_kg_card(output: str, manifest: dict) -> str:
    """The data card of a KG reasoning output (``transforms/kg/card.py``), recounted from its
    shards; prints a per-dataset table and returns the README path."""
    from transforms.kg import card
    output = output.rstrip("/")
    stats, example = card.KgCardStats(), None
    shards = _parquet_files(f"{output}/tasks/task=kg_reasoning/*.parquet")
    if not shards:
        raise StatsError(f"no shards under {output}/tasks/task=kg_reasoning/: nothing to describe")
    for path in shards:
        for batch in _batches(path, card.COLUMNS):
            rows = batch.to_pylist()
            card.add_rows(stats, rows)
            if rows:  # the record with the smallest id, whatever the sharding
                first = min(rows, key=lambda r: r["id"])
                example = first if example is None or first["id"] < example["id"] else example
    rejected = {}
    if FileSystems.exists(f"{output}/stats.json"):
        with FileSystems.open(f"{output}/stats.json") as f:
            by = json.loads(f.read().decode("utf-8"))["tasks"]["kg_reasoning"].get("by_dataset", {})
        rejected = {k.rsplit(".", 1)[0]: v for k, v in by.items() if k.endswith(".rejected")}
    _write(f"{output}/README.md", card.render_kg_card(manifest, stats, example, rejected).encode("utf-8"))
    for problem in card.manifest_mismatches(manifest, stats):
        print(f"warning: {problem}", file=sys.stderr)
    sys.stdout.write(card.render_summary(stats))
    print(f"Data card: {output}/README.md")
    return f"{output}/README.md"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="leadsinstruct stats",
        description="Write the data card (README.md and card/*.png) of a build output and print a per-task table.")
    parser.add_argument("output", help="the --output folder of a build (local or gs://)")
    parser.add_argument("--no_plots", action="store_true",
                        help="write README.md only (no card/*.png; matplotlib is not needed)")
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as e:  # --help, or a usage error argparse has reported
        return int(e.code or 0)
    if not args.no_plots and importlib.util.find_spec("matplotlib") is None:
        print("leadsinstruct stats: the plots need matplotlib (pip install matplotlib), or pass --no_plots",
              file=sys.stderr)
        return 1
    use_storage_emulator()
    try:
        data = load(args.output)
        if isinstance(data, dict):
            write_kg_card(args.output, data)
            data = None
    except StatsError as e:
        print(f"leadsinstruct stats: {e}", file=sys.stderr)
        return 1
    if data is None:  # a KG reasoning output: write_kg_card wrote its card above
        return 0
    written = write_card(args.output, data, plots=not args.no_plots)
    for problem in datacard.manifest_mismatches(data):
        print(f"warning: {problem}", file=sys.stderr)
    sys.stdout.write(datacard.render_summary(data))
    n_plots = len(written) - 1
    print(f"Data card: {written[-1]}" + (f" ({n_plots} plots in {args.output.rstrip('/')}/card/)" if n_plots else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
