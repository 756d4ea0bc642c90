"""Bulk files by URL (MEDLINE baseline/update files, the CT.gov full export, PMC OA packages).

Each file streams into ``<raw>/<source>/bulk/<file name>`` (never twice: an existing file is
skipped); a ``<url>.md5`` published beside it (as NCBI does) is checked when present.
"""
from __future__ import annotations

import hashlib
import re
from typing import Optional
from urllib.parse import urljoin, urlparse, urlsplit, urlunsplit

MEDLINE_FILE = re.compile(r"pubmed\d{2}n(\d{4})\.xml\.gz$")
_HREF = re.compile(r'href="([^"]+)"', re.I)


def source_of(url: str) -> str:
    """Which raw-zone source a bulk file belongs to, from its name."""
    name = file_name(url).lower()
    if MEDLINE_FILE.search(name) or name.startswith(("pubmed", "medline")):
        return "pubmed"
    if name.startswith(("ctg-studies", "allpublicxml", "ctgov")) or name.endswith(".zip"):
        return "ctgov"
    if name.endswith((".tar.gz", ".tgz")) or name.startswith(("oa_", "pmc")):
        return "pmc"
    if name.endswith((".tsv", ".csv", ".txt", ".toml")):
        return "links"
    raise ValueError(f"cannot tell the source of {url!r}: name it as SOURCE=URL (pubmed, pmc, ctgov, links)")


def split_entry(entry: str) -> tuple[str, str]:
    """``"pubmed=https://…"`` or a bare URL → (source, url)."""
    entry = entry.strip()
    m = re.match(r"^(pubmed|pmc|ctgov|links)=(.+)$", entry)
    if m:
        return m.group(1), m.group(2)
    return source_of(entry), entry


def file_name(url: str) -> str:
    name = urlparse(url).path.rsplit("/", 1)[-1]
    if not name:
        raise ValueError(f"no file name in {url!r}")
    return name


def medline_files_in_listing(html: bytes, base_url: str) -> list[tuple[str, str]]:
    """(file name, absolute URL) of the MEDLINE files an index page lists, in (year, number) order.

    Numbering restarts with each year's baseline (``pubmed26n…`` after ``pubmed25n…``), so files
    are told apart by name, never by number alone.
    """
    out = {}
    for href in _HREF.findall(html.decode("utf-8", "replace")):
        m = MEDLINE_FILE.search(href)
        if m:
            name = href.rsplit("/", 1)[-1]
            out[name] = urljoin(base_url if base_url.endswith("/") else base_url + "/", href)
    return sorted(out.items(), key=lambda kv: _medline_order(kv[0]))


def _medline_order(name: str) -> tuple[int, int]:
    m = re.search(r"pubmed(\d{2})n(\d{4})", name)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def md5_url(url: str) -> str:
    """Where a file's published checksum would be: ``.md5`` added to the path (query kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path + ".md5"))


def parse_md5(body: bytes) -> Optional[str]:
    """The hex digest in an NCBI ``.md5`` file (``MD5(name)= hex``) or a ``hex  name`` line."""
    m = re.search(rb"\b([0-9a-f]{32})\b", body.lower())
    return m.group(1).decode() if m else None


def md5_of(path_or_file) -> str:
    h = hashlib.md5()
    f = open(path_or_file, "rb") if isinstance(path_or_file, str) else path_or_file
    try:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    finally:
        if isinstance(path_or_file, str):
            f.close()
    return h.hexdigest()
