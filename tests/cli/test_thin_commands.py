"""Commands parse, call one use case and render: no module of `crmpay.cli` holds a lock,
opens a provider or the CRM, reads a secret or decides an exit code. Read from the
source with `ast` (lazy imports inside functions count; `if TYPE_CHECKING:` does not)."""

from __future__ import annotations

import ast
from pathlib import Path

import crmpay.cli

CLI = Path(crmpay.cli.__file__).parent
FORBIDDEN = (
    "crmpay.secrets",  # secrets are read by use cases
    "crmpay.providers",  # providers are opened by use cases
    "crmpay.crm",  # so is the CRM
    "crmpay.mail",
    "crmpay.services.locks",
    "crmpay.store",  # the store comes from the workspace
    "gocardless_pro",
    "mollie",
    "httpx",
    "keyring",
)


def _imports(tree: ast.AST) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, node.lineno))
            found.extend((f"{node.module}.{alias.name}", node.lineno) for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _exit_decisions(tree: ast.AST) -> list[int]:
    """Lines that choose an exit code: `typer.Exit(code)`, `sys.exit(code)`, `ExitCode`."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func) in ("typer.Exit", "sys.exit", "SystemExit"):
            if node.args or node.keywords:
                lines.append(node.lineno)
        if isinstance(node, ast.Name) and node.id == "ExitCode":
            lines.append(node.lineno)
        if isinstance(node, ast.Attribute) and node.attr == "ExitCode":
            lines.append(node.lineno)
    return lines


def _offences(source: str, name: str) -> list[str]:
    tree = ast.parse(source)
    bad = [
        f"{name}:{line} imports {module}"
        for module, line in _imports(tree)
        if any(module == f or module.startswith(f + ".") for f in FORBIDDEN)
    ]
    bad += [f"{name}:{line} decides an exit code" for line in _exit_decisions(tree)]
    bad += [
        f"{name}:{node.lineno} takes a lock"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and ast.unparse(node.func).endswith(("exclusive", "profile_lock", "flock"))
    ]
    return bad


def test_no_command_module_holds_a_lock_opens_a_client_reads_a_secret_or_picks_an_exit_code():
    modules = sorted(CLI.glob("*.py"))
    assert len(modules) > 10
    offences = [o for path in modules for o in _offences(path.read_text(encoding="utf-8"), path.name)]
    assert offences == []


def test_the_check_sees_each_kind_of_offence():
    bad = """
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from crmpay.store import Store
def run():
    from crmpay.providers import open_provider
    from crmpay.secrets import get_secret
    from crmpay.services.locks import exclusive
    with exclusive(path, "x"):
        pass
    raise typer.Exit(3)
def fine():
    raise typer.Exit()
"""
    assert _offences(bad, "m.py") == [
        "m.py:6 imports crmpay.providers",
        "m.py:6 imports crmpay.providers.open_provider",
        "m.py:7 imports crmpay.secrets",
        "m.py:7 imports crmpay.secrets.get_secret",
        "m.py:8 imports crmpay.services.locks",
        "m.py:8 imports crmpay.services.locks.exclusive",
        "m.py:11 decides an exit code",
        "m.py:9 takes a lock",
    ]
