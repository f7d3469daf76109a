"""Giving memory back: a long-running server must not keep what finished sessions freed.

glibc's malloc gives each thread that allocates an arena of its own (up to 8 per core) and keeps
freed blocks inside them; sessions start and end threads, so a server that is idle again held
on to hundreds of MB. Two arenas are enough for a few sessions on a few cores, and trimming after
a session ends returns its freed pages. Elsewhere than glibc both are no-ops.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_ARENA_MAX = -8  # glibc's mallopt parameter number
MALLOC_ARENAS = 2


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


_LIBC = _libc()


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> None:
    """Cap the arenas malloc makes from now on (call before sessions start threads)."""
    if _LIBC is not None:
        _LIBC.mallopt(M_ARENA_MAX, arenas)


def release_freed_memory() -> None:
    """Return freed heap pages to the system (a few ms; call off the event loop)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
