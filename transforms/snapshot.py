"""Finish a refresh snapshot inside the pipeline, so that it completes wherever the job runs
(locally, on Dataflow, or launched from a Flex Template whose launcher does not wait).

Composite: ``FinalizeSnapshot(root, as_of, previous, summary, watermarks)``: the manifest dict
(emitted by ``WriteManifest`` once every output file is final) → nothing; writes, in this order,
``snapshots/<as_of>/refresh.json`` (window, new raw files, record-id diff against the previous
snapshot), the manifest's ``refresh`` section, ``snapshots/<as_of>/_SUCCESS`` and
``state/watermarks.json``. Counter ``refresh.finalized``.
"""
from __future__ import annotations

import json
from typing import Optional

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from transforms.metrics import inc
from transforms.runtime import use_storage_emulator

WATERMARKS = "state/watermarks.json"


def record_ids(snapshot: str) -> dict[str, set]:
    """{task: record ids} of a snapshot's task shards."""
    import pyarrow.parquet as pq
    out: dict[str, set] = {}
    for m in FileSystems.match([f"{snapshot.rstrip('/')}/tasks/task=*/*.parquet"])[0].metadata_list:
        task = m.path.split("/task=", 1)[1].split("/", 1)[0]
        with FileSystems.open(m.path) as f:
            out.setdefault(task, set()).update(pq.read_table(f, columns=["id"]).column(0).to_pylist())
    return out


def record_diff(previous: dict[str, set], current: dict[str, set]) -> dict:
    """Records added, removed and unchanged (by id) per task and in total."""
    per = {}
    for t in sorted(set(previous) | set(current)):
        a, b = previous.get(t, set()), current.get(t, set())
        per[t] = {"added": len(b - a), "removed": len(a - b), "unchanged": len(a & b)}
    return {"tasks": per, **{k: sum(v[k] for v in per.values()) for k in ("added", "removed", "unchanged")}}


def _write_json(path: str, obj) -> None:
    with FileSystems.create(path) as f:
        f.write(json.dumps(obj, indent=2).encode("utf-8"))


class _FinalizeFn(beam.DoFn):
    def __init__(self, root: str, as_of: str, previous: Optional[str], summary: dict, watermarks: dict):
        self._root, self._as_of, self._previous = root.rstrip("/"), as_of, previous
        self._summary, self._watermarks = summary, watermarks

    def setup(self):
        use_storage_emulator()

    def process(self, manifest: dict):
        snap = f"{self._root}/snapshots/{self._as_of}"
        prev = f"{self._root}/snapshots/{self._previous}" if self._previous else None
        import transforms.snapshot as S  # looked up at call time (tests replace it to simulate a crash)
        diff = S.record_diff(S.record_ids(prev) if prev else {}, S.record_ids(snap))
        summary = {**self._summary, "records": diff, "total_records": manifest["total_records"],
                   "watermarks": self._watermarks}
        _write_json(f"{snap}/refresh.json", summary)
        _write_json(f"{snap}/manifest.json", {**manifest, "refresh": {k: v for k, v in summary.items()
                                                                     if k != "watermarks"}})
        with FileSystems.create(f"{snap}/_SUCCESS") as f:
            f.write(b"")
        # last: the snapshot becomes current, unless a later one already is (a slow job finishing late)
        wm_path = f"{self._root}/{WATERMARKS}"
        current = None
        if FileSystems.exists(wm_path):
            with FileSystems.open(wm_path) as f:
                current = json.loads(f.read().decode("utf-8")).get("snapshot")
        if current is None or current <= self._as_of:
            _write_json(wm_path, self._watermarks)
        inc("refresh.finalized")
        yield summary


class FinalizeSnapshot(beam.PTransform):
    """manifest dict → the snapshot marked complete and the watermarks moved (see module doc)."""

    def __init__(self, root: str, as_of: str, previous: Optional[str], summary: dict, watermarks: dict):
        super().__init__()
        self._fn = _FinalizeFn(root, as_of, previous, summary, watermarks)

    def expand(self, manifest):
        return manifest | "Finalize" >> beam.ParDo(self._fn)
