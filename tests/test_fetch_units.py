"""Pure parts of the fetch stage: rate limit, Retry-After, E-utilities / CT.gov parsing on real bodies."""
from __future__ import annotations

import email.utils
import math
import re
import time

import pytest

from fetching import bulk as B
from fetching import ctgov_api as C
from fetching import eutils as E
from fetching.http import RateLimiter, RedactingFilter, parse_retry_after, redact, register_secret
from pipelines.fetch import pop_api_key
from schemas.records import DeadLetter, ReviewLink
from transforms.formats import detect_format, parse_source
from transforms.links.parse import parse_elink_refs


class FakeClock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t

    def sleep(self, s):
        self.t += s


def most_in_window(times, window):
    times = sorted(times)
    return max(sum(1 for u in times if t <= u < t + window) for t in times)


@pytest.mark.parametrize("rate", [3, 10, 0.5])
def test_rate_limiter_never_allows_more_than_rate_in_any_window(rate):
    clock = FakeClock()
    lim = RateLimiter(rate, margin=0.05, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(40):
        lim.acquire()
        starts.append(clock.t)
    per_window = max(1, int(rate))
    window = 1.0 if rate >= 1 else 1 / rate
    assert most_in_window(starts, window + 0.05) == per_window
    # and it is not slower than it must be: 40 starts take ceil(40/per_window) - 1 windows
    assert starts[-1] - starts[0] == pytest.approx((math.ceil(40 / per_window) - 1) * (window + 0.05))


def test_rate_limit_is_shared_through_the_lock_file(tmp_path):
    """Two limiters (as two processes would hold) naming one lock file share one budget."""
    clock = FakeClock()
    lock = str(tmp_path / "eutils.rate")
    a = RateLimiter(3, clock=clock, sleep=clock.sleep, lock_file=lock)
    b = RateLimiter(3, clock=clock, sleep=clock.sleep, lock_file=lock)
    starts = []
    for i in range(30):
        (a if i % 2 else b).acquire()
        starts.append(clock.t)
    assert most_in_window(starts, 1.05) == 3
    separate = [RateLimiter(3, clock=clock, sleep=clock.sleep, lock_file=str(tmp_path / f"{n}.rate"))
                for n in ("x", "y")]
    t0 = clock.t + 10
    clock.t = t0
    for i in range(6):
        separate[i % 2].acquire()
    assert clock.t == t0  # different files: no shared budget, six starts at once


def test_a_pause_holds_every_limiter_sharing_the_file(tmp_path):
    clock = FakeClock()
    lock = str(tmp_path / "eutils.rate")
    a = RateLimiter(10, clock=clock, sleep=clock.sleep, lock_file=lock)
    b = RateLimiter(10, clock=clock, sleep=clock.sleep, lock_file=lock)
    t0 = clock.t
    a.pause(2.0)  # a 429 with Retry-After: 2 seen by one worker
    assert b.acquire() == pytest.approx(2.0) and clock.t == pytest.approx(t0 + 2.0)


def test_retry_after_seconds_and_http_date():
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = time.time()
    when = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(when, now=now) == pytest.approx(30, abs=1.0)


def test_secrets_are_redacted_in_messages_and_log_records():
    import logging
    register_secret("k3y-abcdef-123")
    assert redact("url?api_key=k3y-abcdef-123&x=1") == "url?api_key=***&x=1"
    rec = logging.LogRecord("x", logging.INFO, "f", 1, "got %s", ("k3y-abcdef-123",), None)
    RedactingFilter().filter(rec)
    assert rec.getMessage() == "got ***"


def test_api_key_is_taken_out_of_the_arguments():
    argv, key = pop_api_key(["--raw_root", "r", "--ncbi_api_key", "SECRET", "--email", "a@b"])
    assert argv == ["--raw_root", "r", "--email", "a@b"] and key == "SECRET"
    argv, key = pop_api_key(["--ncbi_api_key=S2", "--tool", "t"])
    assert argv == ["--tool", "t"] and key == "S2"


# --------------------------------------------------------------------------- E-utilities bodies
def test_esearch_xml_with_history(corpus):
    r = E.parse_esearch((corpus / "eutils/biopython/esearch2.xml").read_bytes())
    assert (r.count, r.webenv, r.query_key) == (42249, "MCID_6927d6e7fee3e90f880ec190", "1")
    assert len(r.ids) == 100 and r.ids[:3] == ["41297076", "41297074", "41297068"]


def test_esearch_with_phrase_not_found_is_not_an_error(corpus):
    r = E.parse_esearch((corpus / "eutils/eutils_samples/esearch.error.xml").read_bytes())
    assert r.count == 5163 and r.webenv is None and len(r.ids) == 20


def test_esearch_json_and_the_rate_limit_body(corpus):
    r = E.parse_esearch((corpus / "eutils/biomcp/esearch_json_count3.json").read_bytes())
    assert (r.count, r.ids) == (3, ["32150788", "29373119", "17427195"])
    with pytest.raises(E.EutilsError, match="API rate limit exceeded"):
        E.parse_esearch((corpus / "eutils/biomcp/esummary_json_rate_limit_error.json").read_bytes())


def test_elink_parsing_keeps_each_link_name(corpus):
    body = (corpus / "eutils/biopython/elink1.xml").read_bytes()
    links = E.parse_elink(body)
    assert list(links) == ["9298984"]
    names = links["9298984"]
    assert sorted(names) == ["pubmed_pubmed", "pubmed_pubmed_citedin", "pubmed_pubmed_combined",
                             "pubmed_pubmed_five", "pubmed_pubmed_refs", "pubmed_pubmed_reviews",
                             "pubmed_pubmed_reviews_five"]
    assert sum(len(v) for v in names.values()) == len(re.findall(rb"<Link>", body)) == 212


def test_elink_refs_become_reference_links(corpus):
    path = corpus / "eutils/biopython/elink1.xml"
    body = path.read_bytes()
    assert detect_format(body[:65536], str(path)) == "elink_xml"
    refs_block = body.split(b"<LinkName>pubmed_pubmed_refs</LinkName>")[1].split(b"</LinkSetDb>")[0]
    expected = re.findall(rb"<Id>(\d+)</Id>", refs_block)
    with open(path, "rb") as f:
        out = list(parse_source(f, str(path)))
    assert all(isinstance(x, ReviewLink) for x in out)
    assert [x.pmid for x in out] == [e.decode() for e in expected]
    assert {(x.review_id, x.label, x.source) for x in out} == {("pubmed:9298984", "reference", "elink_refs")}


def test_elink_with_several_ids_in_one_linkset_is_a_dead_letter():
    body = (b"<eLinkResult><LinkSet><DbFrom>pubmed</DbFrom><IdList><Id>1</Id><Id>2</Id></IdList>"
            b"<LinkSetDb><DbTo>pubmed</DbTo><LinkName>pubmed_pubmed_refs</LinkName><Link><Id>3</Id></Link>"
            b"</LinkSetDb></LinkSet></eLinkResult>")
    import io
    out = list(parse_elink_refs(io.BytesIO(body), "x.xml"))
    assert len(out) == 1 and isinstance(out[0], DeadLetter) and out[0].error_type == "AmbiguousLinkSet"


@pytest.mark.parametrize("body, error_type, message", [
    (b"<eLinkResult><LinkSet><DbFrom>pubmed</DbFrom><IdList><Id>1</Id></Id", "XMLSyntaxError", None),
    (b"<eLinkResult><ERROR>Invalid db name specified: pubmd</ERROR></eLinkResult>", "ELinkError",
     "Invalid db name specified: pubmd"),
])
def test_bad_elink_bodies_are_dead_letters_with_the_reason(body, error_type, message):
    import io
    out = list(parse_elink_refs(io.BytesIO(body), "links/2026-11-25/elink-refs-x.xml"))
    assert len(out) == 1 and isinstance(out[0], DeadLetter)
    d = out[0]
    assert (d.source_file, d.stage, d.error_type) == ("links/2026-11-25/elink-refs-x.xml", "links.parse", error_type)
    if message:
        assert d.message == message


def test_validators_spot_truncation_and_wrong_bodies(corpus):
    full = (corpus / "pubmed/eutils_samples/efetch.pubmed.xml").read_bytes()
    assert E.check_pubmed_set(full) is None
    assert E.check_pubmed_set(full[: len(full) // 2]).startswith("malformed XML")
    assert E.check_pubmed_set(b"<eFetchResult><ERROR>Unable to obtain query #1</ERROR></eFetchResult>") == \
        "efetch error: Unable to obtain query #1"
    pmc = (corpus / "pmc_jats/biomcp/efetch_pmc3040717.xml").read_bytes()
    assert E.check_pmc_set(pmc) is None and E.pmc_ids_in(pmc) == ["PMC3040717"]
    assert E.check_elink((corpus / "eutils/biopython/elink3.xml").read_bytes()) is None


def test_efetch_pubmed_ids(corpus):
    body = (corpus / "pubmed/eutils_samples/efetch.pubmed.xml").read_bytes()
    ids = E.pubmed_ids_in(body)
    assert len(ids) == 2 and len(set(ids)) == 2
    assert set(E.pmcids_in_pubmed(body)) <= set(ids) and len(E.pmcids_in_pubmed(body)) == 1


def test_forms_carry_identity_and_one_id_field_per_pmid():
    ident = E.Identity("leadsinstruct", "a@b.org", "KEY")
    form = E.with_identity(E.elink_form(["1", "2"], "pubmed_pubmed_refs"), ident)
    assert form == [("dbfrom", "pubmed"), ("db", "pubmed"), ("linkname", "pubmed_pubmed_refs"), ("id", "1"),
                    ("id", "2"), ("tool", "leadsinstruct"), ("email", "a@b.org"), ("api_key", "KEY")]
    assert E.esearch_form("systematic review[pt]", datetype="mdat", mindate="2026-11-01",
                          maxdate="2026-11-02") == {
        "db": "pubmed", "term": "systematic review[pt]", "retmax": "0", "usehistory": "y",
        "datetype": "mdat", "mindate": "2026/11/01", "maxdate": "2026/11/02"}


# --------------------------------------------------------------------------- CT.gov pages
def test_studies_page_with_next_token(corpus):
    page = C.parse_studies_page((corpus / "ctgov_v2/biomcp/search_phelan_limit5_20260811.json").read_bytes())
    assert len(page.nct_ids) == 5 and page.total_count == 21 and page.next_page_token
    last = C.parse_studies_page((corpus / "ctgov_v2/biomcp/search_phelan_limit50_20260811.json").read_bytes())
    assert len(last.nct_ids) == 3 and last.next_page_token is None and last.total_count == 3


def test_studies_page_validation(corpus):
    body = (corpus / "ctgov_v2/biomcp/search_phelan_limit5_20260811.json").read_bytes()
    assert C.check_studies_page(body) is None
    assert C.check_studies_page(body[:-40]).startswith("JSONDecodeError")
    assert C.check_studies_page(b'{"error": "bad"}') == "ValueError: not a /studies page: no 'studies' list"
    # a single-study record is not a page
    assert C.check_studies_page((corpus / "ctgov_v2/aact/NCT00763412.json").read_bytes()) is not None


def test_studies_params_and_delta_term():
    assert C.studies_params(nct_ids=["NCT1", "NCT2"], page_size=100) == {
        "format": "json", "pageSize": "100", "filter.ids": "NCT1,NCT2", "countTotal": "true"}
    assert C.studies_params(query_term="x", page_token="T") == {
        "format": "json", "pageSize": "1000", "query.term": "x", "pageToken": "T"}
    assert C.updated_since_term("2026-11-01") == "AREA[LastUpdatePostDate]RANGE[2026-11-01,MAX]"
    with pytest.raises(ValueError):
        C.studies_params(page_size=1001)


# --------------------------------------------------------------------------- bulk files
def test_medline_listing_and_md5():
    html = (b'<a href="pubmed26n0002.xml.gz">x</a> <a href="pubmed26n0002.xml.gz.md5">m</a>'
            b'<a href="pubmed25n1301.xml.gz">y</a><a href="README.txt">r</a><a href="pubmed26n0001.xml.gz">z</a>')
    assert B.medline_files_in_listing(html, "https://h/updatefiles") == [  # by year, then number
        ("pubmed25n1301.xml.gz", "https://h/updatefiles/pubmed25n1301.xml.gz"),
        ("pubmed26n0001.xml.gz", "https://h/updatefiles/pubmed26n0001.xml.gz"),
        ("pubmed26n0002.xml.gz", "https://h/updatefiles/pubmed26n0002.xml.gz")]
    assert B.md5_url("https://h/x/pubmed26n0001.xml.gz") == "https://h/x/pubmed26n0001.xml.gz.md5"
    assert B.md5_url("https://h/export/ctg.zip?format=json") == "https://h/export/ctg.zip.md5?format=json"
    assert B.parse_md5(b"MD5(pubmed26n1300.xml.gz)= 0123456789abcdef0123456789abcdef\n") == \
        "0123456789abcdef0123456789abcdef"
    assert B.split_entry("https://h/pubmed26n0001.xml.gz") == ("pubmed", "https://h/pubmed26n0001.xml.gz")
    assert B.split_entry("pmc=https://h/oa_comm_xml.PMC000xxxxxx.baseline.2026-06-01.tar.gz")[0] == "pmc"
    assert B.split_entry("https://h/ctg-studies.json.zip")[0] == "ctgov"
    with pytest.raises(ValueError, match="SOURCE=URL"):
        B.source_of("https://h/data.bin")


def test_limiters_with_different_rates_on_one_file_each_hold_their_own_limit(tmp_path):
    """A keyed process (10/s) and a keyless one (3/s) share the file: the keyless one never starts
    a request while three others started within its window, whoever started them."""
    clock = FakeClock()
    lock = str(tmp_path / "eutils.rate")
    fast = RateLimiter(10, clock=clock, sleep=clock.sleep, lock_file=lock)
    slow = RateLimiter(3, clock=clock, sleep=clock.sleep, lock_file=lock)
    starts = []
    for i in range(40):
        lim = slow if i % 4 == 0 else fast
        lim.acquire()
        starts.append((clock.t, lim is slow))
    times = [t for t, _ in starts]
    assert most_in_window(times, 1.05) <= 10
    for t, is_slow in starts:
        if is_slow:  # at most 2 other starts in the 1.05 s before a keyless start
            assert sum(1 for u in times if t - 1.05 < u < t) <= 2
