"""Process settings for the build's workers and the job's own processes.

``tune_gc()`` makes the cyclic garbage collector run less often. The build allocates millions of
short-lived, acyclic objects (parsed elements, decoded records) that reference counting frees;
with the default thresholds (700, 10, 10) the collector walks them thousands of times. Measured
on a scale-0.03 build: about 10% less wall time. The file-parsing DoFn's ``setup`` calls it once
per process that runs the build's stages (the in-process runner's, each multi_processing or
Dataflow worker's); the plain-loop benchmark calls it too.

``start_heap_trimmer()`` starts one daemon thread per process that hands the C heap's free pages
back to the system every few seconds (glibc ``malloc_trim(0)``; nothing happens off glibc). The
local runner keeps each stage's output as byte strings and frees them when the next stage has read
them; glibc keeps the freed pages of its fragmented heaps mapped, so without trimming the resident
size only grows. Measured on scale-0.1 builds: peak RSS 1,910 MB untrimmed against 1,716 MB with
a trim every 5 s, wall time within noise (``docs/performance.md``, "Where memory goes"). ``LEADSINSTRUCT_TRIM_INTERVAL``
sets the seconds between trims; 0 turns it off. It is started where ``tune_gc`` is.

``use_storage_emulator()`` lets Beam's ``gs://`` filesystem talk to a Cloud Storage emulator named
by ``STORAGE_EMULATOR_HOST`` (the variable google-cloud-storage itself honours). Beam 2.77 builds
its storage client from the credentials it discovers (``apache_beam.internal.gcp.auth``), not from
the variable:

- with Application Default Credentials present (a gcloud login, a key file), the client sends
  their tokens and refreshes them at ``oauth2.googleapis.com`` before the first request to the
  emulator; offline that fails after a 120 s retry deadline;
- without them, ``google.auth.default`` is retried with back-off and probes the GCE metadata
  server, about 28 s per process, before Beam falls back to an anonymous client.

google-cloud-storage uses anonymous credentials for an emulator when it is given none, so when the
variable is set this settles Beam's credential lookup (a per-process cache) as "none": every
``gs://`` access then goes anonymously to the emulator, at once. Without the variable it does
nothing, so real Cloud Storage is untouched. It is called where a process first touches files:
the CLI and ``run`` entry points, and the ``setup`` of the DoFns that read or write files.
"""
from __future__ import annotations

import ctypes
import gc
import os
import threading

GC_THRESHOLDS = (200_000, 50, 1_000)
STORAGE_EMULATOR_ENV = "STORAGE_EMULATOR_HOST"
TRIM_INTERVAL_ENV = "LEADSINSTRUCT_TRIM_INTERVAL"
DEFAULT_TRIM_INTERVAL = 5.0
TRIM_THREAD_NAME = "leadsinstruct-heap-trim"
_TRIM_START_LOCK = threading.Lock()


def tune_gc() -> None:
    gc.set_threshold(*GC_THRESHOLDS)


def _malloc_trim():
    """glibc's ``malloc_trim`` (int → int), or None where the C library has none (musl, macOS)."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def trim_heap() -> bool:
    """Hand the C heap's free pages back to the system once; True when glibc released any."""
    trim = _malloc_trim()
    return bool(trim and trim(0))


def trim_interval() -> float:
    """Seconds between heap trims: ``LEADSINSTRUCT_TRIM_INTERVAL`` (0 = off), else the default."""
    raw = os.environ.get(TRIM_INTERVAL_ENV, "").strip()
    if not raw:
        return DEFAULT_TRIM_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{TRIM_INTERVAL_ENV}={raw!r}: expected seconds (a number; 0 turns trimming off)")
    return max(value, 0.0)


def _trim_loop(trim, interval: float) -> None:
    stop = threading.Event()  # never set: the thread lives as long as its process (daemon)
    while not stop.wait(interval):
        trim(0)


def start_heap_trimmer(interval: float | None = None) -> bool:
    """Start this process's heap-trimming thread (see the module doc) unless it runs already, the
    interval is 0 or the C library cannot trim. Returns whether a trimmer runs now. Idempotent: the
    thread is found by its name, so no module state is kept."""
    interval = trim_interval() if interval is None else interval
    trim = _malloc_trim()
    if interval <= 0 or trim is None:
        return False
    with _TRIM_START_LOCK:
        if any(t.name == TRIM_THREAD_NAME for t in threading.enumerate()):
            return True
        threading.Thread(target=_trim_loop, args=(trim, interval), name=TRIM_THREAD_NAME, daemon=True).start()
    return True


def use_storage_emulator() -> bool:
    """Connect Beam's ``gs://`` filesystem anonymously when ``STORAGE_EMULATOR_HOST`` is set (see
    the module doc). Returns whether the emulator is in use. Idempotent."""
    if not os.environ.get(STORAGE_EMULATOR_ENV):
        return False
    from apache_beam.internal.gcp import auth  # Beam's credential cache (Beam is pinned to 2.77)
    cache = auth._Credentials
    with cache._credentials_lock:
        cache._credentials = None
        cache._credentials_init = True
    return True
