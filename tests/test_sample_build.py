"""End-to-end build on the embedded sample corpus (needs nothing outside the repository):
exact counts per task, links equal to the generator's ground truth, and the same records in
multi-processing mode."""
from __future__ import annotations

import glob
import json

import pyarrow.parquet as pq
import pytest

from synth.sample import sample_truth, write_sample_corpus
from tests.test_build_pipeline import read_task, run_build
from transforms.tasks.common import TASKS

# screening: 33 candidates, 6 not built (their publications are in the split of another review)
EXPECTED_TASKS = {"search_query": 5, "screening": 27, "study_characteristics": 24, "arm_design": 24,
                  "participant_statistics": 68, "trial_results": 72}


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("sample")
    write_sample_corpus(str(root))
    return root


@pytest.fixture(scope="module")
def sample_build(sample_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    manifest, c = run_build(sample_root, out)
    return out, manifest, c


def test_sample_counts_per_task_and_table(sample_build):
    out, manifest, c = sample_build
    assert manifest["tasks"] == EXPECTED_TASKS and manifest["total_records"] == 220
    assert manifest["tables"] == {"articles": 44, "fulltexts": 15, "links_review_study": 43,
                                  "links_study_trial": 24, "trials": 24}
    assert manifest["dead_letters"] == {"links.parse:MissingField": 1}  # a SYNERGY row with a DOI only
    assert manifest["unresolved"] == {}
    for task in TASKS:
        assert len(read_task(out, task)) == EXPECTED_TASKS[task]
        assert c[f"tasks.{task}.built"] == EXPECTED_TASKS[task]
    # 45 baseline records + 1 update = 46 in; 44 out, 1 superseded, 1 deleted
    assert (c["pubmed.parsed"], c["pubmed.superseded"], c["pubmed.deleted"]) == (46, 1, 1)
    stats = json.load(open(f"{out}/stats.json"))["tasks"]
    assert {t: s["records"] for t, s in stats.items()} == EXPECTED_TASKS


def test_sample_links_match_ground_truth(sample_build):
    out, _, _ = sample_build
    truth = sample_truth()
    links = pq.read_table(glob.glob(f"{out}/tables/links/*.parquet")[0]).to_pylist()
    study_trial = sorted((x["pmid"], x["nct_id"]) for x in links if x["kind"] == "study_trial")
    assert study_trial == sorted((pmid, nct) for pmid, nct, _ in truth["trial_links"])
    for review in truth["reviews"]:
        rid = f"pubmed:{review['pmid']}"
        included = sorted(x["pmid"] for x in links if x["review_id"] == rid and x["label"] == "included")
        assert included == sorted(review["included"])


def test_sample_updates_deletions_and_aliases(sample_build):
    out, _, _ = sample_build
    truth = sample_truth()
    articles = {r["pmid"]: r for r in pq.read_table(glob.glob(f"{out}/tables/articles/*.parquet")[0]).to_pylist()}
    assert truth["deleted_pmid"] not in articles
    assert articles[truth["updated_pmid"]]["source_file"].endswith("sample_update_0002.xml.gz")
    records = read_task(out, "study_characteristics")
    assert {r["nct_id"] for r in records} == {f"NCT{9000001 + i:08d}" for i in range(24)}
    updated = next(r for r in records if r["pmid"] == truth["updated_pmid"])
    assert any(v.startswith(f"pubmed:{truth['updated_pmid']}.v1@2025") for v in updated["source_versions"])


def test_sample_records_are_grounded_and_traceable(sample_build):
    out, _, _ = sample_build
    for task in ("arm_design", "participant_statistics", "trial_results"):
        assert all(r["grounding"] == 1.0 for r in read_task(out, task)), task
    ids = [r["id"] for t in TASKS for r in read_task(out, t)]
    assert len(ids) == len(set(ids)) == 220
    for task in TASKS:
        for r in read_task(out, task):
            assert r["sources"] and r["messages"][2]["content"] == r["output"]


def test_no_review_trial_or_publication_in_two_splits(sample_build):
    out, _, c = sample_build
    splits: dict = {}
    per_task: dict = {}
    for task in TASKS:
        for r in read_task(out, task):
            per_task.setdefault(task, {}).setdefault(r["split"], 0)
            per_task[task][r["split"]] += 1
            for field in ("review_id", "pmid", "pmcid", "nct_id"):
                if r[field]:
                    splits.setdefault((field, r[field]), set()).add(r["split"])
    kinds = {}
    for (field, _), s in splits.items():
        kinds[field] = kinds.get(field, 0) + 1
        assert len(s) == 1, (field, s)  # every review, publication and trial is in exactly one split
    assert kinds == {"review_id": 5, "pmid": 27, "pmcid": 14, "nct_id": 24}
    # cochrane:CD900001 (test) and pubmed:90000001 (train) include the same 6 trial reports: the tie goes to
    # the smaller review id, so those publications and their trials are test and pubmed:90000001 screens none
    assert c["split.screening_candidates_dropped"] == 6 and c.get("split.study_bundles_dropped", 0) == 0
    assert c["split.trials"] == 24 and c["split.publications"] == 37
    assert per_task == {"search_query": {"train": 4, "test": 1}, "screening": {"train": 19, "test": 8},
                        "study_characteristics": {"train": 17, "test": 7}, "arm_design": {"train": 17, "test": 7},
                        "participant_statistics": {"train": 48, "test": 20},
                        "trial_results": {"train": 52, "test": 20}}


def test_multi_processing_gives_the_same_records(sample_root, sample_build, tmp_path):
    out, _, _ = sample_build
    manifest, _ = run_build(sample_root, tmp_path, ["--direct_num_workers=2",
                                                    "--direct_running_mode=multi_processing"])
    assert manifest["tasks"] == EXPECTED_TASKS
    for task in TASKS:
        assert sorted(r["id"] for r in read_task(tmp_path, task)) == sorted(r["id"] for r in read_task(out, task))
