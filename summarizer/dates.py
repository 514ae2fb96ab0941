"""Dates: time words read against the article's dateline (dateparser, many languages)."""

from __future__ import annotations

import re
from datetime import datetime

_DAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan\.|Feb\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\.)"
)
_PART = r"(?:\s+(?i:morning|afternoon|evening|night))"
# A match's own clock, in sports reports: "on lap 20", "in the 89th minute" (no date in it).
CLOCK_WORDS = re.compile(
    r"\b(?i:(?:on|in|after)\s+lap\s+\d{1,3}|in\s+the\s+\d{1,3}(?:st|nd|rd|th)\s+minute)\b"
)
# Time words a reporter writes, most specific first: "on Friday morning", "March 22, 2016",
# "22 March", "last week", "earlier this month", "in 2014", "yesterday".
TIME_WORDS = re.compile(
    rf"\b(?:(?i:on|last|this|next|late|early)\s+)?{_DAY}{_PART}?(?:,?\s+{_MONTH}\s+\d{{1,2}}(?:,\s+\d{{4}})?)?"
    rf"|\b(?:(?i:on|in)\s+)?{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"
    rf"|\b(?:(?i:on)\s+)?\d{{1,2}}\s+{_MONTH}(?:\s+\d{{4}})?"
    r"|\b(?i:(?:(?:earlier|later)\s+)?(?:last|this|next)\s+(?:week|month|year|weekend|night|morning|summer|winter|spring|autumn))"
    # lower case or capitalised only: "USA TODAY" is a paper, "TODAY" a show
    r"|\b(?:[Yy]esterday|[Tt]oday|[Tt]onight|[Oo]vernight)(?:\s+(?i:morning|afternoon|evening))?"
    r"|\b(?i:in)\s+(?:19|20)\d\d\b",
)
_PERIOD_FORMAT = {"day": "%Y-%m-%d", "week": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}


def resolve_date(text: str, published_at: str | None, *, future: bool = False) -> str | None:
    """ISO date (or month, or year) of time words relative to the article's dateline.

    dateparser reads the words ("on Sunday", "last week", "in 2014", many languages) with the
    dateline as the reference; None when there is no dateline or the words name no date.
    """
    if not published_at or CLOCK_WORDS.search(text):
        return None
    try:
        base = datetime.fromisoformat(published_at.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return None
    from dateparser.date import DateDataParser  # imported only when there is a date to read

    settings = {
        "RELATIVE_BASE": base,
        "PREFER_DATES_FROM": "future" if future else "past",
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    try:
        data = DateDataParser(settings=settings).get_date_data(text)
    except (ValueError, TypeError, OverflowError):
        return None
    if data.date_obj is None:
        return None
    return str(data.date_obj.strftime(_PERIOD_FORMAT.get(data.period or "day", "%Y-%m-%d")))


def find_time_words(text: str, start: int = 0, end: int | None = None) -> tuple[int, int] | None:
    """``[start, end)`` of the first calendar time words in ``text[start:end]``, if any."""
    found = TIME_WORDS.search(text, start, len(text) if end is None else end)
    return found.span() if found else None


def find_clock_words(text: str, start: int = 0, end: int | None = None) -> tuple[int, int] | None:
    """``[start, end)`` of the first match-clock words ("on lap 20") in ``text[start:end]``."""
    found = CLOCK_WORDS.search(text, start, len(text) if end is None else end)
    return found.span() if found else None
