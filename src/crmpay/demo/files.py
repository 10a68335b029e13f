"""The demo's sample files, shipped as package data in `crmpay/demo/samples/`."""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

ACCOUNTANT_CSV = "mandats-comptable.csv"  # Windows-1252, ';', as a French spreadsheet saves it
ASTERISK_CDR = "Master.csv"  # Asterisk's cdr-csv columns, no header
CALL_RULES = "call-rules.toml"  # `crmpay calls import --rules`


def sample(name: str) -> bytes:
    """A sample file's bytes, as shipped (never decoded: the CSV keeps its encoding)."""
    return files(__package__).joinpath("samples", name).read_bytes()


def copy_sample(name: str, folder: Path, data: bytes | None = None) -> Path:
    """The sample (or `data` made from it) written into `folder`, the demo's home, where
    the commands read it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(sample(name) if data is None else data)
    return path


_DAY_MONTH_YEAR = re.compile(rb"\b(\d{2}/\d{2}/)(\d{4})\b")


def in_year(data: bytes, year: int) -> bytes:
    """Every DD/MM/YYYY date of a file moved to `year`, other bytes untouched (the
    encoding stays). The accountant's signature dates become last year's: a mandate
    unused for 36 months expires, and a file of fixed dates would age into rejects."""
    return _DAY_MONTH_YEAR.sub(lambda m: m.group(1) + str(year).encode(), data)
