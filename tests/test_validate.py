"""Validation of task records: every rule rejects a hand-made bad record with its reason, valid
records pass, the Beam step splits records exactly, and a build writes rejected records apart."""
from __future__ import annotations

import dataclasses
import glob
import json

import apache_beam as beam
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from schemas.arrow import from_row
from schemas.records import Message, TaskRecord
from tests.test_build_pipeline import counters, read_task, run_build
from transforms.quality.transforms import ValidateTaskRecords
from transforms.quality.validate import (EXTRACTION_TASKS, ValidationSettings, check_record, grounding_values,
                                         is_number, paper, section)
from transforms.tasks.common import TASKS, Grounder, record_id


@pytest.fixture(scope="module")
def built(sample_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("validate_out")
    manifest, c = run_build(sample_dir, out)
    return out, manifest, c


@pytest.fixture(scope="module")
def good(built):
    """One valid record per task from the sample build (the first by id)."""
    out, _, _ = built
    recs = {}
    for task in TASKS:
        rows = sorted(read_task(out, task), key=lambda r: r["id"])
        recs[task] = [from_row(TaskRecord, r) for r in rows]
    return recs


def remake(rec: TaskRecord, **changes) -> TaskRecord:
    """``rec`` with ``changes``, its id, messages and grounding made consistent again, so that only
    the rule a test aims at can fail."""
    r = dataclasses.replace(rec, **changes)
    if "grounding" not in changes and r.task in EXTRACTION_TASKS:
        try:
            r.grounding = Grounder(paper(r.input)).score(grounding_values(r.task, json.loads(r.output)))
        except (ValueError, TypeError, KeyError, AttributeError):
            pass
    r.id = record_id(r.task, (r.review_id, r.pmid, r.pmcid, r.nct_id), r.input, r.output)
    r.messages = [Message("system", r.system), Message("user", f"{r.instruction}\n\n{r.input}"),
                  Message("assistant", r.output)]
    return r


def with_output(rec: TaskRecord, fn) -> TaskRecord:
    out = json.loads(rec.output)
    fn(out)
    return remake(rec, output=json.dumps(out))


def test_every_sample_record_is_valid(good):
    assert sum(len(v) for v in good.values()) == 220
    assert {t: [r.id for r in recs if check_record(r)] for t, recs in good.items()} == {t: [] for t in TASKS}


def test_common_rules(good):
    rec = good["arm_design"][0]
    assert check_record(dataclasses.replace(rec, id="arm_design:0")) == ["id.mismatch"]
    bad_msgs = dataclasses.replace(rec, messages=rec.messages[:2] + [Message("assistant", "[]")])
    assert check_record(bad_msgs) == ["messages.mismatch"]
    assert check_record(dataclasses.replace(rec, split="dev")) == ["split.unknown"]
    assert check_record(dataclasses.replace(rec, sources=[])) == ["sources.missing"]
    assert check_record(remake(rec, output="[{\"label\": ")) == ["output.not_json"]
    assert check_record(dataclasses.replace(rec, grounding=1.5)) == ["grounding.out_of_range"]
    assert check_record(dataclasses.replace(rec, grounding=-0.1)) == ["grounding.out_of_range"]


@pytest.mark.parametrize("task, breaks", [
    ("search_query", lambda o: o.pop("interventions")),
    ("search_query", lambda o: o.update(query="")),
    ("screening", lambda o: o["criteria"][0].update(eligibility="MAYBE")),
    ("screening", lambda o: o.update(include="yes")),
    ("study_characteristics", lambda o: o[0].update(value=3)),
    ("study_characteristics", lambda o: o.append({"name": "Sponsor"})),
    ("arm_design", lambda o: o[0].update(type="Placebo")),
    ("arm_design", lambda o: o[0].update(interventionNames="Drug: X")),
    ("participant_statistics", lambda o: o["results"][0].pop("note")),
    ("participant_statistics", lambda o: o.update(results=[])),
    ("trial_results", lambda o: o.update(results=[])),
    ("trial_results", lambda o: o.update(denomValue=47)),
])
def test_output_not_in_the_task_format_is_rejected(good, task, breaks):
    assert check_record(with_output(good[task][0], breaks)) == ["output.format"]


def test_screening_rules(good):
    rec = next(r for r in good["screening"] if json.loads(r.output)["include"])
    assert check_record(with_output(rec, lambda o: o["criteria"].pop())) == ["criteria.mismatch"]
    assert check_record(with_output(rec, lambda o: o["criteria"].append(dict(o["criteria"][0])))) == [
        "criteria.mismatch"]
    assert check_record(with_output(rec, lambda o: o["criteria"][0].update(eligibility="NO"))) == [
        "screening.inconsistent"]
    excluded = next(r for r in good["screening"] if not json.loads(r.output)["include"])

    def all_yes(o):
        for c in o["criteria"]:
            c["eligibility"] = "YES"
    assert check_record(excluded) == []
    assert check_record(with_output(excluded, all_yes)) == ["screening.inconsistent"]


def test_registry_consistency_rules(good):
    sc = good["study_characteristics"][0]
    assert check_record(with_output(sc, lambda o: o[0].update(name="Funding"))) == ["field.unknown"]
    assert check_record(with_output(sc, lambda o: o.append(dict(o[0])))) == ["field.unknown"]
    enrollment = next(r for r in good["study_characteristics"] if '"Enrollment"' in r.output)

    def vague(o):
        next(i for i in o if i["name"] == "Enrollment")["value"] = "about two hundred"
    assert check_record(with_output(enrollment, vague)) == ["value.not_a_number"]
    ps = good["participant_statistics"][0]
    assert check_record(with_output(ps, lambda o: o["results"][0].update(groupId="BG999"))) == ["group.unknown"]
    assert check_record(with_output(ps, lambda o: o["results"][0].update(value="about 50"))) == [
        "value.not_a_number"]
    no_unit = remake(ps, input="\n".join(ln for ln in ps.input.split("\n") if not ln.startswith("Unit: ")))
    assert no_unit.input != ps.input and check_record(no_unit) == ["unit.missing"]
    tr = good["trial_results"][0]
    assert check_record(with_output(tr, lambda o: o["results"][0].update(value="n/a"))) == ["value.not_a_number"]
    assert check_record(with_output(tr, lambda o: o.update(denomValue="forty"))) == ["value.not_a_number"]
    assert check_record(with_output(tr, lambda o: o.update(unitOfMeasure=None))) == ["unit.missing"]


def test_grounding_rules(good):
    rec = next(r for r in good["trial_results"] if r.grounding is not None)
    other = 0.5 if rec.grounding != 0.5 else 0.25
    assert check_record(dataclasses.replace(rec, grounding=other)) == ["grounding.mismatch"]
    partial = [r for t in EXTRACTION_TASKS for r in good[t] if r.grounding is not None and r.grounding < 1]
    assert partial, "the sample has records whose values are partly absent from the paper"
    r = partial[0]
    assert check_record(r, ValidationSettings(min_grounding=r.grounding)) == []
    assert check_record(r, ValidationSettings(min_grounding=r.grounding + 0.0001)) == ["grounding.below_threshold"]
    # review tasks carry no paper-text grounding: the threshold does not apply to them
    assert check_record(good["screening"][0], ValidationSettings(min_grounding=1.0)) == []


def test_helpers():
    assert [is_number(v) for v in ("12", "-3.5", "1,200", "2.1e-3", "−4", 7, 0.5)] == [True] * 7
    assert [is_number(v) for v in ("", "NA", "n/a", "1.2.3", "12 mg", True, float("nan"), None)] == [False] * 8
    text = "MEASURE:\nMeasure: Age\n\nUnit: years\n\nGROUPS:\n- BG000: A\n\nPUBLICATION:\nTitle: T\n\nBody"
    assert section(text, "MEASURE", "GROUPS") == "Measure: Age\n\nUnit: years"
    assert section(text, "GROUPS", "PUBLICATION") == "- BG000: A"
    assert section(text, "FIELDS") is None
    assert paper(text) == "Title: T\n\nBody"


def test_validate_step_splits_records_exactly(good):
    valid = [good[t][0] for t in TASKS]
    bad = [dataclasses.replace(good["arm_design"][1], split="dev"),
           with_output(good["trial_results"][1], lambda o: o.update(unitOfMeasure=None)),
           dataclasses.replace(good["screening"][1], sources=[], split="x")]
    p = TestPipeline(runner="FnApiRunner")
    out = p | beam.Create(valid + bad) | ValidateTaskRecords()
    assert_that(out.records | "ValidIds" >> beam.Map(lambda r: r.id),
                equal_to([r.id for r in valid]), label="valid")
    assert_that(out.rejected | "RejectedReasons" >> beam.Map(lambda r: (r.record.id, r.reasons)),
                equal_to([(bad[0].id, ["split.unknown"]), (bad[1].id, ["unit.missing"]),
                          (bad[2].id, ["split.unknown", "sources.missing"])]), label="rejected")
    c = counters(p.run())
    assert {k: v for k, v in c.items() if k.startswith("validate.")} == {
        **{f"validate.{t}.valid": 1 for t in TASKS}, "validate.arm_design.rejected": 1,
        "validate.trial_results.rejected": 1, "validate.screening.rejected": 1,
        "validate.rejected.split.unknown": 2, "validate.rejected.unit.missing": 1,
        "validate.rejected.sources.missing": 1}


def test_a_build_writes_rejected_records_apart_and_counts_them(sample_dir, built, tmp_path):
    out, manifest, c = built
    # the sample's only rejections: 6 screening candidates whose publications are in another split
    assert manifest["rejected"] == {"screening": 6} and manifest["rejected_reasons"] == {"split.leak": 6}
    assert manifest["rejected_total"] == c["tasks.screening.rejected"] == 6
    assert sum(c[f"validate.{t}.valid"] for t in TASKS) == 220 == manifest["total_records"]
    leaks = [json.loads(ln) for f in sorted(glob.glob(f"{out}/rejected/*.jsonl")) for ln in open(f)]
    kept = {(r["pmid"], r["split"]) for t in TASKS for r in read_task(out, t) if r["pmid"]}
    for d in leaks:  # each one's publication is in the task shards, in another split than its review's
        assert d["reasons"] == ["split.leak"] and d["record"]["task"] == "screening"
        assert {s for p, s in kept if p == d["record"]["pmid"]} - {d["record"]["split"]}
    # raise the grounding threshold: exactly the extraction records scoring below it leave the tasks
    threshold = 0.9
    below = {t: sorted(r["id"] for r in read_task(out, t) if (r["grounding"] or 0) < threshold)
             for t in EXTRACTION_TASKS}
    assert sum(map(len, below.values())) > 0
    strict, c2 = run_build(sample_dir, tmp_path, ["--min_grounding", str(threshold)])
    for t in TASKS:
        assert strict["tasks"][t] == manifest["tasks"][t] - len(below.get(t, []))
        assert c2.get(f"validate.{t}.rejected", 0) == len(below.get(t, []))
    assert strict["rejected"] == {**{t: len(v) for t, v in below.items() if v}, "screening": 6}
    assert strict["rejected_total"] == sum(map(len, below.values())) + 6
    assert strict["rejected_reasons"] == {"grounding.below_threshold": strict["rejected_total"] - 6, "split.leak": 6}
    lines = [json.loads(ln) for f in sorted(glob.glob(f"{tmp_path}/rejected/*.jsonl")) for ln in open(f)]
    lines = [d for d in lines if d["reasons"] != ["split.leak"]]
    assert sorted(d["record"]["id"] for d in lines) == sorted(i for v in below.values() for i in v)
    assert {tuple(d["reasons"]) for d in lines} == {("grounding.below_threshold",)}
    assert all(d["record"]["sources"] and d["record"]["output"] for d in lines)
    # the records kept are the others, unchanged
    for t in EXTRACTION_TASKS:
        kept = sorted(r["id"] for r in read_task(tmp_path, t))
        assert kept == sorted(set(r["id"] for r in read_task(out, t)) - set(below[t]))
    assert sum(pq.read_metadata(f).num_rows for f in glob.glob(f"{tmp_path}/tasks/*/*.parquet")) == sum(
        strict["tasks"].values())
