"""Dates: time words read against the article's dateline (dateparser, many languages)."""

from __future__ import annotations

from datetime import datetime

_PERIOD_FORMAT = {"day": "%Y-%m-%d", "week": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}


def resolve_date(text: str, published_at: str | None, *, future: bool = False) -> str | None:
    """ISO date (or month, or year) of time words relative to the article's dateline.

    dateparser reads the words ("on Sunday", "last week", "in 2014", many languages) with the
    dateline as the reference; None when there is no dateline or the words name no date.
    """
    if not published_at:
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
