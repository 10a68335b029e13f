"""Call records from files: Asterisk `Master.csv`, SipSim CSV exports, SipSim webhooks.

Each reader returns the calls it understood and a `line N: problem` for every line it
did not. The company side of a call is one of the configured lines (or an internal
extension); the other side, normalised to E.164, is the customer.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crmpay.core.errors import UsageError
from crmpay.core.validation import call_duration
from crmpay.csvfiles import CsvTable, detect_encoding, read_cells
from crmpay.telephony.calls import Call, stable_identity
from crmpay.telephony.phones import to_e164

FORMATS = ("asterisk", "sipsim-csv", "sipsim-json")
ASTERISK_COLUMNS = (
    "accountcode",
    "src",
    "dst",
    "dcontext",
    "clid",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
    "uniqueid",
    "userfield",
)

SIPSIM_CSV_ALIASES: dict[str, tuple[str, ...]] = {
    "pbx_id": ("id", "call_id", "uuid", "identifiant"),
    "direction": ("type", "call_type", "sens"),
    "caller": ("caller_number", "from", "appelant", "numero_appelant"),
    "receiver": ("receiver_number", "to", "appele", "numero_appele", "destinataire"),
    "start_time": ("start", "time", "date", "started_at", "debut", "date_heure"),
    "duration": ("duree", "billsec", "talk_time"),
    "status": ("statut", "result", "resultat"),
}


@dataclass(frozen=True)
class LineProblem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class Parsed:
    calls: list[Call] = field(default_factory=list)
    problems: list[LineProblem] = field(default_factory=list)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"unknown time zone {name!r}", hint="use a name such as Europe/Paris") from None


class Sides:
    """Decides which side of a call is the company and which the customer."""

    def __init__(self, region: str, lines: set[str]) -> None:
        self.region, self.lines = region, lines

    def classify(self, caller: str, receiver: str, direction: str | None = None) -> tuple[str, str | None, str | None]:
        """(direction, line, customer) for a call from `caller` to `receiver`."""
        src, dst = to_e164(caller, self.region), to_e164(receiver, self.region)
        if direction is None:
            direction = "outbound" if (src is None or src in self.lines) and dst not in self.lines else "inbound"
        if direction == "inbound":
            line, customer = dst, src
        else:
            line, customer = src, dst
        return (direction, line if line in self.lines else None, customer if customer not in self.lines else None)


def read_calls(
    path: Path, fmt: str, *, region: str, tz: str, lines: set[str], csv_columns: dict[str, str] | None = None
) -> Parsed:
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}", hint=f"choose one of {', '.join(FORMATS)}")
    sides = Sides(region, lines)
    if fmt == "asterisk":
        return _asterisk(path, zone(tz), sides)
    if fmt == "sipsim-json":
        return _sipsim_json(path, zone(tz), sides)
    return _sipsim_csv(path, zone(tz), sides, csv_columns or {})


def local_time(text: str, tz: ZoneInfo) -> datetime:
    """ISO 8601 with an offset as is; without one, in the source's time zone."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=tz)


def _asterisk(path: Path, tz: ZoneInfo, sides: Sides) -> Parsed:
    out = Parsed()
    with path.open(encoding=detect_encoding(path), newline="") as fh:
        reader = csv.reader(fh)
        for cells in read_cells(reader, path):
            number = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if not 16 <= len(cells) <= 18:
                out.problems.append(LineProblem(number, f"{len(cells)} columns; an Asterisk CDR has 16 to 18"))
                continue
            row = dict(zip(ASTERISK_COLUMNS, cells, strict=False))  # the last two columns are optional
            try:
                started = datetime.strptime(row["start"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz)
                billsec = call_duration(row["billsec"])
            except ValueError as exc:
                out.problems.append(LineProblem(number, f"unreadable start or billsec: {exc}"))
                continue
            direction, line, customer = sides.classify(row["src"], row["dst"])
            identity = row.get("uniqueid") or stable_identity(row["start"], row["src"], row["dst"], row["channel"])
            out.calls.append(
                Call(
                    identity,
                    "asterisk",
                    number,
                    started,
                    direction,
                    row["disposition"].upper() == "ANSWERED",
                    billsec,
                    line,
                    customer,
                    row["src"],
                    row["dst"],
                )
            )
    return out


def _sipsim_json(path: Path, tz: ZoneInfo, sides: Sides) -> Parsed:
    out = Parsed()
    starts: dict[str, datetime] = {}  # pbx_id -> the time of its *_start event
    with path.open(encoding=detect_encoding(path)) as fh:
        for number, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                event = json.loads(text)
                if not isinstance(event, dict):
                    raise ValueError("not a JSON object")
            except ValueError as exc:
                out.problems.append(LineProblem(number, f"not a JSON object: {exc}"))
                continue
            except RecursionError:
                out.problems.append(LineProblem(number, "JSON nested too deeply"))
                continue
            kind = str(event.get("event", ""))
            if kind.endswith("_start") and event.get("pbx_id") and event.get("time"):
                try:  # when it began ringing: the end event's duration leaves the ringing out
                    starts[str(event["pbx_id"])] = local_time(str(event["time"]), tz)
                except ValueError:
                    pass  # the end event is what must be readable
                continue
            if not kind.endswith("_end"):
                continue  # answer events: the *_end event carries the whole call
            direction = "inbound" if kind.startswith("incoming") else "outbound"
            try:
                ended = local_time(str(event["time"]), tz)
                duration = call_duration(event.get("duration"))
                pbx_id = str(event["pbx_id"])
            except (KeyError, ValueError, TypeError) as exc:
                out.problems.append(LineProblem(number, f"missing or unreadable field: {exc}"))
                continue
            caller, receiver = str(event.get("caller", "")), str(event.get("receiver", ""))
            _, line, customer = sides.classify(caller, receiver, direction)
            out.calls.append(
                Call(
                    pbx_id,
                    "sipsim-json",
                    number,
                    starts.pop(pbx_id) if pbx_id in starts else ended - timedelta(seconds=duration),
                    direction,
                    str(event.get("status") or "").casefold() == "answer",  # `ANSWER` in newer documentation
                    duration,
                    line,
                    customer,
                    caller,
                    receiver,
                )
            )
    return out


_DIRECTIONS = {
    "inbound": "inbound",
    "incoming": "inbound",
    "entrant": "inbound",
    "in": "inbound",
    "missed": "inbound",
    "manque": "inbound",
    "voicemail": "inbound",
    "outbound": "outbound",
    "outgoing": "outbound",
    "sortant": "outbound",
    "out": "outbound",
}
_ANSWERED = {"answer", "answered", "success", "repondu", "ok", "completed"}


def _sipsim_csv(path: Path, tz: ZoneInfo, sides: Sides, mapping: dict[str, str]) -> Parsed:
    aliases = {
        canon: (*names, *([mapping[canon]] if canon in mapping else [])) for canon, names in SIPSIM_CSV_ALIASES.items()
    }
    table = CsvTable(path, aliases)
    table.require("caller", "receiver", "start_time")
    out = Parsed()
    for row in table.rows():
        v = row.values
        try:
            started = local_time(v["start_time"], tz)
            duration = call_duration(v.get("duration"))
        except ValueError as exc:
            out.problems.append(LineProblem(row.line, f"unreadable start_time or duration: {exc}"))
            continue
        raw_direction = (v.get("direction") or "").strip().lower()
        direction = _DIRECTIONS.get(raw_direction)
        status = (v.get("status") or "").strip().lower()
        answered = status in _ANSWERED or (not status and raw_direction not in ("missed", "manque") and duration > 0)
        direction, line, customer = sides.classify(v["caller"], v["receiver"], direction)
        identity = v.get("pbx_id") or stable_identity(v["start_time"], v["caller"], v["receiver"], "")
        out.calls.append(
            Call(
                identity,
                "sipsim-csv",
                row.line,
                started,
                direction,
                answered,
                duration,
                line,
                customer,
                v["caller"],
                v["receiver"],
            )
        )
    return out
