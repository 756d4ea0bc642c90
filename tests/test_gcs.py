"""gs:// end to end against a real Cloud Storage emulator on 127.0.0.1 (tests/gcs_emulator.py):
a whole build from a gs:// raw zone to gs:// Parquet shards equals the local build record for
record; the fetch writes its raw zone to gs://; and the project's emulator setting
(``transforms.runtime.use_storage_emulator``) is what makes Beam's gs:// path work offline."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.test_build_pipeline import read_task, run_build
from transforms.tasks.common import TASKS

REPO = Path(__file__).resolve().parents[1]
TABLES = ("articles", "fulltexts", "trials", "links", "review_links", "criteria", "deletions")


def fake_adc(tmp_path: Path) -> Path:
    """Application Default Credentials as a gcloud login leaves them (never valid offline)."""
    path = tmp_path / "adc.json"
    path.write_text(json.dumps({"type": "authorized_user", "client_id": "x.apps.googleusercontent.com",
                                "client_secret": "x", "refresh_token": "x"}))
    return path


def relocate(value, old: str, new: str):
    """``value`` with every string prefix ``old`` replaced by ``new`` (the input root in sources)."""
    if isinstance(value, str):
        return new + value[len(old):] if value.startswith(old) else value
    if isinstance(value, list):
        return [relocate(v, old, new) for v in value]
    if isinstance(value, dict):
        return {k: relocate(v, old, new) for k, v in value.items()}
    return value


def read_gs_parquet(gcs, prefix: str) -> list[dict]:
    rows = []
    bucket = gcs.client().bucket(gcs.bucket)
    for name in gcs.names(prefix):
        if name.endswith(".parquet"):
            data = bucket.blob(f"{prefix}/{name}").download_as_bytes()
            rows += pq.read_table(io.BytesIO(data)).to_pylist()
    return rows


def read_local_table(out: Path, name: str) -> list[dict]:
    rows = []
    for f in sorted((out / "tables" / name).glob("*.parquet")):
        rows += pq.read_table(f).to_pylist()
    return rows


def by_id(rows, key="id"):
    return sorted(rows, key=lambda r: json.dumps(r.get(key), sort_keys=True) + json.dumps(r, sort_keys=True,
                                                                                           default=str))


@pytest.fixture(scope="module")
def gs_build(gcs, sample_dir, tmp_path_factory):
    """The sample raw zone uploaded to gs://, built by the CLI in a subprocess to gs:// output, with
    Application Default Credentials present that cannot work offline; and the local build of the
    same files."""
    tmp = tmp_path_factory.mktemp("gsbuild")
    uploaded = gcs.upload_tree(sample_dir, "gsbuild/raw")
    env = gcs.env(GOOGLE_APPLICATION_CREDENTIALS=str(fake_adc(tmp)))
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "build", "--input_root", gcs.url("gsbuild/raw"),
         "--output", gcs.url("gsbuild/out"), "--snapshot_date", "2026-01-01", "--num_shards", "1",
         "--runner", "FnApiRunner"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    local_out = tmp / "local"
    manifest, _ = run_build(sample_dir, local_out)
    return {"uploaded": uploaded, "stdout": proc.stdout, "stderr": proc.stderr, "local": local_out,
            "local_manifest": manifest}


def test_build_from_gs_to_gs_writes_the_local_records(gcs, sample_dir, gs_build):
    local_root, gs_root = str(sample_dir), gcs.url("gsbuild/raw")
    names = gcs.names("gsbuild/out")
    # the same layout as a local build: one shard per task and table, manifest and stats
    assert {f"tasks/task={t}/part-00000-of-00001.parquet" for t in TASKS} <= set(names)
    assert {"manifest.json", "stats.json"} <= set(names)
    assert not [n for n in names if "beam-temp" in n or n.startswith(".")]  # temporary files are gone
    bucket = gcs.client().bucket(gcs.bucket)
    manifest = json.loads(bucket.blob("gsbuild/out/manifest.json").download_as_bytes())
    local = gs_build["local_manifest"]
    assert manifest["tasks"] == local["tasks"] == {"search_query": 5, "screening": 27, "study_characteristics": 24,
                                                   "arm_design": 24, "participant_statistics": 68,
                                                   "trial_results": 72}
    assert manifest["inputs"] == [f"{gs_root}/{d}/**" for d in ("pubmed", "pmc", "ctgov", "links")]
    assert {k: v for k, v in manifest.items() if k != "inputs"} == {k: v for k, v in local.items() if k != "inputs"}
    for task in TASKS:
        gs_rows = read_gs_parquet(gcs, f"gsbuild/out/tasks/task={task}")
        local_rows = [relocate(r, local_root, gs_root) for r in read_task(gs_build["local"], task)]
        assert len(gs_rows) == local["tasks"][task]
        assert by_id(gs_rows) == by_id(local_rows)  # every field, sources pointing at gs://
    for table in TABLES:
        gs_rows = read_gs_parquet(gcs, f"gsbuild/out/tables/{table}")
        local_rows = [relocate(r, local_root, gs_root) for r in read_local_table(gs_build["local"], table)]
        assert by_id(gs_rows, None) == by_id(local_rows, None), table
    assert all(s.startswith(gs_root) for r in read_gs_parquet(gcs, "gsbuild/out/tasks/task=arm_design")
               for s in r["sources"])


def test_a_rebuild_into_the_same_gs_output_leaves_no_stale_shards(gcs, sample_dir, gs_build, tmp_path):
    """A second build into the same gs:// output with other shard counts replaces the first."""
    from pipelines.build import run
    run(["--input_root", gcs.url("gsbuild/raw"), "--output", gcs.url("gsbuild/out2"), "--snapshot_date",
         "2026-01-01", "--num_shards", "2"])
    first = gcs.names("gsbuild/out2")
    assert "tasks/task=screening/part-00001-of-00002.parquet" in first
    run(["--input_root", gcs.url("gsbuild/raw"), "--output", gcs.url("gsbuild/out2"), "--snapshot_date",
         "2026-01-01", "--num_shards", "1"])
    second = gcs.names("gsbuild/out2")
    assert [n for n in second if n.startswith("tasks/")] == sorted(
        f"tasks/task={t}/part-00000-of-00001.parquet" for t in TASKS)
    assert len(read_gs_parquet(gcs, "gsbuild/out2/tasks/task=screening")) == 27


def test_the_emulator_setting_skips_credential_discovery(gcs):
    """With STORAGE_EMULATOR_HOST set, Beam's credential lookup is settled as anonymous, so its
    storage client goes to the emulator without tokens; without it nothing is changed."""
    code = ("import os, time\n"
            "from apache_beam.internal.gcp import auth\n"
            "from transforms.runtime import use_storage_emulator\n"
            "print(use_storage_emulator(), auth._Credentials._credentials_init)\n"
            "from apache_beam.io.filesystems import FileSystems\n"
            "with FileSystems.create('gs://%s/probe/x.txt') as f: f.write(b'probe')\n"
            "print(FileSystems.open('gs://%s/probe/x.txt').read().decode())\n" % (gcs.bucket, gcs.bucket))
    env = gcs.env()
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.stdout.split() == ["True", "True", "probe"], proc.stderr[-2000:]
    env.pop("STORAGE_EMULATOR_HOST")
    proc = subprocess.run([sys.executable, "-c", code.split("from apache_beam.io")[0]], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.stdout.split() == ["False", "False"], proc.stderr[-2000:]


def test_fetch_writes_its_raw_zone_to_gs_and_the_build_reads_it(gcs, sample_dir, tmp_path):
    """The fetch against local fake services into a gs:// raw zone holds exactly what a complete
    fetch must (the same checks as the local fetch tests), a rerun writes nothing, and the build
    reads it from gs://."""
    from fetching.run import Fetcher
    from tests.fakeservices import FakeServices, world_from_corpus
    from tests.test_fetch_services import assert_complete, config
    world = world_from_corpus(str(sample_dir))
    gcs.upload_tree(sample_dir / "links", "fetch/raw/links")
    raw = gcs.url("fetch/raw")
    with FakeServices(world) as s:
        report = Fetcher(config(raw, s, tmp_path)).run()
        assert report["dead_letters"] == 2 and report["failed_requests"] == 0
        n_requests = len(s.hits)
        again = Fetcher(config(raw, s, tmp_path)).run()
        assert [h.group for h in s.hits[n_requests:]] == ["esearch"] and again["files_written"] == 0
    names = gcs.names("fetch/raw")
    assert not [n for n in names if n.rsplit("/", 1)[-1].startswith(".")]  # no temporary objects left
    local = tmp_path / "raw"
    assert gcs.download_tree("fetch/raw", local) == len(names)
    pmids, pmcids, ncts, missing = assert_complete(local, world)
    assert (len(pmids), len(pmcids), len(ncts)) == (41, 15, 18)
    assert missing == {("fetch.ctgov", "NCT09000009"), ("fetch.ctgov", "NCT09000016")}
    from pipelines.build import run
    result, manifest_path = run(["--input_root", raw, "--output", gcs.url("fetch/out"),
                                 "--snapshot_date", "2026-01-01", "--num_shards", "1"])
    manifest = json.loads(gcs.client().bucket(gcs.bucket).blob("fetch/out/manifest.json").download_as_bytes())
    assert manifest_path == gcs.url("fetch/out") + "/manifest.json"
    assert manifest["rejected_reasons"] == {"split.leak": 6}  # candidates in another review's split
    assert manifest["tasks"] == {"search_query": 5, "screening": 27, "study_characteristics": 18,
                                 "arm_design": 18, "participant_statistics": 48, "trial_results": 52}
    assert manifest["unresolved"] == {"trial": 2}
