"""Which simulated services a sandbox starts with."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crmpay.sandbox.server import Sandbox, Service


def build_services(sandbox: Sandbox) -> list[Service]:
    from crmpay.sandbox.gocardless import GoCardlessService
    from crmpay.sandbox.mollie import MollieService
    from crmpay.sandbox.sipsim import SipsimService
    from crmpay.sandbox.smtp import SmtpSink
    from crmpay.sandbox.zoho import ZohoService

    return [
        GoCardlessService(sandbox),
        MollieService(sandbox),
        ZohoService(sandbox),
        SipsimService(sandbox),
        SmtpSink(sandbox),
    ]
