"""Helpers for the webhook tests: a `crmpay webhooks serve` process, the store, waiting."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

SECRET = "whsec-test-0123456789"  # the endpoint secret the sandbox signs with


@dataclass
class Served:
    """One receiver process; `restart()` starts it again on the same port."""

    env: Any
    port: int = 0
    proc: subprocess.Popen[str] | None = None
    url: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)

    def start(self) -> Served:
        environ = {**self.env.environ, **self.extra_env}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "crmpay", "webhooks", "serve", "--port", str(self.port), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environ,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"the receiver did not start: {self.proc.stderr.read() if self.proc.stderr else ''}")
        self.url = json.loads(line)["url"]
        self.port = int(self.url.rsplit(":", 1)[1])
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> str:
        """SIGTERM; its stderr."""
        if self.proc is None or self.proc.poll() is not None:
            return ""
        self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err

    def restart(self) -> Served:
        return self.start()


def database(env: Any) -> Path:
    return env.home / "profiles" / "default" / "crmpay.sqlite3"


def query(env: Any, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(database(env), timeout=30) as db:
        return db.execute(sql, args).fetchall()


def unprocessed(env: Any) -> int:
    try:
        return query(env, "SELECT count(*) FROM webhook_events WHERE processed_at IS NULL")[0][0]
    except sqlite3.OperationalError:  # not created yet
        return -1


def settle(env: Any, sandbox: Any, timeout: float = 60.0) -> None:
    """Until the sandbox has nothing left to deliver and the receiver nothing left to apply."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sandbox.webhooks.idle() and unprocessed(env) == 0 and sandbox.webhooks.idle():
            return
        time.sleep(0.02)
    raise AssertionError(f"not settled: {sandbox.webhooks.describe()}, unprocessed {unprocessed(env)}")


def connect(env: Any, sandbox: Any, *names: str) -> None:
    creds = sandbox.credentials()
    secrets = {
        "gocardless": ("CRMPAY_GOCARDLESS_ACCESS_TOKEN", "access_token"),
        "mollie": ("CRMPAY_MOLLIE_API_KEY", "api_key"),
    }
    for name in names:
        var, key = secrets[name]
        result = env.run(
            "connect", name, "--environment", "local", "--base-url", sandbox.url, env={var: creds[name][key]}
        )
        assert result.code == 0, result.stderr


def register(sandbox: Any, provider: str, url: str, secret: str | None = None) -> None:
    body = {"provider": provider, "url": url, "secret": secret}
    answer = httpx.post(f"{sandbox.url}/__sandbox/webhooks", json=body)
    assert answer.status_code == 201, answer.text
    assert secret is None or secret not in answer.text
