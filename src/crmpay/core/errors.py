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
