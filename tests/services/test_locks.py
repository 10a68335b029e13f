"""The sync lock: a second holder exits 5 naming the first one's pid; SIGKILL frees it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from crmpay.core.errors import ExitCode, TemporaryError
from crmpay.services.locks import exclusive

HOLD = (
    "import sys, time; from pathlib import Path; from crmpay.services.locks import exclusive\n"
    "with exclusive(Path(sys.argv[1]), 'sync'):\n    print('held', flush=True); time.sleep(60)\n"
)


def test_second_holder_is_refused_until_the_first_is_killed(tmp_path):
    lock = tmp_path / "sync.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(TemporaryError, match=f"another sync is running \\(pid {holder.pid}\\)") as err:
            with exclusive(lock, "sync"):
                pass
        assert err.value.exit_code == ExitCode.TEMPORARY
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    with exclusive(lock, "sync"):  # the kernel released the killed holder's lock
        assert lock.read_text() == str(os.getpid())
