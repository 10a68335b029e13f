"""Full listings read by a child process (`providers._background`), against the sandbox.

The child is a real `python -m crmpay.providers._background` talking to the sandbox over
HTTP through gocardless-pro; nothing here is mocked except, in one test, the interpreter
path (to show the in-process fallback).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import orjson
import pytest

from crmpay.core.errors import AuthError, TemporaryError
from crmpay.core.models import BankAccount, Customer, Mandate, Payment
from crmpay.providers import _background
from crmpay.providers import gocardless as gcp
from crmpay.retry import RetryPolicy
from crmpay.sandbox import Faults

FAST = RetryPolicy(attempts=12, base_delay=0.001, max_delay=0.01)


def _provider(sandbox, token: str | None = None) -> gcp.GoCardlessProvider:
    token = token or sandbox.credentials()["gocardless"]["access_token"]
    return gcp.GoCardlessProvider(token, environment="local", base_url=sandbox.url, retry_policy=FAST)


def _children(listing_readers) -> dict[int, str]:
    """The listing readers this test process started and that still run."""
    return {pid: cmdline for pid, (ppid, cmdline) in listing_readers().items() if ppid == os.getpid()}


def _signature(objects) -> list[tuple]:
    return [(type(o).__name__, o.id, o.raw, getattr(o, "customer_id", None)) for o in objects]


def test_the_child_reads_what_the_process_itself_would(seed_accounts, sandbox, monkeypatch):
    provider = _provider(sandbox)
    seed_accounts(provider, 3, 2)
    started = []
    real = _background.read_listings

    def spy(*args, **kwargs):
        pages = real(*args, **kwargs)
        started.append(pages is not None)
        return pages

    monkeypatch.setattr(_background, "read_listings", spy)
    via_child = list(_provider(sandbox).iter_all())
    assert started == [True]

    monkeypatch.setattr(sys, "executable", "/nonexistent/python3")  # no child can start: read here
    in_process = list(_provider(sandbox).iter_all())
    assert started == [True, False]

    assert _signature(via_child) == _signature(in_process)
    kinds = [type(o) for o in via_child]
    assert kinds == [Customer] * 3 + [BankAccount] * 3 + [Mandate] * 3 + [Payment] * 6  # in that order
    mandates = {o.id: o.customer_id for o in via_child if isinstance(o, Mandate)}
    assert all(p.customer_id == mandates[p.mandate_id] for p in via_child if isinstance(p, Payment))


def test_a_provider_error_in_the_child_comes_back_as_the_same_error(sandbox, listing_readers):
    with pytest.raises(AuthError) as caught:
        list(_provider(sandbox, token="not-the-token").iter_all())
    assert caught.value.message == "GoCardless rejected the access token"
    assert "crmpay connect gocardless" in (caught.value.hint or "")
    assert "not-the-token" not in str(caught.value)
    assert _children(listing_readers) == {}


def test_the_secret_stays_off_the_command_line_and_an_early_stop_ends_the_child(
    seed_accounts, sandbox, listing_readers
):
    provider = _provider(sandbox)
    seed_accounts(provider, customers=2, payments_each=1)
    token = sandbox.credentials()["gocardless"]["access_token"]
    sandbox.set_faults(Faults(delay_ms=300))  # the child is still reading when we stop
    objects = provider.iter_all()
    assert isinstance(next(objects), Customer)
    children = _children(listing_readers)
    assert len(children) == 1
    assert all(token not in cmdline for cmdline in children.values())
    objects.close()  # the caller stops early: the child is killed and reaped
    assert _children(listing_readers) == {}


def test_a_child_that_dies_mid_listing_is_an_error_not_a_short_listing():
    page = b'[{"id": "CU1"}]'
    script = (
        "import os, struct, sys, time\n"
        f"sys.stdout.buffer.write(struct.pack('<cHI', b'P', 0, {len(page)}) + {page!r})\n"
        "sys.stdout.buffer.flush()\n"
        "os.close(1)\n"  # the pipe closes a moment before the process ends
        "time.sleep(0.3)\n"
        "os._exit(3)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    pages = _background._pages(child)
    assert next(pages) == (0, [{"id": "CU1"}])
    with pytest.raises(TemporaryError, match=r"stopped \(exit code 3\)"):
        next(pages)
    assert child.returncode == 3


def test_the_child_exits_when_its_parent_is_killed(seed_accounts, sandbox, listing_readers):
    provider = _provider(sandbox)
    seed_accounts(provider, customers=2, payments_each=1)
    sandbox.set_faults(Faults(delay_ms=50))  # 1,000 slow listings: a minute of work if it stayed
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, orjson\n"
            "from crmpay.providers import _background\n"
            "spec = orjson.loads(sys.stdin.buffer.read())\n"
            "pages = _background.read_listings('gocardless', spec, [('customers', None)] * 1000)\n"
            "next(pages)\n"
            "print('reading', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    parent.stdin.write(orjson.dumps(provider._spec))
    parent.stdin.close()
    assert parent.stdout.readline() == b"reading\n"
    child = [pid for pid, (ppid, _) in listing_readers().items() if ppid == parent.pid]
    assert len(child) == 1
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while child[0] in listing_readers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert child[0] not in listing_readers()  # its next page found no reader, and it left
