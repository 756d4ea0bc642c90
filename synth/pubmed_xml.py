"""PubMed XML (2019+ ``PubmedArticleSet`` DTD) for the sample: one element per citation, streamed."""
from __future__ import annotations

import datetime
from typing import IO, Iterable, Optional

from lxml import etree

from synth import text
from synth.entities import ArticleEntity, issn
from synth.vocab import JOURNALS, MONTH_ABBR, PUBLICATION_TYPE_UI

HEADER = (b'<?xml version="1.0" encoding="utf-8"?>\n'
          b'<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2024//EN" '
          b'"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_240101.dtd">\n'
          b"<PubmedArticleSet>\n")
FOOTER = b"</PubmedArticleSet>\n"
PUBLISHER_COUNTRY = {"Meridian Academic Press": "England", "Harrow & Finch": "England",
                     "Lantern Scientific": "United States", "Corvid Medical Publishing": "Netherlands",
                     "Open Evidence Collaboration": "England"}


def _sub(parent, tag: str, content: Optional[str] = None, /, **attrib: str) -> etree._Element:
    """A child element with optional text; keyword arguments become attributes."""
    el = etree.SubElement(parent, tag, attrib)
    if content is not None:
        el.text = content
    return el


def _date(parent, tag: str, d: datetime.date, month_abbr: bool = False, **attrib) -> etree._Element:
    el = _sub(parent, tag, **attrib)
    _sub(el, "Year", str(d.year))
    _sub(el, "Month", MONTH_ABBR[d.month - 1] if month_abbr else f"{d.month:02d}")
    _sub(el, "Day", f"{d.day:02d}")
    return el


def epub_date(article: ArticleEntity) -> datetime.date:
    return article.pub_date - datetime.timedelta(days=int(article.spec.pmid) % 20 + 5)


def _journal(article_el, a: ArticleEntity) -> None:
    title, iso, stem, _, _ = JOURNALS[a.journal]
    journal = _sub(article_el, "Journal")
    _sub(journal, "ISSN", issn(stem), IssnType="Electronic")
    issue = _sub(journal, "JournalIssue", CitedMedium="Internet")
    _sub(issue, "Volume", a.volume)
    _sub(issue, "Issue", a.issue)
    _date(issue, "PubDate", a.pub_date, month_abbr=True)
    _sub(journal, "Title", title)
    _sub(journal, "ISOAbbreviation", iso)


def _pagination(article_el, a: ArticleEntity) -> None:
    pagination = _sub(article_el, "Pagination")
    _sub(pagination, "StartPage", str(a.first_page))
    _sub(pagination, "EndPage", str(a.last_page))
    last = str(a.last_page)
    first = str(a.first_page)
    short = last[next((i for i, (x, y) in enumerate(zip(first, last)) if x != y), len(last)):] or last
    _sub(pagination, "MedlinePgn", f"{first}-{short}")


def _abstract(article_el, a: ArticleEntity) -> None:
    if not a.sections:
        return
    abstract = _sub(article_el, "Abstract")
    for label, category, body in a.sections:
        attrib = {"Label": label, "NlmCategory": category} if label else {}
        _sub(abstract, "AbstractText", body, **attrib)
    _sub(abstract, "CopyrightInformation", f"\u00a9 {a.pub_date.year} The Authors.")


def _authors(article_el, a: ArticleEntity) -> None:
    authors = _sub(article_el, "AuthorList", CompleteYN="Y")
    for person in a.authors:
        author = _sub(authors, "Author", ValidYN="Y")
        _sub(author, "LastName", person.last)
        _sub(author, "ForeName", person.fore)
        _sub(author, "Initials", person.initials)
        for aff in person.affiliations:
            _sub(_sub(author, "AffiliationInfo"), "Affiliation", aff)


def _medline_extras(citation, a: ArticleEntity) -> None:
    title, iso, stem, nlm_id, publisher = JOURNALS[a.journal]
    info = _sub(citation, "MedlineJournalInfo")
    _sub(info, "Country", PUBLISHER_COUNTRY[publisher])
    _sub(info, "MedlineTA", iso)
    _sub(info, "NlmUniqueID", nlm_id)
    _sub(info, "ISSNLinking", issn(stem))
    if a.chemicals:
        chemicals = _sub(citation, "ChemicalList")
        for name, ui, registry in a.chemicals:
            chem = _sub(chemicals, "Chemical")
            _sub(chem, "RegistryNumber", registry)
            _sub(chem, "NameOfSubstance", name, UI=ui)
    if a.status == "MEDLINE":
        _sub(citation, "CitationSubset", "IM")
    if a.comment_on:
        comments = _sub(citation, "CommentsCorrectionsList")
        item = _sub(comments, "CommentsCorrections", RefType="CommentOn")
        _sub(item, "RefSource", f"{iso}. {a.pub_date.year - 1}.")
        _sub(item, "PMID", a.comment_on, Version="1")
    if a.mesh:
        headings = _sub(citation, "MeshHeadingList")
        for descriptor, ui, major, qualifiers in a.mesh:
            heading = _sub(headings, "MeshHeading")
            _sub(heading, "DescriptorName", descriptor, UI=ui, MajorTopicYN="Y" if major and not qualifiers else "N")
            for qname, qui in qualifiers:
                _sub(heading, "QualifierName", qname, UI=qui, MajorTopicYN="Y" if major else "N")
    if a.keywords:
        keywords = _sub(citation, "KeywordList", Owner="NOTNLM")
        for kw in a.keywords:
            _sub(keywords, "Keyword", kw, MajorTopicYN="N")


def _pubmed_data(root, a: ArticleEntity, citations: dict[str, str]) -> None:
    data = _sub(root, "PubmedData")
    history = _sub(data, "History")
    pmid = int(a.spec.pmid)
    stamps = [("received", a.received, False), ("accepted", a.accepted, False),
              ("entrez", epub_date(a), True), ("pubmed", epub_date(a), True),
              ("medline", a.date_completed or epub_date(a), True)]
    for status, d, clock in stamps:
        el = _date(history, "PubMedPubDate", d, PubStatus=status)
        if clock:
            _sub(el, "Hour", str(pmid % 24))
            _sub(el, "Minute", str(pmid * 7 % 60))
    _sub(data, "PublicationStatus", "ppublish")
    ids = _sub(data, "ArticleIdList")
    _sub(ids, "ArticleId", a.spec.pmid, IdType="pubmed")
    pii = text.review_ids(a.spec)
    if pii:
        _sub(ids, "ArticleId", pii, IdType="pii")
    if a.spec.pmcid:
        _sub(ids, "ArticleId", a.spec.pmcid, IdType="pmc")
    _sub(ids, "ArticleId", a.doi, IdType="doi")
    if a.reference_pmids:
        refs = _sub(data, "ReferenceList")
        for ref_pmid in a.reference_pmids:
            ref = _sub(refs, "Reference")
            _sub(ref, "Citation", citations[ref_pmid])
            _sub(_sub(ref, "ArticleIdList"), "ArticleId", ref_pmid, IdType="pubmed")


def pubmed_article(a: ArticleEntity, citations: dict[str, str]) -> etree._Element:
    """ArticleEntity → ``<PubmedArticle>``; ``citations`` maps each cited PMID to its citation text."""
    root = etree.Element("PubmedArticle")
    citation = _sub(root, "MedlineCitation", Status=a.status, Owner="NLM")
    _sub(citation, "PMID", a.spec.pmid, Version=str(a.version))
    if a.date_completed:
        _date(citation, "DateCompleted", a.date_completed)
    _date(citation, "DateRevised", a.date_revised)
    article = _sub(citation, "Article", PubModel="Print-Electronic")
    _journal(article, a)
    _sub(article, "ArticleTitle", a.title)
    _pagination(article, a)
    pii = text.review_ids(a.spec)
    if pii:
        _sub(article, "ELocationID", pii, EIdType="pii", ValidYN="Y")
    _sub(article, "ELocationID", a.doi, EIdType="doi", ValidYN="Y")
    _abstract(article, a)
    _authors(article, a)
    _sub(article, "Language", "eng")
    if a.nct_databank:
        bank = _sub(_sub(article, "DataBankList", CompleteYN="Y"), "DataBank")
        _sub(bank, "DataBankName", "ClinicalTrials.gov")
        _sub(_sub(bank, "AccessionNumberList"), "AccessionNumber", a.nct_databank)
    types = _sub(article, "PublicationTypeList")
    for pt in a.publication_types:
        _sub(types, "PublicationType", pt, UI=PUBLICATION_TYPE_UI[pt])
    _date(article, "ArticleDate", epub_date(a), DateType="Electronic")
    _medline_extras(citation, a)
    _pubmed_data(root, a, citations)
    return root


def write_article_set(out: IO[bytes], elements: Iterable[etree._Element],
                      deleted: Iterable[str] = ()) -> int:
    """Stream a ``PubmedArticleSet`` document: header, each element, optional ``DeleteCitation``.

    Returns the number of ``PubmedArticle`` elements written.
    """
    out.write(HEADER)
    n = 0
    for el in elements:
        etree.indent(el, space="  ")
        out.write(etree.tostring(el, encoding="utf-8"))
        out.write(b"\n")
        n += 1
    deleted = list(deleted)
    if deleted:
        block = etree.Element("DeleteCitation")
        for pmid in deleted:
            _sub(block, "PMID", pmid, Version="1")
        etree.indent(block, space="  ")
        out.write(etree.tostring(block, encoding="utf-8") + b"\n")
    out.write(FOOTER)
    return n
