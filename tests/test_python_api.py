"""The example of docs/python-api.md, run as written against the sandbox."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import crmpay

DOC = Path(__file__).resolve().parents[1] / "docs" / "python-api.md"


def test_the_documented_example_runs_against_the_sandbox(crmpay_env, sandbox, tmp_path):
    (example,) = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    token = sandbox.credentials()["gocardless"]["access_token"]
    connected = crmpay_env.run(
        "connect",
        "gocardless",
        "--environment",
        "local",
        "--base-url",
        sandbox.url,
        env={"CRMPAY_GOCARDLESS_ACCESS_TOKEN": token},
    )
    assert connected.code == 0, connected.stderr
    script = tmp_path / "example.py"
    script.write_text(example, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, str(script)], env=crmpay_env.environ, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert re.fullmatch(r"created \S+-\d{4}-0001", lines[0])
    assert lines[1] == "synced ['full']"
    assert lines[2].startswith("setup_link gocardless http")  # no mandate yet: a setup link
    assert lines[3] == "status: awaiting_mandate"


def test_the_public_surface_is_small_and_lazy():
    assert sorted(crmpay.__all__) == sorted(
        [
            "AuthError",
            "CrmpayError",
            "NotConnected",
            "OperationFailed",
            "PartialFailure",
            "TemporaryError",
            "UsageError",
            "Workspace",
            "__version__",
        ]
    )
    code = "import sys, crmpay; print(sorted(m for m in sys.modules if m.startswith('crmpay')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "['crmpay']"  # importing crmpay loads nothing else of ours
    assert crmpay.Workspace.__module__ == "crmpay.workspace"
    assert issubclass(crmpay.PartialFailure, crmpay.CrmpayError) and int(crmpay.PartialFailure.exit_code) == 3
