"""Splits without leakage: one split per review, trial and publication, chosen by precedence (pure).

- a review's split is the hash of its id (``split_for(review_id)``);
- a trial's split is the majority of the splits of the reviews linking any of its publications
  (one vote per review; a tie goes to the split of the smallest review id among the tied splits),
  else the hash of ``ctgov:<nct>``;
- a publication's split is that of its trial (several trials: their majority, a tie to the smallest
  NCT id), else the majority of the reviews linking it, else the hash of ``pubmed:<pmid>``; its
  PMCID follows it.

A record takes the split of its entities; one whose entities disagree (a screening candidate
whose publication went with another review's split, a publication–trial pair whose publication
went with another of its trials) is not built. Pure module: no Beam import.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable, Optional

from transforms.tasks.common import split_for


def vote_split(review_ids: Iterable[str]) -> Optional[str]:
    """The majority split of the distinct ``review_ids``; None when there are none."""
    reviews = sorted(set(review_ids))
    if not reviews:
        return None
    votes = Counter(split_for(r) for r in reviews)
    top = max(votes.values())
    return next(split_for(r) for r in reviews if votes[split_for(r)] == top)


def trial_split(nct_id: str, review_ids: Iterable[str]) -> str:
    """A trial's split: the majority of the reviews linking its publications, else its own hash."""
    return vote_split(review_ids) or split_for(f"ctgov:{nct_id}")


def publication_split(pmid: str, trial_splits: Iterable[tuple[str, str]] = (),
                      review_ids: Iterable[str] = ()) -> str:
    """A publication's split: that of its trials ((nct_id, split) pairs; majority, a tie to the
    smallest NCT id), else the majority of the reviews linking it, else its own hash."""
    pairs = sorted(set(trial_splits))
    if pairs:
        votes = Counter(s for _, s in pairs)
        top = max(votes.values())
        return next(s for _, s in pairs if votes[s] == top)
    return vote_split(review_ids) or split_for(f"pubmed:{pmid}")
