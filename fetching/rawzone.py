"""The raw zone: where fetched responses land (local directory or ``gs://``), under deterministic
names so that a rerun skips what is already there.

Layout (``<raw>`` = the raw zone root; ``<day>`` = the fetch's as-of date, YYYY-MM-DD):

    <raw>/pubmed/<day>/esearch-<query>-<batch>.xml     efetch pages of a search (PubmedArticleSet)
    <raw>/pubmed/<day>/ids-<hash>.xml                  efetch of a PMID list
    <raw>/pubmed/<day>/elink-refs-<hash>.xml           ELink pubmed_pubmed_refs (review → references)
    <raw>/pubmed/bulk/<file>                           MEDLINE baseline / update files
    <raw>/pmc/<day>/ids-<hash>.xml                     efetch db=pmc (pmc-articleset)
    <raw>/pmc/bulk/<file>                              PMC OA packages
    <raw>/ctgov/<day>/query-<query>-<page>.json        /studies pages of a query
    <raw>/ctgov/<day>/ids-<hash>-<page>.json           /studies pages of an NCT id list
    <raw>/ctgov/bulk/<file>                            the full export
    <raw>/_state/                                      fetch bookkeeping (not read by the build)

Names sort in fetch order within a source (the build's "later file wins" and DeleteCitation rules
rely on it): dated folders sort by day and ``bulk/`` files by their own numbering.
A file appears only complete: local writes go to a hidden temporary name and are renamed;
``gs://`` objects appear when their upload closes.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
from typing import IO, Optional


def short_hash(*parts: str, n: int = 16) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:n]


def _is_local(path: str) -> bool:
    return "://" not in path


class RawZone:
    """Read and write files under a raw-zone root (local path or ``gs://bucket/prefix``)."""

    def __init__(self, root: str):
        self.root = root.rstrip("/") if root != "/" else root
        self.local = _is_local(self.root)

    def path(self, rel: str) -> str:
        return f"{self.root}/{rel.lstrip('/')}"

    def exists(self, rel: str) -> bool:
        p = self.path(rel)
        if self.local:
            return os.path.exists(p)
        from apache_beam.io.filesystems import FileSystems
        return FileSystems.exists(p)

    def read(self, rel: str) -> bytes:
        p = self.path(rel)
        if self.local:
            with open(p, "rb") as f:
                return f.read()
        from apache_beam.io.filesystems import FileSystems
        with FileSystems.open(p) as f:
            return f.read()

    def open_read(self, rel: str):
        p = self.path(rel)
        if self.local:
            return open(p, "rb")
        from apache_beam.io.filesystem import CompressionTypes
        from apache_beam.io.filesystems import FileSystems
        return FileSystems.open(p, compression_type=CompressionTypes.UNCOMPRESSED)

    def write(self, rel: str, data: bytes) -> str:
        """Write ``data`` so that the file appears only complete; returns its full path."""
        with self.open_write(rel) as f:
            f.write(data)
        return self.path(rel)

    def open_write(self, rel: str) -> "_AtomicWriter":
        return _AtomicWriter(self, rel)

    def write_json(self, rel: str, obj) -> str:
        return self.write(rel, json.dumps(obj, indent=1, sort_keys=True).encode("utf-8"))

    def read_json(self, rel: str, default=None):
        if not self.exists(rel):
            return default
        return json.loads(self.read(rel).decode("utf-8"))

    def list(self, prefix: str = "") -> list[str]:
        """Relative paths of the complete files under ``prefix`` (sorted; temporaries excluded)."""
        base = self.path(prefix).rstrip("/")
        out = []
        if self.local:
            for dirpath, _, files in os.walk(base):
                for name in files:
                    if name.startswith(".") or name.endswith(".partial"):
                        continue
                    full = os.path.join(dirpath, name)
                    out.append(os.path.relpath(full, self.root).replace(os.sep, "/"))
        else:
            from apache_beam.io.filesystems import FileSystems
            for m in FileSystems.match([base + "/**"])[0].metadata_list:
                rel = m.path[len(self.root) + 1:]
                if not rel.rsplit("/", 1)[-1].startswith("."):
                    out.append(rel)
        return sorted(out)


def delete_tree(path: str) -> int:
    """Delete a file or a whole folder, local or ``gs://`` (where a folder is only a name prefix,
    so its objects are listed and deleted one by one). Returns how many files were deleted."""
    path = path.rstrip("/")
    if _is_local(path):
        if os.path.isdir(path):
            n = sum(len(files) for _, _, files in os.walk(path))
            shutil.rmtree(path)
            return n
        if os.path.exists(path):
            os.remove(path)
            return 1
        return 0
    from apache_beam.io.filesystems import FileSystems
    found = [m.path for m in FileSystems.match([path + "/**"])[0].metadata_list]
    if FileSystems.exists(path):
        found.append(path)
    if found:
        FileSystems.delete(found)
    return len(found)


class _AtomicWriter:
    """Context manager: a binary file that appears at its final name only on a clean close."""

    def __init__(self, zone: RawZone, rel: str):
        self._zone, self._rel = zone, rel
        self._final = zone.path(rel)
        self._f: Optional[IO[bytes]] = None
        self._tmp: Optional[str] = None

    def __enter__(self) -> IO[bytes]:
        if self._zone.local:
            d = os.path.dirname(self._final)
            os.makedirs(d, exist_ok=True)
            fd, self._tmp = tempfile.mkstemp(prefix="." + os.path.basename(self._final) + ".", dir=d)
            self._f = os.fdopen(fd, "wb")
        else:
            # GCS: the object becomes visible only when the upload is closed; write to a temporary
            # object name first so that an interrupted upload never shows under the final name.
            from apache_beam.io.filesystems import FileSystems
            head, _, name = self._final.rpartition("/")
            self._tmp = f"{head}/.{name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.partial"
            self._f = FileSystems.create(self._tmp)
        return self._f

    def __exit__(self, exc_type, exc, tb):
        assert self._f is not None and self._tmp is not None
        if exc_type is not None:
            try:
                self._f.close()
            finally:
                self._discard()
            return False
        self._f.close()
        if self._zone.local:
            os.replace(self._tmp, self._final)
        else:
            from apache_beam.io.filesystems import FileSystems
            if FileSystems.exists(self._final):
                FileSystems.delete([self._final])
            FileSystems.rename([self._tmp], [self._final])
        return False

    def _discard(self):
        if self._zone.local:
            if self._tmp and os.path.exists(self._tmp):
                os.remove(self._tmp)
        else:
            from apache_beam.io.filesystems import FileSystems
            if self._tmp and FileSystems.exists(self._tmp):
                FileSystems.delete([self._tmp])
