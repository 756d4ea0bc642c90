"""NCBI E-utilities: request parameters and response parsing (pure; no I/O here).

Every request goes as a POST form (the E-utilities accept POST for all endpoints), so ``api_key``
never appears in a URL. Parsers take response bodies (bytes) and return plain values.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable, Optional

from lxml import etree

from transforms.textutil import safe_fromstring

DEFAULT_BASE = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"
MAX_IDS = 9999  # PubMed esearch returns at most this many records of one search


@dataclass(frozen=True)
class Identity:
    """Who is asking: NCBI's ``tool`` and ``email``, and an optional ``api_key``."""
    tool: str = "leadsinstruct"
    email: Optional[str] = None
    api_key: Optional[str] = None

    def params(self) -> dict:
        p = {"tool": self.tool}
        if self.email:
            p["email"] = self.email
        if self.api_key:
            p["api_key"] = self.api_key
        return p


@dataclass
class SearchResult:
    count: int
    webenv: Optional[str]
    query_key: Optional[str]
    ids: list[str]


class EutilsError(ValueError):
    """An E-utilities response that reports an error in its body."""


def esearch_form(term: str, *, db: str = "pubmed", datetype: Optional[str] = None,
                 mindate: Optional[str] = None, maxdate: Optional[str] = None, retmax: int = 0,
                 usehistory: bool = True) -> dict:
    """Form fields of an esearch; dates as YYYY/MM/DD (inclusive), ``datetype`` edat/mdat/pdat."""
    form = {"db": db, "term": term, "retmax": str(retmax)}
    if usehistory:
        form["usehistory"] = "y"
    if mindate or maxdate:
        form["datetype"] = datetype or "edat"
        form["mindate"] = (mindate or "1800/01/01").replace("-", "/")
        form["maxdate"] = (maxdate or "3000/12/31").replace("-", "/")
    return form


def efetch_history_form(webenv: str, query_key: str, retstart: int, retmax: int, db: str = "pubmed") -> dict:
    return {"db": db, "WebEnv": webenv, "query_key": query_key, "retstart": str(retstart),
            "retmax": str(retmax), "retmode": "xml"}


def efetch_ids_form(ids: Iterable[str], db: str = "pubmed") -> dict:
    return {"db": db, "id": ",".join(ids), "retmode": "xml"}


def elink_form(ids: Iterable[str], linkname: str, dbfrom: str = "pubmed", db: str = "pubmed") -> list:
    """ELink form with one ``id`` field per PMID, so the response keeps one LinkSet per source id."""
    form = [("dbfrom", dbfrom), ("db", db), ("linkname", linkname)]
    form += [("id", i) for i in ids]
    return form


def with_identity(form, identity: Identity):
    if isinstance(form, dict):
        return {**form, **identity.params()}
    return list(form) + list(identity.params().items())


def _root(body: bytes):
    return safe_fromstring(body)


def _result_root(body: bytes, tag: str):
    """The root of an E-utilities XML result, which must be ``tag`` and report no ERROR."""
    root = _root(body)
    if root.tag != tag:
        raise EutilsError(f"expected {tag}, got <{root.tag}>")
    err = root.findtext("ERROR")
    if err:
        raise EutilsError(err.strip())
    return root


def parse_esearch(body: bytes) -> SearchResult:
    """eSearchResult XML or esearch JSON → ``SearchResult``; an ERROR in the body raises."""
    text = body.lstrip()
    if text[:1] == b"{":
        doc = json.loads(body)
        if "error" in doc:
            raise EutilsError(str(doc["error"]))
        r = doc.get("esearchresult")
        if r is None:
            raise EutilsError("no esearchresult in JSON body")
        if r.get("ERROR"):
            raise EutilsError(str(r["ERROR"]))
        return SearchResult(int(r["count"]), r.get("webenv"), r.get("querykey"), list(r.get("idlist", [])))
    root = _result_root(body, "eSearchResult")
    count = root.findtext("Count")
    if count is None:
        raise EutilsError("eSearchResult without Count")
    return SearchResult(int(count), root.findtext("WebEnv"), root.findtext("QueryKey"),
                        [i.text.strip() for i in root.iterfind("IdList/Id") if i.text])


def parse_elink(body: bytes) -> dict[str, dict[str, list[str]]]:
    """eLinkResult → {source id: {linkname: [target ids]}} (every LinkSet; empty lists kept)."""
    root = _result_root(body, "eLinkResult")
    out: dict[str, dict[str, list[str]]] = {}
    for ls in root.iterfind("LinkSet"):
        sources = [i.text.strip() for i in ls.iterfind("IdList/Id") if i.text]
        links: dict[str, list[str]] = {}
        for db in ls.iterfind("LinkSetDb"):
            name = (db.findtext("LinkName") or "").strip()
            links.setdefault(name, []).extend(i.text.strip() for i in db.iterfind("Link/Id") if i.text)
        for s in sources:
            merged = out.setdefault(s, {})
            for name, ids in links.items():
                merged.setdefault(name, []).extend(ids)
    return out


# --------------------------------------------------------------------------- validators
def _check_root(body: bytes, expected: tuple[str, ...]) -> Optional[str]:
    """None when ``body`` is whole, well-formed XML whose root is one of ``expected``, else why not."""
    try:
        root = _root(body)
    except etree.XMLSyntaxError as e:
        return f"malformed XML: {e}"
    except ValueError as e:  # entity declarations refused
        return str(e)
    if root.tag in expected:
        return None
    err = root.findtext("ERROR") if root.tag == "eFetchResult" else None
    return f"efetch error: {err.strip()}" if err else f"expected {expected[0]}, got <{root.tag}>"


def check_pubmed_set(body: bytes) -> Optional[str]:
    """None when ``body`` is a complete PubmedArticleSet, else why not."""
    return _check_root(body, ("PubmedArticleSet",))


def check_pmc_set(body: bytes) -> Optional[str]:
    """None when ``body`` is a complete pmc-articleset (or one bare article), else why not."""
    return _check_root(body, ("pmc-articleset", "article"))


def check_elink(body: bytes) -> Optional[str]:
    try:
        parse_elink(body)
    except (etree.XMLSyntaxError, EutilsError, ValueError) as e:
        return f"{type(e).__name__}: {e}"
    return None


def check_esearch(body: bytes) -> Optional[str]:
    try:
        parse_esearch(body)
    except (etree.XMLSyntaxError, EutilsError, ValueError, KeyError) as e:
        return f"{type(e).__name__}: {e}"
    return None


def pubmed_ids_in(body: bytes) -> list[str]:
    """PMIDs of the citations in a PubmedArticleSet body (in order)."""
    root = _root(body)
    out = []
    for el in root:
        if el.tag in ("PubmedArticle", "MedlineCitation"):
            pmid = el.findtext(".//PMID") if el.tag == "PubmedArticle" else el.findtext("PMID")
        elif el.tag == "PubmedBookArticle":
            pmid = el.findtext("BookDocument/PMID")
        else:
            continue
        if pmid:
            out.append(pmid.strip())
    return out


def pmc_ids_in(body: bytes) -> list[str]:
    """PMCIDs ("PMC123") of the articles in a pmc-articleset body."""
    root = _root(body)
    arts = [root] if root.tag == "article" else root.iterfind("article")
    out = []
    for a in arts:
        for aid in a.iterfind("front/article-meta/article-id"):
            if aid.get("pub-id-type") in ("pmc", "pmcid", "pmcaid") and aid.text:
                v = aid.text.strip()
                out.append(v if v.upper().startswith("PMC") else f"PMC{v}")
                break
    return out


def pmcids_in_pubmed(body: bytes) -> dict[str, str]:
    """{pmid: PMCID} from the ArticleIdList of each citation in a PubmedArticleSet body."""
    root = _root(body)
    out = {}
    for art in root.iterfind("PubmedArticle"):
        pmid = art.findtext("MedlineCitation/PMID")
        for aid in art.iterfind("PubmedData/ArticleIdList/ArticleId"):
            if aid.get("IdType") == "pmc" and aid.text and pmid:
                out[pmid.strip()] = aid.text.strip()
    return out
