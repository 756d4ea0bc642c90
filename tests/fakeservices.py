"""Local stand-ins for E-utilities, ClinicalTrials.gov API v2 and a bulk-file host, for tests.

``FakeServices(world)`` runs a real HTTP server on 127.0.0.1 (a free port) that serves response
bodies built from real records: ``PubmedArticle`` elements cut byte-for-byte from PubMed XML files,
JATS ``<article>`` elements, and ClinicalTrials.gov API v2 study objects. It logs every request
(arrival time, endpoint, parameters, outcome) and injects faults on demand:

    services.faults["efetch"] = ["429", "500", "reset", "slow", "truncate", "malformed"]

Each request to that endpoint takes the next fault from the list (``None`` = served normally);
once the list is empty every request is served normally.
``max_in_window(endpoint_group, 1.0)`` measures the request rate as the server saw it.
"""
from __future__ import annotations

import base64
import datetime
import glob
import gzip
import hashlib
import json
import os
import re
import socket
import struct
import tarfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlparse

from lxml import etree

EUTILS = ("esearch", "efetch", "elink", "bulk", "listing")
CTGOV = ("studies",)
RATE_LIMIT_BODY = b'{"error":"API rate limit exceeded","api-key":"[redacted]","count":"4","limit":"3"}'
PUBMED_HEAD = (b'<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, '
               b'1st January 2025//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n'
               b'<PubmedArticleSet>\n')
PMC_HEAD = (b'<?xml version="1.0" ?>\n<!DOCTYPE pmc-articleset PUBLIC "-//NLM//DTD ARTICLE SET 2.0//EN" '
            b'"https://dtd.nlm.nih.gov/ncbi/pmc/articleset/nlm-articleset-2.0.dtd">\n'
            b'<pmc-articleset>')


# --------------------------------------------------------------------------- the data served
@dataclass
class Citation:
    pmid: str
    xml: bytes  # one <PubmedArticle> element, as in the source file
    publication_types: set
    references: list
    pmcid: str | None
    edat: str = "2026-01-01"
    mdat: str = "2026-01-01"


@dataclass
class World:
    """What the fake services know: citations, full texts, studies, bulk files."""
    citations: dict = field(default_factory=dict)  # pmid → Citation
    fulltexts: dict = field(default_factory=dict)  # "PMC123" → <article> bytes
    studies: dict = field(default_factory=dict)  # NCT → (study dict, last update posted YYYY-MM-DD)
    bulk: dict = field(default_factory=dict)  # file name → bytes (an ".md5" companion is served too)

    def add_pubmed_file(self, path: str, edat: str = "2026-01-01") -> int:
        data = _read(path)
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, load_dtd=False, huge_tree=True,
                                                      no_network=True))
        n = 0
        for el in root:
            if el.tag == "PubmedArticle":
                self.add_citation(etree.tostring(el), edat)
                n += 1
            elif el.tag == "DeleteCitation":  # as PubMed does: a deleted citation is no longer served
                for pmid in el.iterfind("PMID"):
                    self.citations.pop((pmid.text or "").strip(), None)
        return n

    def add_citation(self, xml: bytes, edat: str = "2026-01-01", mdat: str | None = None) -> Citation:
        art = etree.fromstring(xml)
        pmid = art.findtext("MedlineCitation/PMID").strip()
        pts = {(pt.text or "").strip().lower() for pt in art.iterfind(".//PublicationTypeList/PublicationType")}
        refs = []
        for r in art.iterfind("PubmedData/ReferenceList//Reference/ArticleIdList/ArticleId"):
            if r.get("IdType") == "pubmed" and r.text and r.text.strip() not in refs:
                refs.append(r.text.strip())
        pmcid = next((a.text.strip() for a in art.iterfind("PubmedData/ArticleIdList/ArticleId")
                      if a.get("IdType") == "pmc" and a.text), None)
        c = Citation(pmid, xml, pts, refs, pmcid, edat, mdat or edat)
        self.citations[pmid] = c
        return c

    def add_jats_file(self, path: str) -> int:
        return self.add_jats_bytes(_read(path))

    def add_jats_bytes(self, data: bytes) -> int:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, load_dtd=False, huge_tree=True,
                                                      no_network=True))
        arts = [root] if etree.QName(root).localname == "article" else list(root.iterfind("article"))
        n = 0
        for a in arts:
            pmcid = None
            for aid in a.iterfind("front/article-meta/article-id"):
                if aid.get("pub-id-type") in ("pmc", "pmcid") and aid.text:
                    v = aid.text.strip()
                    pmcid = v if v.upper().startswith("PMC") else f"PMC{v}"
            if pmcid:
                self.fulltexts[pmcid] = etree.tostring(a)
                n += 1
        return n

    def add_study(self, study: dict, last_update: str | None = None) -> str:
        ps = study["protocolSection"]
        nct = ps["identificationModule"]["nctId"]
        date = last_update or (ps.get("statusModule", {}).get("lastUpdatePostDateStruct") or {}).get("date") \
            or "2026-01-01"
        self.studies[nct] = (study, date)
        return nct

    def add_ctgov_file(self, path: str) -> int:
        doc = json.loads(_read(path))
        studies = doc.get("studies", []) if isinstance(doc, dict) and "studies" in doc else [doc]
        n = 0
        for s in studies:
            if isinstance(s, dict) and "protocolSection" in s:
                self.add_study(s)
                n += 1
        return n


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        data = f.read()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def world_from_corpus(root: str) -> World:
    """A ``World`` of every PubMed, JATS and CT.gov API v2 record under a corpus folder."""
    w = World()
    for path in sorted(glob.glob(f"{root}/pubmed/**/*", recursive=True)):
        if os.path.isfile(path) and path.endswith((".xml", ".xml.gz")):
            head = _read(path)[:4096]
            if b"<PubmedArticleSet" in head:
                try:
                    w.add_pubmed_file(path)
                except etree.XMLSyntaxError:
                    pass
    for path in sorted(glob.glob(f"{root}/pmc*/**/*", recursive=True)):
        if os.path.isfile(path) and path.endswith((".xml", ".nxml")):
            try:
                w.add_jats_file(path)
            except etree.XMLSyntaxError:
                pass
        elif os.path.isfile(path) and path.endswith(".tar.gz"):
            with tarfile.open(path, "r:gz") as tar:
                for member in tar.getmembers():
                    if member.isfile() and member.name.endswith((".nxml", ".xml")):
                        w.add_jats_bytes(tar.extractfile(member).read())
    for path in sorted(glob.glob(f"{root}/ctgov*/**/*.json", recursive=True)):
        try:
            w.add_ctgov_file(path)
        except (ValueError, KeyError, TypeError):
            pass
    for path in sorted(glob.glob(f"{root}/ctgov*/**/*.ndjson", recursive=True)):
        for line in _read(path).splitlines():
            if line.strip():
                w.add_study(json.loads(line))
    return w


# --------------------------------------------------------------------------- the server
@dataclass
class Hit:
    t: float
    group: str  # esearch, efetch, elink, studies, bulk, listing
    method: str
    params: dict
    outcome: str  # ok | 429 | 500 | 503 | reset | slow | truncate | malformed | error
    pairs: list = field(default_factory=list)  # every (name, value), repeated names included


class FakeServices:
    """E-utilities + CT.gov v2 + bulk host on one local port (see module doc)."""

    def __init__(self, world: World, slow_seconds: float = 2.0, retry_after: str = "1"):
        self.world = world
        self.faults: dict[str, list[str]] = {}
        self.hits: list[Hit] = []
        self.slow_seconds = slow_seconds
        self.retry_after = retry_after
        self._lock = threading.Lock()
        self._history: dict[str, list[str]] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._server.handle_error = lambda request, address: None  # injected resets end handlers abruptly
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- lifecycle
    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def eutils_base(self) -> str:
        return f"{self.base}/entrez/eutils"

    @property
    def ctgov_base(self) -> str:
        return f"{self.base}/api/v2"

    # --- measurements
    def hits_of(self, *groups: str, outcome: str | None = None) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.group in groups and (outcome is None or h.outcome == outcome)]

    def max_in_window(self, groups, window: float = 1.0) -> int:
        """Most requests of ``groups`` that arrived within any ``window`` seconds."""
        ts = sorted(h.t for h in self.hits_of(*groups))
        best, j = 0, 0
        for i, t in enumerate(ts):
            while ts[j] <= t - window:
                j += 1
            best = max(best, i - j + 1)
        return best

    def _take_fault(self, group: str) -> str | None:
        with self._lock:
            queue = self.faults.get(group)
            return queue.pop(0) if queue else None

    def _log(self, group, method, params, outcome, pairs=()):
        with self._lock:
            self.hits.append(Hit(time.time(), group, method, params, outcome, list(pairs)))

    # --- responses
    def _esearch(self, q: dict) -> tuple[int, str, bytes]:
        term = q.get("term", "")
        m = re.fullmatch(r"\s*(.+?)\[pt\]\s*", term, re.I)
        if not m and term.strip().lower() != "all[sb]":
            return 400, "application/xml", (b"<eSearchResult><ERROR>unsupported term in this test service"
                                            b"</ERROR></eSearchResult>")
        ptype = m.group(1).strip().lower() if m else None
        field_ = {"edat": "edat", "mdat": "mdat"}.get(q.get("datetype", "edat"), "edat")
        lo = q.get("mindate", "1800/01/01").replace("/", "-")
        hi = q.get("maxdate", "3000/12/31").replace("/", "-")
        ids = sorted((c.pmid for c in self.world.citations.values()
                      if (ptype is None or ptype in c.publication_types) and lo <= getattr(c, field_) <= hi),
                     key=int, reverse=True)
        webenv = "MCID_" + hashlib.sha1(f"{term}{lo}{hi}{len(self._history)}".encode()).hexdigest()[:24]
        with self._lock:
            self._history[webenv] = ids
        retmax = int(q.get("retmax", "20"))
        idlist = "".join(f"<Id>{i}</Id>\n" for i in ids[:retmax])
        body = (f'<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE eSearchResult PUBLIC "-//NLM//DTD esearch '
                f'20060628//EN" "https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20060628/esearch.dtd">\n'
                f"<eSearchResult><Count>{len(ids)}</Count><RetMax>{min(retmax, len(ids))}</RetMax>"
                f"<RetStart>0</RetStart><QueryKey>1</QueryKey><WebEnv>{webenv}</WebEnv><IdList>\n{idlist}"
                f"</IdList><TranslationSet/><QueryTranslation>{term}</QueryTranslation></eSearchResult>\n")
        return 200, "text/xml", body.encode()

    def _efetch(self, q: dict) -> tuple[int, str, bytes]:
        db = q.get("db", "pubmed")
        if "WebEnv" in q:
            ids = self._history.get(q["WebEnv"])
            if ids is None:
                return 200, "text/xml", b"<eFetchResult><ERROR>Unable to obtain query #1</ERROR></eFetchResult>"
            start, count = int(q.get("retstart", "0")), int(q.get("retmax", "20"))
            ids = ids[start:start + count]
        else:
            ids = [i.strip() for i in q.get("id", "").split(",") if i.strip()]
        if db == "pmc":
            arts = [self.world.fulltexts[f"PMC{i}"] for i in ids if f"PMC{i}" in self.world.fulltexts]
            return 200, "text/xml", PMC_HEAD + b"".join(arts) + b"</pmc-articleset>\n"
        arts = [self.world.citations[i].xml for i in ids if i in self.world.citations]
        return 200, "text/xml", PUBMED_HEAD + b"\n".join(arts) + b"\n</PubmedArticleSet>\n"

    def _elink(self, pairs: list) -> tuple[int, str, bytes]:
        q = dict(pairs)
        ids = [v for k, v in pairs if k == "id"]
        linkname = q.get("linkname", "")
        out = ['<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE eLinkResult PUBLIC "-//NLM//DTD elink '
               '20101123//EN" "https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20101123/elink.dtd">\n<eLinkResult>\n']
        for i in ids:
            c = self.world.citations.get(i)
            if linkname == "pubmed_pubmed_refs":
                targets = list(c.references) if c else []
                dbto = "pubmed"
            else:
                targets = [c.pmcid[3:]] if c and c.pmcid and c.pmcid in self.world.fulltexts else []
                dbto = "pmc"
            out.append(f"  <LinkSet>\n    <DbFrom>pubmed</DbFrom>\n    <IdList>\n      <Id>{i}</Id>\n    </IdList>\n")
            if targets:
                out.append(f"    <LinkSetDb>\n      <DbTo>{dbto}</DbTo>\n      <LinkName>{linkname}</LinkName>\n")
                out += [f"        <Link>\n\t\t\t\t<Id>{t}</Id>\n\t\t\t</Link>\n" for t in targets]
                out.append("    </LinkSetDb>\n")
            out.append("  </LinkSet>\n")
        out.append("</eLinkResult>\n")
        return 200, "text/xml", "".join(out).encode()

    def _studies(self, q: dict) -> tuple[int, str, bytes]:
        size = int(q.get("pageSize", "10"))
        if not 1 <= size <= 1000:
            return 400, "text/plain", b"pageSize must be between 1 and 1000"
        items = sorted(self.world.studies.items())
        if "filter.ids" in q:
            wanted = set(q["filter.ids"].split(","))
            items = [(n, s) for n, s in items if n in wanted]
        term = q.get("query.term", "")
        rng = re.search(r"AREA\[LastUpdatePostDate\]RANGE\[([^,\]]+),([^\]]+)\]", term)
        if rng:
            lo = "0000" if rng.group(1) == "MIN" else rng.group(1)
            hi = "9999" if rng.group(2) == "MAX" else rng.group(2)
            items = [(n, s) for n, s in items if lo <= s[1] <= hi]
            term = (term[:rng.start()] + term[rng.end():]).strip()
            term = re.sub(r"\s*AND\s*$", "", term).strip()
        word = term.strip("() ")
        if word:
            items = [(n, s) for n, s in items if word.lower() in json.dumps(s[0]).lower()]
        start = int(base64.urlsafe_b64decode(q["pageToken"]).decode()) if q.get("pageToken") else 0
        page = items[start:start + size]
        doc = {"studies": [s[0] for _, s in page]}
        if start + size < len(items):
            doc["nextPageToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
        if q.get("countTotal") == "true":
            doc["totalCount"] = len(items)
        return 200, "application/json", json.dumps(doc).encode()

    def _bulk(self, path: str) -> tuple[int, str, bytes]:
        name = path.rsplit("/", 1)[-1]
        if name.endswith(".md5"):
            data = self.world.bulk.get(name[:-4])
            if data is None:
                return 404, "text/plain", b"not found"
            return 200, "text/plain", f"MD5({name[:-4]})= {hashlib.md5(data).hexdigest()}\n".encode()
        if name not in self.world.bulk:
            return 404, "text/plain", b"not found"
        return 200, "application/octet-stream", self.world.bulk[name]

    def _listing(self) -> tuple[int, str, bytes]:
        rows = "".join(f'<a href="{n}">{n}</a>\n<a href="{n}.md5">{n}.md5</a>\n' for n in sorted(self.world.bulk))
        return 200, "text/html", f"<html><body><pre>\n{rows}</pre></body></html>".encode()

    def _handler(self):
        services = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                self._serve("GET", parse_qsl(urlparse(self.path).query, keep_blank_values=True))

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode()
                self._serve("POST", parse_qsl(urlparse(self.path).query, keep_blank_values=True)
                            + parse_qsl(body, keep_blank_values=True))

            def _serve(self, method, pairs):
                path = urlparse(self.path).path
                q = dict(pairs)
                if path.endswith("/esearch.fcgi"):
                    group, fn = "esearch", lambda: services._esearch(q)
                elif path.endswith("/efetch.fcgi"):
                    group, fn = "efetch", lambda: services._efetch(q)
                elif path.endswith("/elink.fcgi"):
                    group, fn = "elink", lambda: services._elink(pairs)
                elif path.endswith("/api/v2/studies"):
                    group, fn = "studies", lambda: services._studies(q)
                elif path.startswith("/bulk/") and path != "/bulk/":
                    group, fn = "bulk", lambda: services._bulk(path)
                elif path == "/bulk/":
                    group, fn = "listing", services._listing
                else:
                    group, fn = "other", lambda: (404, "text/plain", b"no such endpoint")
                fault = services._take_fault(group)
                services._log(group, method, q, fault or "ok", pairs)
                if fault in ("429", "500", "503"):
                    body = RATE_LIMIT_BODY if fault == "429" else b"<html><body>Service unavailable</body></html>"
                    self.send_response(int(fault))
                    if fault == "429" and services.retry_after is not None:
                        self.send_header("Retry-After", services.retry_after)
                    self.send_header("Content-Type", "application/json" if fault == "429" else "text/html")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if fault == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                    return
                if fault == "slow":
                    time.sleep(services.slow_seconds)
                status, ctype, body = fn()
                if fault == "malformed":
                    body = body[: max(1, len(body) * 2 // 3)]
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if fault == "truncate":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler


def today() -> str:
    return datetime.date.today().isoformat()
