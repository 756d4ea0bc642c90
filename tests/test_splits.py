"""Entity splits (transforms.joins.splits) and their Beam wiring (AssignSplits): precedence,
majority, ties, and the records a split conflict leaves out."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from schemas.records import Link, ReviewLink
from transforms.joins.splits import publication_split, trial_split, vote_split
from transforms.joins.transforms import AssignSplits
from transforms.tasks.common import split_for


def _reviews(split, n, prefix="r"):
    """The first ``n`` review ids (prefix + number) whose hash falls in ``split``."""
    out, i = [], 0
    while len(out) < n:
        rid = f"{prefix}:{i}"
        if split_for(rid) == split:
            out.append(rid)
        i += 1
    return out


def test_vote_is_the_majority_and_a_tie_goes_to_the_smallest_review():
    train, test = _reviews("train", 2), _reviews("test", 2)
    assert vote_split([]) is None
    assert vote_split([*train, test[0]]) == "train"
    assert vote_split([train[0], *test]) == "test"
    tie = [train[0], test[0]]
    assert vote_split(tie) == split_for(min(tie))
    assert vote_split([test[0], test[0], train[0], train[1]]) == "train"  # one vote per review


def test_precedence_trial_then_reviews_then_own_hash():
    test = _reviews("test", 1)
    assert trial_split("NCT1", []) == split_for("ctgov:NCT1")
    assert trial_split("NCT1", test) == "test"
    assert publication_split("1") == split_for("pubmed:1")
    assert publication_split("1", (), test) == "test"
    assert publication_split("1", [("NCT1", "validation")], test) == "validation"  # the trial wins
    assert publication_split("1", [("NCT2", "test"), ("NCT1", "train")]) == "train"  # tie: smallest NCT id
    assert publication_split("1", [("NCT1", "test"), ("NCT2", "train"), ("NCT3", "train")]) == "train"


def test_assign_splits_keys_publications_and_trials():
    (a,), (b1, b2) = _reviews("test", 1), _reviews("validation", 2)
    links = [ReviewLink(a, "1", "included", "link_table", "f"), ReviewLink(b1, "2", "included", "link_table", "f"),
             ReviewLink(b2, "2", "excluded", "link_table", "f"), ReviewLink(a, "3", "included", "link_table", "f"),
             ReviewLink(b1, "4", "excluded", "link_table", "f")]
    # trial X: publications 1 (review a) and 2 (reviews b1, b2) → validation (2 votes to 1);
    # publication 3 reports trials X and Y (Y: only review a, via 3) → tie of X and Y: smallest NCT id (X)
    rows = [Link("study_trial", None, p, n, None, ["databank"], ["f"])
            for p, n in (("1", "NCTX"), ("2", "NCTX"), ("3", "NCTX"), ("3", "NCTY"), ("5", "NCTZ"))]
    with TestPipeline(runner="FnApiRunner") as p:
        out = (p | "Links" >> beam.Create(links), p | "Rows" >> beam.Create(rows)) | AssignSplits()
        assert_that(out["trial_splits"], equal_to([("NCTX", "validation"), ("NCTY", "test"),
                                                   ("NCTZ", split_for("ctgov:NCTZ"))]), label="trials")
        assert_that(out["pub_splits"], equal_to([("1", "validation"), ("2", "validation"), ("3", "validation"),
                                                 ("4", "validation"), ("5", split_for("ctgov:NCTZ"))]),
                    label="publications")
        assert_that(out["pub_trial_splits"], equal_to([
            ("NCTX", ("1", "validation")), ("NCTX", ("2", "validation")), ("NCTX", ("3", "validation")),
            ("NCTY", ("3", "validation")), ("NCTZ", ("5", split_for("ctgov:NCTZ")))]), label="pairs")
