"""PMC OA style JATS (``.nxml``) full texts for the sample."""
from __future__ import annotations

from typing import Optional

from lxml import etree

from synth import text
from synth.entities import ArticleEntity, TrialEntity, issn
from synth.pubmed_xml import epub_date
from synth.vocab import JOURNALS, LICENSES

XLINK = "http://www.w3.org/1999/xlink"
MML = "http://www.w3.org/1998/Math/MathML"
HREF = f"{{{XLINK}}}href"
DOCTYPE = ('<!DOCTYPE article PUBLIC "-//NLM//DTD JATS (Z39.96) Journal Archiving and Interchange DTD '
           'v1.2 20190208//EN" "JATS-archivearticle1.dtd">')


def _sub(parent, tag: str, content: Optional[str] = None, /, **attrib: str) -> etree._Element:
    """A child element with optional text; keyword arguments become attributes."""
    el = etree.SubElement(parent, tag, attrib)
    if content is not None:
        el.text = content
    return el


def _journal_meta(front, a: ArticleEntity) -> None:
    title, iso, stem, _, publisher = JOURNALS[a.journal]
    meta = _sub(front, "journal-meta")
    _sub(meta, "journal-id", iso, **{"journal-id-type": "nlm-ta"})
    _sub(meta, "journal-id", iso, **{"journal-id-type": "iso-abbrev"})
    _sub(_sub(meta, "journal-title-group"), "journal-title", title)
    _sub(meta, "issn", issn(stem), **{"pub-type": "epub"})
    _sub(_sub(meta, "publisher"), "publisher-name", publisher)


def _contribs(meta, a: ArticleEntity) -> None:
    affiliations = list(dict.fromkeys(aff for person in a.authors for aff in person.affiliations))
    group = _sub(meta, "contrib-group")
    for person in a.authors:
        contrib = _sub(group, "contrib", **{"contrib-type": "author"})
        name = _sub(contrib, "name")
        _sub(name, "surname", person.last)
        _sub(name, "given-names", person.fore)
        for aff in person.affiliations:
            n = affiliations.index(aff) + 1
            _sub(contrib, "xref", str(n), **{"ref-type": "aff", "rid": f"aff{n}"})
    for n, aff in enumerate(affiliations, start=1):
        el = _sub(meta, "aff", id=f"aff{n}")
        _sub(el, "label", str(n))
        _sub(el, "institution", aff.rstrip("."))


def _article_meta(front, a: ArticleEntity, article_type: str) -> None:
    meta = _sub(front, "article-meta")
    _sub(meta, "article-id", a.spec.pmid, **{"pub-id-type": "pmid"})
    _sub(meta, "article-id", a.spec.pmcid[3:], **{"pub-id-type": "pmc"})
    _sub(meta, "article-id", a.doi, **{"pub-id-type": "doi"})
    heading = "Systematic Review" if article_type == "review-article" else "Research Article"
    cats = _sub(_sub(meta, "article-categories"), "subj-group", **{"subj-group-type": "heading"})
    _sub(cats, "subject", heading)
    _sub(_sub(meta, "title-group"), "article-title", a.title.rstrip("."))
    _contribs(meta, a)
    epub = epub_date(a)
    date = _sub(meta, "pub-date", **{"pub-type": "epub"})
    _sub(date, "day", str(epub.day))
    _sub(date, "month", str(epub.month))
    _sub(date, "year", str(epub.year))
    _sub(_sub(meta, "pub-date", **{"pub-type": "collection"}), "year", str(a.pub_date.year))
    _sub(meta, "volume", a.volume)
    _sub(meta, "issue", a.issue)
    _sub(meta, "fpage", str(a.first_page))
    _sub(meta, "lpage", str(a.last_page))
    history = _sub(meta, "history")
    for kind, d in (("received", a.received), ("accepted", a.accepted)):
        el = _sub(history, "date", **{"date-type": kind})
        _sub(el, "day", str(d.day))
        _sub(el, "month", str(d.month))
        _sub(el, "year", str(d.year))
    url, statement = LICENSES[int(a.spec.pmid) % len(LICENSES)]
    permissions = _sub(meta, "permissions")
    _sub(permissions, "copyright-statement", f"\u00a9 {a.pub_date.year} The Authors")
    _sub(permissions, "copyright-year", str(a.pub_date.year))
    lic = _sub(permissions, "license", **{"license-type": "open-access", HREF: url})
    _sub(lic, "license-p", statement)
    abstract = _sub(meta, "abstract")
    for label, _, body in a.sections:
        sec = _sub(abstract, "sec")
        if label:
            _sub(sec, "title", label.capitalize())
        _sub(sec, "p", body)
    kwd = _sub(meta, "kwd-group", **{"kwd-group-type": "author"})
    for keyword in a.keywords:
        _sub(kwd, "kwd", keyword)


def _paragraph(parent, segments: list, ref_ids: dict[str, str]) -> None:
    p = _sub(parent, "p")
    p.text = ""
    last = None
    for seg in segments:
        if isinstance(seg, str):
            if last is None:
                p.text += seg
            else:
                last.tail = (last.tail or "") + seg
            continue
        kind = seg[0]
        if kind == "cite":
            rid = ref_ids[seg[1]]
            last = _sub(p, "xref", rid[3:], **{"ref-type": "bibr", "rid": rid})
        elif kind == "ext":
            last = _sub(p, "ext-link", seg[2], **{"ext-link-type": "uri", HREF: seg[1]})
        elif kind == "table":
            last = _sub(p, "xref", seg[2], **{"ref-type": "table", "rid": seg[1]})


def _table(parent, spec: tuple) -> None:
    table_id, label, caption, header, rows, foot = spec
    wrap = _sub(parent, "table-wrap", id=table_id, position="float")
    _sub(wrap, "label", label)
    _sub(_sub(wrap, "caption"), "p", caption)
    table = _sub(wrap, "table", frame="hsides", rules="groups")
    tr = _sub(_sub(table, "thead"), "tr")
    for cell in header:
        _sub(tr, "th", cell, align="left")
    body = _sub(table, "tbody")
    for row in rows:
        tr = _sub(body, "tr")
        for cell in row:
            _sub(tr, "td", cell, align="left")
    if foot:
        _sub(_sub(_sub(wrap, "table-wrap-foot"), "fn"), "p", foot)


def _section(parent, sec: tuple, ref_ids: dict[str, str], sec_id: str) -> None:
    title, paragraphs, subsections, tables = sec
    el = _sub(parent, "sec", id=sec_id)
    _sub(el, "title", title)
    for segments in paragraphs:
        _paragraph(el, segments, ref_ids)
    for spec in tables:
        _table(el, spec)
    for i, sub in enumerate(subsections, start=1):
        _section(el, sub, ref_ids, f"{sec_id}-{i}")


def _references(back, world, pmids: list[str], a: ArticleEntity) -> None:
    refs = _sub(back, "ref-list")
    _sub(refs, "title", "References")
    for n, pmid in enumerate(pmids, start=1):
        cited = world.article(pmid)
        ref = _sub(refs, "ref", id=f"ref{n}")
        _sub(ref, "label", str(n))
        cit = _sub(ref, "element-citation", **{"publication-type": "journal"})
        group = _sub(cit, "person-group", **{"person-group-type": "author"})
        for person in cited.authors[:6]:
            name = _sub(group, "name")
            _sub(name, "surname", person.last)
            _sub(name, "given-names", person.initials)
        if len(cited.authors) > 6:
            _sub(group, "etal")
        _sub(cit, "article-title", cited.title.rstrip("."))
        _sub(cit, "source", JOURNALS[cited.journal][1])
        _sub(cit, "year", str(cited.pub_date.year))
        _sub(cit, "volume", cited.volume)
        _sub(cit, "fpage", str(cited.first_page))
        _sub(cit, "lpage", str(cited.last_page))
        _sub(cit, "pub-id", pmid, **{"pub-id-type": "pmid"})
        _sub(cit, "pub-id", cited.doi, **{"pub-id-type": "doi"})
    n = len(pmids) + 1
    ref = _sub(refs, "ref", id=f"ref{n}")
    _sub(ref, "label", str(n))
    _sub(ref, "mixed-citation",
         f"{JOURNALS[a.journal][4]}. Guidance for reporting parallel-group randomised trials. "
         f"Available from: https://www.example.org/reporting-guidance (accessed {a.received.year}).",
         **{"publication-type": "webpage"})


def figure_stem(a: ArticleEntity) -> str:
    """File stem shared by an article's ``.nxml`` and figure files in its OA package."""
    iso = JOURNALS[a.journal][1].lower().replace(" ", "-")
    return f"{iso}-{a.pub_date.year}-{a.volume}-{a.first_page}"


def _figure(results_sec, a: ArticleEntity) -> None:
    fig = _sub(results_sec, "fig", id="fig1", position="float")
    _sub(fig, "label", "Figure 1")
    _sub(_sub(fig, "caption"), "p", "Flow of participants through the trial.")
    _sub(fig, "graphic", **{HREF: f"{figure_stem(a)}-g001"})


def jats_article(world, a: ArticleEntity, trial: Optional[TrialEntity]) -> bytes:
    """One full text as ``.nxml`` bytes: the trial's paper when ``trial`` is given, else the review."""
    article_type = "research-article" if trial is not None else "review-article"
    root = etree.Element("article", {"article-type": article_type, "dtd-version": "1.2"},
                         nsmap={"xlink": XLINK, "mml": MML})
    root.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
    front = _sub(root, "front")
    _journal_meta(front, a)
    _article_meta(front, a, article_type)
    sections = text.trial_body(world, a, trial) if trial is not None else text.review_body(world, a)
    pmids = a.reference_pmids
    ref_ids = {pmid: f"ref{n}" for n, pmid in enumerate(pmids, start=1)}
    body = _sub(root, "body")
    for i, sec in enumerate(sections, start=1):
        _section(body, sec, ref_ids, f"sec{i}")
    if trial is not None:
        _figure(body.find("sec[@id='sec3']"), a)
    back = _sub(root, "back")
    ack = _sub(back, "ack")
    _sub(ack, "title", "Acknowledgements")
    funder = trial.funder if trial is not None else "the participating institutions"
    _sub(ack, "p", f"We thank all participants and site staff. The work was supported by {funder}.")
    _references(back, world, pmids, a)
    etree.indent(root, space=" ")
    return etree.tostring(root, encoding="UTF-8", xml_declaration=False, doctype=DOCTYPE) + b"\n"
