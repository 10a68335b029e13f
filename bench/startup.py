"""Start-up time of crmpay against a minimal Typer app, measured in one run.

    python bench/startup.py [--runs 15]

Prints the median wall time of each command over N runs (interleaved, so a noisy
machine slows every command alike) and the ratios to the minimal app's `--help`.
Targets: `--help` and `--version` <= 1.5x; `status --json` <= 2.5x.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MINIMAL_APP = """
import typer

app = typer.Typer()


@app.command()
def hello(name: str = "world") -> None:
    \"\"\"Say hello.\"\"\"
    print(f"hello {name}")


app()
"""

TARGETS = {"crmpay --help": 1.5, "crmpay --version": 1.5, "crmpay status --json": 2.5}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        minimal = Path(tmp) / "minimal_app.py"
        minimal.write_text(MINIMAL_APP)
        # keyring picks its backend as it would for a user (discovery cost included),
        # with any file backend's data kept in the temporary directory
        env = {k: v for k, v in os.environ.items() if k != "PYTHON_KEYRING_BACKEND"}
        env.update(CRMPAY_HOME=str(Path(tmp) / "home"), XDG_DATA_HOME=str(Path(tmp) / "data"), NO_COLOR="1")
        commands = {
            "minimal typer --help": [sys.executable, str(minimal), "--help"],
            "crmpay --help": [sys.executable, "-m", "crmpay", "--help"],
            "crmpay --version": [sys.executable, "-m", "crmpay", "--version"],
            "crmpay status --json": [sys.executable, "-m", "crmpay", "status", "--json"],
        }
        timings: dict[str, list[float]] = {name: [] for name in commands}
        for command in commands.values():  # warm the bytecode caches once
            subprocess.run(command, env=env, capture_output=True, check=True)
        for _ in range(args.runs):
            for name, command in commands.items():
                start = time.perf_counter()
                subprocess.run(command, env=env, capture_output=True, check=True)
                timings[name].append(time.perf_counter() - start)

    base = statistics.median(timings["minimal typer --help"])
    print(f"runs per command: {args.runs} (medians, interleaved)")
    print(f"{'command':24} {'median ms':>10} {'ratio':>7} {'target':>7}  ok")
    failed = False
    for name, samples in timings.items():
        median = statistics.median(samples)
        ratio = median / base
        target = TARGETS.get(name)
        ok = target is None or ratio <= target
        failed |= not ok
        target_text = f"{target:.1f}x" if target else "-"
        print(f"{name:24} {median * 1000:10.1f} {ratio:6.2f}x {target_text:>7}  {'yes' if ok else 'NO'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
