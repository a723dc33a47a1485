"""The process's allocators, told to hand large freed blocks back to the system.

Also after a data change: the old frame's arrays and the new frame's read would otherwise come
from the heap, which keeps what they free (issue #14, a data change while the dashboard runs).

glibc serves a block above its mmap threshold with its own mapping, returned on free; but the
threshold rises to the largest block freed so far (up to 32 MB), and from then on every list's
100,000-row arrays come from the heap, whose freed pages stay with the process. With several
managers at once, each on its own script thread (each thread its own heap), the dashboard's RSS
then grows by tens of MB per session for memory nobody holds (``benchmarks/crowd.py``). A fixed
threshold keeps large blocks in their own mappings: freed, they leave the process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

import pyarrow as pa

# Arrow's default allocator (mimalloc) keeps what a 100,000-customer list frees for reuse, so
# every page's temporaries add up in the process's peak; the system allocator hands them back
# (60 MB lower peak over the pages, same speed: `make bench`).
pa.set_memory_pool(pa.system_memory_pool())

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's default: fixed, no longer raised by what is freed


def fix_mmap_threshold() -> bool:
    """Fix glibc's mmap threshold at its default (Linux with glibc only); True when it was set."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    except (OSError, AttributeError):  # another C library (musl) has no mallopt
        return False


fix_mmap_threshold()
