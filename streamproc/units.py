"""Units at the edges: time constants, durations and times as people write them, times as reports print
them (stdlib only).

Inside streamproc every time is integer nanoseconds since the epoch and every duration integer nanoseconds;
these helpers convert from what a person or a file says (`500ms`, `2026-01-01T00:00:00Z`, microseconds)
and to what a report prints (milliseconds, ISO 8601).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from streamproc.errors import UsageError

NS_PER_US = 1_000
NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000
US_PER_S = 1_000_000

#: The longest duration a setting or flag may say: a century (more is a typo, or an attack).
MAX_DURATION_S = 100 * 365 * 86400.0
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def ms(ns: float) -> float:
    """Nanoseconds to milliseconds, rounded to the microsecond for stable output."""
    return round(ns / NS_PER_MS, 3)


def seconds_to_ns(seconds: float) -> int:
    return int(seconds * NS_PER_S)


def parse_duration_s(text: str | float, name: str) -> float:
    """`90`, `500ms`, `30s`, `15m`, `1h`, `2d` (or a number of seconds) as seconds; UsageError naming
    `name` otherwise."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        seconds = float(text)
    else:
        match = _DURATION.match(str(text)[:64])
        if not match:
            raise UsageError(f"{name}: {quoted(text)} is not a duration (examples: 500ms, 30s, 15m, 1h)")
        seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    if not 0 <= seconds <= MAX_DURATION_S:
        raise UsageError(f"{name}: {quoted(text)} is out of range (0 to 100 years)")
    return seconds


def quoted(value: object) -> str:
    """A value as a message shows it, quoted: at most 40 characters of it (a value may be hostile)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_time_ns(text: str, name: str) -> int:
    """An ISO 8601 time (UTC unless it says otherwise) or seconds since the epoch, as ns."""
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not 0 <= seconds < 2**63 / 1e9:
            raise UsageError(f"{name}: {quoted(text)} is out of range")
        return int(seconds * 1e9)
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{name}: {quoted(text)} is not an ISO 8601 time or epoch seconds") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp()) * NS_PER_S + stamp.microsecond * NS_PER_US


def iso_time(ns: int | None) -> str | None:
    """Nanoseconds since the epoch as ISO 8601 UTC with microseconds (`2026-11-25T08:00:00.000000Z`)."""
    if ns is None:
        return None
    seconds, rest = divmod(ns, NS_PER_S)
    stamp = datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=rest // NS_PER_US)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def rfc3339_s(seconds: float) -> str:
    """Seconds since the epoch as RFC 3339 UTC with microseconds, as HTTP APIs take times."""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
