"""crmpay: a command-line toolkit for billing operators, and its Python API.

    from crmpay import Workspace

`Workspace` (one profile) and the error classes are the public surface; every other
module is internal. Names load on first use, so `import crmpay` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = [
    "AuthError",
    "CrmpayError",
    "NotConnected",
    "OperationFailed",
    "PartialFailure",
    "TemporaryError",
    "UsageError",
    "Workspace",
    "__version__",
]

if TYPE_CHECKING:
    from crmpay.core.errors import (
        AuthError,
        CrmpayError,
        NotConnected,
        OperationFailed,
        PartialFailure,
        TemporaryError,
        UsageError,
    )
    from crmpay.workspace import Workspace


def __getattr__(name: str) -> Any:
    if name == "Workspace":
        from crmpay.workspace import Workspace

        return Workspace
    if name in __all__:
        from crmpay.core import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'crmpay' has no attribute {name!r}")
