"""The data card of a KG reasoning output (pure; no Beam import): statistics recounted from the
``kg_reasoning`` shards, and the card's markdown (Hugging Face dataset-card form).

``add_rows(stats, rows)`` takes rows of the shards (dicts with the ``KgReasoningRecord`` columns
``dataset``, ``split``, ``entities``, ``paths``, ``reasoning_method``, ``validation``, ``input``,
``output``); ``render_kg_card(manifest, stats, example, rejected_by_dataset)`` writes the card; ``manifest_mismatches``
lists where the shards disagree with ``manifest.json``.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

from transforms.datacard import markdown_table

COLUMNS = ("id", "dataset", "qa_id", "split", "entities", "paths", "reasoning_method", "validation", "input",
           "output", "kg")


@dataclass
class KgCardStats:
    records: int = 0
    by_dataset: Counter = field(default_factory=Counter)
    split: Counter = field(default_factory=Counter)
    links: Counter = field(default_factory=Counter)
    hops: Counter = field(default_factory=Counter)
    paths_per_record: Counter = field(default_factory=Counter)
    method: Counter = field(default_factory=Counter)
    relations: Counter = field(default_factory=Counter)
    kg: Counter = field(default_factory=Counter)
    output_chars: int = 0


def add_rows(stats: KgCardStats, rows: list[dict]) -> None:
    for r in rows:
        stats.records += 1
        stats.by_dataset[r["dataset"]] += 1
        stats.split[r["split"]] += 1
        stats.method[f'{r["reasoning_method"]} / {r["validation"]}'] += 1
        stats.kg[r["kg"]] += 1
        stats.paths_per_record[len(r["paths"])] += 1
        stats.output_chars += len(r["output"])
        for e in r["entities"]:
            stats.links[(e["role"], e["method"])] += 1
        for p in r["paths"]:
            stats.hops[len(p["steps"])] += 1
            for s in p["steps"]:
                stats.relations[s["relation"]] += 1


def manifest_mismatches(manifest: dict, stats: KgCardStats) -> list[str]:
    n = manifest.get("total_records")
    return [] if n == stats.records else [f"manifest.json counts {n} records, the shards hold {stats.records}"]


def _table(header: list[str], rows: list[list], align: str = "") -> list[str]:
    """A markdown table (numbers right-aligned; see ``markdown_table``) and a blank line."""
    return markdown_table(header, rows, align) + [""]


def render_summary(stats: KgCardStats) -> str:
    lines = [f"{'dataset':<14}{'records':>10}", "-" * 24]
    lines += [f"{d:<14}{n:>10}" for d, n in sorted(stats.by_dataset.items())]
    lines += ["-" * 24, f"{'total':<14}{stats.records:>10}"]
    return "\n".join(lines) + "\n"


def render_kg_card(manifest: dict, stats: KgCardStats, example: Optional[dict] = None,
                   rejected_by_dataset: Optional[dict] = None) -> str:
    """The card's markdown; ``rejected_by_dataset``: {dataset: rejected records} (from stats.json)."""
    rejected_by_dataset = rejected_by_dataset or {}
    n = stats.records
    front = ["---", "language:", "- en", "license: other", "task_categories:", "- question-answering",
             "tags:", "- medical", "- knowledge-graph", "- reasoning", "configs:", "- config_name: kg_reasoning",
             "  data_files: tasks/task=kg_reasoning/*.parquet", "---", ""]
    lines = front + [
        "# KG-guided clinical reasoning records", "",
        f"{n:,} records (task `kg_reasoning`) from {manifest.get('qa_read', 0):,} QA pairs: each question's "
        "and answer's entities are linked to a knowledge graph, the shortest paths between them are "
        "searched, and a chain of reasoning is written along the best paths. A record is kept only "
        "when a path reaches the answer" + (" and the model's answer from the chain alone is the known one"
                                            if any("llm" in m for m in stats.method) else "") + ".", "",
        f"Knowledge graph: {', '.join(f'`{k}`' for k in sorted(stats.kg)) or 'none'}. Built on "
        f"{manifest.get('options', {}).get('snapshot_date', '?')}.", "",
        "## Records", ""]
    lines += _table(["dataset", "records", "rejected"],
                    [[d, stats.by_dataset.get(d, 0), rejected_by_dataset.get(d, 0)]
                     for d in sorted(set(stats.by_dataset) | set(manifest.get("qa_by_dataset", {})))])
    lines += _table(["split", "records"], [[s, stats.split[s]] for s in sorted(stats.split)])
    lines += ["## What was not kept", "",
              f"{manifest.get('rejected_total', 0):,} records failed validation (`rejected/`, with reasons) and "
              f"{manifest.get('dead_letters_total', 0):,} input records could not be read or reasoned over "
              "(`dead_letter/`).", ""]
    lines += _table(["reason", "records"], [[f"`{k}`", v] for k, v in manifest.get("rejected_reasons", {}).items()])
    lines += ["## Entity links", ""]
    lines += _table(["role", "method", "mappings"], [[r, m, c] for (r, m), c in sorted(stats.links.items())],
                    "llr")
    lines += ["## Paths", ""]
    lines += _table(["hops", "paths"], [[h, stats.hops[h]] for h in sorted(stats.hops)])
    lines += _table(["paths on a record", "records"], [[k, stats.paths_per_record[k]]
                                                       for k in sorted(stats.paths_per_record)])
    lines += _table(["relation", "steps"], [[r, c] for r, c in stats.relations.most_common(10)])
    lines += _table(["chain / validation", "records"], [[m, c] for m, c in sorted(stats.method.items())])
    if n:
        lines += [f"Mean target length: {stats.output_chars / n:,.0f} characters.", ""]
    lines += ["## Loading", "", "```python", "from datasets import load_dataset",
              "ds = load_dataset(\"parquet\", data_files=\"tasks/task=kg_reasoning/*.parquet\")[\"train\"]",
              "```", ""]
    if example:
        lines += ["## Example", "", "```json", json.dumps({k: example[k] for k in ("id", "qa_id", "input", "output")},
                                                         ensure_ascii=False, indent=2), "```", ""]
    return "\n".join(lines)
