"""Shuffles that hold compact bytes instead of live records.

The local runner keeps every grouped value as a live Python object until the consuming stage
runs; a record's object graph is several times its pickled size. These composites pack values
(``schemas.packing.pack``: nested tuples, zstd above 512 bytes) before grouping and unpack them per key after,
so a shuffle of N records holds N compact byte strings.

Composites:
- ``PackedGroupByKey()``: (K, V) → (K, list[V]), as ``beam.GroupByKey``.
- ``PackedCoGroupByKey()``: {tag: (K, V)} → (K, {tag: list[V]}), as ``beam.CoGroupByKey``.
"""
from __future__ import annotations

import apache_beam as beam

from schemas.packing import pack, unpack


def _pack_value(kv):
    return kv[0], pack(kv[1])


def _unpack_values(kv):
    return kv[0], [unpack(v) for v in kv[1]]


def _unpack_groups(kv):
    return kv[0], {tag: [unpack(v) for v in values] for tag, values in kv[1].items()}


class PackedGroupByKey(beam.PTransform):
    """(K, V) → (K, list[V]); values travel through the shuffle packed."""

    def expand(self, pcoll):
        return (pcoll | "Pack" >> beam.Map(_pack_value) | "Group" >> beam.GroupByKey()
                | "Unpack" >> beam.Map(_unpack_values))


class PackedCoGroupByKey(beam.PTransform):
    """{tag: PCollection of (K, V)} → (K, {tag: list[V]}); values travel through the shuffle packed."""

    def expand(self, pcolls):
        packed = {tag: pc | f"Pack_{tag}" >> beam.Map(_pack_value) for tag, pc in pcolls.items()}
        return packed | "Group" >> beam.CoGroupByKey() | "Unpack" >> beam.Map(_unpack_groups)
