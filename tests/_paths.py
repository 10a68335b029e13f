"""Paths the tests share: everything they read lives inside this repository.

`tests/` has no `__init__.py`, so pytest (rootdir /work/main, prepend import mode) puts
`tests/` on `sys.path` when it loads `tests/conftest.py`; test files in any subfolder
import this module as `import _paths`.
"""

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
"""The providers' own response bodies, copied from their SDK repositories: see fixtures/README.md."""
