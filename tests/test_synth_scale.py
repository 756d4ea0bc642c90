"""The scalable synthetic raw zone (``synth.scale``): exact counts against the targets, the same
bytes whatever the number of worker processes, and a build whose records follow from the layout."""
from __future__ import annotations

import gzip
import hashlib
import json
import tarfile
from pathlib import Path

import pytest
from lxml import etree

from synth.scale import (LEADS_PUBLICATIONS, LEADS_REVIEWS, LEADS_TRIALS, main, scaled_layout, targets,
                         write_scaled_corpus)
from tests.test_build_pipeline import run_build

SCALE = 0.002  # 43 reviews, 907 publications, 54 registry records


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "synth_summary.json"}


@pytest.fixture(scope="module")
def scaled(tmp_path_factory):
    root = tmp_path_factory.mktemp("scaled")
    summary = write_scaled_corpus(str(root), SCALE, seed=0, workers=2, records_per_file=400)
    return root, summary


def test_targets_are_the_leads_corpus_at_scale_one():
    assert targets(1.0) == {"reviews": LEADS_REVIEWS, "publications": LEADS_PUBLICATIONS, "trials": LEADS_TRIALS}
    assert targets(1.0) == {"reviews": 21_335, "publications": 453_625, "trials": 27_015}
    assert targets(SCALE) == {"reviews": 43, "publications": 907, "trials": 54}
    with pytest.raises(ValueError):
        targets(0)


def test_layout_hits_the_targets_exactly():
    for scale in (SCALE, 0.01):
        goal = targets(scale)
        layout = scaled_layout(scale)
        reviews = [a for a in layout.articles if a.kind == "review"]
        assert len(reviews) == goal["reviews"]
        assert len(layout.articles) - len(reviews) == goal["publications"]
        registered = [t for t in layout.trials if t.registered]
        assert len(registered) == goal["trials"]
        assert all(t.link_mode == "none" for t in layout.trials if not t.registered)
        assert {t.link_mode for t in registered} == {"databank", "abstract", "registry"}
        # every review has at least two included studies; PMIDs are consecutive
        for g in range(goal["reviews"]):
            assert len(layout.topic_articles(g, "trial")) >= 2
        assert [int(a.pmid) for a in layout.articles] == list(range(90000001, 90000001 + len(layout.articles)))


def test_summary_counts_match_the_files(scaled):
    root, s = scaled
    layout = scaled_layout(SCALE)
    assert (s["reviews"], s["publications"], s["trials"]) == (43, 907, 54)
    assert s["pubmed_records"] == len(layout.articles) == 950
    assert sorted(p.name for p in (root / "pubmed").iterdir()) == [
        "synth25n0001.xml.gz", "synth25n0002.xml.gz", "synth25n0003.xml.gz", "synth25n_update_0001.xml.gz"]
    n_pubmed = 0
    for name in ("synth25n0001.xml.gz", "synth25n0002.xml.gz", "synth25n0003.xml.gz"):
        with gzip.open(root / "pubmed" / name) as f:
            n_pubmed += len(etree.parse(f).getroot().findall("PubmedArticle"))
    assert n_pubmed == 950
    with gzip.open(root / "pubmed" / "synth25n_update_0001.xml.gz") as f:
        updated = [e.findtext("MedlineCitation/PMID") for e in etree.parse(f).getroot().findall("PubmedArticle")]
    studies = [a.pmid for a in layout.articles if a.kind == "trial"]
    assert updated == studies[::1000] and s["pubmed_update_records"] == 1
    ncts = []
    for p in sorted((root / "ctgov").iterdir()):
        ncts += [json.loads(line)["protocolSection"]["identificationModule"]["nctId"] for line in p.open()]
    assert ncts == [t.nct for t in layout.trials if t.registered] and len(ncts) == s["trials"] == 54
    nxml = 0
    for p in sorted((root / "pmc").iterdir()):
        with tarfile.open(p) as tar:
            nxml += sum(1 for m in tar.getmembers() if m.name.endswith(".nxml"))
    assert nxml == s["fulltexts"] == sum(1 for a in layout.articles if a.pmcid)
    rows = sum(len(p.read_text().splitlines()) - 1 for p in (root / "links").iterdir())
    assert rows == s["link_rows"] == s["included_studies"] + s["excluded_studies"]


def test_same_bytes_with_one_or_two_workers(scaled, tmp_path):
    root, _ = scaled
    write_scaled_corpus(str(tmp_path), SCALE, seed=0, workers=1, records_per_file=400)
    assert _digest(tmp_path) == _digest(root)


def test_cli_refuses_a_scale_that_is_not_positive(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main([str(tmp_path), "--scale", "0"])
    assert e.value.code == 2 and "--scale and --records_per_file must be positive" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_cli_writes_summary(tmp_path, capsys):
    assert main([str(tmp_path), "--scale", "0.0005", "--workers", "1"]) == 0
    shown = json.loads(capsys.readouterr().out)
    stored = json.loads((tmp_path / "synth_summary.json").read_text())
    assert shown["reviews"] == stored["reviews"] == 11 and "files" in stored and "files" not in shown


def test_build_records_follow_from_the_layout(scaled, tmp_path):
    root, s = scaled
    layout = scaled_layout(SCALE)
    manifest, c = run_build(root, tmp_path)
    registered = [t for t in layout.trials if t.registered]
    with_results = [t for t in registered if t.has_results]
    tasks = manifest["tasks"]
    assert manifest["dead_letters_total"] == 0 and manifest["unresolved"] == {}
    assert manifest["tables"] == {"articles": 950, "fulltexts": s["fulltexts"], "trials": 54,
                                  "links_review_study": s["link_rows"], "links_study_trial": 54}
    assert c["pubmed.superseded"] == s["pubmed_update_records"]
    merged, rejected = manifest["merged"], manifest["rejected"]
    # one per review: the reviews of one vocabulary topic each narrow its question, so none merges
    assert tasks["search_query"] == 43 and "search_query" not in merged
    assert tasks["study_characteristics"] == tasks["arm_design"] == 54  # one per publication-trial pair
    assert tasks["participant_statistics"] == 4 * len(with_results)
    assert set(merged) <= {"search_query", "screening"} and set(rejected) <= {"screening"}
    # every linked study is screened, plus the topic-near hard negatives (less merged twins and leaks)
    assert (tasks["screening"] + merged.get("screening", 0) + rejected.get("screening", 0)
            == s["link_rows"] + c["join.topic_near_negatives"])
    assert rejected.get("screening", 0) == c.get("split.screening_candidates_dropped", 0)
    assert manifest["total_records"] == sum(tasks.values())


def test_each_extra_review_of_a_topic_narrows_the_question_its_own_way():
    from synth.text import FOCUS_DESIGNS, FOCUS_SETTINGS, FOCUS_SUBGROUPS, FOCUS_YEARS, review_focus
    assert review_focus(0) is None  # a topic's first review keeps the topic's question
    per_topic = len(FOCUS_SETTINGS) * len(FOCUS_DESIGNS) * len(FOCUS_SUBGROUPS) * FOCUS_YEARS
    foci = [review_focus(r) for r in range(1, per_topic + 1)]
    assert len(set(foci)) == per_topic == 20_800  # scale 1.0 needs 5,334 per topic
    assert review_focus(1) == ("in primary care", "with placebo control", "women", 2000)
    assert review_focus(per_topic + 1) == review_focus(1)
