"""``leadsinstruct`` command line: ``leadsinstruct build [options]`` (more subcommands to come)."""
from __future__ import annotations

import argparse
import json
import logging
import sys

from apache_beam.io.filesystems import FileSystems

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
    from pipelines.options import BuildOptions
    from apache_beam.options.pipeline_options import PipelineOptions
    if any(a in ("-h", "--help") for a in argv):
        parser = argparse.ArgumentParser(prog="leadsinstruct build")
        BuildOptions._add_argparse_args(parser)
        parser.print_help()
        return 0
    _, manifest_path = run(argv)
    with FileSystems.open(manifest_path) as f:
        manifest = json.loads(f.read().decode("utf-8"))
    print_summary(manifest, PipelineOptions(argv).view_as(BuildOptions).output)
    return 0


COMMANDS = {"build": _build}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("apache_beam.io.filebasedsink").setLevel(logging.ERROR)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print("usage: leadsinstruct {build} [options]   (leadsinstruct build --help)", file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
