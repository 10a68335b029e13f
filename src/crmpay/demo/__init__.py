"""`crmpay demo`: a tour of crmpay against the built-in sandbox, no account needed.

Every step is a real crmpay operation over HTTP on loopback, written only against the
public surfaces: `crmpay.Workspace` (docs/python-api.md), the sandbox's `Sandbox` and its
`/__sandbox/…` control endpoints, and the domain types of `crmpay.core`
(tests/test_architecture.py holds it to that). The operator's files it imports (an
accountant's mandate CSV, an Asterisk Master.csv and the call rules) are package data
under `samples/`.
"""

from crmpay.demo.common import Renderer
from crmpay.demo.tour import run_tour

__all__ = ["Renderer", "run_tour"]
