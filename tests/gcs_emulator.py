"""A real Cloud Storage emulator on 127.0.0.1 for tests (``gcp-storage-emulator`` from PyPI).

``GcsEmulator()`` starts ``python -m gcp_storage_emulator`` in memory on a free port with one
bucket, sets ``STORAGE_EMULATOR_HOST`` and ``GOOGLE_CLOUD_PROJECT`` in this process's environment
(and gives the same variables to subprocesses through ``env()``), and stops it on ``close()``.
Test-side reads and writes go through google-cloud-storage directly, not through the code under
test.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BUCKET = "leadsinstruct-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GcsEmulator:
    def __init__(self, bucket: str = BUCKET):
        self.bucket = bucket
        self.port = _free_port()
        self.host = f"http://127.0.0.1:{self.port}"
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1",
             "--port", str(self.port), "--in-memory", "--default-bucket", bucket],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{self.host}/storage/v1/b/{bucket}", timeout=1).read()
                break
            except OSError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError("the storage emulator did not start")
                time.sleep(0.2)
        self._saved = {k: os.environ.get(k) for k in self.variables()}
        os.environ.update(self.variables())

    def variables(self) -> dict:
        return {"STORAGE_EMULATOR_HOST": self.host, "GOOGLE_CLOUD_PROJECT": "test-project"}

    def env(self, **extra) -> dict:
        """A subprocess environment that reaches the emulator (plus ``extra``)."""
        return {**os.environ, **self.variables(), **extra}

    def client(self):
        from google.cloud import storage
        return storage.Client.create_anonymous_client()

    def url(self, prefix: str) -> str:
        return f"gs://{self.bucket}/{prefix.strip('/')}"

    def upload_tree(self, local: Path, prefix: str) -> int:
        """Copy every file under ``local`` to ``gs://bucket/prefix/<relative path>``; returns the count."""
        bucket = self.client().bucket(self.bucket)
        n = 0
        for f in sorted(p for p in Path(local).rglob("*") if p.is_file()):
            bucket.blob(f"{prefix.strip('/')}/{f.relative_to(local).as_posix()}").upload_from_filename(str(f))
            n += 1
        return n

    def names(self, prefix: str) -> list[str]:
        """Object names under ``prefix/``, relative to it, sorted."""
        p = prefix.strip("/") + "/"
        return sorted(b.name[len(p):] for b in self.client().list_blobs(self.bucket, prefix=p))

    def download_tree(self, prefix: str, local: Path) -> int:
        bucket = self.client().bucket(self.bucket)
        names = self.names(prefix)
        for name in names:
            dest = Path(local) / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            bucket.blob(f"{prefix.strip('/')}/{name}").download_to_filename(str(dest))
        return len(names)

    def close(self) -> None:
        for k, v in getattr(self, "_saved", {}).items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
