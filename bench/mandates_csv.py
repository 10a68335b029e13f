"""Mandate CSV validation: crmpay against a bare csv + schwifty loop, in one run.

    python bench/mandates_csv.py [--rows 100000]

Generates a file of N rows (1% invalid), then times `crmpay mandates import FILE
--provider none --dry-run --skip-invalid` against a bare script that reads the same
file with `csv` and checks each IBAN with schwifty (both as whole processes, best of 3,
interleaved), and compares crmpay's peak RSS for N rows and N/4 rows.
Targets: time ratio <= 2.0; RSS(N) / RSS(N/4) <= 1.3.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

BARE = """
import csv, sys, resource
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
bad = 0
with open(sys.argv[1], encoding="utf-8", newline="") as fh:
    reader = csv.reader(fh, delimiter=";")
    header = next(reader)
    column = header.index("IBAN")
    for row in reader:
        try:
            IBAN(row[column])
        except SchwiftyException:
            bad += 1
print(bad)
"""

IBANS = [
    "FR1420041010050500013M02606",
    "DE89370400440532013000",
    "BE68539007547034",
    "NL91ABNA0417164300",
    "FR7630006000011234567890189",
    "ES9121000418450200051332",
]


def generate(path: Path, rows: int, seed: int = 42) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("Nom;E-mail;IBAN;BIC;RUM;Date de signature\r\n")
        for i in range(rows):
            iban = IBANS[i % len(IBANS)]
            email = f"client{i}@exemple.fr"
            if rng.random() < 0.01:  # 1% invalid: a broken checksum or a bad email
                if rng.random() < 0.5:
                    iban = iban[:-1] + ("0" if iban[-1] != "0" else "1")
                else:
                    email = f"client{i}-at-exemple.fr"
            fh.write(f"Client {i} Société;{email};{iban};;RUM-{i:07d};{1 + i % 28:02d}/{1 + i % 12:02d}/2023\r\n")


def run(command: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Wall time, peak RSS (KiB) and stdout of one whole process."""
    wrapper = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "t = time.perf_counter() - t\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(repr((t, rss, p.returncode, p.stdout, p.stderr[-500:])))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", wrapper, *command], capture_output=True, text=True, env=env, check=True
    ).stdout
    elapsed, rss, code, stdout, stderr = eval(out)  # noqa: S307 - our own repr
    if code not in (0, 3):
        raise SystemExit(f"{command[:4]} exited {code}: {stderr}")
    return elapsed, rss, stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        big, small = Path(tmp) / "big.csv", Path(tmp) / "small.csv"
        generate(big, args.rows)
        generate(small, args.rows // 4)
        bare = Path(tmp) / "bare.py"
        bare.write_text(BARE)
        env = {**os.environ, "CRMPAY_HOME": str(Path(tmp) / "home"), "NO_COLOR": "1"}
        crmpay = [sys.executable, "-m", "crmpay", "mandates", "import"]
        flags = ["--provider", "none", "--dry-run", "--skip-invalid", "--json"]
        times = {"crmpay": [], "bare": []}
        for _ in range(args.repeat):
            t, rss_big, out = run([*crmpay, str(big), *flags], env)
            times["crmpay"].append(t)
            times["bare"].append(run([sys.executable, str(bare), str(big)], env)[0])
        report = json.loads(out)
        _, rss_small, _ = run([*crmpay, str(small), *flags], env)

    crm_t, bare_t = min(times["crmpay"]), min(times["bare"])
    ratio, rss_ratio = crm_t / bare_t, rss_big / rss_small
    print(f"rows: {args.rows} ({report['invalid']} invalid reported, {report['imported']} would be imported)")
    print(f"crmpay --dry-run validation: {crm_t:.2f} s (best of {args.repeat})")
    print(f"bare csv + schwifty loop:    {bare_t:.2f} s (best of {args.repeat})")
    print(f"time ratio: {ratio:.2f} (target <= 2.0) {'ok' if ratio <= 2.0 else 'MISSED'}")
    print(
        f"peak RSS: {rss_big / 1024:.1f} MiB for {args.rows} rows, {rss_small / 1024:.1f} MiB for {args.rows // 4} rows"
    )
    print(f"RSS ratio: {rss_ratio:.2f} (target <= 1.3) {'ok' if rss_ratio <= 1.3 else 'MISSED'}")
    return 0 if ratio <= 2.0 and rss_ratio <= 1.3 else 1


if __name__ == "__main__":
    sys.exit(main())
