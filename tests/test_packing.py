"""Compact pickling of records and the packed shuffles: exact round trips on real-format records."""
from __future__ import annotations

import copy
import dataclasses
import pickle

import apache_beam as beam
import pytest
from apache_beam.coders import coders
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from schemas import packing
from schemas.records import (Article, FullText, Link, ReviewBundle, ReviewStudy, StudyBundle, StudySummary,
                             TaskRecord, Trial, TrialBrief)
from transforms.formats import parse_source
from transforms.shuffle import PackedCoGroupByKey, PackedGroupByKey


@pytest.fixture(scope="module")
def records(sample_dir):
    out = []
    for path in sorted(p for p in sample_dir.rglob("*") if p.is_file()):
        with open(path, "rb") as f:
            out += list(parse_source(f, str(path)))
    return out


def _of(records, cls):
    return [r for r in records if type(r) is cls]


def test_every_record_type_round_trips_exactly(records):
    kinds = {type(r) for r in records}
    assert {Article, FullText, Trial} <= kinds
    for r in records:
        for back in (pickle.loads(pickle.dumps(r)), packing.unpack(packing.pack(r)), copy.deepcopy(r)):
            assert back == r and type(back) is type(r)
        coder = coders.FastPrimitivesCoder()
        assert coder.decode(coder.encode(("k", r))) == ("k", r)


def test_nested_records_round_trip_and_stay_typed(records):
    article = _of(records, Article)[0]
    fulltext = _of(records, FullText)[0]
    trial = next(t for t in _of(records, Trial) if t.results is not None)
    summary = StudySummary(article.pmid, None, article.title, article.abstract, ["Journal Article"], ["Humans"], [],
                           [], True, [TrialBrief(trial.nct_id, ["c"], ["i"], [])], ["f.xml"], "1")
    bundle = ReviewBundle("pubmed:1", None, [ReviewStudy("pubmed:1", article.pmid, "included", ["link_table"],
                                                         ["t.tsv"], summary)])
    for obj in (bundle, StudyBundle(article.pmid, article, fulltext, trial, ["databank"])):
        back = packing.unpack(packing.pack(obj))
        assert back == obj
    back = packing.unpack(packing.pack(bundle))
    assert type(back.studies[0].study.trials[0]) is TrialBrief
    assert type(packing.unpack(packing.pack(trial)).results.outcome_measures[0]) is type(
        trial.results.outcome_measures[0])


def test_large_records_are_compressed_small_ones_not(records):
    article = max(_of(records, Article), key=lambda a: len(a.abstract or ""))
    packed = packing.pack(article)
    assert len(packed) < len(pickle.dumps(dataclasses.asdict(article))) / 2
    link = Link("study_trial", None, "1", "NCT00000001", None, ["databank"], ["a.xml"])
    fn, args = link.__reduce__()
    assert args[2] == 0  # stored as is
    fn, args = article.__reduce__()
    assert args[2] > len(args[1])  # compressed; the pickled length is kept for decompression


def test_compact_pickling_refuses_non_dataclasses():
    with pytest.raises(TypeError):
        packing.compact_pickling(int)


@dataclasses.dataclass
class _Checked:
    value: int

    def __post_init__(self):
        self.value = int(self.value)


@dataclasses.dataclass
class _Derived:
    value: int
    double: int = dataclasses.field(init=False, default=0)


@dataclasses.dataclass
class _KeywordOnly:
    value: int
    _: dataclasses.KW_ONLY
    scale: int = 1


@pytest.mark.parametrize("cls", [_Checked, _Derived, _KeywordOnly])
def test_classes_that_init_cannot_rebuild_are_refused(cls):
    """Records are rebuilt through ``__init__``: a ``__post_init__`` or a non-init field is refused
    when the codec is made, not met as a wrong record later."""
    with pytest.raises(TypeError, match="rebuilds records through __init__"):
        packing._record_codec(cls)



def test_packed_shuffles_group_like_beam():
    a = TaskRecord("t:1", "screening", "s", "i", "x", "{}", [], None, None, None, None, None, None, "train", [], [],
                   "2026-01-01")
    b = dataclasses.replace(a, id="t:2")
    with TestPipeline(runner="FnApiRunner") as p:
        grouped = (p | "G" >> beam.Create([("k", a), ("k", b), ("j", a)]) | "PG" >> PackedGroupByKey()
                   | "SortG" >> beam.Map(lambda kv: (kv[0], sorted(r.id for r in kv[1]))))
        assert_that(grouped, equal_to([("k", ["t:1", "t:2"]), ("j", ["t:1"])]), label="grouped")
        left = p | "L" >> beam.Create([("k", a)])
        right = p | "R" >> beam.Create([("k", "x"), ("m", "y")])
        co = ({"left": left, "right": right} | "PCG" >> PackedCoGroupByKey()
              | "SortCG" >> beam.Map(lambda kv: (kv[0], [r.id for r in kv[1]["left"]], sorted(kv[1]["right"]))))
        assert_that(co, equal_to([("k", ["t:1"], ["x"]), ("m", [], ["y"])]), label="cogrouped")
