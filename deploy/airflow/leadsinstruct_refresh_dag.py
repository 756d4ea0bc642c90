"""Daily ``leadsinstruct refresh`` as an Airflow 3 DAG.

``choose_runner`` reads the Airflow Variable ``leadsinstruct_runner`` and follows one branch:

* ``refresh_local``    FnApiRunner: the whole refresh runs as a subprocess of the Airflow worker.
* ``refresh_dataflow`` DataflowRunner: the fetch stage runs on the worker, the build runs on
  Dataflow; the job's last step marks the snapshot complete and moves the watermarks.

Both run ``pipelines/refresh.py --root=<leadsinstruct_root> --as_of=<logical date>`` with the
project's own Python (Airflow and Beam 2.77 do not share one environment). The NCBI api key is
read from the Variable ``leadsinstruct_ncbi_api_key`` just before the task runs and handed to the
subprocess as ``NCBI_API_KEY``; it is never a pipeline option, so it appears in no command line.

Worker environment (read when the DAG file is parsed):
  LEADSINSTRUCT_PROJECT_DIR  checkout of the project (default: the repository holding this
                             file, symlinks resolved, so a link in the dags folder is enough)
  LEADSINSTRUCT_PYTHON       Python with the project installed (default <project>/.venv/bin/python)

Airflow Variables (read at run time):
  leadsinstruct_root                    ROOT, local directory or gs:// (required)
  leadsinstruct_runner                  FnApiRunner (default) or DataflowRunner
  leadsinstruct_ncbi_api_key            NCBI api key (optional; without it E-utilities allow 3 req/s)
  leadsinstruct_gcp_project             Dataflow only; default: project of google_cloud_default
  leadsinstruct_gcp_region              Dataflow only; default us-central1
  leadsinstruct_temp_location           Dataflow only, gs://... (required for Dataflow)
  leadsinstruct_dataflow_service_account  Dataflow only; default: the Compute Engine default account

See docs/scheduling.md.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from airflow.providers.apache.beam.operators.beam import BeamRunPythonPipelineOperator
from airflow.providers.standard.operators.python import BranchPythonOperator
from airflow.sdk import DAG, Variable
from airflow.sdk.log import mask_secret

PROJECT_DIR = Path(os.environ.get("LEADSINSTRUCT_PROJECT_DIR") or Path(__file__).resolve().parents[2])
PROJECT_PYTHON = os.environ.get("LEADSINSTRUCT_PYTHON") or str(PROJECT_DIR / ".venv" / "bin" / "python")
REFRESH_PY = str(PROJECT_DIR / "pipelines" / "refresh.py")
SETUP_PY = str(PROJECT_DIR / "setup.py")

TASK_BY_RUNNER = {"FnApiRunner": "refresh_local", "DataflowRunner": "refresh_dataflow"}

# The logical date; a manual run triggered without one uses the day it was queued.
AS_OF = "{{ (dag_run.logical_date or dag_run.run_after) | ds }}"
ROOT = "{{ var.value.leadsinstruct_root }}"


def choose_runner() -> str:
    """Task id of the branch for the Variable ``leadsinstruct_runner``; an unknown name fails the run."""
    runner = Variable.get("leadsinstruct_runner", default="FnApiRunner")
    if runner not in TASK_BY_RUNNER:
        raise ValueError(f"Variable leadsinstruct_runner={runner!r}; expected one of {sorted(TASK_BY_RUNNER)}")
    return TASK_BY_RUNNER[runner]


def export_ncbi_api_key(context) -> None:
    """Put the api key into this task process's environment, which the Beam subprocess inherits.

    The value is registered with Airflow's secrets masker, so a line of pipeline output that
    contains it is written to the task log as ``***``.
    """
    key = Variable.get("leadsinstruct_ncbi_api_key", default=None)
    if key:
        mask_secret(key)
        os.environ["NCBI_API_KEY"] = key
    else:
        os.environ.pop("NCBI_API_KEY", None)


def prepare_dataflow_launch(context) -> None:
    """``export_ncbi_api_key``, and keep Beam's INFO lines out of the launcher's output.

    The operator stops reading the launcher as soon as a line names the Dataflow job id (Beam
    logs it at INFO) and then follows the job through the API alone; the launcher, still
    running, would then fail on its next write to the closed pipe and lose its summary. At
    WARNING the id line never appears: the operator waits for the process to exit (refresh waits
    for the job and prints what changed) and then checks the job's final state by its name.
    """
    export_ncbi_api_key(context)
    os.environ["LEADSINSTRUCT_LOG_LEVEL"] = "WARNING"


with DAG(
    dag_id="leadsinstruct_refresh",
    description="Fetch the day's PubMed / PMC / ClinicalTrials.gov delta and build a new snapshot",
    schedule="15 6 * * *",  # daily, 06:15 UTC
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": 2,
        "retry_delay": timedelta(minutes=20),
        # A rerun resumes from the raw zone; a hung run must not hold the next day's slot forever.
        "execution_timeout": timedelta(hours=20),
    },
    tags=["leadsinstruct"],
) as dag:
    branch = BranchPythonOperator(task_id="choose_runner", python_callable=choose_runner, retries=0)

    refresh_local = BeamRunPythonPipelineOperator(
        task_id="refresh_local",
        runner="FnApiRunner",
        py_file=REFRESH_PY,
        py_interpreter=PROJECT_PYTHON,
        pipeline_options={"root": ROOT, "as_of": AS_OF},
        pre_execute=export_ncbi_api_key,
        deferrable=False,  # a deferred run would start the pipeline in the triggerer, without the key
    )

    refresh_dataflow = BeamRunPythonPipelineOperator(
        task_id="refresh_dataflow",
        runner="DataflowRunner",
        py_file=REFRESH_PY,
        py_interpreter=PROJECT_PYTHON,
        pipeline_options={
            "root": ROOT,
            "as_of": AS_OF,
            "temp_location": "{{ var.value.leadsinstruct_temp_location }}",
            "setup_file": SETUP_PY,
        },
        # A dict rather than a DataflowConfiguration instance: Airflow renders every value of a
        # dict, while DataflowConfiguration templates only job_name, location and gcp_conn_id.
        # The operator builds the DataflowConfiguration from it when the task runs. An empty
        # project falls back to the project of the google_cloud_default connection, an empty
        # service account to the Compute Engine default account.
        dataflow_config={
            "project_id": "{{ var.value.get('leadsinstruct_gcp_project', '') }}",
            "location": "{{ var.value.get('leadsinstruct_gcp_region', 'us-central1') }}",
            "job_name": "leadsinstruct-refresh-{{ (dag_run.logical_date or dag_run.run_after) | ds_nodash }}",
            "service_account": "{{ var.value.get('leadsinstruct_dataflow_service_account', '') }}",
            "wait_until_finished": True,
        },
        pre_execute=prepare_dataflow_launch,
        deferrable=False,
    )

    branch >> [refresh_local, refresh_dataflow]
