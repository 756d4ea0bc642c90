"""The fetch stage: E-utilities, ClinicalTrials.gov API v2 and bulk files → the raw zone.

    leadsinstruct fetch --raw_root RAW --pubmed_query "systematic review[pt]" --mindate 2026-01-01 \\
        --maxdate 2026-01-31 --email you@example.org          # NCBI_API_KEY from the environment

It is a plain, multi-threaded stage rather than a Beam pipeline: NCBI allows 3 requests/s (10 with a
key) per user, so throughput is set by one shared rate limit, not by workers; the E-utilities
history server (WebEnv) is one session paged in order; and a stage that writes each response to a
deterministic raw-zone name resumes by skipping what exists. Everything heavy happens in the
build, which reads the raw zone (see ``fetching/run.py`` for the stages).
"""
from __future__ import annotations

import datetime
import os
import sys

from apache_beam.options.pipeline_options import PipelineOptions

from fetching.progress import default_stream
from fetching.run import FetchConfig, Fetcher
from pipelines.options import FetchOptions, ProgressOptions, csv_list
from transforms.runtime import use_storage_emulator

SECRET_FLAG = "--ncbi_api_key"


def pop_api_key(argv: list[str]) -> tuple[list[str], str | None]:
    """Take ``--ncbi_api_key VALUE`` / ``--ncbi_api_key=VALUE`` out of argv (so that no pipeline
    option, job metadata or log ever holds it); returns (argv without it, the key or None)."""
    out, key, skip = [], None, False
    for i, a in enumerate(argv):
        if skip:
            skip = False
            continue
        if a == SECRET_FLAG:
            key = argv[i + 1] if i + 1 < len(argv) else None
            skip = True
        elif a.startswith(SECRET_FLAG + "="):
            key = a.split("=", 1)[1]
        else:
            out.append(a)
    return out, key


def _bulk_list(value: str) -> list[str]:
    if value.startswith("@"):
        with open(value[1:], encoding="utf-8") as f:
            return [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
    return csv_list(value)


def fetch_config(opts: FetchOptions, api_key: str | None, raw_root: str | None = None, **overrides) -> FetchConfig:
    """A ``FetchConfig`` from parsed options (``overrides`` win)."""
    key = api_key or os.environ.get(opts.ncbi_api_key_env or "NCBI_API_KEY") or None
    cfg = FetchConfig(
        raw_root=raw_root or opts.raw_root,
        as_of=opts.as_of or datetime.datetime.now(datetime.timezone.utc).date().isoformat(),
        tool=opts.tool, email=opts.email, api_key=key,
        eutils_base=opts.eutils_base_url, ctgov_base=opts.ctgov_base_url,
        requests_per_second=opts.requests_per_second, ctgov_requests_per_second=opts.ctgov_requests_per_second,
        rate_limit_dir=opts.rate_limit_dir, workers=opts.fetch_workers,
        pubmed_query=opts.pubmed_query, datetype=opts.datetype, mindate=opts.mindate, maxdate=opts.maxdate,
        max_records=opts.max_records, efetch_batch=opts.efetch_batch,
        pmids=csv_list(opts.pmids), nct_ids=csv_list(opts.nct_ids), from_unresolved=opts.from_unresolved,
        ctgov_query=opts.ctgov_query, ctgov_page_size=opts.ctgov_page_size,
        bulk_urls=_bulk_list(opts.bulk_urls or ""), follow=tuple(csv_list(opts.follow)),
        max_attempts=opts.max_attempts, timeout=opts.request_timeout, backoff_base=opts.backoff_base,
        progress_interval=opts.view_as(ProgressOptions).progress_interval)
    for k, v in overrides.items():
        setattr(cfg, k, v)
    if not cfg.raw_root:
        raise SystemExit("--raw_root is required (a local folder or gs://bucket/prefix)")
    return cfg


def run(argv=None, progress_stream=None) -> dict:
    """Run one fetch; returns its report (also in ``<raw_root>/_state/reports/``)."""
    use_storage_emulator()
    argv, key = pop_api_key(list(sys.argv[1:] if argv is None else argv))
    opts = PipelineOptions(argv).view_as(FetchOptions)
    cfg = fetch_config(opts, key)
    stream = progress_stream if progress_stream is not None else default_stream()
    return Fetcher(cfg, progress_stream=stream).run()


if __name__ == "__main__":
    from pipelines.cli import main
    sys.exit(main(["fetch", *sys.argv[1:]]))
