"""ClinicalTrials.gov API v2 ``/studies``: request parameters and page parsing (pure; no I/O)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable, Optional

DEFAULT_BASE = "https://clinicaltrials.gov/api/v2"
MAX_PAGE_SIZE = 1000


@dataclass
class StudiesPage:
    nct_ids: list[str]
    next_page_token: Optional[str]
    total_count: Optional[int]


def updated_since_term(since: str, until: Optional[str] = None) -> str:
    """Essie term for studies whose last update was posted in [since, until] (YYYY-MM-DD)."""
    return f"AREA[LastUpdatePostDate]RANGE[{since},{until or 'MAX'}]"


def studies_params(*, query_term: Optional[str] = None, nct_ids: Optional[Iterable[str]] = None,
                   page_size: int = MAX_PAGE_SIZE, page_token: Optional[str] = None) -> dict:
    """Query parameters of one ``/studies`` page (full study records, JSON)."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"pageSize must be 1..{MAX_PAGE_SIZE}, got {page_size}")
    params = {"format": "json", "pageSize": str(page_size)}
    if query_term:
        params["query.term"] = query_term
    if nct_ids is not None:
        params["filter.ids"] = ",".join(nct_ids)
    if page_token:
        params["pageToken"] = page_token
    else:
        params["countTotal"] = "true"
    return params


def parse_studies_page(body: bytes) -> StudiesPage:
    """A ``/studies`` response → NCT ids, next page token, total count (first page only)."""
    doc = json.loads(body)
    if not isinstance(doc, dict) or not isinstance(doc.get("studies"), list):
        raise ValueError("not a /studies page: no 'studies' list")
    ids = []
    for s in doc["studies"]:
        nct = (((s or {}).get("protocolSection") or {}).get("identificationModule") or {}).get("nctId")
        if not nct:
            raise ValueError("a study without protocolSection.identificationModule.nctId")
        ids.append(nct)
    total = doc.get("totalCount")
    return StudiesPage(ids, doc.get("nextPageToken") or None, int(total) if total is not None else None)


def check_studies_page(body: bytes) -> Optional[str]:
    """None when ``body`` is a complete, well-formed ``/studies`` page, else why not."""
    try:
        parse_studies_page(body)
    except (ValueError, TypeError, AttributeError) as e:  # json.JSONDecodeError is a ValueError
        return f"{type(e).__name__}: {str(e)[:200]}"
    return None
