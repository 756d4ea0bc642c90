"""Worker processes that parse input files beside the local runner.

The local runner (FnApiRunner, ``in_memory``) runs every stage in one process, so reading and
parsing the raw zone (most of the reading time is lxml and Python field extraction) leaves the
machine's other cores idle. ``ParsePool(processes, parse)`` starts ``processes`` worker processes
(the ``spawn`` start method: the runner process has threads, so it is never forked) that each take
a whole file, run ``parse(path)`` on it and send its records back in batches of ``BATCH``, in file
order. The caller routes them as if it had parsed the file itself.

Element types: ``submit(path: str)``; ``ready()`` and ``drain()`` yield the records (whatever
``parse`` yields: ``Article``, ``Trial``, ``DeadLetter`` ...) that have arrived so far / until
every submitted file is done.

Memory stays bounded: the result queue holds at most ``QUEUE_BATCHES`` batches, and a worker
waits while it is full. A worker that dies (killed, out of memory) fails the read with a
``RuntimeError`` naming its exit code and the file it was reading, rather than hanging or
silently losing that file's records. ``ConnectionError`` and ``TimeoutError`` from ``parse``
(transient storage errors) are raised again in the caller, so the runner retries as it would
for an in-process parse.

No Beam import: ``parse`` brings its own (``transforms.read.parse_file``).
"""
from __future__ import annotations

import multiprocessing
import queue
from typing import Callable, Iterable, Iterator

BATCH = 256
QUEUE_BATCHES = 64
POLL_SECONDS = 2.0
JOIN_SECONDS = 10.0

_RECORDS, _DONE, _RAISE = "records", "done", "raise"
_TRANSIENT = {"ConnectionError": ConnectionError, "TimeoutError": TimeoutError}


def _worker(parse: Callable[[str], Iterable], tasks, results) -> None:
    """Worker process loop: path → (path, "records", [record, ...])* then (path, "done", None);
    a transient error → (path, "raise", (type name, message)). ``None`` ends the loop."""
    from transforms.runtime import start_heap_trimmer, tune_gc, use_storage_emulator
    tune_gc()
    start_heap_trimmer()
    use_storage_emulator()
    while True:
        path = tasks.get()
        if path is None:
            return
        try:
            batch = []
            for record in parse(path):
                batch.append(record)
                if len(batch) >= BATCH:
                    results.put((path, _RECORDS, batch))
                    batch = []
            if batch:
                results.put((path, _RECORDS, batch))
        except (ConnectionError, TimeoutError) as e:
            kind = "TimeoutError" if isinstance(e, TimeoutError) else "ConnectionError"
            results.put((path, _RAISE, (kind, f"{type(e).__name__}: {str(e)[:500]}")))
            continue
        results.put((path, _DONE, None))


class WorkerDied(RuntimeError):
    """A parse worker process ended while files were still being parsed."""


class ParsePool:
    """``processes`` spawned workers running ``parse`` (a module-level function: it is pickled by
    reference) on whole files. Not thread-safe: one caller thread submits and drains."""

    def __init__(self, processes: int, parse: Callable[[str], Iterable]):
        if processes < 1:
            raise ValueError(f"a parse pool needs at least 1 process, got {processes}")
        ctx = multiprocessing.get_context("spawn")
        self._tasks = ctx.Queue()
        self._results = ctx.Queue(maxsize=QUEUE_BATCHES)
        self._procs = [ctx.Process(target=_worker, args=(parse, self._tasks, self._results), daemon=True,
                                   name=f"leadsinstruct-parse-{i}") for i in range(processes)]
        for proc in self._procs:
            proc.start()
        self._open: set[str] = set()  # submitted paths not yet done
        self.records_received = 0

    @property
    def pending(self) -> int:
        """Files submitted and not yet finished."""
        return len(self._open)

    def submit(self, path: str) -> None:
        if path in self._open:
            raise ValueError(f"{path} is already being parsed")
        self._open.add(path)
        self._tasks.put(path)

    def ready(self) -> Iterator:
        """Records that have arrived, without waiting."""
        while self._open:
            try:
                message = self._results.get_nowait()
            except queue.Empty:
                return
            yield from self._take(message)

    def drain(self) -> Iterator:
        """Every remaining record of the submitted files, waiting for the workers."""
        while self._open:
            try:
                message = self._results.get(timeout=POLL_SECONDS)
            except queue.Empty:
                self._check_alive()
                continue
            yield from self._take(message)

    def _take(self, message) -> list:
        path, kind, payload = message
        if kind == _RECORDS:
            self.records_received += len(payload)
            return payload
        self._open.discard(path)
        if kind == _RAISE:
            name, text = payload
            raise _TRANSIENT[name](f"{path}: {text}")
        return []

    def _check_alive(self) -> None:
        dead = [p for p in self._procs if p.exitcode is not None]
        if dead:
            files = ", ".join(sorted(self._open))
            raise WorkerDied(f"parse worker {dead[0].name} exited with code {dead[0].exitcode} while these files "
                             f"were unfinished: {files}")

    def close(self) -> None:
        """Stop the workers (after a ``drain``, or to abandon the files still open)."""
        for _ in self._procs:
            try:
                self._tasks.put(None)
            except (OSError, ValueError):
                break
        for proc in self._procs:
            proc.join(JOIN_SECONDS if not self._open else 0.5)
            if proc.is_alive():
                proc.terminate()
                proc.join(JOIN_SECONDS)
        self._tasks.close()
        self._results.close()
        self._procs = []
