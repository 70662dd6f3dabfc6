"""Dates and periods in engineers' questions -> half-open [start, end) windows.

Understands ISO dates ("2024-06-01"), month names ("June 2024", "in jun 2024"), years
("in 2023", "for 2023"), quarters ("Q2 2024"), "the week of 2024-03-04", "between A and B" /
"from A to B", and relative periods against a reference time ("today", "yesterday",
"last week", "this month", "last 7 days", "past 3 months").
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from pydantic import BaseModel

__all__ = ["Period", "parse_period"]

MONTHS = {m: i + 1 for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november",
     "december"])}
MONTHS.update({k[:3]: v for k, v in list(MONTHS.items())})
MONTHS["sept"] = 9
_MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))
_DATE = r"(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}(?::\d{2})?))?"


class Period(BaseModel):
    """A time window [start, end) and the words it came from."""

    start: datetime
    end: datetime
    label: str
    granularity: str  # day | week | month | quarter | year | range | relative


def _d(s: str, t: str | None = None) -> datetime:
    base = datetime.strptime(s, "%Y-%m-%d")
    if t:
        parts = [int(x) for x in t.split(":")]
        base = base.replace(hour=parts[0], minute=parts[1], second=parts[2] if len(parts) > 2 else 0)
    return base


def _month(year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1)
    end = datetime(year + (month == 12), month % 12 + 1, 1)
    return start, end


def _textual_date(text: str) -> list[tuple[int, datetime]]:
    """'March 5, 2024' / '5 March 2024' -> positions and dates."""
    out = []
    for m in re.finditer(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", text):
        out.append((m.start(), datetime(int(m.group(3)), MONTHS[m.group(1)], int(m.group(2)))))
    for m in re.finditer(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTH_RE})\.?,?\s+(\d{{4}})\b", text):
        out.append((m.start(), datetime(int(m.group(3)), MONTHS[m.group(2)], int(m.group(1)))))
    return out


def parse_period(text: str, *, now: datetime | None = None) -> Period | None:
    """Find the period a question talks about (None when it names none).

    Args:
        text: The question.
        now: Reference time for relative periods ("last week"); None disables them.
    """
    low = text.lower()
    # ranges: between A and B / from A to B (ISO dates)
    m = re.search(rf"(?:between|from)\s+{_DATE}\s+(?:and|to|until|till)\s+{_DATE}", low)
    if m:
        a, b = _d(m.group(1), m.group(2)), _d(m.group(3), m.group(4))
        end = b if m.group(4) else b + timedelta(days=1)
        return Period(start=a, end=end, label=m.group(0), granularity="range")
    m = re.search(rf"week (?:of|starting|beginning)\s+(?:the\s+)?{_DATE}", low)
    if m:
        a = _d(m.group(1))
        return Period(start=a, end=a + timedelta(days=7), label=m.group(0), granularity="week")
    tds = _textual_date(low)
    m_week_txt = re.search(r"week (?:of|starting|beginning)\s+", low)
    if m_week_txt and tds:
        a = tds[0][1]
        return Period(start=a, end=a + timedelta(days=7), label=f"week of {a:%Y-%m-%d}", granularity="week")
    m = re.search(_DATE, low)
    if m:
        if m.group(2):
            a = _d(m.group(1), m.group(2))
            return Period(start=a, end=a + timedelta(hours=1), label=m.group(0), granularity="hour")
        a = _d(m.group(1))
        return Period(start=a, end=a + timedelta(days=1), label=m.group(1), granularity="day")
    if tds:
        a = tds[0][1]
        return Period(start=a, end=a + timedelta(days=1), label=f"{a:%Y-%m-%d}", granularity="day")
    m = re.search(rf"\b({_MONTH_RE})\.?,?\s+(?:of\s+)?(\d{{4}})\b", low)
    if m:
        a, b = _month(int(m.group(2)), MONTHS[m.group(1)])
        return Period(start=a, end=b, label=f"{a:%B %Y}", granularity="month")
    m = re.search(r"\b(\d{4})-(\d{2})\b(?!-)", low)
    if m and 1 <= int(m.group(2)) <= 12:
        a, b = _month(int(m.group(1)), int(m.group(2)))
        return Period(start=a, end=b, label=f"{a:%B %Y}", granularity="month")
    m = re.search(r"\bq([1-4])\s*(\d{4})\b|\b(\d{4})\s*q([1-4])\b", low)
    if m:
        q, y = (int(m.group(1)), int(m.group(2))) if m.group(1) else (int(m.group(4)), int(m.group(3)))
        a = datetime(y, 3 * (q - 1) + 1, 1)
        b = datetime(y + (q == 4), (3 * q) % 12 + 1, 1)
        return Period(start=a, end=b, label=f"Q{q} {y}", granularity="quarter")
    m = re.search(r"\b(?:in|for|during|of|year)\s+(\d{4})\b|\b(\d{4})\b(?=\s*\?|\s*$)", low)
    if m:
        y = int(m.group(1) or m.group(2))
        if 1990 <= y <= 2100:
            return Period(start=datetime(y, 1, 1), end=datetime(y + 1, 1, 1), label=str(y), granularity="year")
    if now is not None:
        return _relative(low, now)
    return None


def _relative(low: str, now: datetime) -> Period | None:
    day = datetime(now.year, now.month, now.day)
    if re.search(r"\btoday\b", low):
        return Period(start=day, end=day + timedelta(days=1), label="today", granularity="relative")
    if re.search(r"\byesterday\b", low):
        return Period(start=day - timedelta(days=1), end=day, label="yesterday", granularity="relative")
    m = re.search(r"\b(?:last|past|previous)\s+(\d+)\s+(hour|day|week|month)s?\b", low)
    if m:
        n, unit = int(m.group(1)), m.group(2)
        delta = {"hour": timedelta(hours=n), "day": timedelta(days=n), "week": timedelta(weeks=n),
                 "month": timedelta(days=30 * n)}[unit]
        return Period(start=now - delta, end=now, label=m.group(0), granularity="relative")
    week0 = day - timedelta(days=day.weekday())
    if re.search(r"\b(?:last|previous|past)\s+week\b", low):
        return Period(start=week0 - timedelta(days=7), end=week0, label="last week", granularity="relative")
    if re.search(r"\bthis\s+week\b", low):
        return Period(start=week0, end=week0 + timedelta(days=7), label="this week", granularity="relative")
    m0 = datetime(now.year, now.month, 1)
    if re.search(r"\b(?:last|previous|past)\s+month\b", low):
        prev = (m0 - timedelta(days=1)).replace(day=1)
        return Period(start=prev, end=m0, label="last month", granularity="relative")
    if re.search(r"\bthis\s+month\b", low):
        return Period(start=m0, end=_month(now.year, now.month)[1], label="this month", granularity="relative")
    if re.search(r"\b(?:last|previous|past)\s+year\b", low):
        return Period(start=datetime(now.year - 1, 1, 1), end=datetime(now.year, 1, 1), label="last year",
                      granularity="relative")
    if re.search(r"\bthis\s+year\b", low):
        return Period(start=datetime(now.year, 1, 1), end=datetime(now.year + 1, 1, 1), label="this year",
                      granularity="relative")
    return None
