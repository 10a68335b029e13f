"""Errors a user can cause, each tied to the exit code that DESIGN.md gives it.

The command line turns any `CrmpayError` into one line on stderr and its exit code;
everything else is a bug and shows a traceback only with `--verbose`.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the operation failed: provider refused, invalid state
    USAGE = 2  # bad argument, bad file, bad configuration
    PARTIAL = 3  # a batch where some items failed
    AUTH = 4  # not connected, or credentials rejected
    TEMPORARY = 5  # network, rate limit, lock held: safe to retry later


class CrmpayError(Exception):
    """Base of every error crmpay reports to a user in one line."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}; {self.hint}"


class OperationFailed(CrmpayError):
    """The service refused the operation or the object is in the wrong state."""

    exit_code = ExitCode.FAILED


class UsageError(CrmpayError):
    """A bad argument, file or value given by the user."""

    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """The configuration file is unreadable, malformed or contradictory."""


class StoreError(UsageError):
    """The local store cannot be used (corrupt, newer schema, unreadable)."""


class PartialFailure(CrmpayError):
    """Some items of a batch failed; the report says which."""

    exit_code = ExitCode.PARTIAL


class NotConnected(CrmpayError):
    """A service is not connected, or no secret can be read for it."""

    exit_code = ExitCode.AUTH


class AuthError(CrmpayError):
    """The service rejected our credentials or lacks a permission."""

    exit_code = ExitCode.AUTH


class TemporaryError(CrmpayError):
    """Network failure, rate limit or a held lock: try again later."""

    exit_code = ExitCode.TEMPORARY


def error_for(code: int, message: str, *, hint: str | None = None) -> CrmpayError:
    """The error class of an exit code, for outcomes decided after some work was done."""
    classes: dict[int, type[CrmpayError]] = {
        ExitCode.USAGE: UsageError,
        ExitCode.PARTIAL: PartialFailure,
        ExitCode.AUTH: AuthError,
        ExitCode.TEMPORARY: TemporaryError,
    }
    return classes.get(code, OperationFailed)(message, hint=hint)


def from_environment(exc: BaseException) -> CrmpayError | None:
    """The user-facing error for an exception caused by the user's environment or input
    rather than by a bug (a path that is a folder or not writable, a full disk, input
    nested too deeply, an argument that is not UTF-8, a damaged store); None for a bug.

    The command line's last resort: code that knows where a value came from names it
    itself; this keeps what escaped it honest (exit 2, or 5 for what may pass) instead
    of "internal error".
    """
    import errno
    import sqlite3

    if isinstance(exc, RecursionError):
        return UsageError("the input is nested too deeply to read", hint="check the file given to this command")
    if isinstance(exc, OverflowError):  # e.g. an id past SQLite's 64-bit integers
        return UsageError(f"a number given is out of range ({exc})", hint="check the values given to this command")
    if isinstance(exc, UnicodeEncodeError) and "surrogate" in str(exc.reason):
        return UsageError(
            "an argument or value is not valid UTF-8", hint="check the encoding of the values given on the command line"
        )
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc)
        if "locked" in text or "busy" in text:
            return TemporaryError(f"the store is busy ({text})", hint="another crmpay run holds it; try again later")
        if "readonly" in text or "read-only" in text:
            return StoreError(f"the store is read-only ({text})", hint="give your user write access to the store")
        if text.startswith(("no such table", "no such column")):
            return StoreError(f"the store is damaged ({text})", hint="restore it from a backup")
        if "disk" in text or "full" in text:
            return StoreError(f"the store cannot be written ({text})", hint="free some disk space and run again")
        return None
    if isinstance(exc, (ConnectionError, TimeoutError)) and not getattr(exc, "filename", None):
        return TemporaryError(f"cannot reach the service: {exc.strerror or type(exc).__name__}")
    if isinstance(exc, OSError) and (exc.filename is not None or exc.errno in (errno.ENOSPC, errno.EROFS)):
        where = f" {exc.filename}" if exc.filename is not None else ""
        reason = exc.strerror or type(exc).__name__
        if isinstance(exc, IsADirectoryError):
            reason = "is a directory, not a file"
        elif isinstance(exc, NotADirectoryError):
            reason = "a part of the path is not a directory"
        return UsageError(f"cannot use{where}: {reason}", hint="check the path and its permissions")
    return None
