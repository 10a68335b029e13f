"""The import graph of `src/crmpay`, read with `ast` (nothing is imported).

Every import counts, the lazy ones inside functions too; only `if TYPE_CHECKING:` blocks
are left out. `import crmpay.a.b` and `from crmpay.a import b` (b a module) are edges to
`crmpay.a.b`, not to the package `crmpay.a` whose `__init__` they also run.

The rules: a private module (`_name`) is imported only from its own package; no import
cycle; the layers import downwards only (docs/architecture.md).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
TESTS = ROOT / "tests"
TOP = "crmpay"

PENDING: set[str] = set()
"""Packages whose own cycles are still tolerated while a split is under way: none."""

LAYERS: dict[str, tuple[str, ...]] = {
    # importer -> the only crmpay modules it may import
    "crmpay.core": ("crmpay.core",),
    "crmpay.sandbox": ("crmpay.sandbox", "crmpay.core"),
    "crmpay.config": ("crmpay.config", "crmpay.core", "crmpay.paths"),  # telephony registers the check of [calls]
}
_BELOW_SERVICES = (
    "crmpay.store",
    "crmpay.providers",
    "crmpay.crm",
    "crmpay.telephony",
    "crmpay.documents",
    "crmpay.config",
    "crmpay.retry",
)
PUBLIC_ONLY: dict[str, tuple[str, ...]] = {
    # importer -> the only crmpay modules it may import: a name alone is that module only
    # (a package's `__init__`, not what lies below it); `name.*` is the package and all below
    "crmpay.demo": (
        "crmpay",  # the public API: Workspace and the errors
        "crmpay.workspace",
        "crmpay.sandbox",  # Sandbox (its url, credentials, clock, advance) and nothing inside
        "crmpay.core.*",  # the domain types and the clock
        "crmpay.demo.*",
    ),
}
"""Front ends written only against public surfaces (docs/python-api.md): the demo tour."""


def matches(name: str, pattern: str) -> bool:
    """`pattern` is a module name (that module only) or `package.*` (the package and below)."""
    return within(name, pattern[:-2]) if pattern.endswith(".*") else name == pattern


FORBIDDEN: dict[str, tuple[str, ...]] = {
    # importer -> crmpay modules it must never import
    **dict.fromkeys(_BELOW_SERVICES, ("crmpay.cli", "crmpay.services")),
    "crmpay.services": ("crmpay.cli",),
}


@dataclass(frozen=True)
class Import:
    importer: str  # a module's name, or a test file's path
    target: str  # the absolute name of the module imported
    line: int

    def __str__(self) -> str:
        return f"{self.importer} imports {self.target} (line {self.line})"


def within(name: str, package: str) -> bool:
    """Whether `name` is `package` itself or one of its modules, however deep."""
    return name == package or name.startswith(package + ".")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def src_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted((SRC / TOP).rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(nodes: Iterable[ast.AST]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement in `nodes` and below, except in `if TYPE_CHECKING:` bodies."""
    for node in nodes:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _import_nodes(node.orelse)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        else:
            yield from _import_nodes(ast.iter_child_nodes(node))


def imports_of(source: str, importer: str, package: str, known: Iterable[str]) -> list[Import]:
    """The crmpay modules `source` imports. `package` is where its relative imports start
    (the module's own package), `known` holds the names of all crmpay modules."""
    known = set(known)
    found = []
    for node in _import_nodes([ast.parse(source)]):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - node.level + 1], *([base] if base else [])])
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        found += [Import(importer, name, node.lineno) for name in dict.fromkeys(names) if within(name, TOP)]
    return found


def src_imports() -> list[Import]:
    modules = src_modules()
    found = []
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found += imports_of(path.read_text(encoding="utf-8"), name, package, modules)
    return found


def imports_in_tests() -> tuple[list[Import], dict[str, str]]:
    """The crmpay imports of every test file, and the module name each file stands for
    (tests/providers/test_x.py -> crmpay.providers.test_x)."""
    known = src_modules()
    imports, stands_for = [], {}
    for path in sorted(TESTS.rglob("*.py")):
        relative = path.relative_to(TESTS)
        stands_for[relative.as_posix()] = ".".join([TOP, *relative.with_suffix("").parts])
        imports += imports_of(path.read_text(encoding="utf-8"), relative.as_posix(), "", known)
    return imports, stands_for


def owner(name: str) -> str | None:
    """The package a private module belongs to, or None for a public module: `a.b._c.d` is
    private to `a.b`."""
    parts = name.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.endswith("__"):
            return ".".join(parts[:i])
    return None


def private_violations(imports: Iterable[Import], stands_for: Mapping[str, str] | None = None) -> list[str]:
    """Imports of a private module from outside its package; `stands_for` gives the module
    name a test file counts as."""
    bad = []
    for imp in imports:
        package = owner(imp.target)
        importer = (stands_for or {}).get(imp.importer, imp.importer)
        if package is not None and not within(importer, package):
            bad.append(f"{imp}: {imp.target} is private to {package}")
    return bad


def find_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One cycle [a, b, …, a] for each strongly connected component that has one (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph.get(node, ()):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = set()
            while node not in component:
                component.add(stack.pop())
            on_stack.difference_update(component)
            components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    cycles = [
        _cycle_through(graph, min(component), component)
        for component in components
        if len(component) > 1 or min(component) in graph.get(min(component), ())
    ]
    return sorted(cycles)


def _cycle_through(graph: Mapping[str, Iterable[str]], start: str, members: set[str]) -> list[str]:
    """The shortest cycle start -> … -> start inside one strongly connected component."""
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for succ in sorted(graph.get(node, ())):
                if succ == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if succ in members and succ not in came_from:
                    came_from[succ] = node
                    following.append(succ)
        frontier = following
    raise ValueError(f"{start} is on no cycle")


def describe(cycle: list[str], imports: Iterable[Import]) -> str:
    first: dict[tuple[str, str], Import] = {}
    for imp in imports:
        first.setdefault((imp.importer, imp.target), imp)
    return "import cycle: " + "; ".join(str(first[step]) for step in pairwise(cycle))


def layer_violations(imports: Iterable[Import]) -> list[str]:
    bad = []
    for imp in imports:
        for layer, allowed in LAYERS.items():
            if within(imp.importer, layer) and not any(within(imp.target, ok) for ok in allowed):
                bad.append(f"{imp}: {layer} may import only {', '.join(allowed)}")
        for layer, allowed in PUBLIC_ONLY.items():
            if within(imp.importer, layer) and not any(matches(imp.target, ok) for ok in allowed):
                bad.append(f"{imp}: {layer} may import only {', '.join(allowed)}")
        for layer, forbidden in FORBIDDEN.items():
            if within(imp.importer, layer):
                bad += [f"{imp}: {layer} must not import {no}" for no in forbidden if within(imp.target, no)]
    return bad


# -- the rules --------------------------------------------------------------------------------------
def test_private_modules_are_imported_only_from_their_own_package():
    bad = private_violations(src_imports())
    assert not bad, "\n".join(bad)


def test_tests_import_private_modules_only_of_the_package_they_test():
    imports, stands_for = imports_in_tests()
    bad = private_violations(imports, stands_for)
    assert not bad, "\n".join(bad)


def test_no_import_cycles():
    imports = src_imports()
    graph: dict[str, set[str]] = {name: set() for name in src_modules()}
    for imp in imports:
        graph[imp.importer].add(imp.target)
    cycles = [
        cycle
        for cycle in find_cycles(graph)
        if not any(all(within(name, pending) for name in cycle) for pending in PENDING)
    ]
    assert not cycles, "\n".join(describe(cycle, imports) for cycle in cycles)


def test_layers_import_downwards_only():
    bad = layer_violations(src_imports())
    assert not bad, "\n".join(bad)


def test_every_import_names_an_existing_module():
    known = src_modules()
    bad = [f"{imp}: no such module" for imp in src_imports() if imp.target not in known]
    assert not bad, "\n".join(bad)


# -- the checker itself ---------------------------------------------------------------------------
def test_cycles_are_found_on_a_toy_graph():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}, "f": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"], ["e", "e"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []
    imports = [Import("a", "b", 1), Import("b", "c", 2), Import("c", "a", 3)]
    assert describe(["a", "b", "c", "a"], imports) == (
        "import cycle: a imports b (line 1); b imports c (line 2); c imports a (line 3)"
    )


def test_lazy_and_relative_imports_count_and_type_checking_ones_do_not():
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from crmpay.cli import _app\n"
        "def f():\n"
        "    from . import _tokens\n"
        "    from ..providers._paging import read_ahead\n"
        "    import crmpay.config\n"
    )
    known = {"crmpay.crm._tokens", "crmpay.providers._paging", "crmpay.cli._app", "crmpay.config"}
    imports = imports_of(source, "crmpay.crm.x", "crmpay.crm", known)
    assert [(i.target, i.line) for i in imports] == [
        ("crmpay.crm._tokens", 5),
        ("crmpay.providers._paging", 6),
        ("crmpay.config", 7),
    ]
    assert private_violations(imports) == [
        "crmpay.crm.x imports crmpay.providers._paging (line 6): crmpay.providers._paging is private to "
        "crmpay.providers"
    ]
    from_a_test = [Import("crm/test_x.py", "crmpay.crm._tokens", 1), Import("test_y.py", "crmpay.crm._tokens", 2)]
    stands_for = {"crm/test_x.py": "crmpay.crm.test_x", "test_y.py": "crmpay.test_y"}
    assert private_violations(from_a_test, stands_for) == [
        "test_y.py imports crmpay.crm._tokens (line 2): crmpay.crm._tokens is private to crmpay.crm"
    ]


def test_layer_violations_name_the_module_and_the_import():
    assert layer_violations([Import("crmpay.store.records", "crmpay.services.sync", 3)]) == [
        "crmpay.store.records imports crmpay.services.sync (line 3): crmpay.store must not import crmpay.services"
    ]
    assert layer_violations([Import("crmpay.core.money", "crmpay.config", 1)]) == [
        "crmpay.core.money imports crmpay.config (line 1): crmpay.core may import only crmpay.core"
    ]
    assert layer_violations([Import("crmpay.services.sync", "crmpay.providers.gocardless", 9)]) == []


def test_the_demo_may_import_only_public_surfaces():
    allowed = [
        Import("crmpay.demo.tour", target, 1)
        for target in ("crmpay", "crmpay.workspace", "crmpay.sandbox", "crmpay.core.models", "crmpay.demo.files")
    ]
    assert layer_violations(allowed) == []
    refused = [
        Import("crmpay.demo.tour", target, 2)
        for target in ("crmpay.sandbox.zoho.service", "crmpay.services.sync", "crmpay.store", "crmpay.providers")
    ]
    only = "crmpay, crmpay.workspace, crmpay.sandbox, crmpay.core.*, crmpay.demo.*"
    assert layer_violations(refused) == [f"{imp}: crmpay.demo may import only {only}" for imp in refused]
