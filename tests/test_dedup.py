"""Duplicates merged into one: near-identical task records (a paper indexed under two PMIDs), one
study reached through two link tables, and the counters and manifest counts that say how many."""
from __future__ import annotations

import dataclasses
import gzip
import shutil

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from lxml import etree

from schemas.arrow import from_row
from schemas.records import TaskRecord
from tests.test_build_pipeline import counters, read_task, run_build
from transforms.quality.dedup import content_key, merge_group, normalise
from transforms.quality.transforms import DeduplicateTaskRecords
from transforms.tasks.common import TASKS, record_id

DUPLICATED_PMID, COPY_PMID = "90000009", "90099009"  # an abstract-only report of NCT09000007
EXTRACTION = ("study_characteristics", "arm_design", "participant_statistics", "trial_results")


def test_near_identical_means_same_text_up_to_case_and_spacing(sample_build_records):
    assert normalise("  Mean  AGE\n(years)\u00a0") == "mean age (years)"
    rec = sample_build_records["arm_design"][0]
    twin = dataclasses.replace(rec, pmid="1", input=rec.input.upper().replace(" ", "  "), sources=["x.xml"],
                               source_versions=["pubmed:1.v1@"])
    twin.id = record_id(twin.task, (twin.review_id, twin.pmid, twin.pmcid, twin.nct_id), twin.input, twin.output)
    assert content_key(twin) == content_key(rec)
    assert content_key(dataclasses.replace(rec, output=rec.output.replace("Experimental", "Other"))) != content_key(rec)
    merged = merge_group([twin, rec])
    assert merged.id == min(rec.id, twin.id) and merged.sources == sorted(set(rec.sources) | {"x.xml"})
    assert merged.source_versions == sorted(set(rec.source_versions) | {"pubmed:1.v1@"})


def test_deduplicate_step_merges_exactly_the_repeated_groups(sample_build_records):
    recs = [r for t in TASKS for r in sample_build_records[t]]
    a, b = sample_build_records["trial_results"][:2]
    twins = [dataclasses.replace(a, id="trial_results:twin1", sources=["copy1.xml"]),
             dataclasses.replace(a, id="trial_results:twin2", input=a.input + "  ", sources=["copy2.xml"]),
             dataclasses.replace(b, id="trial_results:twin3", input=b.input.lower())]
    p = TestPipeline(runner="FnApiRunner")
    out = p | beam.Create(recs + twins) | DeduplicateTaskRecords()
    expected = sorted(r.id for r in recs if r.id not in (a.id, b.id)) + sorted(
        [min(a.id, "trial_results:twin1"), min(b.id, "trial_results:twin3")])
    assert_that(out["records"] | "Ids" >> beam.Map(lambda r: r.id), equal_to(expected), label="ids")
    assert_that(out["records"] | "SourcesOfA" >> beam.Filter(lambda r: r.nct_id == a.nct_id and r.input == a.input)
                | beam.Map(lambda r: r.sources), equal_to([sorted(set(a.sources) | {"copy1.xml", "copy2.xml"})]),
                label="sources")
    assert_that(out["counts"], equal_to([("merged.trial_results", 2), ("merged.trial_results", 1)]), label="counts")
    c = counters(p.run())
    assert c["dedup.trial_results.merged"] == 3


def test_deduplicate_step_merges_twins_across_parts_and_passes_others_untouched(sample_build_records):
    """As the build calls it: one PCollection per task; twins of one task can sit in two parts."""
    by_task = {t: list(sample_build_records[t]) for t in TASKS}
    a = by_task["arm_design"][0]
    twin = dataclasses.replace(a, id="arm_design:!twin", input=a.input.upper(), sources=["z.xml"],
                               source_versions=["pubmed:z.v1@"])
    parts_in = {t: list(recs) for t, recs in by_task.items()}
    parts_in["screening"] = parts_in["screening"] + [twin]  # the twin arrives with another task's records
    p = TestPipeline(runner="FnApiRunner")
    parts = tuple(p | f"Create_{t}" >> beam.Create(recs) for t, recs in parts_in.items())
    out = parts | DeduplicateTaskRecords()
    everything = [r for recs in by_task.values() for r in recs]
    expected = sorted([r for r in everything if r.id != a.id] + [dataclasses.replace(
        twin, sources=sorted(set(a.sources) | {"z.xml"}),
        source_versions=sorted(set(a.source_versions) | {"pubmed:z.v1@"}))], key=lambda r: r.id)
    assert_that(out["records"], equal_to(expected), label="records")
    assert_that(out["counts"], equal_to([("merged.arm_design", 1)]), label="counts")
    c = counters(p.run())
    assert c["dedup.arm_design.merged"] == 1
    assert twin.id < a.id  # the kept member is the twin (smallest id), carrying both sources


def test_a_record_built_twice_from_one_bundle_is_rejected_not_duplicated(sample_build_records):
    from transforms.tasks.common import BuildContext
    from transforms.tasks.transforms import _BuildFn
    rec = sample_build_records["trial_results"][0]
    other = sample_build_records["trial_results"][1]
    fn = _BuildFn("trial_results", lambda bundle, ctx: iter(bundle), BuildContext(created_at="2026-01-01"))
    out = list(fn.process([rec, other, rec]))
    kept = [r for r in out if not isinstance(r, beam.pvalue.TaggedOutput)]
    tagged = [r for r in out if isinstance(r, beam.pvalue.TaggedOutput)]
    assert kept == [rec, other]
    assert [(t.tag, t.value.reasons, t.value.record) for t in tagged] == [("rejected", ["id.duplicate"], rec)]


@pytest.fixture(scope="module")
def sample_build_records(sample_build):
    out, _, _ = sample_build
    return {t: sorted((from_row(TaskRecord, r) for r in read_task(out, t)), key=lambda r: r.id) for t in TASKS}


@pytest.fixture(scope="module")
def sample_build(sample_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("dedup_base")
    manifest, c = run_build(sample_dir, out)
    return out, manifest, c


def with_duplicates(sample_dir, root):
    """The sample plus a second PubMed record of one trial report (same text, another PMID) and a
    second link table naming one included study again."""
    shutil.copytree(sample_dir, root)
    found = None
    for path in sorted((root / "pubmed").glob("*.xml.gz")):
        tree = etree.parse(gzip.open(path))
        for art in tree.iter("PubmedArticle"):
            if art.findtext("MedlineCitation/PMID") == DUPLICATED_PMID:
                found = art
    assert found is not None
    for el in found.iter("PMID", "ArticleId"):
        if el.text == DUPLICATED_PMID:
            el.text = COPY_PMID
    (root / "pubmed" / "copy.xml").write_bytes(
        b"<PubmedArticleSet>" + etree.tostring(found) + b"</PubmedArticleSet>")
    first = (root / "links" / "review_links.tsv").read_text().split("\n")[:2]
    (root / "links" / "more_links.tsv").write_text("\n".join(first) + "\n")
    return first[1].split("\t")


def test_a_build_merges_duplicates_and_counts_them(sample_dir, sample_build, tmp_path):
    base_out, base, c0 = sample_build
    review_id, pmid, label = with_duplicates(sample_dir, tmp_path / "raw")
    manifest, c = run_build(tmp_path / "raw", tmp_path / "out")
    copies = {t: [r for r in read_task(base_out, t) if r["pmid"] == DUPLICATED_PMID] for t in EXTRACTION}
    assert {t: len(v) for t, v in copies.items()} == {"study_characteristics": 1, "arm_design": 1,
                                                      "participant_statistics": 4, "trial_results": 4}
    # the copy's ten extraction records merged into the original's: same counts, unioned sources
    assert manifest["tasks"] == base["tasks"]
    assert manifest["merged"] == {t: len(v) for t, v in copies.items()}
    assert {t: c.get(f"dedup.{t}.merged", 0) for t in TASKS} == {t: len(copies.get(t, [])) for t in TASKS}
    assert base["merged"] == {} and not any(k.startswith("dedup.") for k in c0)
    for t in EXTRACTION:
        merged = [r for r in read_task(tmp_path / "out", t) if r["nct_id"] == "NCT09000007"]
        assert sorted(r["id"] for r in merged) == sorted(min(r["id"], record_id(
            t, (None, COPY_PMID, None, "NCT09000007"), r["input"], r["output"])) for r in copies[t])
        for r in merged:
            assert any(s.endswith("/pubmed/copy.xml") for s in r["sources"])
            assert any(v.startswith(f"pubmed:{COPY_PMID}.v") for v in r["source_versions"])
            assert any(v.startswith(f"pubmed:{DUPLICATED_PMID}.v") for v in r["source_versions"])
    # a PMID in both the baseline and the update file: the latest copy is kept, the others counted
    from collections import Counter

    from schemas.records import Article
    from transforms.formats import parse_source
    copies_per_pmid = Counter()
    for f in sorted((sample_dir / "pubmed").iterdir()):
        with open(f, "rb") as fh:
            copies_per_pmid.update(r.pmid for r in parse_source(fh, str(f)) if isinstance(r, Article))
    superseded = sum(n - 1 for n in copies_per_pmid.values())
    assert superseded >= 1 and c0["pubmed.superseded"] == superseded
    assert c0["pubmed.superseded"] + base["tables"]["articles"] + c0.get("pubmed.deleted", 0) == sum(
        copies_per_pmid.values())
    # the second link table: one more link to a pair the build already had, merged into one
    assert c["join.review_links_merged"] == c0.get("join.review_links_merged", 0) + 1
    assert manifest["tables"]["articles"] == base["tables"]["articles"] + 1
    assert (review_id, label) == ("pubmed:90000024", "included") and pmid == "90000025"


def test_a_trial_named_by_its_alias_and_a_study_linked_twice_become_one_link():
    """A publication naming a trial by an old alias (DataBank) and by its current id (abstract) gives
    one publication → trial link to the current id; a review → study pair named by two link sources
    gives one review link. The counters say how many links were merged."""
    from schemas.records import ReviewLink
    from tests.test_tasks import make_article, make_trial
    from transforms.joins.transforms import JoinReviewStudies, JoinStudyTrials, SelectLatestTrials
    trial = dataclasses.replace(make_trial("NCT09000005"), aliases=["NCT09000901"])
    report = dataclasses.replace(make_article("20", abstract="Registered as NCT09000005.", nct_ids=["NCT09000901"]),
                                 text_nct_ids=["NCT09000005"])
    other = make_article("21", nct_ids=["NCT09000005"])
    links = [ReviewLink("pubmed:900", "20", "included", "link_table", "links/a.tsv"),
             ReviewLink("pubmed:900", "20", "included", "clef_qrels_content", "links/b.qrels"),
             ReviewLink("pubmed:900", "21", "included", "link_table", "links/a.tsv")]
    p = TestPipeline(runner="FnApiRunner")
    trials = p | "Trials" >> beam.Create([trial]) | SelectLatestTrials()
    s = ((p | "Arts" >> beam.Create([report, other]), p | "Fts" >> beam.Create([]), trials.trials, trials.aliases)
         | JoinStudyTrials())
    assert_that(s["bundles"] | "B" >> beam.Map(lambda b: (b.pmid, b.trial.nct_id, tuple(sorted(b.link_sources)))),
                equal_to([("20", "NCT09000005", ("abstract_mention", "databank")),
                          ("21", "NCT09000005", ("databank",))]), label="bundles")
    r = (p | "Links" >> beam.Create(links), s["summaries"], s["briefs"], s["criteria"]) | JoinReviewStudies()
    assert_that(r["bundles"] | "RB" >> beam.Map(lambda b: [(x.pmid, tuple(x.link_sources)) for x in b.studies]),
                equal_to([[("20", ("clef_qrels_content", "link_table")), ("21", ("link_table",))]]), label="reviews")
    c = counters(p.run())
    assert (c["join.trial_alias_links"], c["join.study_trial_links_merged"], c["join.review_links_merged"]) == (1, 1, 1)
    assert c["join.study_trial_links"] == 2 and c["join.review_study_links"] == 2


def test_normalise_collapses_exactly_the_whitespace_of_backslash_s():
    """``str.split()`` and the regex ``\\s+`` agree on every code point (what normalise relies on)."""
    import re
    import unicodedata
    every = "".join(chr(i) for i in range(0x110000) if not 0xD800 <= i < 0xE000)
    for text in ("x" + every + "y", "  a\u00a0b\u2003c\u2028d\x1c\x1d\x1e\x1f e\x85f\u200bg\ufeff ", "\t\n", ""):
        by_regex = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).casefold()).strip()
        assert normalise(text) == by_regex
    assert normalise(" Ⅻ\u00a0ﬁ\tStraße ") == "xii fi strasse"
