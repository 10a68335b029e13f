"""The child process of `_background`: reads the listings it is asked for and sends each
page as one frame on stdout.

`_background.read_listings` starts it and writes one request on its stdin: the provider's
name, its spec (settings, token, retry policy) and the listings. This module imports the
provider class; the provider imports only `_background`, so no import goes back here.
"""

from __future__ import annotations

import sys
from typing import Any

import orjson

from crmpay.core import errors
from crmpay.providers._background import DONE, FAILED, HEADER, PAGE, READY


def open_provider(name: str, spec: dict[str, Any]) -> Any:
    """The provider `name`, rebuilt from the spec the parent sent."""
    if name == "gocardless":
        from crmpay.providers.gocardless import GoCardlessProvider

        return GoCardlessProvider.from_spec(spec)
    raise errors.UsageError(f"no background reader for {name!r}")


def main() -> int:
    """Serve one request from stdin; the exit code is 1 when the parent went away."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the sync to handle: it stops us
    out = sys.stdout.buffer

    def send(kind: bytes, index: int = 0, payload: bytes = b"") -> None:
        out.write(HEADER.pack(kind, index, len(payload)))
        out.write(payload)
        out.flush()

    try:
        request = orjson.loads(sys.stdin.buffer.read())
        provider = open_provider(request["provider"], request["spec"])
        send(READY)
        for index, (name, params) in enumerate(request["listings"]):
            for records in provider.raw_pages(name, params):
                send(PAGE, index, orjson.dumps(records))
        send(DONE)
    except BrokenPipeError:  # the parent is gone
        return 1
    except errors.CrmpayError as exc:
        send(FAILED, payload=orjson.dumps({"type": type(exc).__name__, "message": exc.message, "hint": exc.hint}))
    except Exception as exc:  # a bug: say what broke, never with the request's content
        send(
            FAILED,
            payload=orjson.dumps(
                {"type": "OperationFailed", "message": f"reading the listings failed: {type(exc).__name__}"}
            ),
        )
    return 0
