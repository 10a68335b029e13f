"""What every step of the tour shares: where it shows its results, and a check on what
the sandbox gave back."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Renderer(Protocol):
    """Where the tour shows what it does (the command line's `Output`)."""

    def info(self, message: str) -> None: ...
    def success(self, message: str) -> None: ...
    def table(
        self, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None, empty: str = ...
    ) -> None: ...


def present(value: T | None, what: str) -> T:
    """A value an earlier step produced; a clear error if the sandbox did not give it."""
    if value is None:
        from crmpay.core.errors import OperationFailed

        raise OperationFailed(f"the demo expected {what} from the sandbox and got none")
    return value
