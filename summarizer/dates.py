"""Dates: time words read against the article's dateline (dateparser: English first, its other
languages for words that are not English)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

_DAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan\.|Feb\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\.)"
)
_PART = r"(?:\s+(?i:morning|afternoon|evening|night))"
# A match's own clock, in sports reports: "on lap 20", "in the 89th minute" (no date in it).
CLOCK_WORDS = re.compile(
    r"\b(?i:(?:(?:on|in|after)\s+)?lap\s+\d{1,3}|in\s+the\s+\d{1,3}(?:st|nd|rd|th)\s+minute)\b"
)
# A time of day: "6.15am", "at about 6.15 a.m.", "shortly before 7 pm", "11pm local time",
# "10:00 GMT", "almost midnight". A bare "1:11" (a lap time, a score) is not one.
_BY = r"(?i:at|around|about|approximately|shortly|just|before|after|by|until|almost|nearly)\s+"
_CLOCK = (
    r"(?:(?:(?<![\d:.])\d{1,2}(?:[:.]\d{2})?\s?(?:[ap]\.m\.|(?i:[ap]m)\b)"
    r"|(?<![\d:.])\d{1,2}:\d{2}(?![\d:.]\d)\s?(?:GMT|BST|UTC|CET|[ECMP][SD]?T)\b)"
    r"(?:\s+(?i:local\s+time))?)"
)
_AT_CLOCK = rf"(?:(?:{_BY}){{0,3}}{_CLOCK}|(?:{_BY}){{1,3}}(?:midnight|noon)\b)"
# The day and its date: "on Friday morning", "Tuesday, March 22", "March 22, 2016", "22 March".
_DAY_WORDS = (
    rf"(?:(?:(?i:on|last|this|next|late|early)\s+)?{_DAY}{_PART}?(?:,?\s+{_MONTH}\s+\d{{1,2}}(?:,\s+\d{{4}})?)?"
    rf"|(?:(?i:on|in)\s+)?{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"
    rf"|(?:(?i:on)\s+)?\d{{1,2}}\s+{_MONTH}(?:\s+\d{{4}})?)"
)
# Time words a reporter writes, most specific first: "at 6.15am on Friday", "on Friday at
# noon", "March 22, 2016", "last week", "earlier this month", "in 2014", "yesterday".
TIME_WORDS = re.compile(
    rf"\b{_AT_CLOCK}(?:,?\s+{_DAY_WORDS})?"
    rf"|\b{_DAY_WORDS}(?:,?\s+(?=[a-z]){_AT_CLOCK})?"
    r"|\b(?i:(?:(?:earlier|later)\s+)?(?:last|this|next)\s+(?:week|month|year|weekend|night|morning|summer|winter|spring|autumn))"
    # lower case or capitalised only: "USA TODAY" is a paper, "TODAY" a show
    r"|\b(?:[Yy]esterday|[Tt]oday|[Tt]onight|[Oo]vernight)(?:\s+(?i:morning|afternoon|evening))?"
    r"|\b(?i:in)\s+(?:19|20)\d\d\b",
)
_AT_CLOCK_RE = re.compile(rf"\b{_AT_CLOCK}")
# A date written in full, year included: "November 8, 2016", "Nov. 9, 2016", "9 November 2016".
FULL_DATE = re.compile(
    rf"\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+(?:19|20)\d\d\b|\b\d{{1,2}}\s+{_MONTH}\s+(?:19|20)\d\d\b"
)
# What makes a clause look ahead: "will", "is set to", "plans to", "next", "upcoming".
_AHEAD = re.compile(
    r"\b(?:will|shall|won't)\b|'ll\b|\b(?:is|are|am)\s+(?:(?:set|due|scheduled|slated|expected|"
    r"planned|going|about)\s+)?to\b|\b(?:is|are)\s+(?:set|due|scheduled|slated|planned)\s+for\b|"
    r"(?<!\bwith\s)(?<!\bthe\s)(?<!\bof\s)(?<!\bfor\s)\bplan(?:s|ning)?\s+to\b|"  # not "with plans to"
    r"\b(?:next|upcoming|forthcoming)\b",
    re.IGNORECASE,
)
# Where the clause around time words ends: punctuation, or a word that opens another clause.
_CLAUSE_EDGE = re.compile(
    r"[;:,.!?\"\u201c\u201d]|\b(?:that|and|but|while|after|before|when|as|because)\b", re.I
)


def looks_ahead(text: str, start: int, end: int, lo: int, hi: int) -> bool:
    """Whether the clause holding the time words ``text[start:end]`` (inside the sentence
    ``text[lo:hi]``) speaks of what is to come: "the team will travel on Friday", "talks are
    set for next week". Read from the article's own tense, not from the model's modality, so a
    past event is never moved a week ahead, nor a coming one a week back."""
    before = text[lo:start]
    edges = list(_CLAUSE_EDGE.finditer(before))
    a = lo + edges[-1].end() if edges else lo
    after = _CLAUSE_EDGE.search(text, end, hi)
    b = after.start() if after else hi
    return _AHEAD.search(text, a, b) is not None


_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_WEEKDAY_ONLY = re.compile(rf"(?:(?i:on)\s+)?({_DAY}){_PART}?")
_PERIOD_FORMAT = {"day": "%Y-%m-%d", "week": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}
# Time words no language of dateparser reads ("am Montag" in no locale's form): it tries every
# one of its ~200 locales for them, 10 ms each time (1.6-2.7 s the first time in a process,
# compiling them), and which locale reads a text does not depend on the dateline. Asked once
# per process. Words that are all English are read in English only (``_english_only``).
_UNREAD: set[str] = set()
_UNREAD_MAX = 4096


def resolve_date(text: str, published_at: str | None, *, future: bool = False) -> str | None:
    """ISO date (or month, or year) of time words relative to the article's dateline.

    dateparser reads the words ("on Sunday", "last week", "in 2014", many languages) with the
    dateline as the reference; None when there is no dateline or the words name no date.
    """
    if not published_at or CLOCK_WORDS.search(text):
        return None
    text = _AT_CLOCK_RE.sub(" ", text).strip(" ,")  # the day is what is read; "at 6pm" names none
    if not text:
        return None
    base = _dateline(published_at)
    if base is None:
        return None
    if (day := _WEEKDAY_ONLY.fullmatch(text)) is not None:
        # dateparser reads "Wednesday" under a Wednesday dateline as a week before; a reporter
        # means that very day ("killed on Wednesday" in Wednesday's paper)
        ahead = (_WEEKDAYS.index(day.group(1).lower()) - base.weekday()) % 7
        shift = ahead if future else -((7 - ahead) % 7)
        return (base + timedelta(days=shift)).strftime("%Y-%m-%d")
    if text in _UNREAD:
        return None
    from dateparser.date import DateDataParser  # imported only when there is a date to read

    settings = {
        "RELATIVE_BASE": base,
        "PREFER_DATES_FROM": "future" if future else "past",
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    try:
        data = DateDataParser(languages=["en"], settings=settings).get_date_data(text)
        if data.date_obj is None and not _english_only(text):
            data = DateDataParser(settings=settings).get_date_data(text)
    except (ValueError, TypeError, OverflowError):
        return None
    if data.date_obj is None:
        if data.locale is None and len(_UNREAD) < _UNREAD_MAX:
            _UNREAD.add(text)
        return None
    return str(data.date_obj.strftime(_PERIOD_FORMAT.get(data.period or "day", "%Y-%m-%d")))


def _english_only(text: str) -> bool:
    """Every word of ``text`` is English (``simplemma``'s dictionary): time words English
    cannot read as a date ("later this week") no other language reads either, and asking all
    of dateparser's locales would compile them (1.6-2.7 s once per process) to find none."""
    import simplemma

    words = re.findall(r"[^\W\d_]+", text)
    return all(simplemma.is_known(w, "en") or simplemma.is_known(w.lower(), "en") for w in words)


def find_time_words(text: str, start: int = 0, end: int | None = None) -> tuple[int, int] | None:
    """``[start, end)`` of the first calendar time words in ``text[start:end]``, if any."""
    found = list(TIME_WORDS.finditer(text, start, len(text) if end is None else end))
    # "arrived at 6pm and was arrested on Friday": the words with a day beat an hour alone
    dated = next((m for m in found if not _AT_CLOCK_RE.fullmatch(m.group(0))), None)
    best = dated or (found[0] if found else None)
    return best.span() if best else None


def find_clock_words(text: str, start: int = 0, end: int | None = None) -> tuple[int, int] | None:
    """``[start, end)`` of the first match-clock words ("on lap 20") in ``text[start:end]``."""
    found = CLOCK_WORDS.search(text, start, len(text) if end is None else end)
    return found.span() if found else None


def days_apart(day: str, published_at: str) -> int:
    """Days between an ISO date (or month, year: its first day) and the dateline."""
    base = _dateline(published_at)
    try:
        parts = [int(x) for x in day.split("-")] + [1, 1]
        return abs((datetime(parts[0], parts[1], parts[2]) - base).days) if base else 10**6
    except ValueError:
        return 10**6


def _dateline(published_at: str) -> datetime | None:
    """The article's dateline as a naive datetime, or None when it does not parse."""
    try:
        return datetime.fromisoformat(published_at.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return None
