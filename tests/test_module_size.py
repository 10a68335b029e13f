"""No module of crmpay is over 500 lines: past that, split it by what it is about."""

from __future__ import annotations

from pathlib import Path

import crmpay

LIMIT = 500


def test_no_module_over_500_lines():
    root = Path(crmpay.__file__).parent
    sizes = {str(p.relative_to(root)): len(p.read_text(encoding="utf-8").splitlines()) for p in root.rglob("*.py")}
    assert len(sizes) > 50
    assert {name: n for name, n in sizes.items() if n > LIMIT} == {}
