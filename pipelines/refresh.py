"""Incremental corpus refresh: fetch the delta, rebuild, write a new dated snapshot.

    leadsinstruct refresh --root ROOT --pubmed_query "systematic review[pt]" --email you@example.org
    python pipelines/refresh.py --root gs://bucket/leads --runner DataflowRunner ...   # same thing

Layout under ROOT (local or gs://):

    raw/                       the raw zone (see fetching/rawzone.py)
    snapshots/<as_of>/         one complete build output per refresh (tasks/, tables/, manifest.json,
                               input_files.txt, refresh.json, _SUCCESS)
    state/watermarks.json      per-source watermarks and the current snapshot (written last)

One refresh: (1) fetch the PubMed modification-date window after the watermark (and MEDLINE update
files numbered above it), updates of every tracked trial (``AREA[LastUpdatePostDate]RANGE[...]``)
and whatever the new records point to; (2) build the new snapshot from the previous snapshot's
tables plus only the raw files the previous snapshot had not read (deleted citations and withdrawn
trials drop out in the build's latest-record rules); (3) in the same pipeline, once every file is written,
record the record-id diff against the previous snapshot, mark the snapshot complete, then move the
watermarks (``transforms/snapshot.py``). Earlier snapshots are
never touched. Rerunning after an interruption is safe: the fetch resumes, an incomplete snapshot
folder is rebuilt from scratch, and a complete one only has its watermarks written.
"""
from __future__ import annotations

import datetime
import logging
import sys

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from fetching import ctgov_api as C
from fetching.progress import default_stream
from fetching.rawzone import RawZone, delete_tree
from fetching.run import Fetcher
from pipelines.build import SOURCE_DIRS, build, prepare_options
from pipelines.fetch import fetch_config, pop_api_key
from pipelines.options import BuildOptions, FetchOptions, ProgressOptions, RefreshOptions
from pipelines.progress import BuildProgress
from transforms.runtime import use_storage_emulator
from transforms.snapshot import WATERMARKS, FinalizeSnapshot

log = logging.getLogger("leadsinstruct.refresh")


class RefreshError(RuntimeError):
    pass


def _day(s: str) -> datetime.date:
    return datetime.date.fromisoformat(s)


def delta_window(watermarks: dict, as_of: str, since: str | None, overlap_days: int = 1) -> tuple[str | None, str]:
    """(from, to) days of this refresh's windows: from the day after the last covered one, less
    ``overlap_days`` (records indexed late, time zones), or ``since`` on the first refresh, up to
    the day before ``as_of`` (a finished day)."""
    to = (_day(as_of) - datetime.timedelta(days=1)).isoformat()
    last = (watermarks.get("pubmed") or {}).get("to")
    if not last:
        return since, to
    start = _day(last) + datetime.timedelta(days=1) - datetime.timedelta(days=max(0, overlap_days))
    return min(start, _day(to)).isoformat(), to


def snapshot_complete(root: RawZone, day: str) -> bool:
    return root.exists(f"snapshots/{day}/_SUCCESS")


def run(argv=None, progress_stream=None) -> dict:
    """One refresh (see module doc); returns its summary (also ``snapshots/<as_of>/refresh.json``)."""
    use_storage_emulator()
    argv, key = pop_api_key(list(sys.argv[1:] if argv is None else argv))
    options = PipelineOptions(argv)
    ropts, fopts = options.view_as(RefreshOptions), options.view_as(FetchOptions)
    if not ropts.root:
        raise SystemExit("--root is required (a local folder or gs://bucket/prefix)")
    root = RawZone(ropts.root)
    as_of = fopts.as_of or datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    _day(as_of)
    wm = root.read_json(WATERMARKS, {}) or {}
    current = wm.get("snapshot")
    if current and current > as_of:
        raise RefreshError(f"--as_of {as_of} is before the current snapshot {current}")
    snap_rel = f"snapshots/{as_of}"
    snap = root.path(snap_rel)
    if current == as_of and snapshot_complete(root, as_of):
        summary = root.read_json(f"{snap_rel}/refresh.json", {})
        return {**summary, "status": "up_to_date"}
    if snapshot_complete(root, as_of):  # built, but the watermarks were not written yet
        summary = root.read_json(f"{snap_rel}/refresh.json")
        root.write_json(WATERMARKS, summary["watermarks"])
        return {**summary, "status": "completed_earlier_run"}

    # 1. fetch the delta into the raw zone
    start, to = delta_window(wm, as_of, ropts.since, ropts.overlap_days)
    cfg = fetch_config(fopts, key, raw_root=root.path("raw"), as_of=as_of)
    first = current is None
    new_wm = {"snapshot": as_of, "snapshots": sorted(set(wm.get("snapshots", [])) | {as_of}),
              "pubmed": {"to": to, "query": fopts.pubmed_query, "datetype": "edat" if first else "mdat"},
              "ctgov": {"to": to, "query": fopts.ctgov_query},
              "medline_updates": dict(wm.get("medline_updates") or {})}
    if fopts.pubmed_query:
        cfg.datetype, cfg.mindate, cfg.maxdate = new_wm["pubmed"]["datetype"], start, to
    rng = C.updated_since_term(start or "MIN", to)
    if fopts.ctgov_query:
        cfg.ctgov_query = f"({fopts.ctgov_query}) AND {rng}"
    if ropts.track_trials and not first:
        cfg.ctgov_updates_term = rng
    stream = progress_stream if progress_stream is not None else default_stream()
    fetcher = Fetcher(cfg, progress_stream=stream)
    if ropts.medline_updates_url:
        files = fetcher.medline_update_urls(ropts.medline_updates_url)
        cfg.bulk_urls = list(cfg.bulk_urls) + [f"pubmed={u}" for _, u in files]
        if files:
            new_wm["medline_updates"] = {"last_file": files[-1][0], "index": ropts.medline_updates_url}
    fetch_report = fetcher.run()
    if fetch_report["failed_requests"]:
        raise RefreshError(f"{fetch_report['failed_requests']} requests failed (see "
                           f"{fetch_report['dead_letter_file']}); run the refresh again to resume")

    # 2. build the snapshot from the previous one plus the raw files it had not read; the pipeline
    #    itself marks the snapshot complete and moves the watermarks (FinalizeSnapshot), so this
    #    also holds when the launcher does not wait for the job (Flex Template)
    raw = RawZone(root.path("raw"))
    all_files = [raw.path(f) for f in raw.list() if f.split("/", 1)[0] in SOURCE_DIRS]
    previous = root.path(f"snapshots/{current}") if current else None
    consumed = set()
    if previous:
        consumed = set(root.read(f"snapshots/{current}/input_files.txt").decode("utf-8").split("\n")) - {""}
    new_files = [f for f in all_files if f not in consumed]
    delete_tree(snap)  # an interrupted earlier attempt: rebuild it whole
    root.write(f"{snap_rel}/input_files.txt", "\n".join(sorted(consumed | set(new_files))).encode("utf-8"))
    root.write(f"{snap_rel}/new_input_files.txt", "\n".join(new_files).encode("utf-8"))
    build_argv = list(argv) + [
        "--input_root", root.path("raw"), "--input_list", root.path(f"{snap_rel}/new_input_files.txt"),
        "--output", snap, "--snapshot_date", as_of]
    if previous:
        build_argv += ["--previous_snapshot", previous]
    bopts = prepare_options(build_argv)
    summary = {"as_of": as_of, "previous_snapshot": current, "window": {"from": start, "to": to},
               "new_raw_files": len(new_files),
               "fetch": {k: fetch_report[k] for k in ("files_written", "dead_letters", "seconds")}}
    p = beam.Pipeline(options=bopts)
    outputs = build(p, bopts.view_as(BuildOptions))
    outputs["manifest"] | "FinalizeSnapshot" >> FinalizeSnapshot(ropts.root, as_of, current, summary, new_wm)
    with BuildProgress(stream, bopts.view_as(ProgressOptions).progress_interval):
        result = p.run()
        state = result.wait_until_finish()
    if not snapshot_complete(root, as_of):
        # a runner that returns before the job ends (a Flex Template launch): the job finishes it
        return {**summary, "status": "submitted", "job_state": str(state)}
    return {**root.read_json(f"{snap_rel}/refresh.json"), "status": "refreshed"}


def main(argv=None) -> int:
    from pipelines.cli import main as cli_main
    return cli_main(["refresh", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
