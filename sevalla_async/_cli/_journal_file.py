"""The journal's file on disk: one run at a time, appended to, its torn tail cut.

:func:`open_locked` opens the file for appending and locks it for as long as it is open
(``fcntl.flock(LOCK_EX | LOCK_NB)`` on POSIX; on Windows ``msvcrt.locking`` of one byte
far past the end, so that others may still read the journal): a second run of the same
journal is refused with :class:`BusyError` instead of reading it while the first one writes,
then sending what the first one is sending. :func:`cut_torn_tail` removes a last line cut
short by a crash (everything after the last newline), under that lock, before anything is
appended after it. :func:`append` writes every byte it is given, or raises.

The lock is advisory: it keeps out other runs of the CLI, not other programs.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from pathlib import Path

__all__ = ["BusyError", "append", "close", "cut_torn_tail", "open_locked", "size"]

_WINDOWS_LOCK_AT = 2**31 - 2  # a byte no journal reaches: readers are never blocked
_TAIL_CHUNK = 4096


class BusyError(OSError):
    """Another run (another open file, usually another process) holds the lock."""


def open_locked(path: Path, *, create: bool) -> int:
    """A file descriptor of ``path`` opened for reading and appending (created when
    ``create``), exclusively locked; :class:`BusyError` when another run holds it, ``OSError``
    when it cannot be opened or locked."""
    flags = os.O_RDWR | os.O_APPEND | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    if create:
        flags |= os.O_CREAT
    fd = os.open(path, flags, 0o666)
    try:
        _lock(fd)
    except BaseException:
        os.close(fd)
        raise
    return fd


def size(fd: int) -> int:
    return os.fstat(fd).st_size


def cut_torn_tail(fd: int) -> int:
    """Truncate what follows the last newline of the file (a line a crash cut short);
    returns how many bytes were cut."""
    end = size(fd)
    keep = 0
    start = end
    while start > 0:
        start = max(0, start - _TAIL_CHUNK)
        os.lseek(fd, start, os.SEEK_SET)
        chunk = _read(fd, min(_TAIL_CHUNK, end - start))
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            keep = start + newline + 1
            break
    if keep < end:
        os.ftruncate(fd, keep)
        os.fsync(fd)
    return end - keep


def append(fd: int, data: bytes) -> None:
    """Write all of ``data`` at the end of the file (a short write goes on; a failure
    raises ``OSError`` with what was written left in place)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:  # pragma: no cover - a regular file writes or raises
            raise OSError(errno.EIO, "the journal accepted no bytes")
        view = view[written:]


def close(fd: int) -> None:
    """Unlock and close (closing alone releases the lock; Windows is told first)."""
    try:
        _unlock(fd)
    finally:
        os.close(fd)


def _read(fd: int, count: int) -> bytes:
    parts = []
    while count > 0:
        part = os.read(fd, count)
        if not part:
            break
        parts.append(part)
        count -= len(part)
    return b"".join(parts)


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(fd: int) -> None:
        os.lseek(fd, _WINDOWS_LOCK_AT, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EDEADLK):
                raise BusyError(exc.errno, "locked by another run") from None
            raise
        finally:
            os.lseek(fd, 0, os.SEEK_END)

    def _unlock(fd: int) -> None:
        os.lseek(fd, _WINDOWS_LOCK_AT, os.SEEK_SET)
        with contextlib.suppress(OSError):  # closing releases it anyway
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(fd: int) -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BusyError(exc.errno, "locked by another run") from None

    def _unlock(fd: int) -> None:
        del fd  # closing the descriptor releases the lock
