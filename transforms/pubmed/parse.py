"""Streaming parser for PubMed/MEDLINE XML.

Accepts ``PubmedArticleSet`` files (baseline/update files, efetch pages), the older
``MedlineCitationSet`` distribution files (bare ``<MedlineCitation>`` records) and single-record
documents. Yields one ``Article`` per ``PubmedArticle``, ``PubmedBookArticle`` or top-level
``MedlineCitation``, one ``DeletedCitation`` per PMID of a ``<DeleteCitation>`` block, and
``DeadLetter`` records for input that cannot be used.

Pure module: no Beam import. The caller opens (and decompresses) the file.
"""
from __future__ import annotations

import gzip
import re
import zlib
from typing import IO, Iterable, Iterator, Optional, Union

from lxml import etree

from schemas.records import (
    AbstractSection, Article, ArticleId, Author, Chemical, DataBank, DeadLetter, DeletedCitation,
    MeshHeading, MeshQualifier)
from transforms.textutil import (
    UnsafeXmlError, clear_element, element_text, excerpt, nct_ids_in, normalize_nct, normalize_ws,
    peek, safe_iterparse)

STAGE = "pubmed.parse"

CITATION_TAGS = ("PubmedArticle", "PubmedBookArticle", "MedlineCitation")
DELETE_TAG = "DeleteCitation"
ROOT_TAGS = frozenset(
    ("PubmedArticleSet", "PubmedBookArticleSet", "MedlineCitationSet", DELETE_TAG) + CITATION_TAGS)

# Errors that end the stream (the rest of the file is unreadable) ...
STREAM_ERRORS = (etree.XMLSyntaxError, UnsafeXmlError, EOFError, zlib.error, gzip.BadGzipFile)
# ... and errors that only spoil the record being converted.
RECORD_ERRORS = (ValueError, KeyError, TypeError)

CTGOV_DATABANK = "clinicaltrials.gov"
DATE_ELEMENTS = ("DateRevised", "DateCompleted", "DateCreated")

_MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
_YEAR_RE = re.compile(r"(?<!\d)\d{4}(?!\d)")
_PMC_RE = re.compile(r"PMC\d+", re.IGNORECASE)

Record = Union[Article, DeletedCitation, DeadLetter]


class _MissingField(ValueError):
    """A required element of a record is absent or empty."""


class _InvalidField(ValueError):
    """A required element of a record has an unusable value."""


# --------------------------------------------------------------------------- entry point
def parse_pubmed(fileobj: IO[bytes], source_file: str) -> Iterator[Record]:
    """Stream the records of one PubMed/MEDLINE XML file.

    ``fileobj``: binary file object positioned at the start of the XML (already decompressed).
    ``source_file``: the file's name or URL, copied into every record for provenance.

    Yields ``Article`` (``source_index`` = 0-based ordinal of the citation in the file),
    ``DeletedCitation`` (one per PMID of a ``<DeleteCitation>``) and ``DeadLetter``:
    a citation that cannot be used becomes a dead letter with the citation's ordinal as
    ``record_index`` and parsing goes on; a file that breaks (malformed or truncated XML,
    entity declarations, decompression error) ends with one dead letter whose ``record_index``
    is the ordinal of the citation that could not be read.
    """
    index = 0
    deleted = 0
    container = None  # parent of the records: the set element, or None for a bare record
    last = None  # the last complete record element (already cleared)
    head = b""
    try:
        head, stream = peek(fileobj)
        events = safe_iterparse(stream, CITATION_TAGS + (DELETE_TAG,))
    except STREAM_ERRORS as exc:
        yield _stream_dead_letter(exc, source_file, index, excerpt(head))
        return

    while True:
        try:
            _, el = next(events)
        except StopIteration:
            break
        except STREAM_ERRORS as exc:
            yield _stream_dead_letter(exc, source_file, index, _break_excerpt(container, last, head))
            return
        parent = el.getparent()
        if el.tag == "MedlineCitation" and parent is not None and parent.tag == "PubmedArticle":
            continue
        container = parent
        if el.tag == DELETE_TAG:
            records = list(_deleted_citations(el, source_file))
            deleted += len(records)
        else:
            records = [_citation(el, source_file, index)]
            index += 1
        clear_element(el)
        last = el
        yield from records

    root = events.root
    if index == 0 and deleted == 0 and root is not None and root.tag not in ROOT_TAGS:
        yield DeadLetter(
            source_file=source_file, stage=STAGE, error_type="UnexpectedRoot",
            message=f"root element <{root.tag}> is not a PubMed/MEDLINE record set",
            excerpt=excerpt(head), record_index=None)


def _stream_dead_letter(exc: Exception, source_file: str, index: int, raw: str) -> DeadLetter:
    """The single dead letter that ends a broken file; ``index`` is the unread citation."""
    return DeadLetter(
        source_file=source_file, stage=STAGE, error_type=type(exc).__name__,
        message=f"parsing stopped at record {index}: {exc}", excerpt=raw, record_index=index)


def _break_excerpt(container, last, head: bytes) -> str:
    """Raw text of the partially read record after ``last`` (``str``); the head of the file when
    no record was complete; ``""`` when the break falls between records."""
    if container is not None and len(container) and container[-1] is not last:
        return excerpt(etree.tostring(container[-1], encoding="unicode", with_tail=False))
    return excerpt(head) if last is None else ""


# --------------------------------------------------------------------------- records
def _citation(el, source_file: str, index: int) -> Union[Article, DeadLetter]:
    """``PubmedArticle`` / ``PubmedBookArticle`` / ``MedlineCitation`` element → ``Article``,
    or a ``DeadLetter`` when the citation cannot be used."""
    try:
        if el.tag == "PubmedBookArticle":
            return _book_article(el, source_file, index)
        if el.tag == "PubmedArticle":
            return _journal_article(el.find("MedlineCitation"), el.find("PubmedData"),
                                    source_file, index)
        return _journal_article(el, None, source_file, index)
    except _MissingField as exc:
        error_type = "MissingField"
        message = str(exc)
    except _InvalidField as exc:
        error_type = "InvalidField"
        message = str(exc)
    except RECORD_ERRORS as exc:
        error_type = type(exc).__name__
        message = f"cannot convert <{el.tag}>: {exc}"
    return DeadLetter(
        source_file=source_file, stage=STAGE, error_type=error_type, message=message,
        excerpt=excerpt(etree.tostring(el, encoding="unicode", with_tail=False)),
        record_index=index)


def _journal_article(medline, pubmed_data, source_file: str, index: int) -> Article:
    """``MedlineCitation`` element (+ its sibling ``PubmedData`` element or ``None``) → ``Article``."""
    if medline is None:
        raise _MissingField("record has no MedlineCitation, hence no PMID")
    pmid, version = _pmid(medline)
    article = medline.find("Article")
    if article is None:
        article = etree.Element("Article")
    title = element_text(article.find("ArticleTitle"))
    abstract, sections = _abstract(article.find("Abstract"))
    journal = article.find("Journal")
    issue = journal.find("JournalIssue") if journal is not None else None
    pub_date, pub_year = _pub_date(issue.find("PubDate") if issue is not None else None)
    if pub_year is None:
        pub_year = _first_year(_text(article.find("ArticleDate/Year")))
    databanks = _databanks(article)
    article_ids = _article_ids(pubmed_data)
    return Article(
        pmid=pmid,
        version=version,
        title=title,
        abstract=abstract,
        abstract_sections=sections,
        journal=element_text(journal.find("Title")) if journal is not None else None,
        journal_iso=element_text(journal.find("ISOAbbreviation")) if journal is not None else None,
        pub_date=pub_date,
        pub_year=pub_year,
        authors=_authors(article, element_text(article.find("Affiliation"))),
        mesh=_mesh(medline),
        keywords=_keywords(medline),
        chemicals=_chemicals(medline),
        publication_types=_texts(article.iterfind("PublicationTypeList/PublicationType")),
        languages=_texts(article.iterfind("Language")),
        databanks=databanks,
        nct_ids=_trial_ids(databanks),
        text_nct_ids=nct_ids_in(title, abstract),
        article_ids=article_ids,
        doi=_doi(article_ids) or _elocation_doi(article),
        pmcid=_pmcid(article_ids) or _other_pmcid(medline),
        reference_pmids=_reference_pmids(pubmed_data),
        is_book=False,
        date_revised=_date_revised(medline),
        source_file=source_file,
        source_index=index,
    )


def _book_article(el, source_file: str, index: int) -> Article:
    """``PubmedBookArticle`` element → ``Article`` with ``is_book=True``.

    The title is the chapter's ``ArticleTitle``, else the ``Book/BookTitle``; authors are the
    chapter's, else the book's (editors are not authors); the DOI is a ``doi`` article id, else
    the ``Book/ELocationID``; there is no journal.
    """
    doc = el.find("BookDocument")
    if doc is None:
        raise _MissingField("PubmedBookArticle has no BookDocument, hence no PMID")
    pmid, version = _pmid(doc)
    book = doc.find("Book")
    if book is None:
        book = etree.Element("Book")
    title = element_text(doc.find("ArticleTitle")) or element_text(book.find("BookTitle"))
    abstract, sections = _abstract(doc.find("Abstract"))
    pub_date, pub_year = _pub_date(book.find("PubDate"))
    databanks = _databanks(doc)
    article_ids = _article_ids(doc, el.find("PubmedBookData"))
    return Article(
        pmid=pmid,
        version=version,
        title=title,
        abstract=abstract,
        abstract_sections=sections,
        journal=None,
        journal_iso=None,
        pub_date=pub_date,
        pub_year=pub_year,
        authors=_authors(doc) or _authors(book),
        mesh=[],
        keywords=_keywords(doc),
        chemicals=[],
        publication_types=_texts(doc.iterfind("PublicationType")),
        languages=_texts(doc.iterfind("Language")),
        databanks=databanks,
        nct_ids=_trial_ids(databanks),
        text_nct_ids=nct_ids_in(title, abstract),
        article_ids=article_ids,
        doi=_doi(article_ids) or _elocation_doi(book),
        pmcid=_pmcid(article_ids),
        reference_pmids=_reference_pmids(doc),
        is_book=True,
        date_revised=_date_revised(doc),
        source_file=source_file,
        source_index=index,
    )


def _deleted_citations(el, source_file: str) -> Iterator[Union[DeletedCitation, DeadLetter]]:
    """``DeleteCitation`` element → one ``DeletedCitation`` per non-empty ``PMID`` child."""
    for pmid_el in el.iterfind("PMID"):
        pmid = _text(pmid_el)
        if pmid:
            yield DeletedCitation(pmid=pmid, source_file=source_file)
        else:
            yield DeadLetter(
                source_file=source_file, stage=STAGE, error_type="MissingField",
                message="empty PMID in DeleteCitation",
                excerpt=excerpt(etree.tostring(el, encoding="unicode", with_tail=False)),
                record_index=None)


# --------------------------------------------------------------------------- field groups
def _text(el) -> Optional[str]:
    """Own text of a leaf element (``None`` when absent or blank)."""
    return normalize_ws(el.text) if el is not None else None


def _texts(elements: Iterable) -> list[str]:
    """Flattened text of each element, blanks dropped, in order."""
    return [t for t in map(element_text, elements) if t]


def _pmid(parent) -> tuple[str, int]:
    """Direct ``PMID`` child of ``MedlineCitation``/``BookDocument`` → (pmid, Version)."""
    el = parent.find("PMID")
    pmid = _text(el)
    if not pmid:
        raise _MissingField(f"<{parent.tag}> has no PMID")
    if not pmid.isdigit():
        raise _InvalidField(f"PMID {pmid!r} is not a number")
    version = (el.get("Version") or "1").strip()
    if not version.isdigit():
        raise _InvalidField(f"PMID {pmid} has a non-numeric Version {version!r}")
    return pmid, int(version)


def _abstract(abstract_el) -> tuple[Optional[str], list[AbstractSection]]:
    """``Abstract`` element → (text with one "LABEL: text" line per section, sections)."""
    if abstract_el is None:
        return None, []
    sections = []
    for part in abstract_el.iterfind("AbstractText"):
        text = element_text(part)
        if text:
            sections.append(AbstractSection(
                label=normalize_ws(part.get("Label")),
                category=normalize_ws(part.get("NlmCategory")),
                text=text))
    if not sections:
        return None, []
    joined = "\n".join(f"{s.label}: {s.text}" if s.label else s.text for s in sections)
    return joined, sections


def _month(text: Optional[str]) -> Optional[int]:
    """``"03"``, ``"3"``, ``"Mar"`` or ``"March"`` → 3; anything else → ``None``."""
    if not text:
        return None
    if text.isdigit():
        number = int(text)
        return number if 1 <= number <= 12 else None
    return _MONTHS.get(text[:3].lower())


def _iso_date(el) -> Optional[str]:
    """Element with ``Year``/``Month``/``Day`` children → ``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY``."""
    if el is None:
        return None
    year = _text(el.find("Year"))
    if not year or len(year) != 4 or not year.isdigit():
        return None
    month = _month(_text(el.find("Month")))
    if month is None:
        return year
    day = _text(el.find("Day"))
    if not day or not day.isdigit() or not 1 <= int(day) <= 31:
        return f"{year}-{month:02d}"
    return f"{year}-{month:02d}-{int(day):02d}"


def _first_year(text: Optional[str]) -> Optional[int]:
    """First 4-digit number in ``text`` → int."""
    if not text:
        return None
    match = _YEAR_RE.search(text)
    return int(match.group()) if match else None


def _pub_date(pub_date_el) -> tuple[Optional[str], Optional[int]]:
    """``PubDate`` element → (ISO date prefix or the raw ``MedlineDate``, year)."""
    if pub_date_el is None:
        return None, None
    year = _text(pub_date_el.find("Year"))
    if year:
        return _iso_date(pub_date_el) or year, _first_year(year)
    medline_date = element_text(pub_date_el.find("MedlineDate"))
    return medline_date, _first_year(medline_date)


def _authors(parent, article_affiliation: Optional[str] = None) -> list[Author]:
    """``AuthorList/Author`` children of ``Article``/``BookDocument``/``Book`` → authors.

    Lists typed ``editors`` are skipped. ``article_affiliation`` (the pre-2014
    ``Article/Affiliation``, which belongs to the first author) is given to the first author
    when that author has none.
    """
    authors = []
    for author_list in parent.iterfind("AuthorList"):
        if author_list.get("Type", "authors") != "authors":
            continue
        for el in author_list.iterfind("Author"):
            author = _author(el)
            if author is not None:
                authors.append(author)
    if article_affiliation and authors and not authors[0].affiliations:
        authors[0].affiliations.append(article_affiliation)
    return authors


def _author(el) -> Optional[Author]:
    """``Author`` element → ``Author`` (``None`` when it names nobody). One pass over the
    children: the first of each name part, every ``AffiliationInfo/Affiliation`` in order."""
    last = fore = first = initials = collective = legacy = None
    affiliations = []
    for child in el:
        tag = child.tag
        if tag == "LastName":
            if last is None:
                last = child
        elif tag == "ForeName":
            if fore is None:
                fore = child
        elif tag == "Initials":
            if initials is None:
                initials = child
        elif tag == "AffiliationInfo":
            for aff in child.iterchildren("Affiliation"):
                text = element_text(aff)
                if text:
                    affiliations.append(text)
        elif tag == "CollectiveName":
            if collective is None:
                collective = child
        elif tag == "FirstName":
            if first is None:
                first = child
        elif tag == "Affiliation" and legacy is None:
            legacy = child
    if legacy is not None:
        text = element_text(legacy)
        if text and text not in affiliations:
            affiliations.append(text)
    last_name = element_text(last)
    fore_name = element_text(fore) or element_text(first)
    collective_name = element_text(collective)
    if not (last_name or fore_name or collective_name):
        return None
    return Author(last_name, fore_name, element_text(initials), collective_name, affiliations)


def _mesh(medline) -> list[MeshHeading]:
    """``MeshHeadingList/MeshHeading`` children of ``MedlineCitation`` → headings (one pass over
    each heading's children: its first ``DescriptorName``, every ``QualifierName``)."""
    headings = []
    for heading_list in medline.iterchildren("MeshHeadingList"):
        for heading in heading_list.iterchildren("MeshHeading"):
            descriptor, qualifiers = None, []
            for child in heading:
                tag = child.tag
                if tag == "QualifierName":
                    qualifier_name = element_text(child)
                    if qualifier_name:
                        qualifiers.append(MeshQualifier(qualifier_name, child.get("UI"),
                                                        child.get("MajorTopicYN") == "Y"))
                elif tag == "DescriptorName" and descriptor is None:
                    descriptor = child
            name = element_text(descriptor)
            if name:
                headings.append(MeshHeading(name, descriptor.get("UI"), descriptor.get("MajorTopicYN") == "Y",
                                            qualifiers))
    return headings


def _keywords(parent) -> list[str]:
    """Keywords of every ``KeywordList`` of ``MedlineCitation``/``BookDocument``, in order, unique."""
    return list(dict.fromkeys(_texts(parent.iterfind("KeywordList/Keyword"))))


def _chemicals(medline) -> list[Chemical]:
    """``ChemicalList/Chemical`` children of ``MedlineCitation`` → chemicals (registry "0" → None)."""
    chemicals = []
    for chemical in medline.iterfind("ChemicalList/Chemical"):
        substance = chemical.find("NameOfSubstance")
        name = element_text(substance)
        if not name:
            continue
        registry = _text(chemical.find("RegistryNumber"))
        chemicals.append(Chemical(
            name=name, ui=substance.get("UI"),
            registry_number=None if registry == "0" else registry))
    return chemicals


def _databanks(parent) -> list[DataBank]:
    """``DataBankList/DataBank`` children of ``Article``/``BookDocument`` → databanks."""
    databanks = []
    for bank in parent.iterfind("DataBankList/DataBank"):
        name = element_text(bank.find("DataBankName"))
        if name:
            databanks.append(DataBank(
                name=name,
                accessions=_texts(bank.iterfind("AccessionNumberList/AccessionNumber"))))
    return databanks


def _trial_ids(databanks: list[DataBank]) -> list[str]:
    """Sorted unique NCT ids of the ClinicalTrials.gov databanks."""
    found = set()
    for bank in databanks:
        if bank.name.lower() == CTGOV_DATABANK:
            found.update(filter(None, map(normalize_nct, bank.accessions)))
    return sorted(found)


def _article_ids(*parents) -> list[ArticleId]:
    """Direct ``ArticleIdList/ArticleId`` children of ``PubmedData``/``BookDocument``/
    ``PubmedBookData`` elements (``None`` allowed) → ids in order, exact repeats dropped."""
    ids = []
    seen = set()
    for parent in parents:
        if parent is None:
            continue
        for el in parent.iterfind("ArticleIdList/ArticleId"):
            value = _text(el)
            key = (el.get("IdType", "pubmed"), value)
            if value and key not in seen:
                seen.add(key)
                ids.append(ArticleId(id_type=key[0], value=value))
    return ids


def _doi(article_ids: list[ArticleId]) -> Optional[str]:
    """First ``doi`` article id."""
    return next((a.value for a in article_ids if a.id_type == "doi"), None)


def _elocation_doi(parent) -> Optional[str]:
    """First valid ``ELocationID[@EIdType="doi"]`` child of ``Article``/``Book``."""
    for el in parent.iterfind("ELocationID"):
        if el.get("EIdType") == "doi" and el.get("ValidYN", "Y") == "Y":
            value = _text(el)
            if value:
                return value
    return None


def _pmc_form(value: Optional[str]) -> Optional[str]:
    """``"PMC123"``, ``"pmc123"``, ``"123"`` → ``"PMC123"``; anything else → ``None``."""
    if not value:
        return None
    if value.isdigit():
        return "PMC" + value
    match = _PMC_RE.match(value)
    return "PMC" + match.group()[3:] if match else None


def _pmcid(article_ids: list[ArticleId]) -> Optional[str]:
    """First ``pmc`` article id in ``PMC…`` form."""
    for a in article_ids:
        if a.id_type == "pmc":
            pmcid = _pmc_form(a.value)
            if pmcid:
                return pmcid
    return None


def _other_pmcid(medline) -> Optional[str]:
    """``OtherID[@Source="NLM"]`` of ``MedlineCitation`` starting with ``PMC…`` (such as
    ``"PMC4380289 [Available on 04/01/16]"``) → ``"PMC4380289"``."""
    for el in medline.iterfind("OtherID"):
        if el.get("Source") == "NLM":
            pmcid = _pmc_form(_text(el))
            if pmcid:
                return pmcid
    return None


def _reference_pmids(parent) -> list[str]:
    """PMIDs cited by ``ReferenceList`` children of ``PubmedData``/``BookDocument`` (nested
    lists included) → in document order, unique."""
    found: dict[str, None] = {}
    if parent is not None:
        for reference_list in parent.iterfind("ReferenceList"):
            _collect_reference_pmids(reference_list, found)
    return list(found)


_REFERENCE_PMIDS = etree.XPath('Reference/ArticleIdList/ArticleId[@IdType="pubmed"]/text()')


def _collect_reference_pmids(reference_list, found: dict[str, None]) -> None:
    """Add the ``pubmed`` ids of one ``ReferenceList`` element and its nested lists to ``found``."""
    for text in _REFERENCE_PMIDS(reference_list):
        pmid = normalize_ws(text)
        if pmid:
            found.setdefault(pmid)
    for nested in reference_list.iterfind("ReferenceList"):
        _collect_reference_pmids(nested, found)


def _date_revised(parent) -> Optional[str]:
    """``DateRevised``, else ``DateCompleted``, else ``DateCreated`` of ``parent`` → ISO date."""
    for tag in DATE_ELEMENTS:
        date = _iso_date(parent.find(tag))
        if date:
            return date
    return None
