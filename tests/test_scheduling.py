"""Scheduling set-ups for ``leadsinstruct refresh``: the cron wrapper, the Airflow DAG, the Flex
Template and its Cloud Scheduler job (docs/scheduling.md).

The Airflow tests run the DAG under real Airflow, which lives in its own virtualenv (it cannot
share one with Beam 2.77): ``$LEADSINSTRUCT_AIRFLOW_PYTHON``, else ``<repo>/.venv-airflow/bin/python``.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import stat
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
REFRESH_SH = DEPLOY / "cron" / "refresh.sh"
DAG_FILE = DEPLOY / "airflow" / "leadsinstruct_refresh_dag.py"
METADATA = DEPLOY / "flex_template" / "metadata.json"
DOCKERFILE = DEPLOY / "flex_template" / "Dockerfile"
LAUNCH_BODY = DEPLOY / "cloud_scheduler" / "launch_body.json"
CREATE_JOB_SH = DEPLOY / "cloud_scheduler" / "create_job.sh"

KEY = "test-key-5f1c9a3e"
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ")
TEMPLATE_PARAMETERS = ["root", "as_of", "pubmed_query", "ctgov_query", "email", "medline_updates_url"]


def _utc_days_around(fn):
    """Run fn(); return its result and the UTC days before and after it (a run may span midnight)."""
    before = datetime.now(timezone.utc).date().isoformat()
    result = fn()
    return result, {before, datetime.now(timezone.utc).date().isoformat()}


# --------------------------------------------------------------------------------------------
# cron: deploy/cron/refresh.sh

STUB = """#!{python}
import json, os, sys, time
from pathlib import Path
out = Path({out!r})
with open(out / "calls.jsonl", "a") as f:
    f.write(json.dumps({{"argv": sys.argv[1:], "env": dict(os.environ)}}) + "\\n")
print("GET https://eutils.ncbi.nlm.nih.gov/entrez/eutils/esearch.fcgi?db=pubmed&api_key="
      + os.environ.get("NCBI_API_KEY", ""), flush=True)
print("fetch progress on stderr", file=sys.stderr, flush=True)
(out / "started").touch()
deadline = time.time() + 30
while not (out / "release").exists() and time.time() < deadline:
    time.sleep(0.05)
sys.exit({exit_code})
"""


class CronSetup:
    def __init__(self, tmp: Path, env_lines: list[str], mode: int = 0o600, exit_code: int = 0):
        self.tmp = tmp
        self.out = tmp / "stub_out"
        self.out.mkdir()
        self.stub = tmp / "bin" / "leadsinstruct"
        self.stub.parent.mkdir()
        self.stub.write_text(STUB.format(python=sys.executable, out=str(self.out), exit_code=exit_code))
        self.stub.chmod(0o755)
        self.root = str(tmp / "leads root")
        self.logs = tmp / "logs"
        self.env_file = tmp / "refresh.env"
        self.env_file.write_text("\n".join([
            f"LEADSINSTRUCT_ROOT='{self.root}'",
            f"LEADSINSTRUCT_BIN={self.stub}",
            f"LEADSINSTRUCT_LOG_DIR={self.logs}",
            *env_lines,
        ]) + "\n")
        self.env_file.chmod(mode)

    def env(self) -> dict:
        return {"PATH": "/usr/bin:/bin", "HOME": str(self.tmp), "LEADSINSTRUCT_ENV_FILE": str(self.env_file)}

    def run(self) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(REFRESH_SH)], env=self.env(), capture_output=True, text=True, timeout=60)

    def release(self) -> None:
        (self.out / "release").touch()

    def calls(self) -> list[dict]:
        path = self.out / "calls.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def log_messages(self, days: set[str]) -> list[str]:
        logs = sorted(self.logs.glob("refresh-*.log"))
        assert [p.name for p in logs] in [[f"refresh-{d}.log"] for d in sorted(days)]
        lines = logs[0].read_text().splitlines()
        assert all(STAMP.match(line) for line in lines), lines
        return [STAMP.sub("", line) for line in lines]


def test_cron_runs_refresh_with_root_and_args_and_key_only_in_environment(tmp_path):
    cron = CronSetup(tmp_path, [
        "LEADSINSTRUCT_ARGS=(--as_of 2026-11-25 --pubmed_query 'systematic review[pt] AND 2024[dp]' "
        "--runner FnApiRunner --ncbi_api_key_env NCBI_API_KEY)",
        f"NCBI_API_KEY={KEY}",
    ])
    cron.release()
    result, days = _utc_days_around(cron.run)

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    [call] = cron.calls()
    assert call["argv"] == ["refresh", "--root", cron.root, "--as_of", "2026-11-25",
                            "--pubmed_query", "systematic review[pt] AND 2024[dp]", "--runner", "FnApiRunner",
                            "--ncbi_api_key_env", "NCBI_API_KEY"]
    assert call["env"]["NCBI_API_KEY"] == KEY
    assert call["env"]["LEADSINSTRUCT_ROOT"] == cron.root
    assert cron.log_messages(days) == [
        f"start: {cron.stub} refresh --root {tmp_path}/leads\\ root --as_of 2026-11-25 --pubmed_query "
        "systematic\\ review\\[pt\\]\\ AND\\ 2024\\[dp\\] --runner FnApiRunner --ncbi_api_key_env NCBI_API_KEY",
        "GET https://eutils.ncbi.nlm.nih.gov/entrez/eutils/esearch.fcgi?db=pubmed&api_key=***",
        "fetch progress on stderr",
        "done: exit 0",
    ]
    [log_file] = cron.logs.glob("refresh-*.log")
    logged = [p for p in cron.logs.rglob("*") if p.is_file()]
    assert sorted(p.name for p in logged) == sorted([log_file.name, "refresh.lock"])
    assert [p.name for p in logged if KEY in p.read_text()] == []
    assert stat.S_IMODE(cron.logs.stat().st_mode) == 0o750


def test_cron_splits_string_args_and_passes_on_the_exit_code(tmp_path):
    cron = CronSetup(tmp_path, ['LEADSINSTRUCT_ARGS="--email ops@example.org --tool leadsinstruct-ci"'],
                     mode=0o644, exit_code=3)  # no key in the file: readable by others is allowed
    cron.release()
    result, days = _utc_days_around(cron.run)

    log = cron.logs / f"refresh-{min(days)}.log"
    assert result.returncode == 3
    assert result.stdout == ""
    assert STAMP.sub("", result.stderr) == f"failed: exit 3 (log: {log})\n"
    [call] = cron.calls()
    assert call["argv"] == ["refresh", "--root", cron.root, "--email", "ops@example.org", "--tool", "leadsinstruct-ci"]
    assert "NCBI_API_KEY" not in call["env"]
    assert cron.log_messages(days)[-1] == f"failed: exit 3 (log: {log})"


def test_cron_second_run_exits_0_while_the_first_holds_the_lock(tmp_path):
    cron = CronSetup(tmp_path, [f"NCBI_API_KEY={KEY}"])
    first = subprocess.Popen(["bash", str(REFRESH_SH)], env=cron.env(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 30
        while not (cron.out / "started").exists():
            assert first.poll() is None and time.time() < deadline, "the first run did not start the stub"
            time.sleep(0.05)
        second = cron.run()
        assert second.returncode == 0
        assert STAMP.sub("", second.stdout) == (
            f"previous refresh still running (lock {cron.logs}/refresh.lock held); not starting another\n")
        assert second.stderr == ""
        assert len(cron.calls()) == 1
    finally:
        cron.release()
        out, err = first.communicate(timeout=60)
    assert (first.returncode, out, err) == (0, "", "")
    assert len(cron.calls()) == 1
    days = {datetime.now(timezone.utc).date().isoformat()}
    messages = cron.log_messages(days)
    assert messages[0].startswith(f"start: {cron.stub} refresh --root ")
    assert messages[-1] == "done: exit 0"
    assert ("previous refresh still running (lock "
            f"{cron.logs}/refresh.lock held); not starting another") in messages


@pytest.mark.parametrize("mode", [0o640, 0o604])
def test_cron_refuses_an_env_file_with_the_key_that_others_can_read(tmp_path, mode):
    cron = CronSetup(tmp_path, [f"export NCBI_API_KEY={KEY}"], mode=mode)
    cron.release()
    result = cron.run()

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (f"refresh.sh: {cron.env_file} holds NCBI_API_KEY but is readable by group or others "
                             f"(mode {mode:o}): chmod 600 {cron.env_file}\n")
    assert cron.calls() == []
    assert not cron.logs.exists()


@pytest.mark.parametrize("env_lines, mode, message", [
    (["LEADSINSTRUCT_ARGS='--ncbi_api_key abc'"], 0o600,
     "LEADSINSTRUCT_ARGS must not carry the api key (--ncbi_api_key); set NCBI_API_KEY in {env}"),
    (["LEADSINSTRUCT_ROOT="], 0o600, "LEADSINSTRUCT_ROOT is not set in {env}"),
    ([], 0o620, "{env} is writable by group or others (mode 620); it is run as shell code: chmod go-w {env}"),
])
def test_cron_refuses_bad_configuration_with_exit_2(tmp_path, env_lines, mode, message):
    cron = CronSetup(tmp_path, env_lines, mode=mode)
    cron.release()
    result = cron.run()

    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"refresh.sh: {message.format(env=cron.env_file)}\n"
    assert cron.calls() == []


# --------------------------------------------------------------------------------------------
# Airflow: deploy/airflow/leadsinstruct_refresh_dag.py, under real Airflow in its own venv

AIRFLOW_VENV_COMMAND = ("python3 -m venv .venv-airflow && "
                        ".venv-airflow/bin/pip install -q -r deploy/airflow/requirements-airflow.txt")

PARSE_DAG = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
from airflow.providers.google.cloud.operators.dataflow import DataflowConfiguration

bag = DagBag(dag_folder=sys.argv[1])
out = {"import_errors": {k: str(v) for k, v in bag.import_errors.items()}, "dag_ids": sorted(bag.dags)}
dag = bag.dags.get("leadsinstruct_refresh")
if dag is not None:
    args = dag.default_args
    out.update(dag_id=dag.dag_id, schedule=dag.schedule, timetable=type(dag.timetable).__name__,
               catchup=dag.catchup, max_active_runs=dag.max_active_runs, retries=args["retries"],
               retry_delay_s=args["retry_delay"].total_seconds(),
               execution_timeout_s=args["execution_timeout"].total_seconds(),
               task_ids=sorted(dag.task_ids), tasks={}, beam={})
    for t in dag.tasks:
        out["tasks"][t.task_id] = {"class": type(t).__name__, "downstream": sorted(t.downstream_task_ids)}
        if type(t).__name__ == "BeamRunPythonPipelineOperator":
            cfg = t.dataflow_config
            out["beam"][t.task_id] = {
                "py_file": t.py_file, "py_interpreter": t.py_interpreter, "runner": t.runner,
                "pipeline_option_keys": sorted(t.pipeline_options), "pipeline_options": t.pipeline_options,
                "dataflow_config": cfg,
                "dataflow_config_class": type(DataflowConfiguration(**cfg)).__name__ if cfg else None,
                "deferrable": t.deferrable, "pre_execute": t._pre_execute_hook.__name__}
print("RESULT " + json.dumps(out, sort_keys=True))
"""


def airflow_python() -> str:
    """The Airflow venv's python; a missing venv fails the test (unless LEADSINSTRUCT_SKIP_AIRFLOW=1)."""
    if os.environ.get("LEADSINSTRUCT_SKIP_AIRFLOW") == "1":
        pytest.skip("LEADSINSTRUCT_SKIP_AIRFLOW=1")
    python = os.environ.get("LEADSINSTRUCT_AIRFLOW_PYTHON") or str(REPO / ".venv-airflow" / "bin" / "python")
    if not Path(python).is_file():
        pytest.fail(f"No Airflow virtualenv at {python}. Create it in the repository root with\n"
                    f"    {AIRFLOW_VENV_COMMAND}\n"
                    "(about 5 minutes and 2.2 GB), or point LEADSINSTRUCT_AIRFLOW_PYTHON at the python of "
                    "one that has those packages; set LEADSINSTRUCT_SKIP_AIRFLOW=1 to skip these tests.",
                    pytrace=False)
    return python


def airflow_env(home: Path, **extra) -> dict:
    home.mkdir(parents=True, exist_ok=True)
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(home), "AIRFLOW_HOME": str(home),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
           "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False"}
    return {**env, **extra}


def test_airflow_parses_the_dag(tmp_path):
    proc = subprocess.run([airflow_python(), "-c", PARSE_DAG, str(DAG_FILE)], env=airflow_env(tmp_path / "airflow"),
                          capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [line] = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    dag = json.loads(line[len("RESULT "):])

    as_of = "{{ (dag_run.logical_date or dag_run.run_after) | ds }}"
    root = "{{ var.value.leadsinstruct_root }}"
    refresh_py = str(REPO / "pipelines" / "refresh.py")
    python = str(REPO / ".venv" / "bin" / "python")
    assert dag["import_errors"] == {}
    assert dag["dag_ids"] == ["leadsinstruct_refresh"]
    assert {k: dag[k] for k in ("dag_id", "schedule", "timetable", "catchup", "max_active_runs", "retries",
                                "retry_delay_s", "execution_timeout_s", "task_ids")} == {
        "dag_id": "leadsinstruct_refresh", "schedule": "15 6 * * *", "timetable": "CronTriggerTimetable",
        "catchup": False, "max_active_runs": 1, "retries": 2, "retry_delay_s": 1200.0,
        "execution_timeout_s": 72000.0, "task_ids": ["choose_runner", "refresh_dataflow", "refresh_local"]}
    assert dag["tasks"] == {
        "choose_runner": {"class": "BranchPythonOperator", "downstream": ["refresh_dataflow", "refresh_local"]},
        "refresh_local": {"class": "BeamRunPythonPipelineOperator", "downstream": []},
        "refresh_dataflow": {"class": "BeamRunPythonPipelineOperator", "downstream": []},
    }
    assert dag["beam"] == {
        "refresh_local": {
            "py_file": refresh_py, "py_interpreter": python, "runner": "FnApiRunner",
            "pipeline_option_keys": ["as_of", "root"],
            "pipeline_options": {"root": root, "as_of": as_of},
            "dataflow_config": {}, "dataflow_config_class": None,
            "deferrable": False, "pre_execute": "export_ncbi_api_key"},
        "refresh_dataflow": {
            "py_file": refresh_py, "py_interpreter": python, "runner": "DataflowRunner",
            "pipeline_option_keys": ["as_of", "root", "setup_file", "temp_location"],
            "pipeline_options": {"root": root, "as_of": as_of,
                                 "temp_location": "{{ var.value.leadsinstruct_temp_location }}",
                                 "setup_file": str(REPO / "setup.py")},
            "dataflow_config": {
                "project_id": "{{ var.value.get('leadsinstruct_gcp_project', '') }}",
                "location": "{{ var.value.get('leadsinstruct_gcp_region', 'us-central1') }}",
                "job_name": "leadsinstruct-refresh-{{ (dag_run.logical_date or dag_run.run_after) | ds_nodash }}",
                "service_account": "{{ var.value.get('leadsinstruct_dataflow_service_account', '') }}",
                "wait_until_finished": True},
            "dataflow_config_class": "DataflowConfiguration",
            "deferrable": False, "pre_execute": "prepare_dataflow_launch"},
    }
    for name in ("api_key", "ncbi"):
        assert all(name not in k for task in dag["beam"].values() for k in task["pipeline_options"])


STUB_REFRESH_PY = """import json, os, sys
with open({out!r}, "w") as f:
    json.dump({{"argv": sys.argv[1:], "NCBI_API_KEY": os.environ.get("NCBI_API_KEY"),
               "LEADSINSTRUCT_LOG_LEVEL": os.environ.get("LEADSINSTRUCT_LOG_LEVEL")}}, f)
print("Snapshot 2026-11-25 (refreshed)")
"""


def test_airflow_runs_refresh_locally_with_the_key_in_its_environment(tmp_path):
    """``airflow dags test`` runs the DAG for one logical date: the branch picks the local runner and
    the operator starts the project's Python on pipelines/refresh.py (here a stand-in)."""
    project = tmp_path / "project"
    (project / "pipelines").mkdir(parents=True)
    out = tmp_path / "refresh_call.json"
    (project / "pipelines" / "refresh.py").write_text(STUB_REFRESH_PY.format(out=str(out)))
    home = tmp_path / "airflow"
    env = airflow_env(home, AIRFLOW__CORE__DAGS_FOLDER=str(DAG_FILE.parent),
                      LEADSINSTRUCT_PROJECT_DIR=str(project), LEADSINSTRUCT_PYTHON=sys.executable,
                      AIRFLOW_VAR_LEADSINSTRUCT_ROOT=str(tmp_path / "root"),
                      AIRFLOW_VAR_LEADSINSTRUCT_NCBI_API_KEY=KEY)
    airflow = [airflow_python(), "-m", "airflow"]
    migrate = subprocess.run([*airflow, "db", "migrate"], env=env, capture_output=True, text=True, timeout=120)
    assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
    run = subprocess.run([*airflow, "dags", "test", "leadsinstruct_refresh", "2026-11-25"], env=env,
                         capture_output=True, text=True, timeout=180)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-5000:]

    assert json.loads(out.read_text()) == {
        "argv": ["--runner=FnApiRunner", f"--root={tmp_path / 'root'}", "--as_of=2026-11-25",
                 "--labels=airflow-version=v3-3-2"],
        "NCBI_API_KEY": KEY,
        "LEADSINSTRUCT_LOG_LEVEL": None,
    }
    assert "Skipping tasks [('refresh_dataflow', -1)]" in output
    assert "Snapshot 2026-11-25 (refreshed)" in output
    assert re.search(r"DagRun Finished: dag_id=leadsinstruct_refresh, logical_date=2026-11-25 00:00:00\+00:00, "
                     r"run_id=\S+, run_start_date=[^,]+, run_end_date=[^,]+, run_duration=[^,]+, state=success",
                     output)


# --------------------------------------------------------------------------------------------
# Flex Template and Cloud Scheduler

def refresh_option_dests() -> set[str]:
    from pipelines.options import FetchOptions, RefreshOptions
    parser = argparse.ArgumentParser()
    RefreshOptions._add_argparse_args(parser)
    FetchOptions._add_argparse_args(parser)
    return {a.dest for a in parser._actions}


def test_metadata_declares_the_template_parameters():
    meta = json.loads(METADATA.read_text())
    assert sorted(meta) == ["description", "name", "parameters"]
    assert meta["name"] == "leadsinstruct refresh"
    assert [p["name"] for p in meta["parameters"]] == TEMPLATE_PARAMETERS
    for p in meta["parameters"]:
        assert sorted(p) == ["helpText", "isOptional", "label", "name", "regexes"], p["name"]
        assert p["label"].strip() and p["helpText"].strip(), p["name"]
    assert {p["name"]: p["isOptional"] for p in meta["parameters"]} == {
        "root": False, "as_of": True, "pubmed_query": True, "ctgov_query": True, "email": True,
        "medline_updates_url": True}


@pytest.mark.parametrize("name, value, ok", [
    ("root", "gs://my-bucket/leadsinstruct", True),
    ("root", "gs://my-bucket", True),
    ("root", "/data/leadsinstruct", False),
    ("root", "gs://", False),
    ("as_of", "2026-11-25", True),
    ("as_of", "2026-13-01", False),
    ("as_of", "25.11.2026", False),
    ("pubmed_query", "systematic review[pt] AND 2024[dp]", True),
    ("pubmed_query", "two\nlines", False),
    ("ctgov_query", "AREA[Condition]asthma", True),
    ("email", "ops@example.org", True),
    ("email", "ops at example.org", False),
    ("medline_updates_url", "https://ftp.ncbi.nlm.nih.gov/pubmed/updatefiles/", True),
    ("medline_updates_url", "ftp://ftp.ncbi.nlm.nih.gov/pubmed/updatefiles/", True),
    ("medline_updates_url", "file:///etc/passwd", False),
])
def test_metadata_regexes(name, value, ok):
    [param] = [p for p in json.loads(METADATA.read_text())["parameters"] if p["name"] == name]
    assert all(re.search(rx, value) for rx in param["regexes"]) is ok


def test_template_and_launch_parameters_are_refresh_options():
    dests = refresh_option_dests()
    meta_names = [p["name"] for p in json.loads(METADATA.read_text())["parameters"]]
    body_names = list(json.loads(LAUNCH_BODY.read_text())["launchParameter"]["parameters"])
    assert [n for n in meta_names + body_names if n not in dests] == []
    assert set(body_names) <= set(meta_names)


def _strings(obj):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)
    else:
        yield str(obj)


def test_launch_body_is_a_flex_template_launch_request_without_a_key():
    body = json.loads(LAUNCH_BODY.read_text())
    assert body == {"launchParameter": {
        "jobName": "leadsinstruct-refresh",
        "containerSpecGcsPath": "${TEMPLATE_PATH}",
        "parameters": {"root": "${ROOT}", "email": "${EMAIL}"},
        "environment": {"tempLocation": "${TEMP_LOCATION}", "stagingLocation": "${STAGING_LOCATION}",
                        "serviceAccountEmail": "${SERVICE_ACCOUNT}",
                        "additionalUserLabels": {"app": "leadsinstruct", "trigger": "cloud-scheduler"}}}}
    assert [s for s in _strings(body) if re.search(r"api_?key|secret", s, re.I)] == []


def setup_top_level_packages() -> list[str]:
    """The top-level packages setup.py installs (its find_packages include list)."""
    include = re.search(r"find_packages\(include=\[(.*?)\]", (REPO / "setup.py").read_text(), re.S).group(1)
    return sorted(n for n in re.findall(r'"([^"]+)"', include) if "." not in n and "*" not in n)


def test_dockerfile_runs_refresh_py_with_the_setup_file():
    lines = [ln.strip() for ln in DOCKERFILE.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert lines[0] == "FROM gcr.io/dataflow-templates-base/python311-template-launcher-base"
    assert "ARG WORKDIR=/template" in lines
    assert 'ENV FLEX_TEMPLATE_PYTHON_PY_FILE="${WORKDIR}/pipelines/refresh.py"' in lines
    assert 'ENV FLEX_TEMPLATE_PYTHON_SETUP_FILE="${WORKDIR}/setup.py"' in lines
    assert lines.index("COPY requirements.txt .") < lines.index("RUN pip install --no-cache-dir -r requirements.txt")
    copied = sorted(m.group(1) for ln in lines if (m := re.fullmatch(r"COPY (\w+) \1", ln)))
    assert copied == setup_top_level_packages()
    assert lines[-2:] == ['ARG NCBI_API_KEY_SECRET=""', 'ENV NCBI_API_KEY_SECRET="${NCBI_API_KEY_SECRET}"']
    assert not any(re.search(r"NCBI_API_KEY\b(?!_SECRET)", ln) for ln in lines)


GCLOUD_STUB = """#!/bin/bash
printf '%s\\n' "$*" >> {rec}/calls.txt
case "$1 $2 $3" in
  "scheduler jobs describe") exit 1 ;;
  "builds submit "*) (cd "$3" && find . -type f | sort) > {rec}/build_context.txt
                     args=("$@"); for i in "${{!args[@]}}"; do
                       [[ "${{args[$i]}}" == --config ]] && cp "${{args[$((i+1))]}}" {rec}/cloudbuild.yaml; done ;;
  "scheduler jobs create") args=("$@"); for i in "${{!args[@]}}"; do
                       [[ "${{args[$i]}}" == --message-body-from-file ]] && cp "${{args[$((i+1))]}}" {rec}/body.json; done ;;
esac
exit 0
"""


def test_create_job_builds_the_template_and_schedules_the_launch(tmp_path):
    rec = tmp_path / "rec"
    rec.mkdir()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    gcloud = bindir / "gcloud"
    gcloud.write_text(GCLOUD_STUB.format(rec=rec))
    gcloud.chmod(0o755)
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "HOME": str(tmp_path), "PROJECT": "proj-1", "REGION": "europe-west1",
           "BUCKET": "leads-bucket", "ROOT": "gs://leads-bucket/leadsinstruct", "EMAIL": "ops@example.org",
           "SERVICE_ACCOUNT": "dataflow@proj-1.iam.gserviceaccount.com",
           "SCHEDULER_SA": "scheduler@proj-1.iam.gserviceaccount.com", "TAG": "t1"}
    proc = subprocess.run(["bash", str(CREATE_JOB_SH)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr

    image = "europe-west1-docker.pkg.dev/proj-1/leadsinstruct/leadsinstruct-refresh:t1"
    template = "gs://leads-bucket/templates/leadsinstruct-refresh.json"
    calls = (rec / "calls.txt").read_text().splitlines()
    assert [" ".join(c.split()[:3]) for c in calls] == [
        "secrets describe ncbi-api-key",
        "secrets add-iam-policy-binding ncbi-api-key",
        "artifacts repositories describe",
        "builds submit " + calls[3].split()[2],
        "dataflow flex-template build",
        "scheduler jobs describe",
        "scheduler jobs create",
    ]
    assert re.fullmatch(r"builds submit (/\S+)/src --config \1/cloudbuild\.yaml --project proj-1 "
                        r"--region europe-west1", calls[3]), calls[3]
    assert not Path(calls[3].split()[2]).exists()  # the build context is removed afterwards
    assert calls[1] == ("secrets add-iam-policy-binding ncbi-api-key --project proj-1 --member "
                        "serviceAccount:dataflow@proj-1.iam.gserviceaccount.com --role roles/secretmanager.secretAccessor")
    assert calls[4] == (f"dataflow flex-template build {template} --image {image} --sdk-language PYTHON "
                        f"--metadata-file {METADATA} --project proj-1")
    assert calls[6] == (
        "scheduler jobs create http leadsinstruct-refresh --location europe-west1 --project proj-1 "
        "--schedule 15 6 * * * --time-zone Etc/UTC "
        "--uri https://dataflow.googleapis.com/v1b3/projects/proj-1/locations/europe-west1/flexTemplates:launch "
        f"--http-method POST --message-body-from-file {calls[6].split('--message-body-from-file ')[1].split()[0]} "
        "--oauth-service-account-email scheduler@proj-1.iam.gserviceaccount.com "
        "--oauth-token-scope https://www.googleapis.com/auth/cloud-platform "
        "--attempt-deadline 180s --max-retry-attempts 3 --min-backoff 10m "
        f"--description Daily leadsinstruct refresh (Flex Template {template}) "
        "--headers Content-Type=application/json")
    assert json.loads((rec / "body.json").read_text()) == {"launchParameter": {
        "jobName": "leadsinstruct-refresh",
        "containerSpecGcsPath": template,
        "parameters": {"root": "gs://leads-bucket/leadsinstruct", "email": "ops@example.org"},
        "environment": {"tempLocation": "gs://leads-bucket/tmp", "stagingLocation": "gs://leads-bucket/staging",
                        "serviceAccountEmail": "dataflow@proj-1.iam.gserviceaccount.com",
                        "additionalUserLabels": {"app": "leadsinstruct", "trigger": "cloud-scheduler"}}}}
    assert (rec / "cloudbuild.yaml").read_text() == (
        "steps:\n- name: gcr.io/cloud-builders/docker\n"
        "  args: [build, -f, deploy/flex_template/Dockerfile, --build-arg, "
        f'"NCBI_API_KEY_SECRET=projects/proj-1/secrets/ncbi-api-key/versions/latest", -t, "{image}", .]\n'
        f'images: ["{image}"]\n')
    context = (rec / "build_context.txt").read_text().splitlines()
    top = sorted({p.split("/")[1] for p in context})
    assert top == sorted(["deploy", "requirements.txt", "setup.py", *setup_top_level_packages()])
    assert sorted(p for p in context if p.startswith("./deploy/")) == [
        "./deploy/flex_template/Dockerfile", "./deploy/flex_template/secret_env.py"]
    assert "./pipelines/refresh.py" in context


# --------------------------------------------------------------------------------------------
# deploy/flex_template/secret_env.py: the api key from Secret Manager in the launcher

@pytest.fixture(scope="module")
def secret_env():
    spec = importlib.util.spec_from_file_location("leadsinstruct_secret_env", DEPLOY / "flex_template" / "secret_env.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SECRET = "projects/proj-1/secrets/ncbi-api-key/versions/latest"
LAUNCH_ARGV = ["/template/pipelines/refresh.py", "--root=gs://b/leads", "--runner=DataflowRunner"]


def test_secret_env_sets_the_key_for_refresh_only(secret_env):
    asked = []

    def access(name):
        asked.append(name)
        return f"{KEY}\n".encode()

    environ = {"NCBI_API_KEY_SECRET": SECRET}
    assert secret_env.export_api_key(environ, LAUNCH_ARGV, access) is True
    assert environ == {"NCBI_API_KEY_SECRET": SECRET, "NCBI_API_KEY": KEY}
    assert asked == [SECRET]
    for environ, argv in [({"NCBI_API_KEY_SECRET": SECRET, "NCBI_API_KEY": "given"}, LAUNCH_ARGV),
                          ({"NCBI_API_KEY_SECRET": ""}, LAUNCH_ARGV),
                          ({}, LAUNCH_ARGV),
                          ({"NCBI_API_KEY_SECRET": SECRET}, ["-m", "pip", "install"]),
                          ({"NCBI_API_KEY_SECRET": SECRET}, [])]:
        before = dict(environ)
        assert secret_env.export_api_key(environ, argv, access) is False
        assert environ == before
    assert asked == [SECRET]


@pytest.mark.parametrize("name, payload, error", [
    ("ncbi-api-key", b"x", "NCBI_API_KEY_SECRET='ncbi-api-key' is not "
                           "projects/<project>/secrets/<secret>/versions/<version>"),
    (SECRET, b" \n", f"secret {SECRET} is empty"),
])
def test_secret_env_stops_the_launch_when_the_secret_is_unusable(secret_env, monkeypatch, capsys, name, payload,
                                                                  error):
    monkeypatch.setattr(secret_env, "access_secret_version", lambda n: payload)
    monkeypatch.setattr(sys, "argv", LAUNCH_ARGV)
    monkeypatch.setenv("NCBI_API_KEY_SECRET", name)
    monkeypatch.delenv("NCBI_API_KEY", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        secret_env.main()
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == ("leadsinstruct: cannot read the NCBI api key from Secret Manager "
                                       f"(NCBI_API_KEY_SECRET): ValueError: {error}\n")
    assert "NCBI_API_KEY" not in os.environ
