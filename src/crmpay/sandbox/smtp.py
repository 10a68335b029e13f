"""The sandbox's SMTP sink: a real SMTP server (aiosmtpd) on loopback that keeps mail.

`GET /__sandbox/mail` returns what it received:
`[{"to": [...], "from": ..., "subject": ..., "body": ..., "attachments": [names],
"files": {name: base64}}]`.
"""

from __future__ import annotations

import base64
import socket
import threading
from email import message_from_bytes, policy
from typing import TYPE_CHECKING, Any

from crmpay.sandbox._http import Request, Response, Router

if TYPE_CHECKING:
    from crmpay.sandbox.server import Sandbox


class SmtpSink:
    name = "smtp"

    def __init__(self, sandbox: Sandbox) -> None:
        from aiosmtpd.controller import Controller

        self._lock = threading.Lock()
        self.messages: list[dict[str, Any]] = []
        host = "127.0.0.1"
        with socket.socket() as probe:  # aiosmtpd cannot report a port the OS chose
            probe.bind((host, 0))
            port = probe.getsockname()[1]
        self._controller = Controller(self, hostname=host, port=port)
        self._controller.start()
        self.host, self.port = host, port

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        body_part = message.get_body(preferencelist=("plain", "html"))
        record = {
            "from": envelope.mail_from,
            "to": list(envelope.rcpt_tos),
            "subject": str(message.get("Subject", "")),
            "body": body_part.get_content() if body_part is not None else "",
            "attachments": [part.get_filename() for part in message.iter_attachments()],
            # each attachment's bytes, base64: a test reads the PDF the customer got
            "files": {
                part.get_filename(): base64.b64encode(part.get_content()).decode("ascii")
                for part in message.iter_attachments()
                if isinstance(part.get_content(), bytes)
            },
        }
        with self._lock:
            self.messages.append(record)
        return "250 Message accepted for delivery"

    def register(self, router: Router) -> None:
        router.add("GET", "/__sandbox/mail", self._list, service="control")

    def _list(self, request: Request) -> Response:
        with self._lock:
            return Response.json_body(200, list(self.messages))

    def credentials(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "security": "none"}

    def advance(self) -> None:
        pass

    def fault_response(self, status: int) -> Response:
        return Response.json_body(status, {"error": "fault"})

    def reset(self) -> None:
        with self._lock:
            self.messages.clear()

    def close(self) -> None:
        self._controller.stop()
