"""Checks on the model's own words (headline, brief, event ``what``, claim ``statement``).

Pointers make quotes, figures and evidence verbatim; prose cannot be. So prose is held to what
it cites: every number in it must occur in the cited text and every proper name in the cited
text, its paragraph or the article's title, a negation
the cited text does not have must not appear (and the reverse), and most of its content words
must come from the cited text, so "Russia launched a nuclear strike on Kyiv" cannot ride on a
sentence that only mentions Russia and Kyiv. Each check returns a reason, or None.
"""

from __future__ import annotations

import re

from summarizer.alignment import fold
from summarizer.numbers import numbers_in

_WORD = re.compile(r"[^\W\d_](?:[\w'\u2019-]*\w)?")
_NEGATION = re.compile(
    r"\b(not|no|never|none|nobody|nothing|neither|nor|without|cannot|n't|denied|denies|deny|"
    r"failed|unable|не|нет|ни|нічого|ніколи)\b|n't\b",
    re.IGNORECASE,
)
_STOP = frozenset(
    """
    a an the and or but of in on at to for from by with as is are was were be been being has have
    had do does did will would can could may might shall should this that these those it its their
    his her they them he she we you i who whom which what when where why how than then there here
    also into over after before about against between during under up down out off new says said say
    tell told according amid while more most some any all each other such only own same so very
    """.split()  # noqa: SIM905 - a word list reads best as words
)
MIN_CONTENT_SHARE = 0.6
MIN_SHARE_ELSEWHERE = 0.75  # a sentence other than the cited one must support the prose clearly


def stem(word: str) -> str:
    """The word folded and cut to five letters: "Ukraine" ~ "Ukrainian", "missile" ~ "missiles"."""
    return fold(word)[:5]


def content_words(text: str) -> list[str]:
    return [
        w for w in _WORD.findall(text) if len(w) > 2 and fold(w) not in _STOP and not _NEGATION.fullmatch(w)
    ]


def content_stems(text: str) -> set[str]:
    """The stems of the text's content words: what two texts share when they say the same."""
    return {stem(w) for w in content_words(text)}


def names_in(prose: str) -> list[str]:
    """Capitalised words of the prose that are not just its first word or a stopword."""
    out: list[str] = []
    words = list(_WORD.finditer(prose))
    for k, m in enumerate(words):
        w = m.group(0)
        before = prose[: m.start()].rstrip()
        sentence_start = not before or before[-1] in ".!?:"
        # A sentence's first word is capitalised anyway ("Deadly flood hits ..."): not a name,
        # unless a name goes on after it ("Monaco Grand Prix suspended").
        nxt = words[k + 1].group(0) if k + 1 < len(words) else ""
        joined = k + 1 < len(words) and prose[m.end() : words[k + 1].start()] == " "
        goes_on = joined and nxt[:1].isupper() and fold(nxt) not in _STOP
        if w[:1].isupper() and fold(w) not in _STOP and (not sentence_start or goes_on):
            out.append(w)
    return out


def unsupported_names(prose: str, cited: str) -> list[str]:
    """Names of ``prose`` absent from ``cited`` (compared by stem: "Ukraine"/"Ukrainian")."""
    stems = {stem(w) for w in _WORD.findall(cited)}
    return [w for w in names_in(prose) if stem(w) not in stems]


def unsupported_numbers(prose: str, cited: str) -> list[float]:
    have = numbers_in(cited)
    return sorted(v for v in numbers_in(prose) if v not in have)


def negated(text: str) -> bool:
    return bool(_NEGATION.search(fold(text)))


def _drops_negation(prose: str, cited: str) -> bool:
    """The prose restates a clause the cited text negates ("did not hit the target" ->
    "did hit the target"): two or more of its words fall in the few words after a negation."""
    stems = content_stems(prose)
    folded = fold(cited)
    for m in _NEGATION.finditer(folded):
        clause = re.split(r"[\"\u201d\u00bb,;:.!?]", folded[m.end() :], maxsplit=1)[0]
        window = content_words(clause)[:6]
        if sum(stem(w) in stems for w in window) >= 2:
            return True
    return False


def check_prose(
    prose: str, cited: str, *, share: float = MIN_CONTENT_SHARE, denial: bool = False, context: str = ""
) -> str | None:
    """Why ``prose`` is not supported by ``cited`` text, or None when it is. ``denial``: the
    prose states what the cited text denies (a claim with status "denied"). ``context``: more
    text its names may come from (the article's title and the cited sentence's paragraph:
    "The race was suspended" is cited for "Brazilian Grand Prix suspended" in a report titled
    so); its numbers, negations and most of its words must still be the cited text's."""
    names = unsupported_names(prose, f"{cited} {context}")
    if names:
        return f"names not in the cited text: {', '.join(names[:3])}"
    numbers = unsupported_numbers(prose, cited)
    if numbers:
        return "numbers not in the cited text: " + ", ".join(f"{v:g}" for v in numbers[:3] if v >= 0)
    if negated(prose) and not negated(cited):
        return "a negation the cited text does not have"
    if not denial and not negated(prose) and _drops_negation(prose, cited):
        return "drops the negation of the cited text"
    words = content_words(prose)
    stems = {stem(w) for w in _WORD.findall(f"{cited} {context}")} & {stem(w) for w in names_in(prose)}
    stems |= {stem(w) for w in _WORD.findall(cited)}  # names from the context count as supported
    if words and sum(stem(w) in stems for w in words) / len(words) < share:
        return "most of its words are not in the cited text"
    return None
