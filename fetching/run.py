"""One fetch: PubMed reviews, the studies they cite or a link table names, their PMC full texts and
the ClinicalTrials.gov records they point to, plus bulk files → the raw zone.

``Fetcher(FetchConfig).run()`` returns a report dict (also written to ``_state/reports/``).
Stages, each skipping what the raw zone already holds:

1. bulk files by URL (then updates of tracked trials, in a refresh);  2. PubMed search (esearch ``usehistory=y`` + efetch pages);
3. reviews named by link tables (efetch by PMID);
4. ELink ``pubmed_pubmed_refs`` for every review → ``links/<day>/elink-refs-*.xml``;
5. the cited and linked studies, ``--pmids`` and a build's unresolved list (efetch by PMID);  6. ELink ``pubmed_pmc`` for records without a PMCID;
7. PMC full texts (efetch ``db=pmc``);  8. CT.gov records by NCT id;  9. a CT.gov query.

Failures never stop other requests: a request that exhausts its retries, or whose body stays
malformed, is written as a dead letter (``_state/dead_letters/``) and is tried again by the next
run; the run then exits non-zero. A client error (4xx other than 429) stops the run at once.
"""
from __future__ import annotations

import datetime
import json
import logging
import math
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable, Optional

from fetching import bulk as B
from fetching import ctgov_api as C
from fetching import eutils as E
from fetching.http import (FetchError, HttpClient, HttpStatusError, InvalidBody, RateLimiter, RetriesExhausted,
                        RetryPolicy, install_log_redaction, redact, register_secret)
from fetching.progress import Progress
from fetching.rawzone import RawZone, short_hash
from schemas.records import Article, DeadLetter, DeletedCitation, FullText, ReviewLink, Trial

log = logging.getLogger("leadsinstruct.fetch")


@dataclass
class FetchConfig:
    raw_root: str
    as_of: str = field(default_factory=lambda: datetime.date.today().isoformat())
    tool: str = "leadsinstruct"
    email: Optional[str] = None
    api_key: Optional[str] = None
    eutils_base: str = E.DEFAULT_BASE
    ctgov_base: str = C.DEFAULT_BASE
    requests_per_second: Optional[float] = None  # E-utilities; default 3, or 10 with an api_key
    ctgov_requests_per_second: float = 1.0
    rate_limit_dir: Optional[str] = None  # lock files shared by processes; default ~/.cache/leadsinstruct
    workers: int = 3
    # PubMed search
    pubmed_query: Optional[str] = None
    datetype: str = "edat"
    mindate: Optional[str] = None
    maxdate: Optional[str] = None
    max_records: Optional[int] = None
    efetch_batch: int = 500
    ids_batch: int = 200
    elink_batch: int = 100
    pmc_batch: int = 50
    ctgov_batch: int = 100
    # extra keys
    pmids: list = field(default_factory=list)
    nct_ids: list = field(default_factory=list)
    from_unresolved: Optional[str] = None
    ctgov_query: Optional[str] = None
    ctgov_page_size: int = 1000
    ctgov_updates_term: Optional[str] = None  # ask for updates of every trial already in the raw zone
    bulk_urls: list = field(default_factory=list)
    download_dir: Optional[str] = None  # local folder for bulk downloads in progress (default: system temp)
    follow: tuple = ("references", "studies", "fulltext", "trials")
    # retries
    max_attempts: int = 6
    timeout: float = 60.0
    backoff_base: float = 0.5
    progress_interval: float = 2.0


class FetchAborted(FetchError):
    pass


def _day_folder(day: str) -> str:
    datetime.date.fromisoformat(day)
    return day


class Fetcher:
    """Runs one fetch (see module doc). Thread pool of ``workers``; one shared rate limit per service."""

    def __init__(self, cfg: FetchConfig, progress_stream=None, sleep: Callable[[float], None] = time.sleep):
        self.cfg = cfg
        self.day = _day_folder(cfg.as_of)
        self.zone = RawZone(cfg.raw_root)
        register_secret(cfg.api_key)
        install_log_redaction()
        self.identity = E.Identity(cfg.tool, cfg.email, cfg.api_key)
        rate = cfg.requests_per_second or (10.0 if cfg.api_key else 3.0)
        lock_dir = cfg.rate_limit_dir or os.path.join(os.path.expanduser("~"), ".cache", "leadsinstruct")
        policy = RetryPolicy(max_attempts=cfg.max_attempts, backoff_base=cfg.backoff_base, timeout=cfg.timeout)
        agent = f"{cfg.tool} (leadsinstruct fetch{'; ' + cfg.email if cfg.email else ''})"
        self.eutils = HttpClient(RateLimiter(rate, lock_file=os.path.join(lock_dir, "eutils.rate")),
                                 policy, agent, sleep=sleep)
        self.ctgov = HttpClient(RateLimiter(cfg.ctgov_requests_per_second,
                                            lock_file=os.path.join(lock_dir, "ctgov.rate")), policy, agent,
                                sleep=sleep)
        self.progress = Progress(progress_stream, cfg.progress_interval, stats=self.eutils.stats,
                                 ctgov_stats=self.ctgov.stats)
        self._lock = threading.Lock()
        self._index: dict = {}
        self._requested: dict = {}
        self.dead_letters: list[DeadLetter] = []
        self.written: list[str] = []
        self.failed = 0

    # ------------------------------------------------------------------ bookkeeping
    def _load_state(self):
        self._index = self.zone.read_json("_state/index.json", {}) or {}
        self._requested = self.zone.read_json("_state/requested.json", {}) or {}

    def _save_state(self):
        with self._lock:
            index, requested = dict(self._index), dict(self._requested)
        self.zone.write_json("_state/index.json", index)
        self.zone.write_json("_state/requested.json", requested)

    def _dead(self, where: str, stage: str, err: Exception, excerpt: str = ""):
        d = DeadLetter(redact(where), stage, type(err).__name__, redact(str(err))[:500], redact(excerpt)[:300])
        with self._lock:
            self.dead_letters.append(d)
            self.failed += isinstance(err, (RetriesExhausted, InvalidBody))
        log.log(logging.INFO if isinstance(err, LookupError) else logging.WARNING, "%s: %s", stage,
                redact(str(err))[:300])

    def refresh_index(self) -> None:
        """Index every raw file not yet indexed (ids it holds and ids it points to)."""
        files = [f for f in self.zone.list() if not f.startswith("_state/reports/")
                 and not f.startswith("_state/dead_letters/") and f not in ("_state/index.json",
                                                                              "_state/requested.json")
                 and not f.startswith("_state/search-") and not f.startswith("_state/ctgov-")]
        todo = [f for f in files if f not in self._index]
        for rel in todo:
            entry = self._index_file(rel)
            with self._lock:
                self._index[rel] = entry
        if todo:
            self._save_state()

    def _index_file(self, rel: str, body: Optional[bytes] = None) -> dict:
        from transforms.formats import parse_source
        from transforms.joins.link import registration_nct_ids
        e = {k: [] for k in ("pmids", "deleted", "pmcids", "ncts", "nct_refs", "pmcid_refs", "link_pmids",
                             "link_reviews", "elink_refs_sources", "elink_pmc_sources", "pmc_links",
                             "pmids_with_pmcid")}
        name = rel.rsplit("/", 1)[-1]
        if name.startswith("elink-") or rel.startswith("_state/elink/"):
            try:
                links = E.parse_elink(body if body is not None else self.zone.read(rel))
            except (ValueError, E.EutilsError) as err:
                log.warning("unreadable ELink file %s: %s", rel, err)
                return e
            for src, by_name in links.items():
                if "refs" in name:
                    e["elink_refs_sources"].append(src)
                    e["link_pmids"] += by_name.get("pubmed_pubmed_refs", [])
                else:
                    e["elink_pmc_sources"].append(src)
                    e["pmc_links"] += [f"PMC{i}" for i in by_name.get("pubmed_pmc", [])]
            return e
        if rel.startswith("_state/"):
            return e
        import io
        with (io.BytesIO(body) if body is not None else self.zone.open_read(rel)) as f:
            for r in parse_source(f, self.zone.path(rel)):
                if isinstance(r, Article):
                    e["pmids"].append(r.pmid)
                    if r.pmcid:
                        e["pmcid_refs"].append(r.pmcid)
                        e["pmids_with_pmcid"].append(r.pmid)
                    e["nct_refs"] += r.nct_ids + r.text_nct_ids
                elif isinstance(r, DeletedCitation):
                    e["deleted"].append(r.pmid)
                elif isinstance(r, FullText):
                    if r.pmcid:
                        e["pmcids"].append(r.pmcid)
                    e["nct_refs"] += registration_nct_ids(r)
                elif isinstance(r, Trial):
                    e["ncts"] += [r.nct_id, *r.aliases]
                elif isinstance(r, ReviewLink):
                    e["link_pmids"].append(r.pmid)
                    if r.review_id.startswith("pubmed:"):
                        e["link_reviews"].append(r.review_id.split(":", 1)[1])
        return {k: sorted(set(v)) for k, v in e.items()}

    def _all(self, key: str, prefix: str = "") -> set:
        with self._lock:
            return {x for rel, e in self._index.items() if rel.startswith(prefix) for x in e.get(key, [])}

    def _was_requested(self, kind: str) -> set:
        with self._lock:
            return {x for k, ids in self._requested.items() if k.startswith(kind + ":") for x in ids}

    # ------------------------------------------------------------------ requests
    def _eutils_post(self, endpoint: str, form, validate) -> bytes:
        return self.eutils.request("POST", f"{self.cfg.eutils_base.rstrip('/')}/{endpoint}",
                                   data=E.with_identity(form, self.identity), validate=validate)

    def _parallel(self, stage: str, items: list, fn: Callable) -> None:
        if not items:
            return
        abort: list[BaseException] = []

        def one(item):
            if abort:
                return
            try:
                fn(item)
            except (RetriesExhausted, InvalidBody) as err:
                self._dead(f"{stage}:{_describe(item)}", f"fetch.{stage}", err, getattr(err, "excerpt", ""))
                self.progress.add(stage, failed=1)
            except Exception as err:  # noqa: BLE001 - a client error (4xx) or anything unforeseen stops the fetch
                abort.append(err)

        with ThreadPoolExecutor(max_workers=max(1, self.cfg.workers), thread_name_prefix="fetch") as pool:
            list(pool.map(one, items))
        self._save_state()
        if abort:
            err = abort[0]
            raise FetchAborted(f"{stage}: {redact(str(err)) if isinstance(err, FetchError) else repr(err)}") from err

    def _store(self, rel: str, body: bytes, requested: Optional[tuple[str, list]] = None) -> None:
        self.zone.write(rel, body)
        entry = self._index_file(rel, body)
        with self._lock:
            self._index[rel] = entry
            self.written.append(rel)
            if requested:
                self._requested[f"{requested[0]}:{rel}"] = list(requested[1])

    # ------------------------------------------------------------------ stages
    def fetch_bulk(self) -> None:
        entries = [B.split_entry(u) for u in self.cfg.bulk_urls if u.strip()]
        todo = []
        for source, url in entries:
            rel = f"{source}/bulk/{B.file_name(url)}"
            if self.zone.exists(rel):
                self.progress.add("bulk", skipped=1)
            else:
                todo.append((rel, url))
        self.progress.plan("bulk", len(entries), "files")

        def one(item):
            rel, url = item
            client = self.ctgov if rel.startswith("ctgov/") else self.eutils
            md5 = None
            try:
                md5 = B.parse_md5(client.request("GET", B.md5_url(url)))
            except HttpStatusError as err:  # no published checksum (404, or 403 on object stores)
                log.info("no checksum for %s (HTTP %d)", url, err.status)
            # download to a local temporary file (a retry starts it over), check, then copy into
            # the raw zone under a name that appears only complete
            with tempfile.TemporaryFile(dir=self.cfg.download_dir) as tmp:
                client.request("GET", url, stream_to=tmp)
                tmp.seek(0)
                digest = B.md5_of(tmp)
                if md5 and digest != md5:
                    raise InvalidBody(url, 1, f"MD5 {digest} != published {md5}", "")
                tmp.seek(0)
                with self.zone.open_write(rel) as f:
                    shutil.copyfileobj(tmp, f, 1 << 20)
            with self._lock:
                self.written.append(rel)
            self.progress.add("bulk", done=1)

        self._parallel("bulk", todo, one)

    def _search_parts(self, mindate: Optional[str], maxdate: Optional[str]) -> list:
        """[(mindate, maxdate, SearchResult with every id)] covering the search window, each part
        at most ``E.MAX_IDS`` records (PubMed returns no more per search): halves the date window
        until each part fits."""
        cfg = self.cfg
        form = E.esearch_form(cfg.pubmed_query, datetype=cfg.datetype, mindate=mindate, maxdate=maxdate,
                              retmax=E.MAX_IDS)
        result = E.parse_esearch(self._eutils_post("esearch.fcgi", form, E.check_esearch))
        if result.count <= E.MAX_IDS:
            return [(mindate, maxdate, result)]
        lo = datetime.date.fromisoformat(mindate or "1800-01-01")
        hi = datetime.date.fromisoformat(maxdate or self.day)
        if lo >= hi:
            raise FetchAborted(f"{result.count} records for {cfg.pubmed_query!r} on {lo} alone; PubMed returns at "
                               f"most {E.MAX_IDS} per search: narrow the query")
        mid = lo + (hi - lo) // 2
        log.info("search window %s..%s holds %d records: halving it", lo, hi, result.count)
        return (self._search_parts(lo.isoformat(), mid.isoformat())
                + self._search_parts((mid + datetime.timedelta(days=1)).isoformat(), hi.isoformat()))

    def search_pubmed(self) -> list[str]:
        """esearch (``usehistory=y``) + efetch pages of ``pubmed_query``; returns the PMIDs it covers.

        Page names hash the query, the window part and the exact id list, so a rerun skips pages
        already there, and a search whose result changed meanwhile gets fresh pages (never gaps).
        Each page is checked to hold exactly its slice of the id list; a page that does not (the
        history server's order moved) is fetched again by id.
        """
        cfg = self.cfg
        parts = self._search_parts(cfg.mindate, cfg.maxdate)
        left = cfg.max_records if cfg.max_records else None
        todo, pages, covered = [], 0, []
        for lo, hi, result in parts:
            ids = result.ids if left is None else result.ids[:left]
            if left is not None:
                left -= len(ids)
            covered += ids
            qh = short_hash(cfg.pubmed_query, cfg.datetype, lo or "", hi or "", str(cfg.efetch_batch), *ids)
            state_rel = f"_state/search-{qh}.json"
            state = self.zone.read_json(state_rel)
            if state is None:  # the first day this exact result was seen names its folder
                state = {"query": cfg.pubmed_query, "datetype": cfg.datetype, "mindate": lo, "maxdate": hi,
                         "count": len(ids), "day": self.day}
                self.zone.write_json(state_rel, state)
            for k in range(0, len(ids), cfg.efetch_batch):
                rel = f"pubmed/{state['day']}/esearch-{qh}-{k // cfg.efetch_batch:05d}.xml"
                pages += 1
                if self.zone.exists(rel):
                    self.progress.add("pubmed.search", skipped=1, records=len(ids[k:k + cfg.efetch_batch]))
                else:
                    todo.append((rel, result, k, ids[k:k + cfg.efetch_batch]))
        self.progress.plan("pubmed.search", pages, "pages", records_total=len(covered))

        def one(item):
            rel, result, start, expected = item
            body = None
            if result.webenv:
                body = self._eutils_post("efetch.fcgi", E.efetch_history_form(
                    result.webenv, result.query_key, start, len(expected)), E.check_pubmed_set)
                if sorted(E.pubmed_ids_in(body)) != sorted(expected):
                    log.info("history page %s does not hold its ids: fetching them by id", rel)
                    body = None
            if body is None:
                body = self._eutils_post("efetch.fcgi", E.efetch_ids_form(expected), E.check_pubmed_set)
            self._store(rel, body)
            got = set(self._index[rel]["pmids"])
            for absent in [p for p in expected if p not in got]:
                self._dead(f"efetch db=pubmed id={absent}", "fetch.pubmed", LookupError(
                    f"{absent} found by the search but not returned by efetch"))
            self.progress.add("pubmed.search", done=1, records=len(got))

        self._parallel("pubmed.search", todo, one)
        return sorted(set(covered))

    def fetch_ids(self, stage: str, kind: str, ids: Iterable[str], batch: int) -> None:
        """efetch (pubmed or pmc) of ids not yet in the raw zone nor asked for before."""
        known = self._all("pmids", "pubmed/") if kind == "pubmed" else self._all("pmcids", "pmc/")
        missing = sorted(set(ids) - known - self._was_requested(kind), key=_id_order)
        chunks = [missing[i:i + batch] for i in range(0, len(missing), batch)]
        self.progress.plan(stage, len(chunks), "requests")
        check = E.check_pubmed_set if kind == "pubmed" else E.check_pmc_set

        def one(chunk):
            rel = f"{kind}/{self.day}/ids-{short_hash(*chunk)}.xml"
            numeric = [c[3:] if c.upper().startswith("PMC") else c for c in chunk]
            body = self._eutils_post("efetch.fcgi", E.efetch_ids_form(numeric, db=kind), check)
            self._store(rel, body, (kind, chunk))
            got = set(self._index[rel]["pmids" if kind == "pubmed" else "pmcids"])
            for absent in [c for c in chunk if c not in got]:
                self._dead(f"efetch db={kind} id={absent}", f"fetch.{kind}", LookupError(
                    f"{absent} not returned by efetch (deleted, not public or not in {kind})"))
            self.progress.add(stage, done=1, records=len(got))

        self._parallel(stage, chunks, one)

    def elink(self, stage: str, linkname: str, pmids: Iterable[str]) -> None:
        refs = linkname == "pubmed_pubmed_refs"
        done = self._all("elink_refs_sources" if refs else "elink_pmc_sources")
        todo = sorted(set(pmids) - done, key=_id_order)
        chunks = [todo[i:i + self.cfg.elink_batch] for i in range(0, len(todo), self.cfg.elink_batch)]
        self.progress.plan(stage, len(chunks), "requests")

        def one(chunk):
            rel = (f"links/{self.day}/elink-refs-{short_hash(*chunk)}.xml" if refs
                   else f"_state/elink/{self.day}/elink-pmc-{short_hash(*chunk)}.xml")
            form = E.elink_form(chunk, linkname, db="pubmed" if refs else "pmc")
            body = self._eutils_post("elink.fcgi", form, E.check_elink)
            self._store(rel, body)
            got = self._index[rel]["elink_refs_sources" if refs else "elink_pmc_sources"]
            if len(got) < len(chunk):  # ELink omits nothing for valid ids; keep the rest from being lost
                self._index[rel]["elink_refs_sources" if refs else "elink_pmc_sources"] = sorted(chunk)
            self.progress.add(stage, done=1, records=len(self._index[rel]["link_pmids" if refs else "pmc_links"]))

        self._parallel(stage, chunks, one)

    def fetch_trials(self, nct_ids: Iterable[str]) -> None:
        known = self._all("ncts", "ctgov/") | self._was_requested("ctgov")
        todo = sorted(set(nct_ids) - known)
        chunks = [todo[i:i + self.cfg.ctgov_batch] for i in range(0, len(todo), self.cfg.ctgov_batch)]
        self.progress.plan("ctgov.ids", len(chunks), "requests")
        self.progress.plan("ctgov.ids.pages", None, "pages")

        def one(chunk):
            h = short_hash(*chunk)
            got = set()
            for page, rel in self._pages(f"ctgov/{self.day}/ids-{h}", dict(nct_ids=chunk), "ctgov.ids"):
                got |= set(self._index[rel]["ncts"])
            with self._lock:
                self._requested[f"ctgov:ctgov/{self.day}/ids-{h}"] = list(chunk)
            for absent in [c for c in chunk if c not in got]:
                self._dead(f"ctgov studies filter.ids={absent}", "fetch.ctgov", LookupError(
                    f"{absent} not returned by ClinicalTrials.gov"))
            self.progress.add("ctgov.ids", done=1)

        self._parallel("ctgov.ids", chunks, one)

    def track_trials(self, term: str) -> None:
        """Pages of ``term`` restricted to the trials already in the raw zone (updates, withdrawals)."""
        with self._lock:  # trials fetched on earlier days (today's own fetches are current already)
            tracked = sorted({x for rel, e in self._index.items()
                              if rel.startswith("ctgov/") and not rel.startswith(f"ctgov/{self.day}/")
                              for x in e.get("ncts", [])})
        chunks = [tracked[i:i + self.cfg.ctgov_batch] for i in range(0, len(tracked), self.cfg.ctgov_batch)]
        self.progress.plan("ctgov.updates", len(chunks), "requests")
        self.progress.plan("ctgov.updates.pages", None, "pages")

        def one(chunk):
            prefix = f"ctgov/{self.day}/updates-{short_hash(term, *chunk)}"
            for _ in self._pages(prefix, dict(query_term=term, nct_ids=chunk), "ctgov.updates"):
                pass
            self.progress.add("ctgov.updates", done=1)

        self._parallel("ctgov.updates", chunks, one)

    def medline_update_urls(self, index_url: str) -> list[tuple[str, str]]:
        """(name, URL) of the MEDLINE update files listed at ``index_url`` that the raw zone lacks."""
        html = self.eutils.request("GET", index_url, validate=lambda b: None if b.strip() else "empty listing")
        have = {rel.rsplit("/", 1)[-1] for rel in self.zone.list("pubmed/bulk")}
        return [(name, url) for name, url in B.medline_files_in_listing(html, index_url) if name not in have]

    def _pages(self, prefix: str, query: dict, stage: str):
        """Walk ``/studies`` pages, resuming from the last page on disk; yields (page no, rel)."""
        token, k = None, 0
        while True:
            rel = f"{prefix}-{k:05d}.json"
            if self.zone.exists(rel):
                if rel not in self._index:
                    self._index[rel] = self._index_file(rel)
                page = C.parse_studies_page(self.zone.read(rel))
                self.progress.add(stage + ".pages", skipped=1, records=len(page.nct_ids))
            else:
                params = C.studies_params(page_size=self.cfg.ctgov_page_size, page_token=token, **query)
                body = self.ctgov.request("GET", f"{self.cfg.ctgov_base.rstrip('/')}/studies", params=params,
                                          validate=C.check_studies_page)
                self._store(rel, body)
                page = C.parse_studies_page(body)
                if stage == "ctgov.query" and page.total_count is not None:  # one chain: its size is known
                    self.progress.plan(stage + ".pages", math.ceil(page.total_count / self.cfg.ctgov_page_size),
                                       "pages", records_total=page.total_count)
                self.progress.add(stage + ".pages", done=1, records=len(page.nct_ids))
            yield k, rel
            if not page.next_page_token:
                return
            token, k = page.next_page_token, k + 1

    def ctgov_search(self, term: str) -> None:
        # one chain of pages per query and day: a later day asks again (the results move), a rerun
        # on the same day resumes from the last page on disk
        qh = short_hash(term, str(self.cfg.ctgov_page_size), self.day)
        state_rel = f"_state/ctgov-{qh}.json"
        state = self.zone.read_json(state_rel) or {"term": term, "day": self.day}
        self.zone.write_json(state_rel, state)
        self.progress.plan("ctgov.query.pages", None, "pages")
        self.progress.plan("ctgov.query", 1, "queries")
        self._parallel("ctgov.query", [(term, state["day"], qh)], lambda item: [
            None for _ in self._pages(f"ctgov/{item[1]}/query-{item[2]}", dict(query_term=item[0]), "ctgov.query")])

    def unresolved_keys(self) -> tuple[set, set]:
        """(PMIDs, NCT ids) a build listed as unresolved (``<output>/unresolved/part-*.jsonl``)."""
        pmids, ncts = set(), set()
        if not self.cfg.from_unresolved:
            return pmids, ncts
        out = RawZone(self.cfg.from_unresolved)
        for rel in out.list("unresolved"):
            for line in out.read(rel).decode("utf-8").splitlines():
                if line.strip():
                    u = json.loads(line)
                    (pmids if u["kind"] == "study_text" else ncts).add(u["key"])
        return pmids, ncts

    # ------------------------------------------------------------------ the run
    def run(self) -> dict:
        cfg = self.cfg
        t0 = time.time()
        self.progress.start()
        aborted = None
        try:
            self._load_state()
            self.fetch_bulk()
            self.refresh_index()
            if cfg.ctgov_updates_term:  # before follow-ups: only trials fetched on earlier days
                self.track_trials(cfg.ctgov_updates_term)
            reviews: set = set()
            if cfg.pubmed_query:
                reviews |= set(self.search_pubmed())
            un_pmids, un_ncts = self.unresolved_keys()
            reviews |= self._all("link_reviews", "links/")
            self.fetch_ids("pubmed.reviews", "pubmed", sorted(reviews), cfg.ids_batch)
            if "references" in cfg.follow and reviews:
                self.elink("elink.refs", "pubmed_pubmed_refs", sorted(reviews & self._all("pmids", "pubmed/")))
            named = set(cfg.pmids) | un_pmids  # asked for by name: fetched whatever --follow says
            if "studies" in cfg.follow:
                named |= self._all("link_pmids")
            self.fetch_ids("pubmed.studies", "pubmed", named, cfg.ids_batch)
            if "fulltext" in cfg.follow:
                with_pmc = self._all("pmcid_refs")
                # ELink pubmed_pmc only for the citations whose record names no PMCID
                without = self._all("pmids", "pubmed/") - self._all("pmids_with_pmcid", "pubmed/")
                self.elink("elink.pmc", "pubmed_pmc", without)
                self.fetch_ids("pmc", "pmc", with_pmc | self._all("pmc_links"), cfg.pmc_batch)
            if "trials" in cfg.follow or cfg.nct_ids or un_ncts:
                ncts = set(cfg.nct_ids) | un_ncts
                if "trials" in cfg.follow:
                    ncts |= self._all("nct_refs")
                self.fetch_trials(ncts)
            if cfg.ctgov_query:
                self.ctgov_search(cfg.ctgov_query)
        except FetchAborted as err:
            aborted = err
        except Exception as err:  # noqa: BLE001 - keep what was fetched and say why it stopped
            aborted = FetchAborted(f"{type(err).__name__}: {redact(str(err))}")
            aborted.__cause__ = err
        finally:
            self.progress.stop()
            if self._index or self._requested:
                self._save_state()
        report = self._report(time.time() - t0, aborted)
        if aborted:
            raise aborted
        return report

    def _report(self, seconds: float, aborted) -> dict:
        run_id = f"{self.day}T{time.strftime('%H%M%S')}-{os.getpid()}"
        dl_rel = f"_state/dead_letters/{run_id}.jsonl"
        if self.dead_letters:
            self.zone.write(dl_rel, "".join(json.dumps(asdict(d), sort_keys=True) + "\n"
                                            for d in self.dead_letters).encode("utf-8"))
        report = {"as_of": self.day, "seconds": round(seconds, 2), "files_written": len(self.written),
                  "stages": self.progress.snapshot(), "eutils_http": self.eutils.stats.snapshot(),
                  "ctgov_http": self.ctgov.stats.snapshot(), "dead_letters": len(self.dead_letters),
                  "dead_letter_file": self.zone.path(dl_rel) if self.dead_letters else None,
                  "failed_requests": self.failed, "aborted": redact(str(aborted)) if aborted else None}
        self.zone.write_json(f"_state/reports/{run_id}.json", report)
        return report


def _describe(item) -> str:
    """A short name of a work item for a dead letter: a raw-zone name, or the first ids of a batch."""
    if isinstance(item, tuple):
        return str(item[0])
    if isinstance(item, list):
        return ",".join(item[:3]) + (f",… ({len(item)} ids)" if len(item) > 3 else "")
    return str(item)


def _id_order(x: str):
    digits = "".join(ch for ch in x if ch.isdigit())
    return (int(digits) if digits else 0, x)
