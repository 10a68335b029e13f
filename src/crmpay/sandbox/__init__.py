"""Local simulators of the services crmpay talks to, over real HTTP on loopback.

Imports only `crmpay.core`; it never imports the clients it imitates.
"""

from crmpay.sandbox.server import Faults, Sandbox

__all__ = ["Faults", "Sandbox"]
