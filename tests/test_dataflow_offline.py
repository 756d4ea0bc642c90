"""The build on Dataflow, checked without a cloud account: the job translated with
``--dry_run=True``; a classic template written to the Cloud Storage emulator and its staged
``pipeline.pb`` replayed locally with only the staged package installed; and a refresh whose build
is submitted to a local Dataflow REST stub (tests/dataflow_stub.py), whose job request is checked
(options, staged packages, container image, no secrets)."""
from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.portability.api import beam_runner_api_pb2

from pipelines.build import build
from pipelines.options import BuildOptions
from tests.dataflow_stub import DataflowStub

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("pipelines", "transforms", "schemas", "synth", "fetching")
# the build's top-level steps (pipelines/build.py), as Dataflow shows them
TOP_LEVEL = {
    "ParseInputFiles", "SelectLatestArticles", "SelectLatestFullTexts", "DropDeletedFullTexts",
    "SelectLatestTrials", "JoinStudyTrials", "AllReviewLinks", "AllCriteria", "JoinReviewStudies",
    "AddTopicNearNegatives", "BuildTaskRecords", "DeduplicateTaskRecords",
    "AllLinkRows", "AllUnresolved", "WriteTaskShards",
    "WriteArticles", "WriteFullTexts", "WriteTrials", "WriteLinks", "WriteReviewLinks", "WriteCriteria",
    "WriteDeletions", "WriteWithheldFullTexts", "WriteWithdrawnTrials", "WriteDeadLetters", "WriteUnresolved",
    "WriteRejected", "CountRejected", "CountRejectedReasons",
    "AllWrittenFiles", "CountArticles", "CountFullTexts", "CountTrials", "CountLinks", "CountDeadLetters",
    "CountUnresolved", "AllCounts", "WriteManifest"}


def dataflow_args(gcs, prefix: str, *extra) -> list[str]:
    return ["--runner=DataflowRunner", "--project=test-project", "--region=europe-west4",
            f"--temp_location={gcs.url(prefix)}/tmp", f"--setup_file={REPO / 'setup.py'}",
            f"--input_root={gcs.url(prefix)}/raw", f"--output={gcs.url(prefix)}/out",
            "--snapshot_date=2026-01-01", "--num_shards=1", *extra]


def package_modules() -> set[str]:
    """The Python files an sdist of the project must hold: setup.py and every module (no tests)."""
    return {"setup.py"} | {str(p.relative_to(REPO)) for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")}


def sdist_modules(data: bytes) -> set[str]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name.split("/", 1)[1] for m in tar.getmembers() if m.isfile() and m.name.endswith(".py")}


def staged_files(env: beam_runner_api_pb2.Environment) -> dict[str, str]:
    """{staged name: local path} of an environment's artifacts."""
    out = {}
    for d in env.dependencies:
        name = beam_runner_api_pb2.ArtifactStagingToRolePayload.FromString(d.role_payload).staged_name
        out[name] = beam_runner_api_pb2.ArtifactFilePayload.FromString(d.type_payload).path
    return out


def test_dry_run_translates_the_whole_build_for_dataflow(gcs):
    options = PipelineOptions(dataflow_args(gcs, "dry", "--dry_run=True"))
    p = beam.Pipeline(options=options)
    build(p, options.view_as(BuildOptions))
    result = p.run()  # translation, pickling of every DoFn, the sdist of setup.py; nothing submitted
    proto = result.job.proto_pipeline
    (root_id,) = proto.root_transform_ids  # the whole pipeline, its parts below it
    top = {proto.components.transforms[t].unique_name
           for t in proto.components.transforms[root_id].subtransforms}
    assert top == TOP_LEVEL
    names = {t.unique_name for t in proto.components.transforms.values()}
    for step in ("ParseInputFiles/ParseByContent", "ParseInputFiles/ReshuffleFiles",
                 "JoinStudyTrials", "BuildTaskRecords", "WriteTaskShards", "WriteManifest/WriteManifestJson"):
        assert step in names
    # every user function is in the job as a pickled payload, for the Python SDK container of our Beam
    (env_id, env), = proto.components.environments.items()
    assert env.urn == "beam:env:docker:v1"
    image = beam_runner_api_pb2.DockerPayload.FromString(env.payload).container_image
    assert image.endswith(f"beam_python3.11_sdk:{beam.__version__}")
    pardos = [t for t in proto.components.transforms.values() if t.spec.urn == "beam:transform:pardo:v1"]
    assert len(pardos) > 100
    # workers install the package from the sdist of setup.py, which holds every module
    staged = staged_files(env)
    assert "workflow.tar.gz" in staged
    assert sdist_modules(Path(staged["workflow.tar.gz"]).read_bytes()) == package_modules()
    assert gcs.names("dry/tmp") == []  # a dry run stages nothing


def test_a_refresh_submits_its_build_to_dataflow_with_options_packages_and_no_secrets(gcs, sample_dir, tmp_path,
                                                                                     monkeypatch):
    """The refresh fetches on this machine (fake services), then hands the build to a local
    Dataflow REST stub. The job request carries the build's options, the staged sdist and the Beam
    container image, and the NCBI key (given on the command line and in the environment) is in
    no request, no staged file and no output object."""
    from pipelines import refresh as R
    from tests.fakeservices import FakeServices, world_from_corpus
    secret = "ncbi-key-3f9d0c7a51e24b6b"
    monkeypatch.setenv("NCBI_API_KEY", secret)
    gcs.upload_tree(sample_dir / "links", "df/root/raw/links")
    root = gcs.url("df/root")
    with FakeServices(world_from_corpus(str(sample_dir))) as s, DataflowStub() as stub:
        summary = R.run([
            "--root", root, "--as_of", "2026-11-25", "--pubmed_query", "systematic review[pt]",
            "--eutils_base_url", s.eutils_base, "--ctgov_base_url", s.ctgov_base, "--requests_per_second", "50",
            "--ctgov_requests_per_second", "50", "--rate_limit_dir", str(tmp_path / "locks"),
            "--request_timeout", "2", "--backoff_base", "0.02", "--progress_interval", "0",
            "--ncbi_api_key", secret,
            "--runner", "DataflowRunner", "--project", "test-project", "--region", "europe-west4",
            "--temp_location", f"{root}/tmp", "--setup_file", str(REPO / "setup.py"),
            "--dataflow_endpoint", stub.endpoint, "--num_workers", "3", "--max_num_workers", "8",
            "--machine_type", "n2-standard-4", "--service_account_email", "builder@test-project.iam.gserviceaccount.com",
            "--subnetwork", "regions/europe-west4/subnetworks/private", "--no_use_public_ips",
            "--num_shards", "1"])
        assert all(h.params.get("api_key") == secret for h in s.hits_of("esearch", "efetch", "elink"))
    # submitted, not yet complete: the job itself finishes the snapshot and moves the watermarks
    assert summary["status"] == "submitted" and summary["new_raw_files"] > 0
    assert "_SUCCESS" not in gcs.names("df/root/snapshots/2026-11-25")
    assert "state/watermarks.json" not in gcs.names("df/root")
    job, = stub.created_jobs()
    post = [r for r in stub.requests if r.method == "POST"]
    assert [r.path.split("?")[0] for r in post] == ["/v1b3/projects/test-project/locations/europe-west4/jobs"]
    assert job["type"] in (1, "JOB_TYPE_BATCH")
    opts = {o["key"]: o["value"] for o in job["environment"]["sdkPipelineOptions"]["display_data"]}
    snap = f"{root}/snapshots/2026-11-25"
    assert opts["input_root"] == f"{root}/raw" and opts["output"] == snap
    assert opts["input_list"] == f"{snap}/new_input_files.txt" and opts["snapshot_date"] == "2026-11-25"
    assert (opts["num_workers"], opts["max_num_workers"], opts["machine_type"]) == (3, 8, "n2-standard-4")
    assert opts["service_account_email"] == "builder@test-project.iam.gserviceaccount.com"
    assert opts["subnetwork"] == "regions/europe-west4/subnetworks/private"
    pool, = job["environment"]["workerPools"]
    assert pool["numWorkers"] == 3 and pool["machineType"] == "n2-standard-4"
    assert pool.get("ipConfiguration") in ("WORKER_IP_PRIVATE", 2)
    image, = {c["containerImage"] for c in pool["sdkHarnessContainerImages"]}
    assert image.endswith(f"beam_python3.11_sdk:{beam.__version__}")
    packages = {p["name"]: p["location"] for p in pool["packages"]}
    assert "workflow.tar.gz" in packages and "pipeline.pb" not in packages
    bucket = gcs.client().bucket(gcs.bucket)
    prefix = packages["workflow.tar.gz"].split(f"storage.googleapis.com/{gcs.bucket}/", 1)[1]
    assert sdist_modules(bucket.blob(prefix).download_as_bytes()) == package_modules()
    # no secret anywhere: requests to the service, staged files, outputs, raw zone
    assert all(secret.encode() not in r.raw and secret not in r.path for r in stub.requests)
    for name in gcs.names("df/root"):
        data = bucket.blob(f"df/root/{name}").download_as_bytes()
        blobs = [data]
        if name.endswith(".tar.gz"):
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
                blobs += [tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()]
        assert all(secret.encode() not in b for b in blobs), name
    assert any(n.endswith("/pipeline.pb") for n in gcs.names("df/root/tmp"))


REPLAY = '''\
"""Run a Dataflow job's staged pipeline.pb on the local FnApiRunner (argv: pipeline.pb)."""
import sys

import apache_beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.portability import python_urns
from apache_beam.portability.api import beam_runner_api_pb2
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

import pipelines
from transforms.runtime import use_storage_emulator

use_storage_emulator()
proto = beam_runner_api_pb2.Pipeline.FromString(open(sys.argv[1], "rb").read())
for env in proto.components.environments.values():  # the Dataflow container -> this process
    env.urn, env.payload = python_urns.EMBEDDED_PYTHON, b""
    del env.dependencies[:]
result = FnApiRunner().run_via_runner_api(proto, PipelineOptions([]))
print(result.wait_until_finish(), pipelines.__file__, apache_beam.__file__)
'''


def test_classic_template_is_staged_to_gcs_and_its_pipeline_replays_from_the_staged_package(gcs, sample_dir,
                                                                                            tmp_path):
    """``--template_location`` writes the job file and stages pipeline.pb and the sdist on the
    emulator; the staged pipeline, run locally in a virtualenv holding only the staged sdist (no
    source tree), writes exactly the records of a local build."""
    from tests.installed_env import installed_python, run_isolated
    from tests.test_build_pipeline import read_task, run_build
    from tests.test_gcs import by_id, read_gs_parquet, relocate
    from transforms.tasks.common import TASKS
    gcs.upload_tree(sample_dir, "tmpl/raw")
    template = gcs.url("tmpl/templates/build.json")
    options = PipelineOptions(dataflow_args(gcs, "tmpl", f"--template_location={template}",
                                            f"--staging_location={gcs.url('tmpl/staging')}"))
    p = beam.Pipeline(options=options)
    build(p, options.view_as(BuildOptions))
    p.run()
    bucket = gcs.client().bucket(gcs.bucket)
    job = json.loads(bucket.blob("tmpl/templates/build.json").download_as_bytes())
    pool, = job["environment"]["workerPools"]
    packages = {p["name"]: p["location"] for p in pool["packages"]}
    assert "workflow.tar.gz" in packages
    staged = gcs.names("tmpl/staging")
    pb, = [n for n in staged if n.endswith("/pipeline.pb")]
    sdist, = [n for n in staged if n.endswith("/workflow.tar.gz")]
    assert packages["workflow.tar.gz"].endswith(f"tmpl/staging/{sdist}")
    local = {}
    for name in (pb, sdist):
        local[name] = tmp_path / name.rsplit("/", 1)[1]
        bucket.blob(f"tmpl/staging/{name}").download_to_filename(str(local[name]))
    python = installed_python(tmp_path / "venv", local[sdist])
    (tmp_path / "replay.py").write_text(REPLAY)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    proc = run_isolated(python, tmp_path / "replay.py", local[pb], cwd=run_dir,
                        env={**gcs.variables(), "GOOGLE_APPLICATION_CREDENTIALS": os.devnull})
    state, package_file, _ = proc.stdout.split()
    assert state == "DONE" and package_file.startswith(str(tmp_path / "venv"))
    out = tmp_path / "local"
    manifest, _ = run_build(sample_dir, out)
    assert json.loads(bucket.blob("tmpl/out/manifest.json").download_as_bytes())["tasks"] == manifest["tasks"]
    for task in TASKS:
        expected = [relocate(r, str(sample_dir), gcs.url("tmpl/raw")) for r in read_task(out, task)]
        assert by_id(read_gs_parquet(gcs, f"tmpl/out/tasks/task={task}")) == by_id(expected)
