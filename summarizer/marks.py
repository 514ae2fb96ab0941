"""Quotation marks: the inner spans of every quotation in a paragraph, in wire copy and in
scraped text (straight, curly, guillemets and low-high marks; mixed marks; a quotation left open
at a paragraph's end; one flattened into a single line)."""

from __future__ import annotations

_OPENERS = {
    "\u201c": "\u201d",
    "\u201e": "\u201c\u201d",
    "\u00ab": "\u00bb",
    '"': '"\u201d',
    "\u2018": "\u2019",
}


def quote_regions(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Inner spans of quotations in the paragraph ``text[start:end]``; an unclosed quotation
    runs to its end."""
    regions: list[tuple[int, int]] = []
    i = start
    while i < end:
        ch = text[i]
        closers = _OPENERS.get(ch)
        if (
            closers is None
            or (ch in '\u2018"' and i > start and text[i - 1].isalnum())
            or (ch == '"' and (i + 1 >= end or text[i + 1].isspace()))
        ):
            i += 1  # not an opening mark: an apostrophe, inch mark or stray closing quote
            continue
        j = i + 1
        while j < end and not (text[j] in closers or _straight_close(text, ch, j)):
            if text[j] in "\u201c\u00ab" and ch in '"\u201c\u00ab':
                break  # a new opening mark: this quotation was never closed
            j += 1
        if j < end and _reopens(text, j, end) and ch in '"\u201c':
            # "... more and more. "We were coming ...": a straight mark after a space that opens
            # the next quotation; the first one was never closed (a flattened multi-paragraph quote)
            regions.append((i + 1, _before_reopening(text, i + 1, j)))
            i = j
            continue
        if j < end and text[j] in "\u201c\u00ab" and text[j] not in closers:
            regions.append((i + 1, _before_reopening(text, i + 1, j)))
            i = j
            continue
        if ch == "\u2018" and j < end and j + 1 < end and text[j + 1].isalpha():
            # an apostrophe, not a closing single quote ("don’t"): keep looking
            k = text.find("\u2019", j + 1, end)
            while k >= 0 and k + 1 < end and text[k + 1].isalpha():
                k = text.find("\u2019", k + 1, end)
            j = k if k >= 0 else end
        if j >= end:
            j = _unclosed_end(text, i + 1, end)
        regions.append((i + 1, j))
        i = j + 1
    return regions


def _straight_close(text: str, opener: str, j: int) -> bool:
    """A straight mark closing a curly quotation in mixed copy ('“… the FBI," Chaffetz said'):
    it follows the quoted words' last letter or punctuation, not a space."""
    return opener == "\u201c" and text[j] == '"' and not text[j - 1].isspace()


def _before_reopening(text: str, start: int, opener: int) -> int:
    """End of an unclosed quotation followed by another opening mark at ``opener``: its last
    sentence end before that mark, else just before the mark."""
    stop = max(text.rfind(p, start, opener) for p in ".!?")
    end = stop + 1 if stop > start else opener
    while end > start and text[end - 1].isspace():
        end -= 1
    return end


def _reopens(text: str, j: int, end: int) -> bool:
    """The straight quotation mark at ``j`` opens a new quotation instead of closing one: it
    follows a space and a capitalised word starts right after it (a closing mark follows the
    quoted words' last letter or punctuation)."""
    if text[j] != '"' or j + 1 >= end or not text[j - 1].isspace():
        return False
    return text[j + 1].isupper() or text[j + 1].isdigit()


def _unclosed_end(text: str, start: int, end: int) -> int:
    """Where an unclosed quotation ends: at its paragraph's end in wire copy, but in text
    flattened to one line it cannot run on forever; it ends at the last sentence end before
    the next opening mark (or at the paragraph end when there is none)."""
    nxt = min(
        (k for ch in _OPENERS if ch not in '"\u2018' and (k := text.find(ch, start, end)) >= 0), default=end
    )
    if nxt == end:
        return end
    stop = max(text.rfind(p, start, nxt) for p in ".!?")
    return stop + 1 if stop > start else nxt
