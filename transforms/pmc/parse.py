"""PMC / JATS full text → ``FullText`` records.

Inputs are already-open binary streams (local or gs:// files opened and decompressed at the edge):

* a bare ``<article>`` document (PMC OA ``.nxml``, PMC OA S3 ``.xml``, publisher JATS such as PLOS),
* an efetch ``<pmc-articleset>`` holding several ``<article>`` elements,
* a PMC OA package tar stream (already gunzipped) whose ``.nxml``/``.xml`` members are such documents.

Elements are matched on local names (``{*}name``), so a default namespace on ``<article>`` and the
``xlink:``/``mml:``/``ali:`` prefixes work alike. Articles are streamed with ``safe_iterparse`` and
cleared once read; ``<sub-article>``/``<response>`` stay inside their parent article.

Pure module: no Beam import.
"""
from __future__ import annotations

import gzip
import io
import re
import tarfile
import zlib
from typing import IO, Iterator, Optional, Union

from lxml import etree

from schemas.records import DeadLetter, FullText, Reference, Section, Table
from transforms.textutil import (
    UnsafeXmlError, clear_element, excerpt, nct_ids_in, normalize_ws, safe_iterparse)

STAGE = "pmc.parse"

XLINK_HREF = "{http://www.w3.org/1999/xlink}href"

# article-id types carrying the PMC id, in order of preference.
_PMC_ID_TYPES = ("pmc", "pmcid", "pmcaid", "pmc-uid")
_PMCID_RE = re.compile(r"(?:PMC)?(\d+)(?:\.\d+)?", re.IGNORECASE)

# Abstracts that are not the authors' abstract: pictures, teasers, table-of-contents blurbs,
# one-line "short" abstracts and editors' summaries.
_SKIPPED_ABSTRACT_TYPES = frozenset(
    {"graphical", "teaser", "toc", "short", "editor", "editors-summary"})

# pub-date types preferred for pub_year (pub-type in NLM/JATS 1.0, date-type in JATS 1.1+).
_PREFERRED_DATE_TYPES = frozenset({None, "epub", "ppub", "collection", "epub-ppub", "pub"})

# Children of <sec>/<body>/<abstract> that hold running text.
_TEXT_BLOCKS = frozenset({
    "p", "list", "def-list", "disp-quote", "boxed-text", "statement", "disp-formula",
    "verse-group", "speech", "preformat"})

# Floating objects kept out of running text (tables have their own records).
_FLOATS = frozenset({
    "table-wrap", "table-wrap-group", "fig", "fig-group", "supplementary-material", "media"})

# Trailing punctuation of abstract section titles ("Background:", "Abstract—").
_HEADING_PUNCT = " :.-\u2013\u2014"

_CITATIONS = frozenset({"element-citation", "mixed-citation", "citation", "nlm-citation"})

# Left out of reference text: the ids have their own fields.
_CITATION_SKIP = _FLOATS | {"pub-id", "object-id"}

# Elements whose attributes may carry an NCT id (hyperlinks and related objects).
_LINK_TAGS = tuple("{*}" + name for name in (
    "ext-link", "uri", "self-uri", "related-object", "related-article",
    "supplementary-material", "inline-supplementary-material"))

_XML_MEMBER_RE = re.compile(r"\.n?xml$", re.IGNORECASE)

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

# Reference ids given as links rather than <pub-id>: by ext-link-type, or by a PubMed/DOI address.
_PMID_LINK_TYPES = frozenset({"pmid", "pubmed"})
_PUBMED_URL_RE = re.compile(
    r"^https?://(?:www\.)?(?:ncbi\.nlm\.nih\.gov/pubmed/|pubmed\.ncbi\.nlm\.nih\.gov/)(\d+)/?$",
    re.IGNORECASE)
_DOI_URL_RE = re.compile(r"^https?://(?:dx\.)?doi\.org/(10\.\S+)$", re.IGNORECASE)

_STREAM_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)


# --------------------------------------------------------------------------- element helpers
def _local(tag) -> Optional[str]:
    """Local name of an element tag (``None`` for comments and processing instructions)."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else None


def _child(el, name: str):
    """First child of ``el`` with local name ``name``, or ``None``."""
    if el is None:
        return None
    return next(el.iterchildren("{*}" + name), None)


def _raw_text(el, skip: frozenset) -> str:
    """Text below ``el`` without white-space normalisation, leaving out subtrees named in ``skip``.

    Mixed content (text between child elements) is concatenated as written; element-only content
    (``<name><surname>Doe</surname><given-names>J</given-names></name>``) is joined with spaces.
    Of an ``<alternatives>`` only one rendering is kept (see ``_alternative``).
    """
    head = el.text or ""
    if len(el) == 0:
        return head
    pieces = [head]
    mixed = bool(head.strip())
    for child in el:
        name = _local(child.tag)
        if name == "alternatives":
            chosen = _alternative(child)
            if chosen is not None and _local(chosen.tag) not in skip:
                pieces.append(_raw_text(chosen, skip))
        elif name is not None and name not in skip:
            pieces.append(_raw_text(child, skip))
        tail = child.tail
        if tail:
            pieces.append(tail)
            mixed = mixed or bool(tail.strip())
    return ("" if mixed else " ").join(pieces)


def _alternative(alternatives):
    """``<alternatives>`` (equivalent renderings) → the one child whose text is kept: MathML
    ``<math>``, else the first child holding text (``<tex-math>``, ``<table>``, ...); ``None`` if none."""
    children = [c for c in alternatives if isinstance(c.tag, str)]
    math = next((c for c in children if _local(c.tag) == "math"), None)
    if math is not None:
        return math
    return next((c for c in children if any(t.strip() for t in c.itertext())), None)


def _flatten(el, skip: frozenset = _FLOATS) -> Optional[str]:
    """Element → normalised text with inline markup flattened and floats left out; ``None`` if empty."""
    if el is None:
        return None
    return normalize_ws(_raw_text(el, skip))


# --------------------------------------------------------------------------- front matter
def _pmcid(value: Optional[str]) -> Optional[str]:
    """``'3040717'`` / ``'PMC3040717'`` / ``'PMC3040717.1'`` → ``'PMC3040717'``; else ``None``."""
    if not value:
        return None
    m = _PMCID_RE.fullmatch(value)
    return "PMC" + m.group(1) if m else None


def _article_ids(meta) -> tuple[Optional[str], Optional[str], Optional[str]]:
    """``<article-meta>`` → (pmcid, pmid, doi) from its ``<article-id>`` children."""
    ids: dict[str, str] = {}
    if meta is not None:
        for aid in meta.iterchildren("{*}article-id"):
            kind = (aid.get("pub-id-type") or "").lower()
            value = normalize_ws(aid.text)
            if value and kind not in ids:
                ids[kind] = value
    pmcid = next((p for p in map(_pmcid, map(ids.get, _PMC_ID_TYPES)) if p), None)
    pmid = ids.get("pmid")
    if pmid is not None and not pmid.isdigit():
        pmid = None
    return pmcid, pmid, ids.get("doi")


def _title(meta) -> Optional[str]:
    """``<article-meta>`` → flattened ``title-group/article-title``."""
    return _flatten(_child(_child(meta, "title-group"), "article-title"))


def _journal(front) -> Optional[str]:
    """``<front>`` → ``journal-title`` (JATS ``journal-title-group`` or NLM 2.x direct child)."""
    journal_meta = _child(front, "journal-meta")
    title = _child(_child(journal_meta, "journal-title-group"), "journal-title")
    if title is None:
        title = _child(journal_meta, "journal-title")
    return _flatten(title)


def _year(pub_date) -> Optional[int]:
    """``<pub-date>`` → its 4-digit ``<year>`` as int, or ``None``."""
    year_el = _child(pub_date, "year")
    year = normalize_ws(year_el.text) if year_el is not None else None
    return int(year) if year and len(year) == 4 and year.isdigit() else None


def _pub_year(meta) -> Optional[int]:
    """``<article-meta>`` → year of the first epub/ppub/collection ``<pub-date>`` in file order,
    else of the first ``<pub-date>`` with a year."""
    fallback = None
    if meta is None:
        return None
    for pub_date in meta.iterchildren("{*}pub-date"):
        year = _year(pub_date)
        if year is None:
            continue
        if (pub_date.get("pub-type") or pub_date.get("date-type")) in _PREFERRED_DATE_TYPES:
            return year
        if fallback is None:
            fallback = year
    return fallback


def _license(meta) -> tuple[Optional[str], Optional[str]]:
    """``<article-meta>`` → (license text, license url) from ``permissions/license`` (or a
    ``license`` directly in ``article-meta``, as in NLM 2.x archiving files).

    Text: the license paragraphs, else ``@license-type``. Url: ``@xlink:href``, else
    ``ali:license_ref``, else the first Creative Commons link in the text, else its first http link.
    """
    lic = _child(_child(meta, "permissions"), "license")
    if lic is None:
        lic = _child(meta, "license")
    if lic is None:
        return None, None
    paragraphs = [_flatten(p) for p in lic.iterchildren("{*}license-p", "{*}p")]
    text = "\n".join(p for p in paragraphs if p) or normalize_ws(lic.get("license-type"))
    url = normalize_ws(lic.get(XLINK_HREF)) or _flatten(_child(lic, "license_ref"))
    if url is None:
        hrefs = [h.strip() for h in (a.get(XLINK_HREF) for a in lic.iter("{*}ext-link")) if h]
        url = (next((h for h in hrefs if "creativecommons.org" in h), None)
               or next((h for h in hrefs if h.startswith("http")), None))
    return text, url


def _lang(el) -> Optional[str]:
    """``@xml:lang`` of an element as a lower-case primary language code (``"en-GB"`` → ``"en"``)."""
    value = (el.get(XML_LANG) or "").strip().lower()
    return value.split("-")[0] or None


def _authors_abstracts(meta, article_lang: Optional[str]) -> list:
    """``<abstract>`` children of ``<article-meta>`` that are the authors' abstract: not a
    graphical/teaser/toc/short/editors' one, and not a translation (an ``@xml:lang`` other than
    the article's, whose JATS default is ``en``), as long as one is in the article's language."""
    abstracts = [a for a in meta.iterchildren("{*}abstract")
                 if (a.get("abstract-type") or "").lower() not in _SKIPPED_ABSTRACT_TYPES]
    article_lang = article_lang or "en"
    same = [a for a in abstracts if _lang(a) in (None, article_lang)]
    return same or abstracts


def _abstract(meta, article_lang: Optional[str] = None) -> Optional[str]:
    """``<article-meta>`` (and the article's ``@xml:lang``) → the authors' abstracts as text, one
    line per paragraph or ``"Title: text"`` per section, joined with newlines; ``None`` when there
    is none. ``<trans-abstract>`` and abstracts in another language are left out."""
    lines: list[str] = []
    if meta is None:
        return None
    for abstract in _authors_abstracts(meta, article_lang):
        for child in abstract:
            name = _local(child.tag)
            if name in _TEXT_BLOCKS:
                text = _flatten(child)
                if text:
                    lines.append(text)
            elif name == "sec":
                _abstract_sec_lines(child, lines)
    return "\n".join(lines) or None


def _abstract_sec_lines(sec, lines: list[str]) -> None:
    """Abstract ``<sec>`` → appends ``"Title: text"`` (or ``"text"``) lines, nested secs after."""
    heading = _flatten(_child(sec, "title"))
    text = normalize_ws(" ".join(filter(None, (
        _flatten(c) for c in sec if _local(c.tag) in _TEXT_BLOCKS))))
    if text:
        lines.append(f"{heading.rstrip(_HEADING_PUNCT)}: {text}" if heading else text)
    for nested in sec.iterchildren("{*}sec"):
        _abstract_sec_lines(nested, lines)


# --------------------------------------------------------------------------- body
def _sections(body) -> list[Section]:
    """``<body>`` → Sections in document order: each ``<sec>`` (level = nesting depth) with its own
    text blocks; runs of text blocks directly under ``<body>`` form a Section with heading ``None``."""
    sections: list[Section] = []
    if body is None:
        return sections
    loose: list[str] = []
    for child in body:
        name = _local(child.tag)
        if name == "sec":
            if loose:
                sections.append(Section(heading=None, text="\n".join(loose), level=1))
                loose = []
            _add_sec(child, 1, sections)
        elif name in _TEXT_BLOCKS:
            text = _flatten(child)
            if text:
                loose.append(text)
    if loose:
        sections.append(Section(heading=None, text="\n".join(loose), level=1))
    return sections


def _add_sec(sec, level: int, out: list[Section]) -> None:
    """``<sec>`` → appends its Section (own paragraphs joined by newlines), then its nested secs."""
    paragraphs: list[str] = []
    nested = []
    for child in sec:
        name = _local(child.tag)
        if name in _TEXT_BLOCKS:
            text = _flatten(child)
            if text:
                paragraphs.append(text)
        elif name == "sec":
            nested.append(child)
    out.append(Section(heading=_flatten(_child(sec, "title")), text="\n".join(paragraphs),
                       level=level))
    for child in nested:
        _add_sec(child, level + 1, out)


def _tables(article) -> list[Table]:
    """``<article>`` → one Table per ``<table-wrap>`` anywhere in it (body, floats, back, sub-articles)."""
    return [_table(wrap) for wrap in article.iter("{*}table-wrap")]


def _table(wrap) -> Table:
    """``<table-wrap>`` → Table(label, caption text, rows of cell texts with ``<thead>`` rows first)."""
    rows: list[list[str]] = []
    for table in wrap.iter("{*}table"):
        head: list[list[str]] = []
        rest: list[list[str]] = []
        for tr in table.iter("{*}tr"):
            cells = [_flatten(cell) or "" for cell in tr.iterchildren("{*}th", "{*}td")]
            (head if _local(tr.getparent().tag) == "thead" else rest).append(cells)
        rows.extend(head)
        rows.extend(rest)
    return Table(label=_flatten(_child(wrap, "label")), caption=_flatten(_child(wrap, "caption")),
                 rows=rows)


# --------------------------------------------------------------------------- back matter
def _references(article) -> list[Reference]:
    """``<article>`` → one Reference per ``<ref>`` of every ``<ref-list>``, in document order."""
    return [_reference(ref)
            for ref_list in article.iter("{*}ref-list")
            for ref in ref_list.iterchildren("{*}ref")]


def _citations(ref) -> list:
    """``<ref>`` → its citation elements (one per ``<citation-alternatives>``, mixed preferred)."""
    found = []
    for child in ref:
        name = _local(child.tag)
        if name in _CITATIONS:
            found.append(child)
        elif name == "citation-alternatives":
            options = [c for c in child if _local(c.tag) in _CITATIONS]
            if options:
                found.append(next((c for c in options if _local(c.tag) == "mixed-citation"),
                                  options[0]))
    return found


def _link_ids(ref) -> tuple[Optional[str], Optional[str]]:
    """``<ref>`` → (pmid, doi) from its ``<ext-link>``s: typed ``pmid``/``pubmed``/``doi`` (the id
    in ``@xlink:href`` or the text), or a PubMed or doi.org address."""
    pmid = doi = None
    for link in ref.iter("{*}ext-link"):
        kind = (link.get("ext-link-type") or "").lower()
        href = (link.get(XLINK_HREF) or "").strip()
        text = normalize_ws(link.text) or ""
        if pmid is None:
            if kind in _PMID_LINK_TYPES:
                pmid = next((v for v in (href.rstrip("/").rpartition("/")[2], text)
                             if v.isdigit()), None)
            elif (m := _PUBMED_URL_RE.match(href)):
                pmid = m.group(1)
        if doi is None:
            if kind == "doi":
                doi = next((v for v in (_DOI_URL_RE.sub(r"\1", href), text)
                            if v.startswith("10.")), None)
            elif (m := _DOI_URL_RE.match(href)):
                doi = m.group(1)
    return pmid, doi


def _reference(ref) -> Reference:
    """``<ref>`` → Reference(@id, pmid and doi from ``<pub-id>`` (else from ``<ext-link>``s),
    flattened citation text without the ``<pub-id>`` values)."""
    pmid = doi = None
    for pub_id in ref.iter("{*}pub-id"):
        kind = pub_id.get("pub-id-type")
        value = normalize_ws(pub_id.text)
        if kind == "pmid" and pmid is None and value and value.isdigit():
            pmid = value
        elif kind == "doi" and doi is None and value:
            doi = value
    if pmid is None or doi is None:
        link_pmid, link_doi = _link_ids(ref)
        pmid = pmid or link_pmid
        doi = doi or link_doi
    citations = _citations(ref)
    if citations:
        text = " ".join(filter(None, (_flatten(c, _CITATION_SKIP) for c in citations)))
    else:
        text = _flatten(ref, _CITATION_SKIP | {"label"}) or ""
    return Reference(ref_id=ref.get("id"), pmid=pmid, doi=doi, text=text)


def _nct_ids(article) -> list[str]:
    """``<article>`` → sorted unique NCT ids in all its text and in link/related-object attributes."""
    texts = [" ".join(article.itertext())]
    for link in article.iter(*_LINK_TAGS):
        texts.extend(link.values())
    return nct_ids_in(*texts)


# --------------------------------------------------------------------------- records
def _full_text(article, source_file: str, index: int) -> Union[FullText, DeadLetter]:
    """``<article>`` → FullText, or a MissingField DeadLetter when it has no pmcid, pmid or doi."""
    front = _child(article, "front")
    meta = _child(front, "article-meta")
    pmcid, pmid, doi = _article_ids(meta)
    if not (pmcid or pmid or doi):
        return DeadLetter(
            source_file=source_file, stage=STAGE, error_type="MissingField",
            message="article has no pmcid, pmid or doi article-id",
            excerpt=excerpt(etree.tostring(meta if meta is not None else article)),
            record_index=index)
    license_text, license_url = _license(meta)
    return FullText(
        pmcid=pmcid, pmid=pmid, doi=doi,
        title=_title(meta),
        abstract=_abstract(meta, _lang(article)),
        sections=_sections(_child(article, "body")),
        tables=_tables(article),
        references=_references(article),
        nct_ids=_nct_ids(article),
        license=license_text, license_url=license_url,
        article_type=normalize_ws(article.get("article-type")),
        journal=_journal(front),
        pub_year=_pub_year(meta),
        source_file=source_file, source_index=index)


class _ReadTracker:
    """A binary stream wrapper remembering the first and the latest bytes read (for excerpts)."""

    KEEP = 1024

    def __init__(self, raw: IO[bytes]):
        self._raw = raw
        self.head = b""
        self.last = b""

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        if data:
            if len(self.head) < self.KEEP:
                self.head += data[:self.KEEP - len(self.head)]
            self.last = (data if len(data) >= self.KEEP else self.last + data)[-self.KEEP:]
        return data


def parse_jats(fileobj: IO[bytes], source_file: str) -> Iterator[Union[FullText, DeadLetter]]:
    """JATS document (bare ``<article>`` or ``<pmc-articleset>``) → FullText per ``<article>``.

    ``source_index`` counts articles in the file from 0. An article without any id yields a
    MissingField DeadLetter and parsing goes on; a document that breaks (malformed or truncated XML,
    entity declarations, a broken compressed stream) yields the articles before the break, then one
    DeadLetter whose ``record_index`` is the index of the article that failed. A document with no
    ``<article>`` that is not a ``<pmc-articleset>`` yields one NoArticle DeadLetter.
    """
    reader = _ReadTracker(fileobj)
    index = 0
    try:
        events = safe_iterparse(reader, ("{*}article",))
        for _, article in events:
            if next(article.iterancestors("{*}article"), None) is not None:
                continue
            try:
                record = _full_text(article, source_file, index)
            except (ValueError, TypeError, KeyError) as e:
                record = DeadLetter(
                    source_file=source_file, stage=STAGE, error_type=type(e).__name__,
                    message=str(e), excerpt=excerpt(etree.tostring(article)), record_index=index)
            clear_element(article)
            yield record
            index += 1
        root = events.root
        if index == 0 and (root is None or _local(root.tag) != "pmc-articleset"):
            yield DeadLetter(
                source_file=source_file, stage=STAGE, error_type="NoArticle",
                message=f"no <article> element under <{_local(root.tag) if root is not None else ''}>",
                excerpt=excerpt(reader.head), record_index=0)
    except UnsafeXmlError as e:
        yield DeadLetter(source_file=source_file, stage=STAGE, error_type=type(e).__name__,
                         message=str(e), excerpt=excerpt(reader.head), record_index=index)
    except (etree.XMLSyntaxError, *_STREAM_ERRORS) as e:
        yield DeadLetter(source_file=source_file, stage=STAGE, error_type=type(e).__name__,
                         message=str(e), excerpt=excerpt(reader.last[-300:]), record_index=index)


def parse_pmc_tar(fileobj: IO[bytes], source_file: str) -> Iterator[Union[FullText, DeadLetter]]:
    """PMC OA package tar stream (already gunzipped) → ``parse_jats`` output of each ``.nxml``/``.xml``
    member, with ``source_file=f"{source_file}!{member.name}"``; other members are skipped.

    Each XML member is read whole (one article, a few MB at most) before it is parsed, so a broken
    tar or compressed stream is told apart from broken XML: it yields what was read before, then one
    DeadLetter for the package whose ``record_index`` is the 0-based ordinal of the tar member at
    which reading failed.
    """
    reader = _ReadTracker(fileobj)
    position = 0
    try:
        with tarfile.open(fileobj=reader, mode="r|") as tar:
            for ordinal, member in enumerate(tar):
                position = ordinal
                if member.isfile() and _XML_MEMBER_RE.search(member.name):
                    data = tar.extractfile(member).read()
                    yield from parse_jats(io.BytesIO(data), f"{source_file}!{member.name}")
                position = ordinal + 1
    except (tarfile.TarError, *_STREAM_ERRORS) as e:
        yield DeadLetter(source_file=source_file, stage=STAGE, error_type=type(e).__name__,
                         message=str(e), excerpt=excerpt(reader.last[-300:]), record_index=position)
