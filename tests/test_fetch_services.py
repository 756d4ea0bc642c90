"""The fetch stage against local E-utilities / CT.gov / bulk servers on 127.0.0.1, with faults.

The services (``tests/fakeservices.py``) serve real record bodies: the project's own sample corpus
(always available) and ``../shared/corpus`` (PubMed, PMC JATS and CT.gov API v2 records) when
present. Expected results are computed from what the services hold, independently of the fetcher.
"""
from __future__ import annotations

import collections
import glob
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fakeservices import FakeServices, World, world_from_corpus
from fetching.http import FetchError
from fetching.run import FetchConfig, Fetcher
from schemas.records import Article, FullText, ReviewLink, Trial
from transforms.formats import parse_source
from transforms.joins.link import registration_nct_ids
from transforms.pubmed.parse import parse_pubmed

REPO = Path(__file__).resolve().parents[1]
QUERY = "systematic review[pt]"


@pytest.fixture()
def sample_world(sample_dir):
    return world_from_corpus(str(sample_dir))


def new_raw(tmp_path: Path, sample_dir: Path) -> Path:
    """A raw zone holding the sample's link tables (what a user brings), nothing fetched yet."""
    raw = tmp_path / "raw"
    (raw / "links").mkdir(parents=True)
    for f in (sample_dir / "links").iterdir():
        shutil.copy(f, raw / "links" / f.name)
    return raw


def config(raw: Path, services: FakeServices, tmp_path: Path, **kw) -> FetchConfig:
    base = dict(raw_root=str(raw), as_of="2026-11-25", eutils_base=services.eutils_base,
                ctgov_base=services.ctgov_base, requests_per_second=20, ctgov_requests_per_second=20,
                rate_limit_dir=str(tmp_path / "locks"), pubmed_query=QUERY, efetch_batch=2, timeout=0.6,
                backoff_base=0.02, progress_interval=0)
    base.update(kw)
    return FetchConfig(**base)


# --------------------------------------------------------------------------- expectations
def link_keys(raw: Path) -> tuple[set, set]:
    """(review PMIDs, study PMIDs) named by the user's link tables in ``raw/links``."""
    link_reviews, link_pmids = set(), set()
    for f in sorted(p for p in (raw / "links").glob("*") if p.is_file()):
        with open(f, "rb") as fh:
            for r in parse_source(fh, str(f)):
                if isinstance(r, ReviewLink):
                    link_pmids.add(r.pmid)
                    if r.review_id.startswith("pubmed:"):
                        link_reviews.add(r.review_id.split(":", 1)[1])
    return link_reviews, link_pmids


def expected(world: World, raw: Path, query_type: str = "systematic review"):
    """(PMIDs, PMCIDs, NCT ids) a complete fetch must hold, and the keys it must report missing."""
    reviews = {p for p, c in world.citations.items() if query_type in c.publication_types}
    link_reviews, link_pmids = link_keys(raw)
    all_reviews = reviews | link_reviews
    refs = {ref for r in all_reviews if r in world.citations for ref in world.citations[r].references}
    wanted = all_reviews | refs | link_pmids
    pmids = wanted & set(world.citations)
    pmcids_wanted = {world.citations[p].pmcid for p in pmids if world.citations[p].pmcid}
    pmcids = pmcids_wanted & set(world.fulltexts)
    ncts_wanted = set()
    for p in pmids:
        for a in parse_pubmed(io.BytesIO(b"<PubmedArticleSet>" + world.citations[p].xml + b"</PubmedArticleSet>"),
                              "x"):
            ncts_wanted |= set(a.nct_ids) | set(a.text_nct_ids)
    from transforms.pmc.parse import parse_jats
    for pmc in pmcids:
        for f in parse_jats(io.BytesIO(world.fulltexts[pmc]), "x"):
            if isinstance(f, FullText):
                ncts_wanted |= set(registration_nct_ids(f))
    ncts = ncts_wanted & set(world.studies)
    missing = ({("fetch.pubmed", p) for p in wanted - set(world.citations)}
               | {("fetch.pmc", p) for p in pmcids_wanted - set(world.fulltexts)}
               | {("fetch.ctgov", n) for n in ncts_wanted - set(world.studies)})
    return pmids, pmcids, ncts, missing


def raw_contents(raw: Path):
    """Counters of the PMIDs, PMCIDs and NCT ids held by fetched raw files (not the user's links)."""
    pm, pmc, nct = collections.Counter(), collections.Counter(), collections.Counter()
    for f in sorted(glob.glob(f"{raw}/*/2*/**", recursive=True)):
        if not os.path.isfile(f) or "/_state/" in f:
            continue
        with open(f, "rb") as fh:
            for r in parse_source(fh, f):
                if isinstance(r, Article):
                    pm[r.pmid] += 1
                elif isinstance(r, FullText):
                    pmc[r.pmcid] += 1
                elif isinstance(r, Trial):
                    nct[r.nct_id] += 1
    return pm, pmc, nct


def dead_letter_keys(raw: Path):
    out = set()
    for f in glob.glob(f"{raw}/_state/dead_letters/*.jsonl"):
        for line in open(f):
            d = json.loads(line)
            out.add((d["stage"], d["source_file"].rsplit("=", 1)[-1]))
    return out


def assert_complete(raw: Path, world: World):
    pmids, pmcids, ncts, missing = expected(world, raw)
    pm, pmc, nct = raw_contents(raw)
    assert set(pm) == pmids and set(pmc) == pmcids and set(nct) == ncts
    assert all(n == 1 for c in (pm, pmc, nct) for n in c.values())  # no duplicates
    assert dead_letter_keys(raw) == missing
    return pmids, pmcids, ncts, missing


# --------------------------------------------------------------------------- tests
def test_fetch_gets_exactly_the_reviews_their_studies_full_texts_and_trials(tmp_path, sample_dir, sample_world):
    raw = new_raw(tmp_path, sample_dir)
    with FakeServices(sample_world) as s:
        report = Fetcher(config(raw, s, tmp_path)).run()
        pmids, pmcids, ncts, missing = assert_complete(raw, sample_world)
        # the sample: reviews by search and by link table, their studies, 15 full texts, 18 of 20 trials
        assert (len(pmids), len(pmcids), len(ncts)) == (41, 15, 18)
        assert missing == {("fetch.ctgov", "NCT09000009"), ("fetch.ctgov", "NCT09000016")}  # legacy XML only
        assert report["dead_letters"] == 2 and report["failed_requests"] == 0
        assert report["eutils_http"]["retries"] == 0
        # every E-utilities request named the tool; none carried a key (none was given)
        assert all(h.params.get("tool") == "leadsinstruct" and "api_key" not in h.params
                   for h in s.hits_of("esearch", "efetch", "elink"))
        assert {h.params.get("usehistory") for h in s.hits_of("esearch")} == {"y"}
        n_requests = len(s.hits)
        # a rerun finds everything in place: one esearch, nothing else
        again = Fetcher(config(raw, s, tmp_path)).run()
        assert [h.group for h in s.hits[n_requests:]] == ["esearch"]
        assert again["files_written"] == 0
    # the build reads the fetched raw zone
    from tests.test_build_pipeline import run_build
    manifest, _ = run_build(raw, tmp_path / "out")
    assert manifest["rejected_reasons"] == {"split.leak": 6}  # candidates in another review's split
    assert manifest["tasks"] == {"search_query": 5, "screening": 27, "study_characteristics": 18,
                                 "arm_design": 18, "participant_statistics": 48, "trial_results": 52}
    assert manifest["unresolved"] == {"trial": 2}


FAULTS = {"esearch": ["503", "429"],
          "efetch": ["429", "500", "reset", "slow", "truncate", "malformed", "503"],
          "elink": ["reset", "malformed", "500"],
          "studies": ["429", "truncate", "slow", "malformed", "500", "reset"]}


def test_faults_are_retried_and_the_result_is_unchanged(tmp_path, sample_dir, sample_world):
    raw = new_raw(tmp_path, sample_dir)
    with FakeServices(sample_world, slow_seconds=1.5) as s:
        s.faults = {k: list(v) for k, v in FAULTS.items()}
        report = Fetcher(config(raw, s, tmp_path, workers=3, requests_per_second=8, max_attempts=8,
                                ctgov_requests_per_second=5)).run()
        assert_complete(raw, sample_world)
        assert all(not q for q in s.faults.values())  # every fault was served
        eutils_faults = sum(len(FAULTS[k]) for k in ("esearch", "efetch", "elink"))
        assert report["eutils_http"]["retries"] == eutils_faults
        assert report["ctgov_http"]["retries"] == len(FAULTS["studies"])
        assert report["failed_requests"] == 0
        assert s.max_in_window(("esearch", "efetch", "elink"), 1.0) <= 8
        assert s.max_in_window(("studies",), 1.0) <= 5
        # 429 responses carried Retry-After: 1. Once the client had seen one (0.1 s), no request of
        # that service arrived until the second was over, from any worker
        for hits in (s.hits_of("esearch", "efetch", "elink"), s.hits_of("studies")):
            t429 = [h.t for h in hits if h.outcome == "429"]
            assert t429
            for t in t429:
                assert not [h for h in hits if t + 0.1 < h.t < t + 0.95]
                assert [h for h in hits if h.t >= t + 0.95]


def test_retry_after_is_honoured_exactly(tmp_path, sample_dir, sample_world):
    raw = new_raw(tmp_path, sample_dir)
    with FakeServices(sample_world, retry_after="2") as s:
        s.faults = {"esearch": ["429"]}
        Fetcher(config(raw, s, tmp_path, workers=1, follow=())).run()
        first, second = s.hits_of("esearch")[:2]
        assert first.outcome == "429" and second.outcome == "ok"
        assert 1.95 <= second.t - first.t <= 3.0


def test_a_body_that_stays_malformed_is_dead_lettered_then_fetched_by_the_rerun(tmp_path, sample_dir,
                                                                               sample_world):
    raw = new_raw(tmp_path, sample_dir)
    with FakeServices(sample_world) as s:
        s.faults = {"studies": ["malformed"] * 3}
        report = Fetcher(config(raw, s, tmp_path, max_attempts=3)).run()
        assert report["failed_requests"] == 1
        dl = [json.loads(x) for f in glob.glob(f"{raw}/_state/dead_letters/*.jsonl") for x in open(f)]
        bad = [d for d in dl if d["error_type"] == "InvalidBody"]
        assert len(bad) == 1 and bad[0]["stage"] == "fetch.ctgov.ids"
        assert "JSONDecodeError" in bad[0]["message"] and bad[0]["excerpt"].startswith('{"studies": [')
        assert not glob.glob(f"{raw}/ctgov/**/*.json", recursive=True)  # nothing half-written
        again = Fetcher(config(raw, s, tmp_path)).run()
        assert again["failed_requests"] == 0
        pm, pmc, nct = raw_contents(raw)
        assert set(nct) == expected(sample_world, raw)[2] and max(nct.values()) == 1


def test_a_client_error_stops_the_fetch_with_a_clear_message(tmp_path, sample_dir, sample_world):
    raw = new_raw(tmp_path, sample_dir)
    with FakeServices(sample_world) as s:
        with pytest.raises(FetchError, match=r"HTTP 400 from http://127\.0\.0\.1:\d+/entrez/eutils/esearch\.fcgi"):
            Fetcher(config(raw, s, tmp_path, pubmed_query="cancer AND (x")).run()
        assert len(s.hits_of("esearch")) == 1  # not retried


def _cli(raw, s, tmp_path, *extra, env=None):
    return [sys.executable, "-m", "pipelines.fetch", "--raw_root", str(raw), "--as_of", "2026-11-25",
            "--eutils_base_url", s.eutils_base, "--ctgov_base_url", s.ctgov_base,
            "--rate_limit_dir", str(tmp_path / "locks"), "--pubmed_query", QUERY, "--efetch_batch", "1",
            "--request_timeout", "2", "--backoff_base", "0.05", *extra]


def _env(**kw):
    env = {k: v for k, v in os.environ.items() if k != "NCBI_API_KEY"}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(kw)
    return env


def test_the_rate_limit_holds_across_parallel_processes(tmp_path, sample_dir, sample_world):
    raws = [new_raw(tmp_path / f"p{i}", sample_dir) for i in range(2)]
    with FakeServices(sample_world) as s:
        procs = [subprocess.Popen(_cli(r, s, tmp_path, "--requests_per_second", "4", "--fetch_workers", "4",
                                       "--ctgov_requests_per_second", "4"),
                                  cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for r in raws]
        outs = [p.communicate(timeout=240) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
        eutils = s.hits_of("esearch", "efetch", "elink")
        assert len(eutils) == 2 * 9  # per process: esearch, 4 pages, 2 ELinks, studies, full texts
        assert s.max_in_window(("esearch", "efetch", "elink"), 1.0) <= 4
        for r in raws:
            assert_complete(r, sample_world)


def test_a_fetch_killed_midway_downloads_only_what_was_missing(tmp_path, sample_dir, sample_world):
    raw = new_raw(tmp_path, sample_dir)
    with FakeServices(sample_world) as s:
        proc = subprocess.Popen(_cli(raw, s, tmp_path, "--requests_per_second", "3", "--fetch_workers", "1",
                                     "--progress_interval", "0"),
                                cwd=REPO, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 120
        while len(glob.glob(f"{raw}/pubmed/2026-11-25/esearch-*.xml")) < 3 and time.time() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        present = sorted(os.path.basename(f) for f in glob.glob(f"{raw}/pubmed/2026-11-25/*.xml"))
        assert 3 <= len(present) < 4 + 1  # killed after three of the four pages
        from fetching.eutils import check_pubmed_set
        for f in glob.glob(f"{raw}/pubmed/2026-11-25/*.xml"):  # what shows under a final name is whole
            assert check_pubmed_set(Path(f).read_bytes()) is None
        mark = len(s.hits)
        Fetcher(config(raw, s, tmp_path, efetch_batch=1)).run()
        assert_complete(raw, sample_world)
        pages_present = {int(f.rsplit("-", 1)[1][:5]) for f in present if f.startswith("esearch-")}
        refetched = {int(h.params["retstart"]) for h in s.hits[mark:]
                     if h.group == "efetch" and "WebEnv" in h.params}
        assert refetched and not (refetched & pages_present)
        assert refetched | pages_present == set(range(4))


def test_the_api_key_is_sent_but_never_logged_or_written(tmp_path, sample_dir, sample_world):
    raw = new_raw(tmp_path, sample_dir)
    secret = "s3cr3t-api-key-0123456789"
    with FakeServices(sample_world) as s:
        s.faults = {"efetch": ["500", "reset"], "elink": ["429"]}
        proc = subprocess.run(_cli(raw, s, tmp_path, "--requests_per_second", "20", "--ctgov_requests_per_second",
                                   "20", "--email", "ops@example.org", "--max_attempts", "3",
                                   "--progress_interval", "0.2"),
                              cwd=REPO, env=_env(NCBI_API_KEY=secret, LEADSINSTRUCT_LOG_LEVEL="DEBUG"),
                              capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, proc.stderr[-3000:]
        eutils = s.hits_of("esearch", "efetch", "elink")
        assert eutils and all(h.params.get("api_key") == secret for h in eutils)
        assert all(h.params.get("email") == "ops@example.org" for h in eutils)
        assert not any("api_key" in h.params for h in s.hits_of("studies"))
        assert "retrying" in proc.stderr  # the retries were logged ...
        assert secret not in proc.stdout and secret not in proc.stderr  # ... without the key
        for f in glob.glob(f"{raw}/**/*", recursive=True):
            if os.path.isfile(f):
                assert secret.encode() not in Path(f).read_bytes(), f
        # a key given on the command line is taken out before anything sees it
        proc = subprocess.run(_cli(raw, s, tmp_path, "--ncbi_api_key", secret, "--pubmed_query", "bad (term"),
                              cwd=REPO, env=_env(LEADSINSTRUCT_LOG_LEVEL="DEBUG"), capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 1 and "HTTP 400" in proc.stderr
        assert secret not in proc.stdout + proc.stderr
        assert s.hits_of("esearch")[-1].params.get("api_key") == secret


def test_bulk_files_are_verified_and_never_downloaded_twice(tmp_path, sample_dir, sample_world):
    raw = tmp_path / "raw"
    update = (sample_dir / "pubmed" / "sample_update_0002.xml.gz").read_bytes()
    baseline = (sample_dir / "pubmed" / "sample_baseline_0001.xml.gz").read_bytes()
    big = random.Random(7).randbytes(3 * 1024 * 1024 + 123)  # several read chunks
    sample_world.bulk = {"pubmed26n0001.xml.gz": baseline, "pubmed26n1301.xml.gz": update,
                         "oa_comm_xml.incr.2026-11-24.tar.gz": big}
    with FakeServices(sample_world) as s:
        urls = [f"{s.base}/bulk/pubmed26n0001.xml.gz", f"pubmed={s.base}/bulk/pubmed26n1301.xml.gz",
                f"{s.base}/bulk/oa_comm_xml.incr.2026-11-24.tar.gz"]
        # the data download of the first and of the third file is cut short once (half the body)
        s.faults = {"bulk": [None, "truncate", None, None, None, None, "truncate"]}
        cfg = config(raw, s, tmp_path, pubmed_query=None, follow=(), bulk_urls=urls, workers=1)
        report = Fetcher(cfg).run()
        assert (raw / "pubmed/bulk/pubmed26n0001.xml.gz").read_bytes() == baseline
        assert (raw / "pubmed/bulk/pubmed26n1301.xml.gz").read_bytes() == update
        assert (raw / "pmc/bulk/oa_comm_xml.incr.2026-11-24.tar.gz").read_bytes() == big  # not appended to
        assert report["stages"]["bulk"]["done"] == 3 and report["eutils_http"]["retries"] == 2
        # per file: its .md5, then the data (the first and the third file: cut, then again)
        assert [h.outcome for h in s.hits_of("bulk")] == ["ok", "truncate", "ok", "ok", "ok", "ok", "truncate",
                                                         "ok"]
        mark = len(s.hits)
        again = Fetcher(cfg).run()
        assert s.hits[mark:] == [] and again["stages"]["bulk"]["skipped"] == 3


def test_a_bulk_file_whose_md5_does_not_match_is_not_kept(tmp_path, sample_dir, sample_world):
    raw = tmp_path / "raw"
    sample_world.bulk = {"pubmed26n1303.xml.gz": b"abc"}
    with FakeServices(sample_world) as s:
        original = s._bulk

        def tampered(path):  # the data changes after its .md5 was published
            status, ctype, body = original(path)
            return (status, ctype, body + b"x") if not path.endswith(".md5") else (status, ctype, body)

        s._bulk = tampered
        cfg = config(raw, s, tmp_path, pubmed_query=None, follow=(), max_attempts=2,
                     bulk_urls=[f"{s.base}/bulk/pubmed26n1303.xml.gz"])
        report = Fetcher(cfg).run()
        assert report["failed_requests"] == 1 and not (raw / "pubmed/bulk/pubmed26n1303.xml.gz").exists()
        dl = [json.loads(x) for f in glob.glob(f"{raw}/_state/dead_letters/*.jsonl") for x in open(f)]
        assert [d["error_type"] for d in dl] == ["InvalidBody"] and "MD5" in dl[0]["message"]


def test_ctgov_query_pages_resume_from_the_last_page_on_disk(tmp_path, sample_world):
    raw = tmp_path / "raw"
    with FakeServices(sample_world) as s:
        cfg = config(raw, s, tmp_path, pubmed_query=None, follow=(), ctgov_query="diabetes", ctgov_page_size=2)
        term_hits = [n for n, (st, _) in sample_world.studies.items() if "diabetes" in json.dumps(st).lower()]
        Fetcher(cfg).run()
        pages = sorted(glob.glob(f"{raw}/ctgov/2026-11-25/query-*.json"))
        assert len(pages) == -(-len(term_hits) // 2) and len(term_hits) >= 3
        os.remove(pages[-1])  # as if the run had stopped before the last page
        mark = len(s.hits)
        Fetcher(cfg).run()
        new = s.hits[mark:]
        assert len(new) == 1 and new[0].params.get("pageToken")  # only the missing page, by its token
        pm, pmc, nct = raw_contents(raw)
        assert sorted(nct) == sorted(term_hits) and max(nct.values()) == 1


def test_shared_corpus_records_served_with_faults(tmp_path, corpus):
    """Real PubMed, PMC and CT.gov bodies from ../shared/corpus through the same fetch."""
    world = world_from_corpus(str(corpus))
    raw = tmp_path / "raw"
    (raw / "links").mkdir(parents=True)
    with FakeServices(world, slow_seconds=1.5) as s:
        s.faults = {k: list(v) for k, v in FAULTS.items()}
        report = Fetcher(config(raw, s, tmp_path, efetch_batch=2, ids_batch=50, max_attempts=8,
                                requests_per_second=10)).run()
        pmids, pmcids, ncts, missing = assert_complete(raw, world)
        assert report["failed_requests"] == 0
        reviews = {p for p, c in world.citations.items() if "systematic review" in c.publication_types}
        assert reviews <= pmids and len(reviews) >= 3
        assert s.max_in_window(("esearch", "efetch", "elink"), 1.0) <= 10


def test_fetch_takes_what_a_build_could_not_resolve(tmp_path, sample_dir, sample_world):
    """A build over the link tables alone lists every linked study as unresolved; a fetch fed with
    that list gets exactly those PMIDs (and reports the ones the services do not have)."""
    from tests.test_build_pipeline import run_build
    raw = new_raw(tmp_path, sample_dir)
    manifest, _ = run_build(raw, tmp_path / "out")
    unresolved = {json.loads(line)["key"] for f in glob.glob(f"{tmp_path}/out/unresolved/*.jsonl")
                  for line in open(f) if json.loads(line)["kind"] == "study_text"}
    assert len(unresolved) == manifest["unresolved"]["study_text"] > 0
    with FakeServices(sample_world) as s:
        Fetcher(config(raw, s, tmp_path, pubmed_query=None, follow=(),
                       from_unresolved=str(tmp_path / "out"))).run()
        asked = {i for h in s.hits_of("efetch") for i in h.params["id"].split(",")}
    pm, _, _ = raw_contents(raw)
    wanted = unresolved | link_keys(raw)[0]  # and the reviews the link tables name (always fetched)
    assert asked == wanted
    assert set(pm) == wanted & set(sample_world.citations) and all(n == 1 for n in pm.values())
    assert dead_letter_keys(raw) == {("fetch.pubmed", p) for p in wanted - set(sample_world.citations)}


def test_a_search_larger_than_pubmed_returns_is_split_by_date(tmp_path, sample_dir, sample_world, monkeypatch):
    import fetching.eutils as E
    monkeypatch.setattr(E, "MAX_IDS", 2)  # as if PubMed returned at most 2 records per search
    reviews = sorted(p for p, c in sample_world.citations.items() if "systematic review" in c.publication_types)
    for i, p in enumerate(reviews):
        sample_world.citations[p].edat = f"2026-03-0{i + 1}"
    raw = tmp_path / "raw"
    with FakeServices(sample_world) as s:
        Fetcher(config(raw, s, tmp_path, follow=(), mindate="2026-01-01", maxdate="2026-06-30")).run()
        searches = s.hits_of("esearch")
        # every leaf window holds at most 2; windows above it were halved
        leaves = [h for h in searches if len([p for p in reviews if h.params["mindate"].replace("/", "-")
                                              <= sample_world.citations[p].edat
                                              <= h.params["maxdate"].replace("/", "-")]) <= 2]
        assert len(leaves) < len(searches) and all(h.params["retmax"] == "2" for h in searches)
        with pytest.raises(FetchError, match="on 2026-03-01 alone"):
            for p in reviews:
                sample_world.citations[p].edat = "2026-03-01"
            Fetcher(config(tmp_path / "raw2", s, tmp_path, follow=(), mindate="2026-01-01",
                           maxdate="2026-06-30")).run()
    pm, _, _ = raw_contents(raw)
    assert sorted(pm) == reviews and all(n == 1 for n in pm.values())


def test_a_search_whose_result_changed_before_the_rerun_leaves_no_gap(tmp_path, sample_dir, sample_world):
    raw = tmp_path / "raw"
    with FakeServices(sample_world) as s:
        s.faults = {"efetch": [None, "500"]}  # page 0 lands, page 1 fails: the run stops half done
        report = Fetcher(config(raw, s, tmp_path, follow=(), workers=1, max_attempts=1)).run()
        assert report["failed_requests"] == 1
        first_page = sorted(glob.glob(f"{raw}/pubmed/*/esearch-*.xml"))
        assert len(first_page) == 1
        held = set(raw_contents(raw)[0])
        # meanwhile one of the fetched reviews leaves the result and a new review joins it
        gone = sorted(held)[0]
        del sample_world.citations[gone]
        src = next(c for p, c in sample_world.citations.items() if "systematic review" in c.publication_types)
        sample_world.add_citation(src.xml.replace(f">{src.pmid}<".encode(), b">91000001<"))
        Fetcher(config(raw, s, tmp_path, follow=(), workers=1)).run()
    now = {p for p, c in sample_world.citations.items() if "systematic review" in c.publication_types}
    assert now <= set(raw_contents(raw)[0])  # every record of the current result is there


def test_a_record_without_a_pmcid_gets_its_full_text_through_elink(tmp_path, sample_dir, sample_world):
    """Only the citations whose record names no PMCID are looked up with ELink pubmed_pmc, each
    on its own, even when other records of the same efetch page name theirs."""
    import re as _re
    studies = sorted(p for p, c in sample_world.citations.items()
                     if c.pmcid and c.pmcid in sample_world.fulltexts and "systematic review" not in c.publication_types)
    target = sample_world.citations[studies[0]]
    target.xml = _re.sub(rb'<ArticleId IdType="pmc">[^<]*</ArticleId>', b"", target.xml)  # PubMed lacks the link
    assert b'IdType="pmc"' not in target.xml and target.pmcid
    raw = new_raw(tmp_path, sample_dir)
    with FakeServices(sample_world) as s:
        Fetcher(config(raw, s, tmp_path)).run()
        looked_up = [v for h in s.hits_of("elink") if h.params.get("linkname") == "pubmed_pmc"
                     for k, v in h.pairs if k == "id"]
    without = set()
    for f in glob.glob(f"{raw}/pubmed/**/*.xml", recursive=True):
        with open(f, "rb") as fh:
            without |= {a.pmid for a in parse_source(fh, f) if isinstance(a, Article) and not a.pmcid}
    assert target.pmid in without
    assert sorted(looked_up) == sorted(without)  # each once, and only those
    _, pmc, _ = raw_contents(raw)
    assert target.pmcid in pmc
