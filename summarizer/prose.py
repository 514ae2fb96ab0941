"""Checks on the model's own words (headline, brief, event ``what``, claim ``statement``).

Pointers make quotes, figures and evidence verbatim; prose cannot be. So prose is held to what
it cites: every number in it must occur in the cited text and every proper name in the cited
text, its paragraph or the article's title, a negation
the cited text does not have must not appear (and the reverse), and most of its content words
must come from the cited text, so "Russia launched a nuclear strike on Kyiv" cannot ride on a
sentence that only mentions Russia and Kyiv. Each check returns a reason, or None.
"""

from __future__ import annotations

import itertools
import re
from functools import lru_cache

import simplemma

from summarizer.alignment import fold
from summarizer.meaning import opposite, unasserted, unbound_numbers
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


# Per-word caches: grounding compares one answer's prose with many sentences, word by word, and
# the same words recur across an archive (a batch's client CPU per article fell by a third).
# ``fold`` keeps its own cache of words and short phrases.
_WORDS = 1 << 16


@lru_cache(maxsize=_WORDS)
def stem(word: str) -> str:
    """The word folded and cut to five letters: "Ukraine" ~ "Ukrainian", "missile" ~ "missiles";
    a possessive is the name: "Kyiv's" ~ "Kyiv"."""
    return fold(word).removesuffix("'s").removesuffix("\u2019s")[:5]


def content_words(text: str) -> list[str]:
    return [
        w for w in _WORD.findall(text) if len(w) > 2 and fold(w) not in _STOP and not _NEGATION.fullmatch(w)
    ]


@lru_cache(maxsize=1024)  # sentences: each is compared with every piece of prose of an answer
def word_stems(text: str) -> frozenset[str]:
    """The stems of every word of ``text``, names included."""
    return frozenset(stem(w) for w in _WORD.findall(text))


@lru_cache(maxsize=1024)  # sentences: each is ranked against every piece of prose
def content_stems(text: str) -> frozenset[str]:
    """The stems of the text's content words: what two texts share when they say the same."""
    return frozenset(stem(w) for w in content_words(text))


def names_in(prose: str) -> list[str]:
    """Capitalised words of the prose that are not just its first word or a stopword (nor, in
    a headline written in Title Case, a common word)."""
    return list(_names(prose))


@lru_cache(maxsize=256)  # one piece of prose is checked for names several times over
def _names(prose: str) -> tuple[str, ...]:
    out: list[str] = []
    words = list(_WORD.finditer(prose))
    common = [m.group(0) for m in words if len(m.group(0)) > 3 and common_word(m.group(0))]
    title_case = len(common) >= 3 and sum(w[:1].isupper() for w in common) >= 0.75 * len(common)
    for k, m in enumerate(words):
        w = m.group(0)
        last = m.start()  # the last character before the word that is not a space
        while last and prose[last - 1].isspace():
            last -= 1
        sentence_start = not last or prose[last - 1] in ".!?:"
        # A sentence's first word is capitalised anyway ("Deadly flood hits ..."): not a name,
        # unless a name goes on after it ("Monaco Grand Prix suspended").
        nxt = words[k + 1].group(0) if k + 1 < len(words) else ""
        joined = k + 1 < len(words) and prose[m.end() : words[k + 1].start()] == " "
        goes_on = joined and nxt[:1].isupper() and fold(nxt) not in _STOP
        # ... unless it is no common word ("Putin ordered ...": a name all the same); a common
        # word is not one before a name either ("One Russian missile", "Police Scotland")
        if sentence_start:
            goes_on = not common_word(w)
        if title_case and common_word(w):
            continue  # "FBI Announces Clinton's Charges Remain Unchanged": a headline's style
        if w[:1].isupper() and fold(w) not in _STOP and (not sentence_start or goes_on):
            out.append(w)
    return tuple(out)


def unsupported_names(prose: str, cited: str) -> list[str]:
    """Names of ``prose`` absent from ``cited`` (compared by stem: "Ukraine"/"Ukrainian"; an
    acronym stands for the capitalised words it abbreviates: "UN" for "United Nations"), and
    two names written as one that the cited text never writes together (a chimera of two
    people: "Vladimir Zelensky" where the text has "Vladimir Putin" and "Volodymyr Zelensky")."""
    stems = word_stems(cited)
    initials = _acronyms(cited)
    names = names_in(prose)
    out = [w for w in names if stem(w) not in stems and not (w.isupper() and fold(w) in initials)]
    return out or _chimeras(prose, cited)


_ACRONYM_SKIP = frozenset(["of", "the", "and", "for", "on", "de", "la"])
_NAME_RUN = re.compile(r"[A-Z][\w'\u2019-]*(?:\s+(?:(?:of|the|and|for|on|de|la)\s+)*[A-Z][\w'\u2019-]*)+")


@lru_cache(maxsize=1024)  # cited sentences: each is checked against every name of an answer
def _acronyms(text: str) -> frozenset[str]:
    """The initials of each run of capitalised words: "United Nations" -> "un"."""
    out = set()
    for m in _NAME_RUN.finditer(text):
        words = [w for w in m.group(0).split() if fold(w) not in _ACRONYM_SKIP]
        for k in range(len(words)):
            for j in range(k + 2, len(words) + 1):
                out.add(fold("".join(w[0] for w in words[k:j])))
    return frozenset(out)


@lru_cache(maxsize=_WORDS)
def common_word(word: str) -> bool:
    """A word of the language's dictionary that is not a proper name there ("deadly", "one",
    "police"; not "Putin", "Kyiv", "Vladimir")."""
    w = fold(word).removesuffix("'s").removesuffix("\u2019s")
    return simplemma.is_known(w, "en") and simplemma.lemmatize(w, "en").islower()


def _chimeras(prose: str, text: str) -> list[str]:
    """Two names written together that the text writes only with other names: "Vladimir
    Zelensky" where it has "Vladimir Putin" and "Volodymyr Zelensky" (two people made one).
    Words of one run of names are no chimera ("President Zelensky" from "President Volodymyr
    Zelensky")."""
    runs = [[s for s, _ in run] for run in _name_runs(text)]
    pairs = {pair for run in runs for pair in itertools.pairwise(run)}
    out = []
    for run in _name_runs(prose):
        for (x, written_x), (y, written_y) in itertools.pairwise(run):
            if any(x in r and y in r[r.index(x) + 1 :] for r in runs):
                continue
            if any(a == x and b != y for a, b in pairs) and any(b == y and a != x for a, b in pairs):
                out.append(f"{written_x} {written_y}")
    return out


@lru_cache(maxsize=1024)  # cited sentences, as ``_acronyms``
def _name_runs(text: str) -> tuple[tuple[tuple[str, str], ...], ...]:
    """Runs of capitalised words next to each other, none a little word, by (stem, word):
    [("presid", "President"), ("volod", "Volodymyr"), ...]. Names may be dictionary words
    ("Angela Merkel", "Emmanuel Macron", "Theresa May"); a pair of common words makes no
    chimera, as the text must write each with another."""
    runs: list[list[tuple[str, str]]] = []
    last = None
    for m in _WORD.finditer(text):
        w = m.group(0)
        if not w[:1].isupper() or fold(w) in _STOP:
            last = None
            continue
        if last is not None and text[last.end() : m.start()] == " ":
            runs[-1].append((stem(w), w))
        else:
            runs.append([(stem(w), w)])
        last = m
    return tuple(tuple(r) for r in runs if len(r) > 1)


def unsupported_numbers(prose: str, cited: str) -> list[float]:
    """Values of the prose the cited text does not have; "one" or "a" before a noun is the
    article's "a", not a figure ("One Russian missile" for "A Russian missile")."""
    have = numbers_in(cited)
    one = re.search(r"(?<![\w.,])1(?![\w.,])", prose) is not None
    return sorted(v for v in numbers_in(prose) if v not in have and (v != 1.0 or one))


def negated(text: str) -> bool:
    return bool(_NEGATION.search(fold(text)))


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
    unbound = unbound_numbers(prose, cited)
    if unbound:
        return "numbers the cited text does not give for this: " + ", ".join(unbound[:3])
    return meaning_problem(prose, cited, denial=denial) or share_problem(prose, cited, share, context)


HEDGED = "states as done what the cited text only says may happen"


def meaning_problem(prose: str, cited: str, *, denial: bool = False) -> str | None:
    """The prose turns what the cited text says: a negation it does not have, a negated or
    hedged clause stated as done, a word for its opposite (``summarizer.meaning``)."""
    if negated(prose) and not negated(cited):
        return "a negation the cited text does not have"
    scope = None if denial or negated(prose) else unasserted(prose, cited)
    if scope == "negation":
        return "drops the negation of the cited text"
    if scope:
        return HEDGED
    turned = opposite(prose, cited)
    if turned:
        return f"says the opposite of the cited text: {turned[0]!r} where it says {turned[1]!r}"
    return None


def share_problem(prose: str, cited: str, share: float, context: str = "") -> str | None:
    """Fewer than ``share`` of the prose's content words are the cited text's (its names may
    come from ``context``)."""
    words = content_words(prose)
    # the cited text's words, and the prose's names that the context gives
    stems = word_stems(cited) | (word_stems(context) & {stem(w) for w in names_in(prose)})
    if words and sum(stem(w) in stems for w in words) / len(words) < share:
        return "most of its words are not in the cited text"
    return None
