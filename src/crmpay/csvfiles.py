"""Reading CSV files as accountants' spreadsheets write them.

- encoding: UTF-8 with or without BOM, else Windows-1252 (decided on the whole file,
  so "Société Générale" is never mangled);
- delimiter: `,` `;` or tab, whichever the header line uses most;
- headers matched by name, case- and accent-insensitive, through an alias table;
- blank lines skipped, CRLF or LF, line numbers as a spreadsheet shows them.

Rows are streamed: a 100,000-row file is never held in memory.
"""

from __future__ import annotations

import codecs
import csv
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crmpay.core.errors import UsageError

_CHUNK = 1 << 16
MAX_CELL = csv.field_size_limit()  # 131,072: the csv module's limit on one cell
_DELIMITERS = (";", ",", "\t")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def detect_encoding(path: Path) -> str:
    """`utf-8-sig`, `utf-8` or `cp1252`; UsageError when the bytes are none of them."""
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory") from None
    except PermissionError:
        raise UsageError(f"{path}: not readable (permission denied)") from None
    with fh:
        head = fh.read(3)
        encoding = "utf-8-sig" if head == codecs.BOM_UTF8 else "utf-8"
        fh.seek(0)
        if _decodes(fh, encoding):
            return encoding
        fh.seek(0)
        if _decodes(fh, "cp1252"):
            return "cp1252"
    raise UsageError(f"{path}: not text in UTF-8 or Windows-1252")


def _decodes(fh, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        while chunk := fh.read(_CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def read_cells(reader: Any, path: Path, first_line: int = 0) -> Iterator[list[str]]:
    """The rows of a `csv.reader`, with its errors (a cell longer than the csv module's
    limit of `MAX_CELL` characters, a NUL byte) as one UsageError naming file and line."""
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line = first_line or reader.line_num
            text = str(exc)
            if "field larger than field limit" in text:
                text = f"a cell is longer than {MAX_CELL:,} characters"
            raise UsageError(f"{path}: line {line}: {text}", hint="fix the file and run again") from None
        yield cells


def normalise_header(name: str) -> str:
    """`Date de signature ` -> `date_de_signature`; `RÉFÉRENCE` -> `reference`."""
    stripped = unicodedata.normalize("NFKD", name.strip().lstrip("\ufeff"))
    ascii_only = "".join(c for c in stripped if not unicodedata.combining(c)).lower()
    for sep in (" ", "-", "."):
        ascii_only = ascii_only.replace(sep, "_")
    return "_".join(part for part in ascii_only.split("_") if part)


@dataclass(frozen=True)
class Row:
    line: int  # 1-based, as a spreadsheet numbers it (the header is line 1)
    values: dict[str, str]  # canonical column -> stripped cell ('' when absent)


class CsvTable:
    """A CSV file whose columns are mapped to canonical names through `aliases`."""

    def __init__(self, path: Path, aliases: Mapping[str, tuple[str, ...]]) -> None:
        self.path = path
        self.encoding = detect_encoding(path)
        self._aliases = {normalise_header(a): canon for canon, names in aliases.items() for a in (canon, *names)}
        self.delimiter, self.header, self.header_line = self._read_header()
        self.columns: dict[str, int] = {}
        self.unknown: list[str] = []
        for index, name in enumerate(self.header):
            canon = self._aliases.get(normalise_header(name))
            if canon is None:
                if name.strip():
                    self.unknown.append(name.strip())
            elif canon in self.columns:
                raise UsageError(f"{path}: line {self.header_line}: two columns mean {canon!r}")
            else:
                self.columns[canon] = index

    def _open(self):
        return self.path.open("r", encoding=self.encoding, newline="")

    def _read_header(self) -> tuple[str, list[str], int]:
        with self._open() as fh:
            for number, line in enumerate(fh, start=1):
                if line.strip():
                    delimiter = max(_DELIMITERS, key=line.count)
                    if line.count(delimiter) == 0:
                        delimiter = ","
                    header = next(read_cells(csv.reader([line], delimiter=delimiter), self.path, number))
                    return delimiter, header, number
        raise UsageError(f"{self.path}: the file is empty")

    def has(self, column: str) -> bool:
        return column in self.columns

    def require(self, *columns: str) -> None:
        missing = [c for c in columns if c not in self.columns]
        if missing:
            names = ", ".join(repr(c) for c in missing)
            raise UsageError(
                f"{self.path}: missing column{'s' if len(missing) > 1 else ''} {names}",
                hint=f"the header has: {', '.join(h.strip() for h in self.header)}",
            )

    def rows(self) -> Iterator[Row]:
        """Every non-blank data row, streamed; UsageError naming the line for a cell over
        `MAX_CELL` characters or a line the csv module cannot read."""
        with self._open() as fh:
            reader = csv.reader(fh, delimiter=self.delimiter)
            start = 0
            for cells in read_cells(reader, self.path):
                line = reader.line_num
                if line <= self.header_line:
                    start = line
                    continue
                if not any(cell.strip() for cell in cells):
                    start = line
                    continue
                values = {
                    canon: (cells[index].strip() if index < len(cells) else "") for canon, index in self.columns.items()
                }
                yield Row(start + 1, values)
                start = line


def neutralise(cell: str) -> str:
    """A cell a spreadsheet would run as a formula becomes plain text."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def write_rejects(path: Path, header: list[str], rows: Iterator[tuple[list[str], str]]) -> int:
    """Write rejected rows with a `reason` column, every cell neutralised; the count."""
    count = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([neutralise(h) for h in [*header, "reason"]])
        for cells, reason in rows:
            writer.writerow([neutralise(c) for c in [*cells, reason]])
            count += 1
    return count
