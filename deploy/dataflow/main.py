"""Hands the build job to Dataflow without waiting for it (docs/dataflow.md).

The Flex Template launcher runs this file (``FLEX_TEMPLATE_PYTHON_PY_FILE`` in
``deploy/dataflow/Dockerfile``) with the template parameters and its own options
(``--template_location`` among them); run by hand with ``--template_location`` it writes a classic
template. Either way ``pipelines.build.run`` only writes the job description and returns, and
there is no manifest to read yet: ``leadsinstruct build`` would fail where this file succeeds.

The runner is DataflowRunner unless the arguments name another one (``prepare_options`` would
otherwise pick the local FnApiRunner); progress lines are off (there is nothing to count here).
``--input_root`` is required: without it the build writes the embedded sample to the local disk,
which Dataflow workers cannot read.
"""
from __future__ import annotations

import logging
import sys

from pipelines.build import run

DEFAULTS = ("--runner=DataflowRunner", "--progress_interval=0")


def main(argv: list[str]) -> None:
    if not any(a == "--input_root" or a.startswith("--input_root=") for a in argv):
        raise SystemExit("--input_root is required on Dataflow: a gs:// raw zone holding pubmed/, pmc/, "
                         "ctgov/ and/or links/ (leadsinstruct fetch --raw_root gs://... fills one).")
    run([*DEFAULTS, *argv])


if __name__ == "__main__":
    logging.getLogger().setLevel(logging.INFO)
    main(sys.argv[1:])
