"""Live progress of a local build: the lines a user sees, and that the last one adds up."""
from __future__ import annotations

import io
import json

from pipelines.build import run
from pipelines.progress import progress_line
from tests.test_joins import counters


def test_progress_line_format():
    counts = {"read.files": 3, "pubmed.parsed": 1200, "pmc.parsed": 10, "tasks.screening.built": 30,
              "tasks.arm_design.built": 12, "pubmed.parse.dead_letter": 2, "tasks.screening.inputs": 99}
    assert progress_line(counts, 2.0) == ("[build    2.0s] read: files 3 · pubmed 1,200 · pmc 10 (605/s)"
                                          " | records built: 42 (21/s) | dead letters: 2")
    assert progress_line({}, 0.0) == "[build    0.0s] read: starting | records built: 0"


def test_a_local_build_reports_progress_that_adds_up_to_the_manifest(tmp_path):
    stream = io.StringIO()
    result, manifest_path = run(["--output", str(tmp_path / "out"), "--snapshot_date", "2026-01-01",
                            "--progress_interval", "0.5"], progress_stream=stream)
    lines = stream.getvalue().splitlines()
    assert len(lines) >= 2 and all(ln.startswith("[build ") for ln in lines)
    manifest = json.load(open(manifest_path))
    last = lines[-1]
    assert f"records built: {manifest['total_records']} (" in last
    c = counters(result)  # the exact Beam counters: the live tally matches them in a local run
    assert f"pubmed {c['pubmed.parsed']} · pmc {c['pmc.parsed']} · ctgov {c['ctgov.parsed']} " in last
    assert c["pubmed.parsed"] == manifest["tables"]["articles"] + c["pubmed.superseded"] + c["pubmed.deleted"]
