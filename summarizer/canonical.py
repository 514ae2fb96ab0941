"""Canonical text: what every check reads and every record stores.

Text can hide from checks that compare characters. A zero-width space inside "8\u200b6,266"
shows as 86,266 but is two numbers to a parser; a right-to-left override shows letters in an
order they are not stored in; a Cyrillic "а" in "Ukrаine" looks Latin and matches nothing.
``canonical`` removes what is invisible and folds what only looks different, so what the
editor sees and what the checks read are one text:

- format characters (zero-width space and joiners, word joiner, soft hyphen, byte-order mark,
  the bidirectional marks, embeddings, overrides and isolates) are removed; a zero-width joiner
  or non-joiner between two letters of a script that shapes with them (Arabic, Persian, the
  Indic scripts) or between two symbols (an emoji sequence) is kept;
- compatibility forms whose NFKC form is letters or digits (fullwidth "８６", "ﬁ", mathematical
  bold) become those letters or digits; superscripts, fractions and "…" keep their form;
- a no-break space becomes a plain space (thin and narrow spaces, which group digits, stay);
- in a word that mixes scripts, letters of the minority script that look like letters of the
  word's main script are replaced by those (the Unicode confusables table, maintained by the
  ``confusable-homoglyphs`` package): "Ukrаine" becomes "Ukraine", "Кyiv" stays a Cyrillic word
  only when most of it is Cyrillic.

Plain ASCII text and text in one script pass unchanged, so articles without such characters
keep their hashes (the ledger's keys). Pure functions; imports nothing of ours.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import lru_cache

from confusable_homoglyphs import categories, confusables  # type: ignore[import-untyped]

_JOINERS = "\u200c\u200d"
_KEEP_FORM = ("<super>", "<sub>", "<fraction>")
_WORD = re.compile(r"\w+", re.UNICODE)
_SHAPING = frozenset(
    [
        "ARABIC",
        "DEVANAGARI",
        "BENGALI",
        "GURMUKHI",
        "GUJARATI",
        "ORIYA",
        "TAMIL",
        "TELUGU",
        "KANNADA",
        "MALAYALAM",
        "SINHALA",
        "SYRIAC",
        "MONGOLIAN",
        "KHMER",
        "MYANMAR",
    ]
)
_PLAIN = re.compile(r"[\x09\x0a\x20-\x7e]*")


@lru_cache(maxsize=4096)
def _script(ch: str) -> str:
    return str(categories.alias(ch)) if ch.isalpha() else "COMMON"


def _shapes(before: str, after: str) -> bool:
    """A joiner between these two characters is part of the spelling, not a hiding place: in
    a script that shapes with it, or between two symbols (an emoji sequence: "👩\u200d👩")."""
    if before.isalnum() and after.isalnum():
        return _script(before) in _SHAPING
    return not (before.isalnum() or after.isalnum() or before.isspace() or after.isspace())


@lru_cache(maxsize=4096)
def _compatible(ch: str) -> str:
    """``ch`` as the letters or digits it is a compatibility form of, else as it is."""
    if ch == "\u00a0":
        return " "  # a thin or narrow space stays: it groups digits ("1\u202f500")
    folded = unicodedata.normalize("NFKC", ch)
    if folded == ch or unicodedata.decomposition(ch).startswith(_KEEP_FORM):
        return ch
    return folded if folded.isalnum() else ch


@lru_cache(maxsize=4096)
def _look_alike(ch: str, script: str) -> str:
    """The letter of ``script`` that ``ch`` is confusable with, or ``ch``."""
    found = confusables.is_confusable(ch, preferred_aliases=[script.lower()], greedy=True) or []
    for entry in found:
        for glyph in entry.get("homoglyphs", []):
            c = str(glyph.get("c", ""))
            if len(c) == 1 and str(glyph.get("n", "")).startswith(script + " "):
                return c
    return ch


@lru_cache(maxsize=1 << 16)  # the words of an archive recur: each is looked at once
def _fold_word(word: str) -> str:
    scripts = Counter(_script(ch) for ch in word if ch.isalpha())
    scripts.pop("COMMON", None)
    if len(scripts) < 2:
        return word
    main = scripts.most_common(1)[0][0]
    return "".join(ch if not ch.isalpha() or _script(ch) == main else _look_alike(ch, main) for ch in word)


def canonical(text: str) -> str:
    """``text`` with invisible characters removed and look-alike characters folded (see above)."""
    if _PLAIN.fullmatch(text):
        return text
    out: list[str] = []
    for k, ch in enumerate(text):
        if unicodedata.category(ch) == "Cf":
            if ch in _JOINERS and 0 < k < len(text) - 1 and _shapes(text[k - 1], text[k + 1]):
                out.append(ch)
            continue
        out.append(_compatible(ch))
    folded = "".join(out)
    return _WORD.sub(lambda m: _fold_word(m.group(0)), folded)
