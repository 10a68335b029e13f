"""Every command of `crmpay`, driven by hypothesis with hostile arguments and input files.

For each command that runs and ends (every leaf of the command tree but the servers),
hypothesis draws which options and arguments to give and what to give them: words that
broke earlier versions (1e309, 2026-13-01, 10^23, "../", a NUL-free control character,
an unclosed IPv6 URL…), arbitrary text, and paths to hostile files (empty, binary, a
directory, missing, invalid UTF-8, a cell over the csv module's limit, JSON and TOML
nested 100,000 deep, CSV rows with absurd values). Each run is a real `python -m crmpay`
process in a copy of a home that holds one issued invoice, with no service connected.

What must hold, whatever the input: an exit code of the documented table (0–5), never
"internal error", never a traceback, and a failure says why on stderr.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import click
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import _commands
from _homes import SELLER_CONFIG

SERVERS = {("webhooks", "serve"), ("sandbox", "serve"), ("demo",)}  # run until stopped: not fuzzed here
LEAVES = {path: command for path, command in _commands.leaves().items() if path not in SERVERS}

WORDS = [
    "", " ", "0", "-1", "1e309", "NaN", "inf", "99999999999999999999999", "0.000001", "1,5",
    "2026-13-01", "yesterday", "9999-12-31", "1900-01-01", "2026-02-30", "€", "Ω" * 300, "..", "../../pwn/",
    "a;b;c;d", "X;1;1e309;20", "Audit;1;10;20", "Audit;-1;10;20:AE", "http://[::1", "http://127.0.0.1:9",
    "INV-2026-0001", "AV-2026-0001", "PM0000000001", "MD0000000001", "tr_abc", "ann@example.fr", "not an email",
    "{x}", "%s%n", "\t", "\u202e\u200b", "smtp.port", "seller.name", "calls.timezone", "Mars/Olympus",
    "gocardless", "mollie", "zoho", "sipsim", "smtp", "all", "facturx", "ja", "JPY", "ABC", "monthly",
]  # fmt: skip
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)


def _hostile_files(root: Path) -> list[str]:
    root.mkdir(parents=True, exist_ok=True)
    big = "A" * 140_000
    files: dict[str, bytes | str] = {
        "empty.csv": b"",
        "binary.bin": bytes(range(256)) * 8,
        "invalid_utf8.csv": b"\xff\xfename,email\n\xc3\x28,\xa0\xa1\n",
        "bigcell.csv": f"name,email,iban,bic,mandate_reference,signature_date\n{big},a@b.fr,x,,r,2024-01-01\n",
        "deep.json": "[" * 100_000 + "]" * 100_000,
        "deep.toml": "x = " + "[" * 100_000 + "]" * 100_000 + "\n",
        "rules.toml": 'create_contact = "yes"\ntask_subject = "{numbr"\ntimezone = "Mars/Olympus"\n',
        "mandates.csv": "name,email,iban,bic,mandate_reference,signature_date\n"
        "Ann,ann@example.fr,FR00,,REF-1,9999-12-31\n,,,,,\nBob,bob@example.fr,DE89370400440532013000,,REF-1,1e309\n",
        "invoices.csv": "invoice_ref,customer_email,customer_name,currency,issue_date,due_date,description,"
        "quantity,unit_price,vat_rate\nA,ann@example.fr,Ann,ABC,2026-13-01,9999-12-31,X,1e309,-0,150\n"
        "B,not-an-email,,JPY,2026-01-01,2026-01-02,Y,0.5,0.001,20\n",
        "calls.csv": "caller,receiver,start_time,duration\n0612345678,0142685300,2026-07-01T10:00:00,1e22\n"
        "+33,,not-a-date,-5\n",
        "calls.json": '{"calls": [{"duration": "x", "start": 5}], "x": ' + "[" * 1000 + "]" * 1000 + "}",
        "asterisk.csv": '"","0612345678","100","ctx","","","","","2026-07-01 10:00:00","",""'
        ',"99999999999999999999","-1","ANSWERED"\n',
    }
    paths = []
    for name, body in files.items():
        path = root / name
        path.write_bytes(body if isinstance(body, bytes) else body.encode())
        paths.append(str(path))
    (root / "dir").mkdir(exist_ok=True)
    return [*paths, str(root / "dir"), str(root / "missing.csv"), str(root / "dir" / "out.pdf")]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Any]:
    """Hostile files, and a home with one issued invoice (INV-2026-0001) to copy per run."""
    root = tmp_path_factory.mktemp("fuzz")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRMPAY_")}
    env.update(
        PYTHON_KEYRING_BACKEND="keyrings.alt.file.PlaintextKeyring",
        NO_COLOR="1",
        COLUMNS="200",
        CRMPAY_TODAY="2026-11-30",
        CRMPAY_CALL_TIMEOUT="3",
        CRMPAY_COMMAND_TIMEOUT="20",
    )
    base = root / "base"
    (base / "home").mkdir(parents=True)
    (base / "home" / "config.toml").write_text(SELLER_CONFIG)
    created = _run(
        base, env, ["invoices", "create", "--customer", "ann@example.fr", "--line", "Audit;1;10;20",
                    "--due", "2026-12-31"],
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    (root / "runs").mkdir()  # one folder per run, a copy of `base`
    return {"files": _hostile_files(root / "files"), "base": base, "env": env, "runs": root / "runs"}


def _run(home: Path, env: dict[str, str], argv: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crmpay", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env={**env, "CRMPAY_HOME": str(home / "home"), "XDG_DATA_HOME": str(home / "keyring")},
        timeout=90,
    )


def _is_file(param: Any, command: Any) -> bool:
    return "path" in param.display_type(click.Context(command)) or param.name in ("file", "rules_file")


def _argv(data: st.DataObject, path: tuple[str, ...], command: Any, files: list[str]) -> list[str]:
    values = st.one_of(st.sampled_from(WORDS), TEXT)
    argv, positional = list(path), True
    for param in command.params:
        if param.param_type_name == "argument":
            # positional in order: once one is left out, so are the ones after it
            positional = positional and (param.required or data.draw(st.booleans()))
            if positional:
                file = _is_file(param, command)
                argv.append(data.draw(st.sampled_from(files) if file else values))
        elif param.name != "help" and (param.required or data.draw(st.booleans())):
            if getattr(param, "is_flag", False):
                argv.append(param.opts[0])
                continue
            for _ in range(data.draw(st.integers(1, 2)) if param.multiple else 1):
                file = _is_file(param, command)
                argv += [param.opts[0], data.draw(st.sampled_from(files) if file else values)]
    return argv


@pytest.mark.parametrize("path", sorted(LEAVES), ids=" ".join)
@settings(
    max_examples=int(os.environ.get("CRMPAY_FUZZ_EXAMPLES", "4")),
    deadline=None,
    derandomize=not os.environ.get("CRMPAY_FUZZ_EXAMPLES"),  # the same examples on every run: CI stays reproducible
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_every_command_takes_hostile_input_within_the_exit_code_table(world, path, data):
    argv = _argv(data, path, LEAVES[path], world["files"])
    stdin = data.draw(st.sampled_from(["", "\n", "sec€ret\n", "x" * 5000 + "\n"]))
    run_dir = Path(tempfile.mkdtemp(dir=world["runs"])) / "run"
    shutil.copytree(world["base"], run_dir)
    try:
        result = _run(run_dir, world["env"], argv, stdin)
    finally:
        shutil.rmtree(run_dir.parent, ignore_errors=True)
    shown = (argv, result.returncode, result.stderr[-2000:])
    assert 0 <= result.returncode <= 5, shown
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr, shown
    if result.returncode != 0:
        assert result.stderr.strip(), shown  # a failure says why
