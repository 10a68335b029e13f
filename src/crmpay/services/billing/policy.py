"""The dunning policy: when a failed debit is retried, and when reminders go out.

The policy is the profile's `[dunning]` table (config.DunningSettings), checked when the
config is read; environment variables win as for any setting:

    crmpay config set dunning.retry_days "3,7"      # CRMPAY_DUNNING__RETRY_DAYS="3,7"
    crmpay config set dunning.steps "7:courteous,15:formal,30:notice"

`retry_days[i]` is the number of days between the (i+1)-th failure of an invoice's debit
and its retry; a step is "DAYS:TONE", DAYS past the due date, TONE one of `TONES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crmpay.core.errors import UsageError

if TYPE_CHECKING:
    from crmpay.services.context import Context

TONES = ("courteous", "formal", "notice")
DEFAULT_RETRY_DAYS = (3, 7)
DEFAULT_STEPS = ((7, "courteous"), (15, "formal"), (30, "notice"))


@dataclass(frozen=True)
class Step:
    days: int  # past the due date
    tone: str


@dataclass(frozen=True)
class Policy:
    retry_days: tuple[int, ...]
    steps: tuple[Step, ...]


def _retry_days(value: Any, where: str) -> tuple[int, ...]:
    items = value.split(",") if isinstance(value, str) else value
    try:
        days = tuple(int(str(item).strip()) for item in items if str(item).strip())
    except (TypeError, ValueError):
        raise UsageError(f"{where}: retry_days must be whole numbers of days, e.g. [3, 7]") from None
    if any(not 1 <= d <= 60 for d in days):
        raise UsageError(f"{where}: each retry comes 1 to 60 days after a failure")
    return days


def _steps(value: Any, where: str) -> tuple[Step, ...]:
    items = value.split(",") if isinstance(value, str) else value
    steps: list[Step] = []
    for item in items or []:
        days, _, tone = str(item).strip().partition(":")
        try:
            step = Step(int(days), tone.strip() or "formal")
        except ValueError:
            raise UsageError(f"{where}: step {item!r} is not DAYS:TONE, e.g. 15:formal") from None
        if step.tone not in TONES or step.days < 1:
            raise UsageError(f"{where}: step {item!r}: days >= 1 and a tone among {', '.join(TONES)}")
        steps.append(step)
    if [s.days for s in steps] != sorted({s.days for s in steps}):
        raise UsageError(f"{where}: steps must come in increasing days, each once")
    return tuple(steps)


def load(ctx: Context) -> Policy:
    """The profile's policy (defaults < config file < environment)."""
    settings = ctx.config.settings.dunning
    return Policy(_retry_days(settings.retry_days, "dunning.retry_days"), _steps(settings.steps, "dunning.steps"))
