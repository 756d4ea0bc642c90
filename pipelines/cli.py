"""``leadsinstruct`` command line.

    leadsinstruct build   [options]   build the six task datasets from a raw zone (default: the sample)
    leadsinstruct fetch   [options]   fetch from E-utilities / ClinicalTrials.gov / bulk URLs into a raw zone
    leadsinstruct refresh [options]   fetch the delta and write a new dated snapshot
    leadsinstruct synth OUT [--scale S]   write a synthetic raw zone (the sample, or S × the LEADS corpus)
    leadsinstruct stats OUTPUT            write the data card (README.md + plots) of a build's output
    leadsinstruct export OUTPUT [options] write the task records as JSONL for fine-tuning (chat form)

``leadsinstruct <command> --help`` lists a command's options.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from apache_beam.io.filesystems import FileSystems

from transforms.runtime import use_storage_emulator
from transforms.tasks.common import TASKS


def print_summary(manifest: dict, output: str, stream=sys.stdout) -> None:
    """Where the shards are and a per-task count table."""
    w = stream.write
    w(f"Task shards: {output.rstrip('/')}/tasks/task=<task>/part-*.parquet\n")
    w(f"{'task':<26}{'records':>10}\n{'-' * 36}\n")
    for task in TASKS:
        w(f"{task:<26}{manifest['tasks'].get(task, 0):>10}\n")
    w(f"{'-' * 36}\n{'total':<26}{manifest['total_records']:>10}\n")
    tables = ", ".join(f"{k} {v}" for k, v in sorted(manifest["tables"].items()))
    w(f"Tables: {tables}\n")
    unresolved = ", ".join(f"{k} {v}" for k, v in sorted(manifest["unresolved"].items())) or "none"
    w(f"Dead letters: {manifest['dead_letters_total']}   Unresolved links: {unresolved}\n")
    w(f"Manifest: {output.rstrip('/')}/manifest.json\n")


def _build(argv: list[str]) -> int:
    from pipelines.build import run
    from pipelines.options import BuildOptions, ProgressOptions
    from apache_beam.options.pipeline_options import PipelineOptions
    if any(a in ("-h", "--help") for a in argv):
        return _help("build", BuildOptions, ProgressOptions)
    result, manifest_path = run(argv)
    if not FileSystems.exists(manifest_path):  # a template written, or a job that runs on after submission
        job = getattr(result, "job_id", lambda: None)()
        print(f"Submitted{f' job {job}' if job else ''} (state {result.state}); its manifest will be "
              f"{manifest_path}")
        return 0
    with FileSystems.open(manifest_path) as f:
        manifest = json.loads(f.read().decode("utf-8"))
    print_summary(manifest, PipelineOptions(argv).view_as(BuildOptions).output)
    return 0


def _help(prog: str, *option_classes) -> int:
    parser = argparse.ArgumentParser(prog=f"leadsinstruct {prog}", conflict_handler="resolve")
    for cls in option_classes:
        cls._add_argparse_args(parser)
    parser.print_help()
    return 0


def _fetch(argv: list[str]) -> int:
    from pipelines.options import FetchOptions, ProgressOptions
    if any(a in ("-h", "--help") for a in argv):
        return _help("fetch", FetchOptions, ProgressOptions)
    from fetching.run import FetchError
    from pipelines.fetch import run
    try:
        report = run(argv)
    except FetchError as e:
        print(f"fetch stopped: {e}", file=sys.stderr)
        return 1
    print_fetch_report(report)
    return 1 if report["failed_requests"] else 0


def print_fetch_report(report: dict, stream=sys.stdout) -> None:
    w = stream.write
    w(f"{'stage':<22}{'done':>8}{'skipped':>9}{'failed':>8}{'records':>10}\n{'-' * 57}\n")
    for name, s in report["stages"].items():
        if not (s["total"] or s["done"] or s["skipped"] or s["failed"]):
            continue
        w(f"{name:<22}{s['done']:>8}{s['skipped']:>9}{s['failed']:>8}{s['records']:>10}\n")
    e, c = report["eutils_http"], report["ctgov_http"]
    w(f"E-utilities: {e['requests']} requests, {e['retries']} retries · ClinicalTrials.gov: "
      f"{c['requests']} requests, {c['retries']} retries · {report['files_written']} files written\n")
    if report["dead_letters"]:
        w(f"Dead letters: {report['dead_letters']} ({report['dead_letter_file']})\n")
    if report["failed_requests"]:
        w(f"{report['failed_requests']} requests failed: run the same command again to resume.\n")


def _refresh(argv: list[str]) -> int:
    from pipelines.options import BuildOptions, FetchOptions, ProgressOptions, RefreshOptions
    if any(a in ("-h", "--help") for a in argv):
        return _help("refresh", RefreshOptions, FetchOptions, BuildOptions, ProgressOptions)
    from fetching.run import FetchError
    from pipelines.refresh import RefreshError, run
    try:
        summary = run(argv)
    except (FetchError, RefreshError) as e:
        print(f"refresh stopped: {e}", file=sys.stderr)
        return 1
    if summary["status"] == "up_to_date":
        print(f"Snapshot {summary.get('as_of')} is already complete; nothing to do.")
        return 0
    if summary["status"] == "submitted":
        print(f"Snapshot {summary['as_of']}: build job submitted ({summary['job_state']}); the job marks "
              f"snapshots/{summary['as_of']}/_SUCCESS and moves the watermarks when it finishes.")
        return 0
    d = summary["records"]
    print(f"Snapshot {summary['as_of']} ({summary['status']}): {summary['total_records']} records "
          f"(+{d['added']} new, -{d['removed']} gone, {d['unchanged']} unchanged since "
          f"{summary['previous_snapshot'] or 'nothing'}); {summary['new_raw_files']} new raw files read.")
    return 0


def _synth(argv: list[str]) -> int:
    from synth.scale import main as synth_main
    return synth_main(argv)


def _stats(argv: list[str]) -> int:
    from pipelines.stats import main as stats_main
    return stats_main(argv)


def _export(argv: list[str]) -> int:
    from pipelines.export import main as export_main
    return export_main(argv)


def _kg_reasoning(argv: list[str]) -> int:
    from pipelines.options import BuildOptions, KgReasoningOptions, ProgressOptions
    if any(a in ("-h", "--help") for a in argv):
        return _help("kg-reasoning", KgReasoningOptions, BuildOptions, ProgressOptions)
    from pipelines.kg_reasoning import main as kg_main
    return kg_main(argv)


COMMANDS = {"build": _build, "fetch": _fetch, "refresh": _refresh, "synth": _synth, "stats": _stats,
            "export": _export, "kg-reasoning": _kg_reasoning}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=os.environ.get("LEADSINSTRUCT_LOG_LEVEL", "WARNING").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apache_beam.io.filebasedsink").setLevel(logging.ERROR)
    use_storage_emulator()
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print("usage: leadsinstruct {build,fetch,refresh,synth,stats,export,kg-reasoning} [options]   (leadsinstruct <command> --help)",
              file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
