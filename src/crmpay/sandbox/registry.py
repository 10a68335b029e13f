"""Which simulated services a sandbox starts with."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crmpay.sandbox.server import Sandbox, Service


def build_services(sandbox: Sandbox) -> list[Service]:
    services: list[Service] = []
    try:
        from crmpay.sandbox.gocardless import GoCardlessService
    except ImportError:  # pragma: no cover - while a service is being built
        pass
    else:
        services.append(GoCardlessService(sandbox))
    try:
        from crmpay.sandbox.mollie import MollieService
    except ImportError:  # pragma: no cover
        pass
    else:
        services.append(MollieService(sandbox))
    from crmpay.sandbox.smtp import SmtpSink

    services.append(SmtpSink(sandbox))
    return services
