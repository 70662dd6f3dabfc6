from __future__ import annotations

from datetime import datetime

import pytest

from agents.intents.periods import parse_period

NOW = datetime(2024, 12, 18, 10, 30)  # a Wednesday

CASES = [
    ("alerts on 2024-06-01?", "2024-06-01", "2024-06-02"),
    ("work orders in June 2024", "2024-06-01", "2024-07-01"),
    ("work orders for jun 2024", "2024-06-01", "2024-07-01"),
    ("how many in 2023?", "2023-01-01", "2024-01-01"),
    ("corrective orders in Q4 2022", "2022-10-01", "2023-01-01"),
    ("the week of 2024-03-04", "2024-03-04", "2024-03-11"),
    ("the week of March 4, 2024", "2024-03-04", "2024-03-11"),
    ("between 2024-01-01 and 2024-01-31", "2024-01-01", "2024-02-01"),
    ("on 5 March 2024", "2024-03-05", "2024-03-06"),
    ("2024-05 mean temperature", "2024-05-01", "2024-06-01"),
    ("anomalies last week", "2024-12-09", "2024-12-16"),
    ("yesterday", "2024-12-17", "2024-12-18"),
    ("this month", "2024-12-01", "2025-01-01"),
    ("last month", "2024-11-01", "2024-12-01"),
    ("last year", "2023-01-01", "2024-01-01"),
]


@pytest.mark.parametrize(("text", "start", "end"), CASES)
def test_periods(text: str, start: str, end: str) -> None:
    p = parse_period(text, now=NOW)
    assert p is not None, text
    assert (p.start.isoformat()[:10], p.end.isoformat()[:10]) == (start, end)


def test_last_n_days_and_none() -> None:
    p = parse_period("max over the last 7 days", now=NOW)
    assert p is not None and p.end == NOW and (p.end - p.start).days == 7
    assert parse_period("which assets are downstream of CMP-01?", now=NOW) is None
    assert parse_period("anomalies last week") is None  # no clock, no relative periods
