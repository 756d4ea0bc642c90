"""``leadsinstruct refresh`` over two fake days against local E-utilities / CT.gov / bulk servers.

Day 1 fetches everything and builds the first snapshot. Between the days the services change:
a new review, a review revised, a study revised and another deleted (a MEDLINE update file with
``<DeleteCitation>``), a trial updated and another withdrawn. Day 2 must fetch only that delta, and
its snapshot must equal a full build over every raw file, with the day-1 snapshot untouched.
"""
from __future__ import annotations

import copy
import glob
import gzip
import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from lxml import etree

from tests.fakeservices import FakeServices, world_from_corpus
from tests.test_fetch_services import new_raw
from tests.test_build_pipeline import run_build
from pipelines import refresh as R

DAY1, DAY2, DAY3 = "2026-11-02", "2026-11-03", "2026-11-04"
QUERY = "systematic review[pt]"


def day1_world(sample_dir):
    w = world_from_corpus(str(sample_dir))
    for c in w.citations.values():
        c.edat = c.mdat = "2026-10-25"
    for nct, (study, _) in list(w.studies.items()):
        w.studies[nct] = (study, "2026-10-25")
    return w


def retitle(xml: bytes, title: str, revised=("2026", "11", "02"), pmid: str | None = None) -> bytes:
    art = etree.fromstring(xml)
    art.find("MedlineCitation/Article/ArticleTitle").text = title
    dr = art.find("MedlineCitation/DateRevised")
    for tag, v in zip(("Year", "Month", "Day"), revised):
        dr.find(tag).text = v
    if pmid:
        art.find("MedlineCitation/PMID").text = pmid
        for aid in art.iterfind("PubmedData/ArticleIdList/ArticleId"):
            if aid.get("IdType") == "pubmed":
                aid.text = pmid
            elif aid.get("IdType") in ("pmc", "doi", "pii"):
                aid.getparent().remove(aid)
    return etree.tostring(art)


class Day2:
    """The changes between the two days, applied to a world (and remembered for the assertions)."""

    def __init__(self, world, sample_dir):
        reviews = sorted(p for p, c in world.citations.items() if "systematic review" in c.publication_types)
        self.new_review, self.revised_review = "90009999", reviews[0]
        src = world.citations[reviews[1]]
        c = world.add_citation(retitle(src.xml, "Exercise programmes for the same question: an updated "
                                       "systematic review", pmid=self.new_review), edat="2026-11-02")
        assert c.mdat == "2026-11-02"
        assert c.pmid == self.new_review
        rv = world.citations[self.revised_review]
        world.add_citation(retitle(rv.xml, "Revised title of the first review"), edat=rv.edat, mdat="2026-11-02")
        # a study revised and another deleted, as a MEDLINE update file says
        studies = sorted({r for p in reviews for r in world.citations[p].references if r in world.citations}
                         - set(reviews))
        self.revised_study, self.deleted_study = studies[0], studies[1]
        self.deleted_xml = world.citations[self.deleted_study].xml
        revised_xml = retitle(world.citations[self.revised_study].xml, "Revised title of a trial report")
        update = (b'<?xml version="1.0" ?>\n<PubmedArticleSet>\n' + revised_xml +
                  b"\n<DeleteCitation>\n<PMID Version=\"1\">" + self.deleted_study.encode() +
                  b"</PMID>\n</DeleteCitation>\n</PubmedArticleSet>\n")
        world.bulk["pubmed26n1301.xml.gz"] = gzip.compress(update, mtime=0)
        world.add_citation(revised_xml, edat=world.citations[self.revised_study].edat, mdat="2026-11-02")
        del world.citations[self.deleted_study]
        # a trial updated, another withdrawn
        trials = sorted(world.studies)
        self.updated_trial, self.withdrawn_trial = trials[0], trials[1]
        for nct, change in ((self.updated_trial, "update"), (self.withdrawn_trial, "withdraw")):
            study = copy.deepcopy(world.studies[nct][0])
            status = study["protocolSection"].setdefault("statusModule", {})
            status["lastUpdatePostDateStruct"] = {"date": "2026-11-02", "type": "ACTUAL"}
            if change == "withdraw":
                status["overallStatus"] = "WITHDRAWN"
            else:
                study["protocolSection"].setdefault("designModule", {})["enrollmentInfo"] = {
                    "count": 4321, "type": "ACTUAL"}
            world.studies[nct] = (study, "2026-11-02")


def refresh(root: Path, s: FakeServices, as_of: str, *extra):
    return R.run(["--root", str(root), "--as_of", as_of, "--pubmed_query", QUERY,
                  "--eutils_base_url", s.eutils_base, "--ctgov_base_url", s.ctgov_base,
                  "--requests_per_second", "50", "--ctgov_requests_per_second", "50",
                  "--rate_limit_dir", str(root.parent / "locks"), "--request_timeout", "2",
                  "--backoff_base", "0.02", "--medline_updates_url", f"{s.base}/bulk/", "--num_shards", "1",
                  "--progress_interval", "0", *extra])


def new_root(tmp_path: Path, sample_dir: Path) -> Path:
    """A refresh root whose raw zone holds the sample's link tables."""
    return new_raw(tmp_path / "root", sample_dir).parent


def tree_hashes(d: Path) -> dict:
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*")) if p.is_file()}


def rows(out: Path, name: str) -> list[dict]:
    files = sorted(glob.glob(f"{out}/{name}/*.parquet"))
    return [r for f in files for r in pq.read_table(f).to_pylist()]


def task_rows(out: Path) -> dict:
    return {r["id"]: r for r in rows(out, "tasks/task=*")}


@pytest.fixture(scope="module")
def two_days(tmp_path_factory, sample_dir):
    """ROOT after day 1 and day 2, the services' request log per day, and the changes."""
    tmp = tmp_path_factory.mktemp("refresh")
    root = new_root(tmp, sample_dir)
    world = day1_world(sample_dir)
    with FakeServices(world) as s:
        first = refresh(root, s, DAY1)
        day1_hits = list(s.hits)
        day1_snapshot = tree_hashes(root / "snapshots" / DAY1)
        day1_watermarks = json.loads((root / "state/watermarks.json").read_text())
        changes = Day2(world, sample_dir)
        mark = len(s.hits)
        second = refresh(root, s, DAY2)
        day2_hits = s.hits[mark:]
        day2_watermarks = json.loads((root / "state/watermarks.json").read_text())
        mark = len(s.hits)
        third = refresh(root, s, DAY2)
        rerun_hits = s.hits[mark:]
        # day 3: a later update file brings the deleted citation back
        readd = b'<?xml version="1.0" ?>\n<PubmedArticleSet>\n' + changes.deleted_xml + b"\n</PubmedArticleSet>\n"
        world.bulk["pubmed26n1302.xml.gz"] = gzip.compress(readd, mtime=0)
        world.add_citation(changes.deleted_xml, mdat="2026-11-03")
        fourth = refresh(root, s, DAY3)
    return dict(root=root, first=first, second=second, third=third, fourth=fourth, day1_hits=day1_hits,
                day2_hits=day2_hits, rerun_hits=rerun_hits, day1_snapshot=day1_snapshot,
                day1_watermarks=day1_watermarks, day2_watermarks=day2_watermarks, changes=changes, tmp=tmp)


def test_day1_builds_the_first_snapshot(two_days):
    root, first = two_days["root"], two_days["first"]
    assert first["status"] == "refreshed" and first["previous_snapshot"] is None
    manifest = json.loads((root / "snapshots" / DAY1 / "manifest.json").read_text())
    assert manifest["tasks"] == {"search_query": 5, "screening": 27, "study_characteristics": 18,
                                 "arm_design": 18, "participant_statistics": 48, "trial_results": 52}
    assert first["records"]["added"] == 168 and first["records"]["removed"] == 0
    assert two_days["day1_watermarks"] == {
        "snapshot": DAY1, "snapshots": [DAY1],
        "pubmed": {"to": "2026-11-01", "query": QUERY, "datetype": "edat"},
        "ctgov": {"to": "2026-11-01", "query": None}, "medline_updates": {}}
    searches = [h for h in two_days["day1_hits"] if h.group == "esearch"]
    assert [(h.params["datetype"], h.params["mindate"], h.params["maxdate"]) for h in searches] == [
        ("edat", "1800/01/01", "2026/11/01")]


def test_day2_fetches_only_the_delta(two_days):
    hits, ch = two_days["day2_hits"], two_days["changes"]
    searches = [h for h in hits if h.group == "esearch"]
    # the window after the watermark (2026-11-01), overlapping it by one day (late indexing)
    assert [(h.params["datetype"], h.params["mindate"], h.params["maxdate"]) for h in searches] == [
        ("mdat", "2026/11/01", "2026/11/02")]
    fetched_by_search = [h for h in hits if h.group == "efetch" and "WebEnv" in h.params]
    assert len(fetched_by_search) == 1  # the new and the revised review, one page
    bulk = [h.params for h in hits if h.group in ("bulk", "listing")]
    assert len(bulk) == 3  # the listing, then pubmed26n1301.xml.gz and its .md5
    studies = [h.params for h in hits if h.group == "studies"]
    assert studies and all(p["query.term"] == "AREA[LastUpdatePostDate]RANGE[2026-11-01,2026-11-02]"
                           for p in studies)
    # only records that are new to the raw zone were asked for by id
    ids_asked = {i for h in hits if h.group == "efetch" and "id" in h.params for i in h.params["id"].split(",")}
    assert ch.deleted_study not in ids_asked and ch.revised_study not in ids_asked
    assert two_days["second"]["watermarks"]["medline_updates"]["last_file"] == "pubmed26n1301.xml.gz"


def test_day2_snapshot_has_exactly_the_changes(two_days):
    root, ch = two_days["root"], two_days["changes"]
    s1, s2 = root / "snapshots" / DAY1, root / "snapshots" / DAY2
    a1 = {r["pmid"]: r for r in rows(s1, "tables/articles")}
    a2 = {r["pmid"]: r for r in rows(s2, "tables/articles")}
    assert set(a2) == set(a1) - {ch.deleted_study} | {ch.new_review}
    assert a2[ch.revised_review]["title"] == "Revised title of the first review"
    assert a2[ch.revised_study]["title"] == "Revised title of a trial report"
    assert a1[ch.revised_study]["title"] != a2[ch.revised_study]["title"]
    t1 = {r["nct_id"]: r for r in rows(s1, "tables/trials")}
    t2 = {r["nct_id"]: r for r in rows(s2, "tables/trials")}
    assert set(t2) == set(t1) - {ch.withdrawn_trial}
    assert t2[ch.updated_trial]["enrollment"] == 4321 and t1[ch.updated_trial]["enrollment"] != 4321
    r1, r2 = task_rows(s1), task_rows(s2)
    assert not [r for r in r2.values() if r["pmid"] == ch.deleted_study or r["nct_id"] == ch.withdrawn_trial]
    assert [r for r in r1.values() if r["nct_id"] == ch.withdrawn_trial]  # it had records on day 1
    assert {r["task"] for r in r2.values() if r["review_id"] == f"pubmed:{ch.new_review}"} >= {"screening"}
    diff = two_days["second"]["records"]
    assert (diff["added"], diff["removed"], diff["unchanged"]) == (
        len(set(r2) - set(r1)), len(set(r1) - set(r2)), len(set(r1) & set(r2)))
    assert diff["removed"] > 0 and diff["added"] > 0 and diff["unchanged"] > 0


TABLES = ("articles", "fulltexts", "trials", "links", "review_links", "criteria", "deletions",
          "withheld_fulltexts", "withheld_trials")


def assert_same_as_full_build(two_days, day: str) -> None:
    """The incremental snapshot of ``day`` equals one build over every raw file it covers (the
    raw zone as it was that day), record for record and row for row."""
    snap = two_days["root"] / "snapshots" / day
    listing = two_days["tmp"] / f"inputs-{day}.txt"
    listing.write_text((snap / "input_files.txt").read_text())
    full = two_days["tmp"] / f"full-{day}"
    run_build(two_days["root"] / "raw", full, ["--snapshot_date", day, "--input_list", str(listing)])
    assert task_rows(snap) == task_rows(full)
    key = lambda r: json.dumps(r, sort_keys=True, default=str)  # noqa: E731
    for table in TABLES:
        assert sorted(map(key, rows(snap, f"tables/{table}"))) == sorted(map(key, rows(full, f"tables/{table}"))), table


def test_day2_snapshot_equals_a_full_build_over_all_raw_files(two_days):
    assert_same_as_full_build(two_days, DAY2)


def test_a_citation_deleted_then_re_added_comes_back_with_its_full_text(two_days):
    root, ch = two_days["root"], two_days["changes"]
    assert two_days["fourth"]["status"] == "refreshed"
    s1, s2, s3 = (root / "snapshots" / d for d in (DAY1, DAY2, DAY3))
    assert ch.deleted_study in {r["pmid"] for r in rows(s3, "tables/articles")}
    ft = {d: {r["pmcid"] for r in rows(s, "tables/fulltexts") if r["pmid"] == ch.deleted_study}
          for d, s in ((DAY1, s1), (DAY2, s2), (DAY3, s3))}
    assert ft[DAY1] and ft[DAY2] == set() and ft[DAY3] == ft[DAY1]
    assert {r["pmid"] for r in rows(s2, "tables/withheld_fulltexts")} == {ch.deleted_study}
    assert {r["nct_id"] for r in rows(s2, "tables/withheld_trials")} == {ch.withdrawn_trial}
    assert any(r["pmid"] == ch.deleted_study for r in task_rows(s3).values())
    assert_same_as_full_build(two_days, DAY3)


def test_day1_snapshot_is_unchanged_and_day2_is_current(two_days):
    root = two_days["root"]
    assert tree_hashes(root / "snapshots" / DAY1) == two_days["day1_snapshot"]  # after days 2 and 3
    wm = two_days["day2_watermarks"]
    assert wm["snapshot"] == DAY2 and wm["snapshots"] == [DAY1, DAY2]
    assert wm["pubmed"] == {"to": "2026-11-02", "query": QUERY, "datetype": "mdat"}
    assert (root / "snapshots" / DAY2 / "_SUCCESS").exists()
    manifest = json.loads((root / "snapshots" / DAY2 / "manifest.json").read_text())
    assert manifest["refresh"]["previous_snapshot"] == DAY1
    assert manifest["refresh"]["window"] == {"from": "2026-11-01", "to": "2026-11-02"}


def test_running_the_same_day_again_does_nothing(two_days):
    assert two_days["third"]["status"] == "up_to_date"
    assert two_days["rerun_hits"] == []


def test_an_interrupted_refresh_can_be_run_again(tmp_path, sample_dir, two_days, monkeypatch):
    """A refresh that fails after its build (or whose fetch fails) leaves the watermarks alone;
    running it again gives the same snapshot as an uninterrupted run."""
    root = new_root(tmp_path, sample_dir)
    world = day1_world(sample_dir)
    with FakeServices(world) as s:
        refresh(root, s, DAY1)
        Day2(world, sample_dir)
        before = (root / "state/watermarks.json").read_text()
        # 1. the fetch fails (CT.gov keeps answering 503): no snapshot folder, watermarks unchanged
        s.faults = {"studies": ["503"] * 3}
        with pytest.raises(R.RefreshError, match="requests failed"):
            refresh(root, s, DAY2, "--max_attempts", "3")
        assert not (root / "snapshots" / DAY2).exists()
        assert (root / "state/watermarks.json").read_text() == before
        # 2. the job dies after writing the snapshot's files, before marking it complete
        import transforms.snapshot as S
        real = S.record_ids
        calls = []

        def crash(snapshot):
            calls.append(snapshot)
            if len(calls) == 1:
                raise RuntimeError("worker lost")
            return real(snapshot)

        monkeypatch.setattr(S, "record_ids", crash)
        with pytest.raises(Exception, match="worker lost"):
            refresh(root, s, DAY2)
        assert (root / "snapshots" / DAY2 / "manifest.json").exists()
        assert not (root / "snapshots" / DAY2 / "_SUCCESS").exists()
        assert (root / "state/watermarks.json").read_text() == before
        # 3. run again: completes, same records as the uninterrupted refresh
        again = refresh(root, s, DAY2)
    assert again["status"] == "refreshed"
    assert set(task_rows(root / "snapshots" / DAY2)) == set(task_rows(two_days["root"] / "snapshots" / DAY2))
    assert json.loads((root / "state/watermarks.json").read_text())["snapshot"] == DAY2


def test_a_refresh_with_an_api_key_never_writes_or_logs_it(tmp_path, sample_dir, monkeypatch, caplog):
    import logging
    secret = "refresh-key-9876543210abcdef"
    monkeypatch.setenv("NCBI_API_KEY", secret)
    root = new_root(tmp_path, sample_dir)
    world = day1_world(sample_dir)
    caplog.set_level(logging.DEBUG)
    with FakeServices(world) as s:
        s.faults = {"efetch": ["500"], "esearch": ["429"]}  # retries are logged
        summary = refresh(root, s, DAY1)
        eutils = s.hits_of("esearch", "efetch", "elink")
        assert eutils and all(h.params.get("api_key") == secret for h in eutils)
    assert summary["status"] == "refreshed" and summary["fetch"]["dead_letters"] == 2
    assert "retrying" in caplog.text and secret not in caplog.text
    for f in root.rglob("*"):
        if f.is_file():
            assert secret.encode() not in f.read_bytes(), f


def test_a_job_finishing_late_does_not_move_the_watermarks_back(tmp_path):
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from transforms.snapshot import FinalizeSnapshot
    root = tmp_path / "root"
    (root / "state").mkdir(parents=True)
    (root / "snapshots" / DAY1).mkdir(parents=True)
    newer = {"snapshot": "2026-11-05", "snapshots": [DAY1, "2026-11-05"]}
    (root / "state/watermarks.json").write_text(json.dumps(newer))
    manifest = {"total_records": 0, "tasks": {}}
    p = TestPipeline(runner="FnApiRunner")
    (p | beam.Create([manifest])
     | FinalizeSnapshot(str(root), DAY1, None, {"as_of": DAY1}, {"snapshot": DAY1, "snapshots": [DAY1]}))
    p.run().wait_until_finish()
    assert (root / "snapshots" / DAY1 / "_SUCCESS").exists()
    assert json.loads((root / "snapshots" / DAY1 / "refresh.json").read_text())["records"]["added"] == 0
    assert json.loads((root / "state/watermarks.json").read_text()) == newer
