"""Whole listings read by a child process, streamed to the sync page by page.

A full sync reads every page of several listings and writes each into the store. The
official SDKs parse every page in Python (gocardless-pro parses each response three
times), and in the sync's own process that parsing holds the GIL the mapping and the
SQLite writes need: the two would take turns on one core. Here a child process reads the
listings with the same SDK, through the same provider class and retry policy, and sends
each page as one orjson frame over a pipe; the parent decodes a page of 500 in about two
milliseconds. Reading and writing then run on two cores.

The pipe is the only back-pressure: the child is at most a few pages (1 MiB) ahead. The
credentials reach the child on its stdin, never on its command line or in a file. When the
parent dies, the child's next write fails and it exits; when the parent stops early, it
kills the child. A provider error in the child comes back as the same `CrmpayError` class
with the same message. If no child can start here, `read_listings` returns None and the
caller reads in its own process.

The child runs `_background_child`, which imports the provider class; the provider imports
this module (for `read_listings`), never that one, so the two never import each other.
"""

from __future__ import annotations

import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from crmpay.core import errors

Listing = tuple[str, dict[str, Any] | None]  # (listing name, query parameters)

HEADER = struct.Struct("<cHI")  # kind, listing index, payload length
READY, PAGE, DONE, FAILED = b"R", b"P", b"D", b"X"
PIPE_BYTES = 1 << 20  # the default limit for an unprivileged process
# -P: the working directory is not put on the child's path; the parent's crmpay is.
_BOOT = (
    "import sys\n"
    "if sys.argv[1] not in sys.path: sys.path.insert(0, sys.argv[1])\n"
    "from crmpay.providers._background_child import main\n"
    "sys.exit(main())\n"
)


def read_listings(
    provider: str, spec: dict[str, Any], listings: list[Listing]
) -> Iterator[tuple[int, list[dict[str, Any]]]] | None:
    """(listing index, raw records) for every page of each listing, in order; None when no
    child process can run here (then read in this process)."""
    package_root = str(Path(__file__).resolve().parents[2])  # the folder holding our crmpay
    try:
        child = subprocess.Popen(
            [sys.executable, "-P", "-c", _BOOT, package_root],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
    except OSError:
        return None
    assert child.stdin is not None and child.stdout is not None
    _widen(child.stdout)
    try:
        child.stdin.write(orjson.dumps({"provider": provider, "spec": spec, "listings": listings}))
        child.stdin.close()
        kind, _, _ = _read_frame(child.stdout)
    except OSError:
        kind = None
    if kind != READY:  # the interpreter or crmpay could not start there
        _stop(child)
        return None
    return _pages(child)


def _pages(child: subprocess.Popen[bytes]) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    assert child.stdout is not None
    try:
        while True:
            kind, index, payload = _read_frame(child.stdout)
            if kind == PAGE:
                yield index, orjson.loads(payload)
            elif kind == DONE:
                return
            elif kind == FAILED:
                raise _error(orjson.loads(payload))
            else:  # the pipe closed early: the child is on its way out
                try:
                    code = child.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    code = None
                raise errors.TemporaryError(
                    f"the process reading the listings stopped (exit code {code})",
                    hint="run the sync again; it resumes from what the store holds",
                )
    finally:
        _stop(child)


def _widen(pipe: IO[bytes]) -> None:
    """Room for a few pages in the pipe (Linux), so that neither side waits on the other
    for a page that takes one of them longer than usual."""
    try:
        import fcntl

        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):  # elsewhere, or above the system's limit
        pass


def _read_frame(stream: IO[bytes]) -> tuple[bytes | None, int, bytes]:
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None, 0, b""
    kind, index, length = HEADER.unpack(header)
    payload = stream.read(length)
    if len(payload) < length:
        return None, 0, b""
    return kind, index, payload


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.kill()
    child.wait()
    if child.stdout is not None:
        child.stdout.close()


def _error(data: dict[str, Any]) -> errors.CrmpayError:
    cls = getattr(errors, data.get("type", ""), None)
    if not (isinstance(cls, type) and issubclass(cls, errors.CrmpayError)):
        cls = errors.OperationFailed
    return cls(data["message"], hint=data.get("hint"))
