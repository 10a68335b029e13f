"""One sync per profile at a time: an exclusive lock on a file in the profile's folder.

The lock is the kernel's (`flock`), so it is released when the process ends, even killed
with SIGKILL: no stale lock file ever blocks cron.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from crmpay.core.errors import TemporaryError


@contextmanager
def exclusive(path: Path, what: str) -> Iterator[None]:
    """Hold the lock for the block; TemporaryError (exit 5) naming the holder's pid."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise TemporaryError(
                f"another {what} is running (pid {holder})", hint="try again when it has finished"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
