"""Large buffers kept in the process heap between uses instead of fresh pages for each one.

glibc's ``malloc`` serves every request above its mmap threshold (at most 32 MiB) with new pages
from the kernel and returns them on ``free``. A batch of letterboxed images or a layer's output
is that large, so each forward pass and each batch page-faults its buffers in again: on the
2-core benchmark machine, copying a 78 MB tensor took 25 ms with fresh pages against 5 ms in
reused memory, and the kernel's share of a video prediction was a third of its time
(docs/benchmarks.md#using-the-chip). ``keep_large_buffers`` raises the mmap and trim thresholds, so
freed buffers stay in the heap for the next batch; the peak memory is that of the largest live
set, as before, plus the heap's fragmentation. Prediction also keeps one heap for all threads
(``one_heap``: glibc otherwise gives threads that allocate at once arenas of their own, each
keeping its own freed buffers: a video's decoding thread and the model's beside each other held
up to two thirds more); training does not, as its threads then wait for each other's allocations
(a fifth of openfield's training rate; docs/history.md#2026-12-07-one-heap-for-all-threads).

Only glibc (Linux) has these settings; elsewhere, and in a process whose C library is not glibc,
nothing changes and the reason is returned. Worker processes forked after the call inherit it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # glibc's mallopt parameters (malloc.h)
HEAP_BUFFERS_UP_TO = 1 << 30  # bytes: requests below this come from the heap, and freed memory stays there

_state: dict[str, str] = {}


def keep_large_buffers(one_heap: bool = False) -> str:
    """Raise glibc's mmap and trim thresholds to HEAP_BUFFERS_UP_TO, once per process, and with
    ``one_heap`` keep one arena for all threads (call it before the threads start); returns what
    was done, for the run's header."""
    if "thresholds" not in _state:
        _state["thresholds"] = _set((M_MMAP_THRESHOLD, HEAP_BUFFERS_UP_TO), (M_TRIM_THRESHOLD, HEAP_BUFFERS_UP_TO))
    if one_heap and "one_heap" not in _state:
        _state["one_heap"] = _set((M_ARENA_MAX, 1))
    refused = _state["thresholds"] or _state.get("one_heap")
    if refused:
        return refused
    kept = f"glibc keeps buffers up to {HEAP_BUFFERS_UP_TO >> 20} MiB between uses"
    return kept + (", one heap for all threads" if "one_heap" in _state else "")


def _set(*settings: tuple[int, int]) -> str:
    """An empty string where glibc took every (parameter, value) of ``settings``, else why not."""
    if not sys.platform.startswith("linux"):
        return f"system allocator ({sys.platform})"
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return "system allocator (no glibc mallopt)"
    if not all(mallopt(name, value) == 1 for name, value in settings):
        return "system allocator (glibc refused the settings)"
    return ""
